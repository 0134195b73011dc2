"""Stopping a run from the TUI: cancel and quit mid-flood answer at once, and quitting while a
step runs asks first (stay, wait for it, or cancel it), naming the step and its target."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_tui_support import events, home_ready, make_app, screen_is, start, wait_for
from textual import events as tev
from textual.widgets import Button

pytestmark = pytest.mark.usefixtures("at_root")

SLOW_CHANGE = """\
id: slow-change
title: A slow change
steps:
  - id: apply
    title: Apply the change
    local: echo applying; sleep {{ inputs.seconds }}; echo applied
    undo:
      local: echo reverted
  - id: after
    title: Change more
    local: echo more
    needs: [apply]
  - id: tidy
    title: Tidy up
    local: echo tidied
    mutates: false
    always: true
inputs:
  seconds:
    type: int
    default: 30
"""

WIDE_FLOOD = """\
id: wide
title: Long lines, fast
steps:
  - id: wide
    title: Print long lines
    local: yes "$(printf '%0300d' 0)" | head -n 3000000
    mutates: false
    timeout: 120s
"""


def procedures(tmp_path: Path, text: str) -> str:
    folder = tmp_path / "procedures"
    folder.mkdir(exist_ok=True)
    name = text.split("\n", 1)[0].removeprefix("id: ")
    (folder / f"{name}.yaml").write_text(text)
    return str(folder)


def key(app, name: str) -> None:
    """A key as the terminal driver delivers it: queued, not awaited."""
    app.post_message(tev.Key(name, None))


async def flooding(pilot, proc: str, step: str, **typed: str):
    run = await start(pilot, proc, typed=typed)
    await wait_for(pilot, lambda: run.state.step(step).output.total > 20000, what="the flood")
    await pilot.pause(1.0)  # well into it, as an operator would be
    return run


@pytest.mark.parametrize("proc, step, typed", [
    ("flood", "flood", {"lines": "3000000"}),  # short lines: many per read
    ("wide", "wide", {}),  # long lines: few per read
])
async def test_cancel_stops_a_flood_within_two_seconds(tmp_path: Path, proc, step, typed):
    app = make_app(tmp_path / "runs", **({"procedures": procedures(tmp_path, WIDE_FLOOD)} if proc == "wide" else {}))
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await flooding(pilot, proc, step, **typed)
        t0 = time.monotonic()
        key(app, "c")  # asks first
        await screen_is(pilot, "CancelScreen", timeout=2)
        key(app, "y")
        await wait_for(pilot, lambda: not run.running, timeout=10, what="the run to stop")
        took = time.monotonic() - t0
        assert took < 2.0, took
        assert run.state.outcome == "aborted" and run.state.step(step).status == "cancelled"
        await pilot.pause()
        assert app.screen is run and "ABORTED" in str(run.query_one("#run-status").render())


@pytest.mark.parametrize("quit_key", ["q", "ctrl+c"])
async def test_quit_mid_flood_asks_then_quits(tmp_path: Path, quit_key):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await flooding(pilot, "flood", "flood", lines="3000000")
        t0 = time.monotonic()
        key(app, quit_key)
        question = await screen_is(pilot, "QuitScreen", timeout=2)
        assert time.monotonic() - t0 < 2.0
        assert "step flood (Print many lines) on this machine" in str(question.query_one("#quit-steps").render())
        key(app, "c")  # cancel it and quit
        await wait_for(pilot, lambda: not app.is_running, timeout=5, what="the app to exit")
        assert time.monotonic() - t0 < 3.0
        assert run.state.step("flood").status == "cancelled"
    (finished,) = events(tmp_path, "run_finished")
    assert finished["outcome"] == "aborted"


async def test_quit_during_a_change_asks_and_stays_by_default(tmp_path: Path):
    app = make_app(tmp_path / "runs", procedures=procedures(tmp_path, SLOW_CHANGE))
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "slow-change")
        await screen_is(pilot, "GateScreen")
        await pilot.press("y")  # the plan
        await wait_for(pilot, lambda: list(run.state.step("apply").output.lines) == ["applying"], what="apply")
        await pilot.press("q")
        question = await screen_is(pilot, "QuitScreen")
        text = str(question.query_one("#quit-steps").render())
        assert "step apply (Apply the change) on this machine: it changes its target" in text
        assert app.focused is question.query_one("#stay", Button)
        await pilot.press("enter")  # the default: stay
        await screen_is(pilot, "RunScreen")
        assert app.is_running and run.running and run.state.step("apply").status == "running"
        await pilot.press("ctrl+c")  # the same question
        await screen_is(pilot, "QuitScreen")
        await pilot.press("escape")  # stay
        await screen_is(pilot, "RunScreen")
        assert run.running
        await pilot.press("q")
        await screen_is(pilot, "QuitScreen")
        await pilot.click("#cancel")
        await wait_for(pilot, lambda: not app.is_running, timeout=5, what="the app to exit")
    statuses = {e["step_id"]: e["status"] for e in events(tmp_path / "runs", "step_finished")}
    assert statuses == {"apply": "cancelled", "tidy": "ok"}


async def test_quit_can_wait_for_the_running_step(tmp_path: Path):
    app = make_app(tmp_path / "runs", procedures=procedures(tmp_path, SLOW_CHANGE))
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "slow-change", typed={"seconds": "2"})
        await screen_is(pilot, "GateScreen")
        await pilot.press("y")  # the plan
        await wait_for(pilot, lambda: list(run.state.step("apply").output.lines) == ["applying"], what="apply")
        await pilot.press("q")
        await screen_is(pilot, "QuitScreen")
        await pilot.press("w")  # wait for it, then quit
        await wait_for(pilot, lambda: not app.is_running, timeout=10, what="the app to exit")
    runs = tmp_path / "runs"
    assert [e["step_id"] for e in events(runs, "step_started")] == ["apply", "tidy"]  # nothing new began
    statuses = {e["step_id"]: e["status"] for e in events(runs, "step_finished")}
    assert statuses["apply"] == "ok" and statuses["tidy"] == "ok"
    (finished,) = events(runs, "run_finished")
    assert finished["outcome"] == "aborted"
