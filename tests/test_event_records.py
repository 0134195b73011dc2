"""What the journal and --json write of an event: the same bytes a deep copy
(``dataclasses.asdict``) gave, now that ``Event.to_dict`` is shallow; output lines written by
hand are JSON that reads back as what the target said."""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path
from typing import Any

from runbook_tui.engine import events as ev
from runbook_tui.headless.journal import Journal, read_events

# A finished step as a parser leaves it: nested dicts and lists, a tuple, odd text, a value
# only default=str can write (the Kubernetes client's timestamps).
RESULT: dict[str, Any] = {
    "stdout": 'tcp "q" \\ é ☃\n\x1b[31m', "stderr": "", "exit_code": 0, "status": "ok",
    "lines": ["one", "two \t tab"],
    "data": {"pools": [{"name": "smtp", "servers": [{"addr": "10.0.0.1", "port": 25, "up": True, "w": 1.5}]}],
             "pair": ("a", 1), "empty": {}, "none": None,
             "when": datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)},
}


def deep(event: ev.Event) -> str:
    return json.dumps({"event": event.kind, **dataclasses.asdict(event)}, default=str)


def test_every_kind_of_event_writes_what_a_deep_copy_wrote() -> None:
    events: list[ev.Event] = [
        ev.RunStarted(procedure="p", title="P", path="p.yaml", mode="lab", operator="me",
                      inputs={"pool": ["a", "b"]}, targets={"fw": "ssh admin@10.0.20.1:22"},
                      steps=[{"id": "look", "needs": []}]),
        ev.StepStarted(step_id="look", title="Look", action="ssh", item={"key": "k", "value": [1, 2]}),
        ev.OutputLine(step_id="look", stream="stdout", text="line"),
        ev.OutputTruncated(step_id="look", kept_bytes=10, dropped_lines=2, dropped_bytes=20),
        ev.GuardEvaluated(step_id="look", guard="expect", expression="result.ok", passed=True),
        ev.GateRequested(step_id="look", gate_id="g1", gate="confirm", text="Go?", details=["a", "b"]),
        ev.GateAnswered(step_id="look", gate_id="g1", gate="confirm", approved=False, reason="no"),
        ev.StepFinished(step_id="look", status="ok", exit_code=0, duration=0.25, result=RESULT),
        ev.RunFinished(outcome="succeeded", counts={"ok": 1}),
        ev.Notice(text="lock taken over", level="warning"),
    ]
    assert {type(e) for e in events} == set(ev.EVENT_TYPES.values())
    for seq, event in enumerate(events, 1):
        event.run_id, event.seq = "run-1", seq
        assert json.dumps(event.to_dict(), default=str) == deep(event)
    # Shallow, and it says so: the step's result is the engine's own dict, not a copy.
    finished = events[7]
    assert isinstance(finished, ev.StepFinished) and finished.to_dict()["result"] is RESULT


def test_the_journal_writes_a_finished_steps_nested_result_as_before(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    start = ev.RunStarted(procedure="p", title="P", path="p.yaml", mode="lab", operator="me", inputs={}, targets={})
    finished = ev.StepFinished(step_id="look", status="ok", result=RESULT)
    for seq, event in enumerate([start, finished], 1):
        event.run_id, event.seq = "run-1", seq
        journal(event)
    journal.close()
    assert journal.path is not None
    lines = journal.path.read_text(encoding="utf-8").splitlines()
    assert lines == [deep(start), deep(finished)]


def test_output_lines_read_back_as_said(tmp_path: Path) -> None:
    texts = ['plain', 'quotes " and \\ backslash', "tab\tand\x00nul\x7f", "é ☃ 𝄞 \u2028", ""]
    journal = Journal(tmp_path)
    for seq, text in enumerate(texts, 1):
        journal(ev.OutputLine(step_id='st"ep', stream="stderr", text=text, run_id="run-é", seq=seq, ts=1.5))
    journal.close()
    assert journal.path is not None
    raw = journal.path.read_bytes()
    assert raw.isascii()  # escaped as json.dumps does: a character is a byte, the caps count bytes
    assert [(e["run_id"], e["step_id"], e["stream"], e["text"], e["ts"]) for e in read_events(journal.path)] == [
        ("run-é", 'st"ep', "stderr", text, 1.5) for text in texts]


def test_a_masked_event_is_the_event_with_its_fields_masked_and_the_original_untouched() -> None:
    from runbook_tui.engine.redact import MASK, Redactor

    redactor = Redactor(["hunter2"])
    result = {"stdout": "pw hunter2\n", "data": {"hunter2": ["x hunter2", 2]}, "status": "ok"}
    finished = ev.StepFinished(step_id="look", status="ok", message="said hunter2", result=result,
                               run_id="run-hunter2", seq=7, ts=12.5)
    masked = redactor.event(finished)
    assert type(masked) is ev.StepFinished and masked is not finished
    assert masked == dataclasses.replace(  # what the redactor made before, field by field
        finished, message=f"said {MASK}", step_id="look",
        result={"stdout": f"pw {MASK}\n", "data": {MASK: [f"x {MASK}", 2]}, "status": "ok"})
    assert (masked.run_id, masked.seq, masked.ts) == ("run-hunter2", 7, 12.5)  # the record's keys as they were
    assert finished.message == "said hunter2" and result["stdout"] == "pw hunter2\n"  # templates still see it
