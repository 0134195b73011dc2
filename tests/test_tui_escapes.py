"""Terminal control sequences in output and values are shown, not obeyed, by the TUI.

A local step prints an OSC window title, a clear-screen and bare carriage returns (as a remote
command could); an input value carries SGR and OSC sequences into a rendered command, a gate's
text and the step detail. Whatever the screen draws must hold no raw control character.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import HOSTILE_VALUE, raw_controls
from test_tui_support import (
    gate_of,
    home_ready,
    make_app,
    run_finished,
    start,
    wait_for,
)

from runbook_tui.tui.widgets.output_view import OutputView

PROCEDURE = r"""id: noisy
title: Terminal controls in output and values
inputs:
  v:
    prompt: A value
    required: true
steps:
  - id: shout
    title: Print terminal controls
    local: |-
      printf 'a\033]0;pwned\007b\n\033[2Jcleared\r\nhidden\rshown\n\033P+q\033\\\n'; echo {{ inputs.v }}
    mutates: false
    why: Remote output may carry escape sequences.
  - id: change
    title: Change it
    local: echo changed {{ inputs.v }}
    confirm: "Change it to {{ inputs.v }}?"
    why: A value the operator typed reaches the gate and the command.
"""

pytestmark = pytest.mark.usefixtures("at_root")


def drawn(app) -> str:
    """Every character the screen draws now, as the terminal would receive it (minus styles)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


async def test_controls_are_drawn_as_text(tmp_path: Path):
    procs = tmp_path / "procedures"
    procs.mkdir()
    (procs / "noisy.yaml").write_text(PROCEDURE, encoding="utf-8")
    app = make_app(tmp_path / "runs", procedures=str(procs))
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "noisy", typed={"v": HOSTILE_VALUE})
        for kind in ("plan", "confirm"):
            await gate_of(pilot, kind)
            await pilot.pause()
            screen = drawn(app)
            assert not raw_controls(screen), (kind, raw_controls(screen))
            assert "\\x1b[31mred" in screen  # the value, visibly
            await pilot.press("y")
        await run_finished(pilot)
        assert run.state.outcome == "succeeded", run.state.message

        # The output the step printed: kept as it came, shown escaped.
        run.query_one("#steps").select_id("shout")
        run.follow_running = False
        run.flush()
        await pilot.pause()
        view = run.query_one(OutputView)
        assert raw_controls("".join(run.state.step("shout").output.lines))  # the raw bytes did arrive
        lines = view.lines_text()
        assert lines[0] == "a\\x1b]0;pwned\\x07b"
        assert "\\x1b[2Jcleared\\r" in lines and "hidden\\rshown" in lines
        assert not raw_controls("".join(lines))
        strips = [view.render_line(y) for y in range(view.size.height)]
        assert not raw_controls("".join(s.text for s in strips))
        await wait_for(pilot, lambda: "pwned" in drawn(app), what="the output drawn")
        assert not raw_controls(drawn(app))

        # The step detail: the rendered command with the value in it.
        run.query_one("#steps").select_id("change")
        run.flush()
        await pilot.pause()
        from runbook_tui.tui.widgets.step_detail import StepDetail

        await run.query_one(StepDetail).settled()
        await pilot.pause()
        await wait_for(pilot, lambda: "changed" in drawn(app), what="the change step's detail")
        screen = drawn(app)
        assert not raw_controls(screen), raw_controls(screen)
        assert "\\x1b[31mred" in screen


async def test_the_runs_timeline_shows_controls_as_text(tmp_path: Path):
    procs = tmp_path / "procedures"
    procs.mkdir()
    (procs / "noisy.yaml").write_text(PROCEDURE, encoding="utf-8")
    app = make_app(tmp_path / "runs", procedures=str(procs))
    async with app.run_test(size=(160, 40)) as pilot:
        await home_ready(pilot)
        await start(pilot, "noisy", typed={"v": HOSTILE_VALUE})
        for kind in ("plan", "confirm"):
            await gate_of(pilot, kind)
            await pilot.press("y")
        await run_finished(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HomeScreen", what="home")
        await pilot.press("r")
        runs = await wait_for(pilot, lambda: type(app.screen).__name__ == "RunsScreen" and app.screen, what="runs")
        timeline = runs.query_one("#timeline")
        await wait_for(pilot, lambda: timeline.row_count > 5, what="the timeline")
        cells = [str(c) for i in range(timeline.row_count) for c in timeline.get_row_at(i)]
        assert any("echo changed '\\x1b[31mred" in c for c in cells)  # the rendered command, visibly
        await pilot.pause()
        screen = drawn(app)
        assert not raw_controls(screen), raw_controls(screen)
