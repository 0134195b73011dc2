"""The engine: walks a procedure's step graph, guards and gates every step, emits events.

It knows no UI and no step kind. Subscribers (console, journal, TUI) receive every event; gates
are awaited through the ``Gates`` interface. Its jobs live in one module each, joined here:
scheduler (the graph), steps (one step), gating (questions and what must hold before a change),
undo, calls; options has what a run is given and gives back.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections.abc import Iterable
from typing import Any

from runbook_tui.engine import events as ev
from runbook_tui.engine.calls import Calls
from runbook_tui.engine.gates import Gates, operator
from runbook_tui.engine.gating import Gating
from runbook_tui.engine.locks import Holder
from runbook_tui.engine.options import (  # noqa: F401  (re-exported: faces import them from here)
    EXIT_CODES,
    OK_STATUSES,
    Record,
    ResumeState,
    RunOptions,
    RunReport,
    Stop,
    Subscriber,
    is_record,
)
from runbook_tui.engine.redact import MASK, Redactor
from runbook_tui.engine.scheduler import Scheduling
from runbook_tui.engine.steps import StepExecution
from runbook_tui.engine.undo import Undo
from runbook_tui.language.inventory import Inventory
from runbook_tui.language.model import Procedure, Step, StepBody
from runbook_tui.transports.pool import Transports


class Engine(Scheduling, StepExecution, Gating, Undo, Calls):
    def __init__(
        self,
        procedure: Procedure,
        inventory: Inventory,
        *,
        inputs: dict[str, Any],
        gates: Gates,
        subscribers: Iterable[Subscriber] = (),
        options: RunOptions | None = None,
        transports: Transports | None = None,
        catalog: Any = None,
        resume: ResumeState | None = None,
        parent: "Engine | None" = None,
        prefix: str = "",
    ):
        self.procedure = procedure
        self.inventory = inventory
        self.inputs = inputs
        self.gates = gates
        self.options = options or RunOptions()
        self.catalog = catalog
        self.parent = parent
        self.prefix = prefix
        self.resume = resume
        self._owns_transports = transports is None
        self.transports = transports or Transports(inventory, accept_host_keys=self.options.accept_host_keys)
        self.subscribers = list(subscribers)
        self.run_id = (resume.run_id if resume else None) or self.options.run_id or _new_run_id(procedure.id)
        self._seq = itertools.count(resume.next_seq if resume else 1)
        self._gate_ids = itertools.count(1)
        self.operator = operator()
        self.statuses: dict[str, str] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.registered: dict[str, Any] = {}
        self._done_mutations: list[tuple[Step, dict[str, Any]]] = []
        self._speculative: set[str] = set()  # would-run or unproven: later guards may not hold
        self._plan_asked: bool = parent is not None and parent._plan_asked
        self._locked = False
        self._lock_started = False  # being taken in the background (locks.py ChangeLock.start)
        # Subscribers that keep the record a resume needs (the journal): a run does not change
        # things while they cannot write.
        self._records: list[Record] = [s for s in self.subscribers if is_record(s)]
        self._secret_inputs = {n for n, spec in procedure.inputs.items() if spec.secret}
        self._redactor: Redactor = Redactor() if parent is None else parent.root._redactor
        self._redactor.add([inputs.get(n) for n in self._secret_inputs])
        self._record_failure: str | None = None
        self._last_change: str | None = None
        self._lock_lost: str | None = None  # why the change lock no longer holds (gating.py)
        self._skip_reason: str | None = None
        self._deps = procedure.dependencies()
        if resume:
            self._restore(resume)

    @property
    def root(self) -> "Engine":
        engine = self
        while engine.parent is not None:
            engine = engine.parent
        return engine

    def emit(self, event: ev.Event) -> ev.Event:
        if self.parent is not None:
            return self.parent.emit(event)
        event.run_id = self.run_id
        event.seq = next(self._seq)
        if self._redactor:
            event = self._redactor.event(event)
        for subscriber in self.subscribers:
            subscriber(event)
        return event

    def _loc(self, step: StepBody) -> str | None:
        loc = step.loc  # a pydantic private attribute: read once, it is several calls
        return str(loc) if loc else None

    def _sid(self, step_id: str) -> str:
        return f"{self.prefix}{step_id}"

    def context(self, **extra: Any) -> dict[str, Any]:
        """What templates see: inputs, vars, targets, run, every registered name."""
        targets = {}
        for name, target in self.inventory.targets.items():
            if target.ssh:
                targets[name] = {"kind": "ssh", **target.ssh.model_dump()}
            else:
                assert target.kubernetes is not None  # a target is exactly one of ssh and kubernetes
                targets[name] = {"kind": "kubernetes", **target.kubernetes.model_dump()}
        ctx = {
            "inputs": self.inputs,
            "vars": self.inventory.vars,
            "targets": targets,
            "run": {
                "id": self.run_id,
                "short_id": self.run_id.rsplit("-", 1)[-1],
                "mode": self.options.mode,
                "dry_run": self.options.dry_run or self.options.offline,
                "lab": self.options.lab,
                "operator": self.operator,
            },
        }
        ctx.update(self.registered)
        ctx.update(extra)
        return ctx

    async def run(self) -> RunReport:
        if self.parent is None:
            self.emit(ev.RunStarted(
                procedure=self.procedure.id, title=self.procedure.title,
                path=self.procedure.path, mode=self.options.mode, operator=self.operator,
                inputs={k: MASK if k in self._secret_inputs else v for k, v in self.inputs.items()},
                targets=self._describe_targets(),
                inventory=self.options.inventory_path, steps=self._describe_steps(),
                resumed=self.resume is not None,
            ))
        try:
            try:
                await self._choose_inputs()
                self._start_change_lock()
                outcome, message = await self._schedule()
            except Stop as exc:
                return self._finish(exc.outcome, str(exc))
            except asyncio.CancelledError:
                # Cleanup (e.g. a probe Job) still runs, each step behind its own gates; a
                # second Ctrl+C exits at once.
                await self._always()
                self._finish("aborted", "cancelled by the operator")
                raise
            if outcome != "succeeded":
                await self._always()
            return self._finish(outcome, message)
        finally:
            if (self._locked or self._lock_started) and self.options.change_lock is not None:
                self.options.change_lock.release()
                self._locked = self._lock_started = False
            if self._owns_transports and self.parent is None:
                await self.transports.close()

    def _start_change_lock(self) -> None:
        """A run that will change things starts taking its lock now: the round trips overlap
        its read-only steps. It is still held before the plan gate (gating.py waits for it)."""
        lock, opts = self.options.change_lock, self.options
        if self.parent is None and lock is not None and not (opts.dry_run or opts.offline) and any(
                step.is_mutating and self.statuses.get(step.id) not in OK_STATUSES for step in self.procedure.steps):
            lock.start(Holder(self.operator, os.getpid(), time.time(), self.run_id))
            self._lock_started = True

    def _finish(self, outcome: ev.Outcome, message: str) -> RunReport:
        self._record_failed()  # said before the end, even when only read-only steps ran since
        counts: dict[str, int] = {}
        for status in self.statuses.values():
            counts[status] = counts.get(status, 0) + 1
        if self.parent is None:
            self._said_lock_lost()
            self.emit(ev.RunFinished(outcome=outcome, message=message, counts=counts))
        could_not_run = self._record_failure is not None or self.root._lock_lost is not None or any(
            self.results.get(sid, {}).get("unreachable") for sid, status in self.statuses.items() if status == "failed")
        self.report = RunReport(self.run_id, outcome, message, dict(self.statuses), could_not_run=could_not_run)
        return self.report

    def _describe_targets(self) -> dict[str, str]:
        out = {}
        for name, t in self.inventory.targets.items():
            if t.ssh:
                out[name] = f"ssh {t.ssh.user + '@' if t.ssh.user else ''}{t.ssh.host}:{t.ssh.port}"
            else:
                k = t.kubernetes
                assert k is not None  # a target is exactly one of ssh and kubernetes
                out[name] = f"kubernetes {k.context or '(current context)'}/{k.namespace or 'default'}"
        return out

    def _describe_steps(self) -> list[dict[str, Any]]:
        return [
            {"id": s.id, "title": s.label, "needs": self._deps[s.id], "action": s.action,
             "target": s.target_name, "mutating": s.is_mutating, "loc": self._loc(s)}
            for s in self.procedure.steps
        ]


def _new_run_id(procedure_id: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{procedure_id}-{uuid.uuid4().hex[:6]}"
