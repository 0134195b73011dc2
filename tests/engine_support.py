"""Helpers for tests that run the engine: a procedure from a list of steps, a recording
subscriber (doit's FakeReporter), gates answered from a script, and a run with both.

(No tests here.)
"""

from __future__ import annotations

from typing import Any

from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import AutoGates, GateAnswer, GateRequest
from runbook_tui.engine.runner import Engine, RunOptions, RunReport
from runbook_tui.language.inventory import Inventory
from runbook_tui.language.model import Procedure


def make(steps: list[dict], **inputs) -> Procedure:
    return Procedure.model_validate({"id": "t", "title": "Test", "inputs": inputs, "steps": steps})


class Recorder:
    def __init__(self):
        self.events: list[ev.Event] = []

    def __call__(self, event: ev.Event) -> None:
        self.events.append(event)

    def kinds(self, *, output: bool = False) -> list[str]:
        return [
            f"{e.kind}:{getattr(e, 'step_id', '')}:{getattr(e, 'status', '') or getattr(e, 'gate', '')}".rstrip(":")
            for e in self.events
            if output or not isinstance(e, ev.OutputLine)
        ]

    def of(self, cls):
        return [e for e in self.events if isinstance(e, cls)]


class Scripted:
    """Gates answered from a script, recording what was asked."""

    def __init__(self, *answers: GateAnswer):
        self.answers = list(answers)
        self.asked: list[GateRequest] = []

    async def ask(self, request: GateRequest) -> GateAnswer:
        self.asked.append(request)
        return self.answers.pop(0) if self.answers else GateAnswer.no()


async def run(proc: Procedure, gates=None, inventory: Inventory | None = None, inputs: dict[str, Any] | None = None,
              subscribers: list = (), catalog: Any = None, **options) -> tuple[RunReport, Recorder]:
    """Run ``proc`` to its end (gates: AutoGates(yes=True) unless given); its report and every event."""
    rec = Recorder()
    engine = Engine(proc, inventory or Inventory(), inputs=inputs or {}, gates=gates or AutoGates(yes=True),
                    subscribers=[rec, *subscribers], options=RunOptions(**options), catalog=catalog)
    report = await engine.run()
    return report, rec
