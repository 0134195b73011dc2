"""Output under load: bounded per step with a marker, searchable, and the screen answering keys
while a 200k-line flood streams in."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from test_tui_support import home_ready, make_app, run_finished, start, wait_for
from textual import events
from textual.widgets import Input

from runbook_tui.engine import events as ev
from runbook_tui.tui.run_state import MAX_LINES, RunState
from runbook_tui.tui.widgets.output_view import OutputView

pytestmark = pytest.mark.usefixtures("at_root")


def test_state_keeps_the_last_lines_and_counts_the_rest():
    state = RunState(clock=lambda: 5.0)
    state.apply(ev.RunStarted(procedure="p", title="P", path="p.yaml", mode="live", operator="o", inputs={},
                              targets={}, steps=[{"id": "s", "title": "S", "mutating": True}]))
    state.apply(ev.StepStarted(step_id="s", title="S", action="local", rendered="seq"))
    for i in range(MAX_LINES + 250):
        state.apply(ev.OutputLine(step_id="s", stream="stdout", text=str(i)))
    out = state.step("s").output
    assert len(out.lines) == MAX_LINES and out.dropped == 250 and out.total == MAX_LINES + 250
    assert out.lines[0] == "250" and out.lines[-1] == str(MAX_LINES + 249)
    rows, output, run = state.take_dirty()
    assert output == {"s"} and rows == {"s"} and run
    assert state.take_dirty() == (set(), set(), False)  # coalesced: one redraw for all of it
    state.apply(ev.StepFinished(step_id="s", status="ok"))
    assert state.step("s").status == "ok" and not state.running and state.following == "s"


async def test_keys_are_handled_during_a_flood(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        # Long enough to outlast the sampling however loaded the machine is.
        run = await start(pilot, "flood", typed={"lines": "600000"})
        await wait_for(pilot, lambda: run.state.step("flood").output.total > 1000, what="the flood to start")
        handled: list[float] = []
        original = run.action_follow
        run.action_follow = lambda: (handled.append(time.perf_counter()), original())  # type: ignore[method-assign]
        latencies = []
        while not run.state.outcome and len(latencies) < 10:
            t0 = time.perf_counter()
            app.post_message(events.Key("f", "f"))  # as the terminal driver delivers it
            while not handled and not run.state.outcome:
                await asyncio.sleep(0.001)
            if handled:
                latencies.append(handled.pop() - t0)
            await asyncio.sleep(0.02)
        await run_finished(pilot, timeout=90)
    assert len(latencies) >= 5 and sorted(latencies)[len(latencies) // 2] < 0.1, latencies


async def test_flood_is_bounded_and_searchable(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "flood")
        await run_finished(pilot, timeout=60)
        out = run.state.step("flood").output
        assert out.total == 200000 and len(out.lines) == MAX_LINES and out.dropped == 200000 - MAX_LINES
        view = run.query_one(OutputView)
        assert view.virtual_size.height == MAX_LINES + 1  # the "earlier lines" marker
        assert view.render_line(0).text.strip().startswith("…") or view.scroll_offset.y > 0
        await pilot.press("slash")
        search = run.query_one("#search", Input)
        assert search.display and app.focused is search
        await pilot.press(*"199000", "enter")
        assert view.match_line is not None and out.lines[view.match_line] == "199000"
        assert not search.display
        await pilot.press("shift+f3")
        assert out.lines[view.match_line] == "199000"  # the only match: wraps to itself
        assert "match 1 of 1 in 1 step(s)" in view.border_subtitle
        await pilot.press("slash", *"1990", "enter")  # a new search: every step's output
        expected = sum("1990" in line for line in out.lines)
        assert len(run.matches) == expected > 1 and f"match 1 of {expected}" in view.border_subtitle
        first = view.match_line
        await pilot.press("f3")
        assert view.match_line > first and "1990" in out.lines[view.match_line]
        assert f"match 2 of {expected}" in view.border_subtitle
        await pilot.press("shift+f3")
        assert view.match_line == first
