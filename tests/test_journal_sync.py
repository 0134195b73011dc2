"""A read-only step's end is fsynced with the next state event, not alone; it is still handed to
the OS at once, so a process killed right after loses nothing a resume needs."""

from __future__ import annotations

from pathlib import Path

from runbook_tui.engine import events as ev
from runbook_tui.headless.journal import Journal, resume_state


def numbered(event: ev.Event, seq: int) -> ev.Event:
    event.run_id, event.seq = "run-1", seq
    return event


def test_a_read_only_steps_end_is_in_the_file_at_once(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal(numbered(ev.RunStarted(procedure="p", title="P", path="p.yaml", mode="live", operator="me",
                                   inputs={}, targets={}), 1))
    journal(numbered(ev.StepStarted(step_id="look", title="Look", action="ssh", mutating=False), 2))
    journal(numbered(ev.StepFinished(step_id="look", status="ok", result={"stdout": "seen"}), 3))
    assert journal.path is not None
    # Read as a resume would after kill -9: another process's view of the file, now.
    _start, state = resume_state(journal.path)
    assert state.statuses == {"look": "ok"} and state.results["look"] == {"stdout": "seen"}
    journal(numbered(ev.StepStarted(step_id="change", title="Change", action="ssh", mutating=True), 4))
    _start, state = resume_state(journal.path)
    assert state.inflight == ["change"]
    journal.close()
