"""The run as the screens see it, folded from engine events. No Textual here.

The engine calls ``RunFeed`` once per event, synchronously, in its own loop; a flood of output
must cost it next to nothing. So the feed only folds events into ``RunState`` (a deque append per
output line) and marks what changed; the screen redraws from it on a timer (~20 fps), however
many lines arrived in between (toolong's coalescing, without a message per line).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from runbook_tui.engine import events as ev

MAX_LINES = 5000  # kept per step; older lines are counted, not kept
# An undo the engine skipped, as the step's story tells it (its message says why).
UNDO_STORY = {"undo declined": "undo declined", "no undo defined: reverse it by hand": "no undo"}


@dataclass
class StepOutput:
    """The last MAX_LINES lines of a step, with when each arrived (wall clock, as the event says);
    ``dropped`` says how many earlier ones went. The journal keeps them all."""

    lines: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_LINES))
    times: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_LINES))
    dropped: int = 0
    total: int = 0

    def append(self, text: str, ts: float = 0.0) -> None:
        if len(self.lines) == self.lines.maxlen:
            self.dropped += 1
        self.lines.append(text)
        self.times.append(ts)
        self.total += 1


@dataclass
class StepView:
    id: str
    title: str
    mutating: bool = False
    undoable: bool = False  # it has an ``undo`` the engine can run
    target: str | None = None
    action: str | None = None
    needs: list[str] = field(default_factory=list)
    loc: str | None = None
    status: str = "pending"  # pending | running | a StepFinished status
    started_at: float | None = None  # by the app's clock
    elapsed: float | None = None  # final, once finished
    rendered: str = ""
    message: str = ""
    attempt: int = 1
    phase: str = "do"
    guards: list[tuple[str, str, bool, str]] = field(default_factory=list)  # guard, expr, passed, detail
    output: StepOutput = field(default_factory=StepOutput)
    result: dict[str, Any] | None = None  # as the engine recorded it: exit code, parsed data
    # Each finish in order, undo included ("ok", then "undone"): an undo adds to the story.
    history: list[str] = field(default_factory=list)
    recorded: bool = False  # its outcome comes from the journal of the run being resumed

    @property
    def story(self) -> str:
        """The step's finishes as read: "ok → undone", "ok → undo declined"."""
        return " → ".join("done" if status == "ok" else status for status in self.history)


@dataclass
class NoticeView:
    """Something the engine told the operator that is no step's doing (a lock lost or taken
    over, a journal that cannot be written), as it said it."""

    text: str
    level: str = "warning"  # info | warning | error
    recorded: bool = False  # said in the earlier part of the run being resumed (its journal)


