"""What a run is given and what it gives back: options, the state a resume restores, the report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

from runbook_tui.engine import events as ev

if TYPE_CHECKING:
    from runbook_tui.engine.locks import ChangeLock
    from runbook_tui.language.model import Step

Subscriber = Callable[[ev.Event], None]


class Record(Protocol):
    """A subscriber that keeps the record a resume needs (the journal): ``failure`` says why it
    cannot write, ``check_room`` raises before a change it could not record."""

    failure: str | None

    def __call__(self, event: ev.Event) -> None: ...

    def check_room(self) -> None: ...


def is_record(subscriber: Subscriber) -> TypeGuard[Record]:
    return hasattr(subscriber, "check_room")

OK_STATUSES = frozenset({"ok", "skipped", "would-run", "unproven"})
# What alerting reads: 0 all well; 1 a check or a step failed; 2 invalid input (the CLI's);
# 3 refused or aborted; 4 the run could not be carried out (a target unreachable or refusing us,
# the journal unwritable), which says nothing yet about the mail edge itself.
EXIT_CODES = {"succeeded": 0, "failed": 1, "aborted": 3, "refused": 3}
EXIT_COULD_NOT_RUN = 4


@dataclass
class RunOptions:
    dry_run: bool = False
    offline: bool = False  # dry-run that connects to nothing
    lab: bool = False  # the targets are the rehearsal lab
    concurrency: int = 8
    default_timeout: float = 300.0
    run_id: str | None = None
    inventory_path: str | None = None
    accept_host_keys: tuple[str, ...] = ()
    # Taken before the plan gate of a run that changes things, held to its end (locks.py).
    change_lock: ChangeLock | None = None
    wait_for_lock: bool = False
    # Awaited before each top-level step starts (a guided walkthrough holds its Next here).
    before_step: Callable[[Step], Awaitable[None]] | None = None

    @property
    def mode(self) -> str:
        if self.offline:
            return "offline"
        if self.dry_run:
            return "dry-run"
        return "lab" if self.lab else "live"


@dataclass
class ResumeState:
    """What a journal says of an interrupted run (see ``journal.resume_state``)."""

    run_id: str
    next_seq: int
    statuses: dict[str, str]  # step id -> final status of completed steps
    results: dict[str, dict[str, Any]]  # step id -> result context, for registers and undo
    inflight: list[str]


@dataclass
class RunReport:
    run_id: str
    outcome: ev.Outcome
    message: str = ""
    statuses: dict[str, str] = field(default_factory=dict)
    could_not_run: bool = False  # it failed because a target or the journal could not be used

    @property
    def exit_code(self) -> int:
        if self.outcome == "failed" and self.could_not_run:
            return EXIT_COULD_NOT_RUN
        return EXIT_CODES[self.outcome]


class Stop(Exception):
    """A gate was refused or the run cannot go on: stop scheduling, report ``outcome``."""

    def __init__(self, outcome: ev.Outcome, message: str):
        self.outcome = outcome
        super().__init__(message)
