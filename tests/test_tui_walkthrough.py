"""The walkthrough under Pilot: one step at a time, Next only once the step before is done,
the why large, the registered state beside what the step expects."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_support import home_ready, make_app, run_finished, start, wait_for
from textual.widgets import Button, Markdown

pytestmark = pytest.mark.usefixtures("at_root")


def markdown_text(widget: Markdown) -> str:
    return widget.source


async def test_walkthrough_steps_one_at_a_time(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        walk = await start(pilot, "hello", walkthrough=True)
        nxt = walk.query_one("#next", Button)
        await wait_for(pilot, lambda: not nxt.disabled, what="Next for the first step")
        assert str(nxt.label) == "Next: run greet"
        assert "Step 1 of 2: Print a greeting" in markdown_text(walk.query_one("#walk-why", Markdown))
        assert "registers" in markdown_text(walk.query_one("#walk-why", Markdown))
        assert walk.state.step("greet").status == "pending"  # nothing runs before Next
        await pilot.pause(0.2)
        assert walk.state.step("greet").status == "pending"
        await pilot.press("enter")  # Next is focused
        await wait_for(pilot, lambda: walk.current and walk.current.id == "check" and not nxt.disabled,
                       what="Next for the second step")
        assert walk.state.step("greet").status == "ok" and walk.state.step("check").status == "pending"
        current = markdown_text(walk.query_one("#walk-current", Markdown))
        assert "greeting" in current and "hello" in current  # what greet registered
        assert "read-only" in markdown_text(walk.query_one("#walk-expected", Markdown))
        await pilot.press("ctrl+n")
        await run_finished(pilot)
        assert walk.state.outcome == "succeeded"
        assert nxt.disabled and str(nxt.label) == "Finished"
        walk.action_next()  # nothing left to release: a bell, no error
        assert walk.state.outcome == "succeeded"


async def test_walkthrough_shows_guards_as_expected_state(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        walk = await start(pilot, "change", walkthrough=True, typed={"note": "hi"})
        await wait_for(pilot, lambda: walk.current and walk.current.id == "before", what="first step")
        await pilot.press("enter")
        await wait_for(pilot, lambda: walk.current and walk.current.id == "write" and walk._go is not None,
                       what="the write step")
        expected = markdown_text(walk.query_one("#walk-expected", Markdown))
        assert "requires: `'steady' in before.stdout`" in expected
        assert "otherwise: the state is not steady" in expected
        assert "changes the target" in expected and "undo: Remove the note" in expected
        assert "state is steady" in markdown_text(walk.query_one("#walk-current", Markdown))
        walk.cancel_run()
        await run_finished(pilot)
        assert walk.state.outcome == "aborted"
        write = walk.state.step("write")
        assert write.status == "cancelled" and not write.rendered and not write.output.lines  # never started


async def test_cancelling_a_walkthrough_runs_cleanup_without_waiting(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        walk = await start(pilot, "cleanup", walkthrough=True)
        await wait_for(pilot, lambda: walk.current and walk.current.id == "first" and walk._go is not None,
                       what="the first step")
        await pilot.press("enter")
        await wait_for(pilot, lambda: walk.current.id == "second" and walk._go is not None, what="second")
        walk.cancel_run()
        await run_finished(pilot)
        assert walk.state.outcome == "aborted"
        assert walk.state.step("tidy").status == "ok" and list(walk.state.step("tidy").output.lines) == ["tidied"]
        assert walk.state.step("second").status == "cancelled"
