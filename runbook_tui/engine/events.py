"""Typed engine events. Every subscriber (console, journal, TUI) sees the same stream.

Each event carries the run id, a monotonic counter, a wall-clock timestamp and, for step events,
the step's source location (``procedures/reload.yaml:12``), in the manner of ansible-runner's
event schema.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

StepStatus = Literal[
    "ok", "failed", "skipped", "blocked", "would-run", "unproven", "undone", "cancelled"
]
Outcome = Literal["succeeded", "failed", "aborted", "refused"]
Phase = Literal["do", "undo"]  # a step's own run, or the run of its ``undo``


@dataclass(kw_only=True)
class Event:
    kind: ClassVar[str] = "event"
    run_id: str = ""
    seq: int = 0
    ts: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready data. Shallow: every field holds plain data already (dicts,
        lists, scalars), which ``dataclasses.asdict`` would only deep-copy, at a cost per line
        the journal writes. Callers serialise it at once; they do not keep or change it."""
        data: dict[str, Any] = {"event": self.kind}
        for name in field_names(type(self)):
            data[name] = getattr(self, name)
        return data


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(cls: type[Event]) -> tuple[str, ...]:
    """An event class's fields' names, in order (``dataclasses.fields`` builds them per call)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


@dataclass(kw_only=True)
class StepEvent(Event):
    step_id: str
    loc: str | None = None  # "procedures/reload.yaml:12"


@dataclass(kw_only=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    procedure: str
    title: str
    path: str
    mode: str  # live | dry-run | offline | lab
    operator: str
    inputs: dict[str, Any]
    targets: dict[str, str]  # name -> "ssh admin@10.0.20.1:22" / "kubernetes lab/mailserver"
    inventory: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)  # id, title, needs, mutating, loc
    resumed: bool = False


@dataclass(kw_only=True)
class RunFinished(Event):
    kind: ClassVar[str] = "run_finished"
    outcome: Outcome
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(kw_only=True)
class StepStarted(StepEvent):
    kind: ClassVar[str] = "step_started"
    title: str
    action: str
    target: str | None = None
    rendered: str = ""  # exactly what runs: the command, the patch, the file
    mutating: bool = False
    attempt: int = 1
    item: Any = None
    phase: Phase = "do"


@dataclass(kw_only=True)
class OutputLine(StepEvent):
    kind: ClassVar[str] = "output"
    stream: str
    text: str


@dataclass(kw_only=True)
class OutputTruncated(StepEvent):
    kind: ClassVar[str] = "output_truncated"
    kept_bytes: int  # journal bytes of the step's output that were kept
    dropped_lines: int = 0
    dropped_bytes: int = 0


@dataclass(kw_only=True)
class GuardEvaluated(StepEvent):
    kind: ClassVar[str] = "guard"
    guard: str  # when | require | expect | until | assert
    expression: str
    passed: bool
    detail: str = ""


@dataclass(kw_only=True)
class GateRequested(StepEvent):
    kind: ClassVar[str] = "gate_requested"
    gate_id: str
    gate: str  # plan | confirm | typed | manual | choose | failure | override | resume | undo
    text: str
    details: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class GateAnswered(StepEvent):
    kind: ClassVar[str] = "gate_answered"
    gate_id: str
    gate: str
    approved: bool
    choice: str | None = None
    reason: str | None = None
    who: str = ""


@dataclass(kw_only=True)
class StepFinished(StepEvent):
    kind: ClassVar[str] = "step_finished"
    status: StepStatus
    message: str = ""
    exit_code: int | None = None
    duration: float = 0.0
    rendered: str = ""
    register: str | None = None
    result: dict[str, Any] | None = None  # bounded: what later steps and a resume need
    interrupted: bool = False  # cut off mid-command: a resume asks before running it again
    phase: Phase = "do"


@dataclass(kw_only=True)
class Notice(Event):
    """Something the operator must know that is no step's doing (a lock taken over, a journal
    that cannot be written)."""

    kind: ClassVar[str] = "notice"
    text: str
    level: Literal["info", "warning", "error"] = "warning"


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RunStarted,
        RunFinished,
        StepStarted,
        OutputLine,
        OutputTruncated,
        GuardEvaluated,
        GateRequested,
        GateAnswered,
        StepFinished,
        Notice,
    )
}


def event_from_dict(data: dict[str, Any]) -> Event:
    data = dict(data)
    cls = EVENT_TYPES[data.pop("event")]
    names = field_names(cls)
    return cls(**{k: v for k, v in data.items() if k in names})
