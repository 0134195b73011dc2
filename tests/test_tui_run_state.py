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
