"""The run as the TUI folds it from engine events, without a screen: what a run registered."""

from __future__ import annotations

from runbook_tui.engine import events as ev
from runbook_tui.tui.run_state import RunState


def test_registered_results_come_from_the_events() -> None:
    """As the engine keeps them: a step that succeeded registers its result under its name; a
    failed step, a called procedure's step (its names are its own) and an undo do not."""
    state = RunState()
    result = {"status": "ok", "stdout": "hello\n", "exit_code": 0}
    state.apply(ev.StepFinished(step_id="greet", status="ok", register="greeting", result=result))
    state.apply(ev.StepFinished(step_id="check", status="failed", register="checked", result={"status": "failed"}))
    state.apply(ev.StepFinished(step_id="call/inner", status="ok", register="inner", result={"status": "ok"}))
    state.apply(ev.StepFinished(step_id="greet", status="undone", register="greeting", result={}, phase="undo"))
    assert state.registered == {"greeting": result}


def test_a_later_result_under_the_same_name_replaces_the_earlier() -> None:
    state = RunState()
    state.apply(ev.StepFinished(step_id="first", status="ok", register="state", result={"stdout": "one"}))
    state.apply(ev.StepFinished(step_id="second", status="ok", register="state", result={"stdout": "two"}))
    assert state.registered == {"state": {"stdout": "two"}}


def test_a_step_that_looks_again_is_timed_from_its_first_look() -> None:
    """An `until` step's second look (attempt 2) keeps the clock of its first: probe-wait waited
    0.5 s for the probe Job, and the row said 0.0s (its last look's time)."""
    now = [100.0]
    state = RunState(clock=lambda: now[0])
    state.apply(ev.StepStarted(step_id="wait", title="wait", action="k8s", attempt=1))
    now[0] = 100.5
    state.apply(ev.StepStarted(step_id="wait", title="wait", action="k8s", attempt=2))
    now[0] = 100.6
    state.apply(ev.StepFinished(step_id="wait", status="ok"))
    assert abs(state.elapsed(state.step("wait")) - 0.6) < 1e-9
    # A step run again after it finished (the operator chose retry) starts a new clock.
    state.apply(ev.StepStarted(step_id="wait", title="wait", action="k8s", attempt=1))
    now[0] = 101.0
    state.apply(ev.StepFinished(step_id="wait", status="ok"))
    assert abs(state.elapsed(state.step("wait")) - 0.4) < 1e-9