class RunState:
    """Steps in procedure order, their state, output and guards; what the run registered; the
    engine's notices; the run's outcome."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.run_id = ""
        self.title = ""
        self.mode = ""
        self.steps: dict[str, StepView] = {}
        self.running: list[str] = []  # newest last
        self.latest: str | None = None  # the step last started or asked about: the one to show
        self.outcome: str | None = None
        self.message = ""
        self.started_at: float | None = None  # by the clock: the run's elapsed time
        self.finished_at: float | None = None
        self.gate: ev.GateRequested | None = None
        self.failures: dict[str, int] = {}  # failure gates asked per step: its attempt number
        # Results by the name their step registered them under (``register:``), from the events:
        # as the journal records them (secrets masked, a sensitive step's output as a digest).
        self.registered: dict[str, Any] = {}
        self.notices: list[NoticeView] = []  # in the order said
        # What changed since the screen last looked: step ids whose row or output changed.
        self.dirty_rows: set[str] = set()
        self.dirty_output: set[str] = set()
        self.dirty_run = False

    def step(self, sid: str) -> StepView:
        view = self.steps.get(sid)
        if view is None:  # a called procedure's step ("call-step/child") or an unknown one
            view = self.steps[sid] = StepView(sid, sid.rsplit("/", 1)[-1])
        return view

    def __iter__(self) -> Iterator[StepView]:
        return iter(self.steps.values())

    @property
    def following(self) -> str | None:
        """The step the screen follows: the newest running one, else the last one seen."""
        return self.running[-1] if self.running else self.latest

    def apply(self, event: ev.Event) -> None:
        if isinstance(event, ev.OutputLine):  # the hot path: first, and minimal
            view = self.steps.get(event.step_id) or self.step(event.step_id)
            view.output.append(event.text, event.ts)
            self.dirty_output.add(event.step_id)
            return
        if isinstance(event, ev.RunStarted):
            self.run_id, self.title, self.mode = event.run_id, event.title, event.mode
            self.started_at = self.clock()
            for s in event.steps:
                view = self.step(s["id"])
                view.title, view.mutating = s.get("title") or s["id"], bool(s.get("mutating"))
                view.target, view.action = s.get("target"), s.get("action")
                view.needs, view.loc = list(s.get("needs") or []), s.get("loc")
            self.dirty_run = True
        elif isinstance(event, ev.StepStarted):
            view = self.step(event.step_id)
            # A later attempt of a step still running (a retry, an `until` look) goes on its
            # clock: the step's time is all of its attempts', as the engine's duration is.
            if not (event.attempt > 1 and view.status == "running" and view.started_at is not None):
                view.started_at = self.clock()
            view.status, view.elapsed = "running", None
            view.rendered, view.attempt, view.phase = event.rendered, event.attempt, event.phase
            view.target = event.target or view.target
            if event.step_id in self.running:
                self.running.remove(event.step_id)
            self.running.append(event.step_id)
            self.latest = event.step_id
            self.dirty_rows.add(event.step_id)
        elif isinstance(event, ev.GuardEvaluated):
            self.step(event.step_id).guards.append((event.guard, event.expression, event.passed, event.detail))
            self.dirty_rows.add(event.step_id)
        elif isinstance(event, ev.StepFinished):
            view = self.step(event.step_id)
            if event.phase == "undo":
                view.history.append(UNDO_STORY.get(event.message, event.status) if event.status == "skipped"
                                    else "undo failed" if event.status == "failed" else event.status)
                if event.status == "skipped":  # the change stays: the step is still done
                    view.message = event.message
                    self.dirty_rows.add(event.step_id)
                    self.running = [s for s in self.running if s != event.step_id]
                    return
            else:
                view.history.append(event.status)
                if event.result is not None:
                    view.result = event.result
            view.status, view.message = event.status, event.message
            if view.started_at is not None and event.status != "would-run":
                view.elapsed = self.clock() - view.started_at
            if event.rendered:
                view.rendered = event.rendered
            view.phase = event.phase
            self._register(event)
            if event.step_id in self.running:
                self.running.remove(event.step_id)
            self.dirty_rows.add(event.step_id)
        elif isinstance(event, ev.GateRequested):
            self.gate = event
            if event.gate == "failure":
                self.failures[event.step_id] = self.failures.get(event.step_id, 0) + 1
            if event.step_id in self.steps:
                self.latest = event.step_id  # show the step the question is about
            self.dirty_run = True
        elif isinstance(event, ev.GateAnswered):
            self.gate = None
            self.dirty_run = True
        elif isinstance(event, ev.Notice):
            self.notices.append(NoticeView(event.text, event.level))
            self.dirty_run = True  # rare: the whole run's view redraws
        elif isinstance(event, ev.RunFinished):
            self.outcome, self.message = event.outcome, event.message
            self.finished_at = self.clock()
            self.running.clear()
            self.dirty_run = True

    def _register(self, event: ev.StepFinished) -> None:
        """The engine registers a step's result when the step succeeded. A called procedure's
        steps (``call-step/child``) register in the called run's names, not this run's."""
        if event.register and event.status == "ok" and event.phase == "do" and "/" not in event.step_id:
            self.registered[event.register] = event.result

    def undoable_changes(self) -> list[str]:
        """The changes this run completed that an undo can walk back: mutating steps finished ok
        that have an ``undo``."""
        return [v.id for v in self if v.status == "ok" and v.phase == "do" and v.mutating and v.undoable]

    def run_elapsed(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at if self.finished_at is not None else self.clock()) - self.started_at

    def by_hand(self) -> list[StepView]:
        """The changes an undo left in place for the operator to reverse: declined, without an
        undo, or whose undo failed."""
        return [v for v in self if v.history[-1:] and v.history[-1] in ("undo declined", "no undo", "undo failed")]

    def seed_recorded(self, statuses: dict[str, str], results: dict[str, dict[str, Any]]) -> None:
        """A resumed run: the steps its journal says finished, with their recorded outcomes."""
        for sid, status in statuses.items():
            view = self.step(sid)
            view.status, view.recorded = status, True
            view.history = [status]
            result = results.get(sid) or {}
            view.result = result or None
            view.message = str(result.get("message") or "")
            self.dirty_rows.add(sid)

    def seed_notices(self, notices: list[tuple[str, str]]) -> None:
        """A resumed run: the notices its journal recorded, (text, level), before this part."""
        self.notices[:0] = [NoticeView(text, level, recorded=True) for text, level in notices]
        self.dirty_run = True

    def errors(self) -> list[NoticeView]:
        """The error notices: what stopped the run, or made its record incomplete."""
        return [n for n in self.notices if n.level == "error"]

    def elapsed(self, view: StepView) -> float | None:
        if view.elapsed is not None:
            return view.elapsed
        if view.status == "running" and view.started_at is not None:
            return self.clock() - view.started_at
        return None

    def take_dirty(self) -> tuple[set[str], set[str], bool]:
        rows, output, run = self.dirty_rows, self.dirty_output, self.dirty_run
        self.dirty_rows, self.dirty_output, self.dirty_run = set(), set(), False
        return rows, output, run


class RunFeed:
    """The engine subscriber: folds each event into a RunState, hands on the rare ones.

    ``on_event`` (optional) receives every event but output lines: gates, steps, the run's end.
    """

    def __init__(self, state: RunState, on_event: Callable[[ev.Event], Any] | None = None):
        self.state = state
        self.on_event = on_event

    def __call__(self, event: ev.Event) -> None:
        self.state.apply(event)
        if self.on_event is not None and not isinstance(event, ev.OutputLine):
            self.on_event(event)
