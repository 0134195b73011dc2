"""The engine: walks a procedure's step graph, guards and gates every step, emits events.

It knows no UI. Subscribers (console, journal, TUI) receive every event; gates are awaited
through the ``Gates`` interface. Scheduling uses graphlib: steps whose ``needs`` are met run
concurrently under a global limit; after a failure nothing new starts, running steps finish,
and the operator chooses retry, skip, undo or abort.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from typing import Any, Awaitable, Callable

from runbook_tui.actions import ACTIONS
from runbook_tui.actions.base import Action, ActionContext, ActionResult, Rendered
from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import FAILURE_CHOICES, GateAnswer, GateRequest, Gates, operator
from runbook_tui.engine.redact import MASK, Redactor, digest_only
from runbook_tui.errors import RunbookError
from runbook_tui.language.inventory import Inventory
from runbook_tui.engine.locks import ChangeLock, Holder, LockHeld
from runbook_tui.language.model import Procedure, Retry, Step, StepBody
from runbook_tui.language.templating import TemplateProblem, evaluate, render_text
from runbook_tui.transports.pool import Transports

Subscriber = Callable[[ev.Event], None]
OK_STATUSES = frozenset({"ok", "skipped", "would-run", "unproven"})
EXIT_CODES = {"succeeded": 0, "failed": 1, "aborted": 3, "refused": 3}


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

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]


class _Stop(Exception):
    """A gate was refused or the run cannot go on: stop scheduling, report ``outcome``."""

    def __init__(self, outcome: ev.Outcome, message: str):
        self.outcome = outcome
        super().__init__(message)


class Engine:
    def __init__(
        self,
        procedure: Procedure,
        inventory: Inventory,
        *,
        inputs: dict[str, Any],
        gates: Gates,
        subscribers: list[Subscriber] = (),
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
        self._plan_asked = parent is not None and parent._plan_asked
        self._locked = False
        # Subscribers that keep the record a resume needs (the journal): a run does not change
        # things while they cannot write.
        self._records = [s for s in self.subscribers if hasattr(s, "check_room")]
        self._secret_inputs = {n for n, spec in procedure.inputs.items() if spec.secret}
        self._redactor = Redactor() if parent is None else parent.root._redactor
        self._redactor.add([inputs.get(n) for n in self._secret_inputs])
        self._record_failure: str | None = None
        self._last_change: str | None = None
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

    # ----------------------------------------------------------------- events
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
        return str(step.loc) if step.loc else None

    def _sid(self, step_id: str) -> str:
        return f"{self.prefix}{step_id}"

    # ---------------------------------------------------------------- context
    def context(self, **extra: Any) -> dict[str, Any]:
        """What templates see: inputs, vars, targets, run, every registered name."""
        targets = {}
        for name, target in self.inventory.targets.items():
            if target.ssh:
                targets[name] = {"kind": "ssh", **target.ssh.model_dump()}
            else:
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

    # ------------------------------------------------------------------ gates
    async def ask(self, kind: str, text: str, *, step: StepBody | None = None, step_id: str = "",
                  details: list[str] | None = None, **kw: Any) -> GateAnswer:
        gate_id = f"g{next(self._gate_ids)}"
        sid = self._sid(step_id) if step_id else ""
        text, details = self._redactor.text(text), self._redactor.value(details or [])
        loc = self._loc(step) if step else None
        request = GateRequest(
            id=gate_id, kind=kind, title=kw.pop("title", kind), text=text, step_id=sid,
            details=details or [], **kw,
        )
        self.emit(ev.GateRequested(step_id=sid, loc=loc, gate_id=gate_id, gate=kind, text=text, details=request.details))
        answer = await self.gates.ask(request)
        if kind == "typed" and answer.approved and answer.typed != request.phrase:
            answer = GateAnswer.no(f"typed {answer.typed!r}, expected {request.phrase!r}")
        self.emit(ev.GateAnswered(
            step_id=sid, loc=loc, gate_id=gate_id, gate=kind, approved=answer.approved,
            choice=answer.choice, reason=answer.reason, who=self.operator,
        ))
        return answer

    # -------------------------------------------------------------------- run
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
                outcome, message = await self._schedule()
            except _Stop as exc:
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
            if self._locked and self.options.change_lock is not None:
                self.options.change_lock.release()
                self._locked = False
            if self._owns_transports and self.parent is None:
                await self.transports.close()

    def _finish(self, outcome: ev.Outcome, message: str) -> RunReport:
        self._record_failed()  # said before the end, even when only read-only steps ran since
        counts: dict[str, int] = {}
        for status in self.statuses.values():
            counts[status] = counts.get(status, 0) + 1
        if self.parent is None:
            self.emit(ev.RunFinished(outcome=outcome, message=message, counts=counts))
        self.report = RunReport(self.run_id, outcome, message, dict(self.statuses))
        return self.report

    def _describe_targets(self) -> dict[str, str]:
        out = {}
        for name, t in self.inventory.targets.items():
            if t.ssh:
                out[name] = f"ssh {t.ssh.user + '@' if t.ssh.user else ''}{t.ssh.host}:{t.ssh.port}"
            else:
                k = t.kubernetes
                out[name] = f"kubernetes {k.context or '(current context)'}/{k.namespace or 'default'}"
        return out

    def _describe_steps(self) -> list[dict[str, Any]]:
        return [
            {"id": s.id, "title": s.label, "needs": self._deps[s.id], "action": s.action,
             "target": s.target_name, "mutating": s.is_mutating, "loc": self._loc(s)}
            for s in self.procedure.steps
        ]

    def _restore(self, resume: ResumeState) -> None:
        for sid, status in resume.statuses.items():
            if sid not in self._deps:
                continue
            self.statuses[sid] = status
            result = resume.results.get(sid)
            step = self.procedure.step(sid)
            if result is not None:
                self.results[sid] = result
                if step.register_:
                    self.registered[step.register_] = result
                if status == "ok" and step.is_mutating and not step.always:
                    self._done_mutations.append((step, result))
            if status in ("would-run", "unproven"):
                self._speculative.add(sid)

    async def _schedule(self) -> tuple[ev.Outcome, str]:
        sorter = TopologicalSorter(self._deps)
        sorter.prepare()
        ready: list[str] = []
        running: dict[asyncio.Task, str] = {}
        failed: list[str] = []
        stop: _Stop | None = None
        inflight = set(self.resume.inflight) if self.resume else set()
        try:
            while sorter.is_active():
                if not failed and stop is None:
                    ready.extend(sorter.get_ready())
                    while ready and len(running) < self.options.concurrency:
                        sid = ready.pop(0)
                        if sid in self.statuses and self.statuses[sid] in OK_STATUSES:
                            sorter.done(sid)  # completed before a resume: not repeated
                            continue
                        step = self.procedure.step(sid)
                        task = asyncio.create_task(self._run_step(step, resumed=sid in inflight))
                        running[task] = sid
                    if not running and not ready:
                        ready.extend(sorter.get_ready())  # steps done before a resume freed these
                        if not ready:
                            break  # nothing can become ready (should not happen: graph is validated)
                        continue
                if running:
                    done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        sid = running.pop(task)
                        try:
                            status = task.result()
                        except _Stop as exc:
                            stop = stop or exc
                            continue
                        if status in OK_STATUSES:
                            sorter.done(sid)
                        else:
                            failed.append(sid)
                    continue
                if stop is not None:
                    return stop.outcome, str(stop)
                if failed:
                    choice = await self._on_failure(failed)
                    if choice == "retry":
                        for sid in failed:
                            task = asyncio.create_task(self._run_step(self.procedure.step(sid)))
                            running[task] = sid
                        failed = []
                    elif choice == "skip":
                        for sid in failed:
                            self._finish_step(self.procedure.step(sid), sid, "skipped",
                                              f"skipped after failing: {self._skip_reason}")
                            sorter.done(sid)
                        failed = []
                    elif choice == "undo":
                        undone = await self._undo()
                        return "failed", f"step {', '.join(failed)} failed; {undone}"
                    else:
                        return "failed", f"step {', '.join(failed)} failed"
        except asyncio.CancelledError:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            for sid in running.values():
                step = self.procedure.step(sid)
                self._finish_step(step, sid, "cancelled", "cancelled by the operator")
            raise
        if stop is not None:
            return stop.outcome, str(stop)
        if failed:
            return "failed", f"step {', '.join(failed)} failed"
        bad = [sid for sid, status in self.statuses.items() if status not in OK_STATUSES]
        if bad:
            return "failed", f"step {', '.join(bad)} did not succeed"
        return "succeeded", ""

    async def _choose_inputs(self) -> None:
        """A choice input with no value and no default is asked for, once, before anything runs."""
        for name, spec in self.procedure.inputs.items():
            if spec.type != "choice" or self.inputs.get(name) is not None or not spec.choices:
                continue
            labels = tuple(str(c) for c in spec.choices)
            answer = await self.ask("choose", spec.prompt or f"Choose {name}", title=f"Input: {name}",
                                    choices=labels, default=None)
            if not answer.approved or answer.choice not in labels:
                raise _Stop("refused", f"no value was chosen for input {name}")
            self.inputs[name] = spec.choices[labels.index(answer.choice)]

    async def _always(self) -> None:
        """The run stopped early: run the cleanup steps that never started, in file order."""
        for step in self.procedure.steps:
            if step.always and step.id not in self.statuses:
                try:
                    await self._run_step(step)
                except _Stop:
                    continue  # a refused gate on cleanup: the operator chose to leave it

    async def _on_failure(self, failed: list[str]) -> str:
        if self.parent is not None:
            return "abort"  # the calling step fails; the caller's operator decides
        names = ", ".join(failed)
        answer = await self.ask(
            "failure",
            f"Step {names} failed. Retry it, skip it (give a reason), undo what this run changed, "
            "or abort?",
            step_id=failed[0],
            title="A step failed",
            choices=FAILURE_CHOICES,
            default="abort",
            details=[f"{sid}: {self.results.get(sid, {}).get('message', '')}" for sid in failed],
        )
        choice = answer.choice if answer.approved and answer.choice in FAILURE_CHOICES else "abort"
        if choice == "skip" and not (answer.reason or "").strip():
            return "abort"  # skipping a failed step needs a reason on the record
        self._skip_reason = answer.reason
        return choice

    # ------------------------------------------------------------------- step
    def _finish_step(self, step: StepBody, sid: str, status: str, message: str = "", *,
                     rendered: str = "", result: ActionResult | None = None, started: float | None = None,
                     register: str | None = None, phase: str = "do") -> str:
        ctx = result.as_context() if result else None
        if ctx is not None:
            ctx = _bounded(ctx)
        if step.sensitive and ctx is not None:
            said = digest_only(ctx)["stdout"] or "nothing"
            self.emit(ev.OutputLine(step_id=self._sid(sid), loc=self._loc(step), stream="stdout",
                                    text=f"(sensitive output, not shown or journaled: {said})"))
        if phase == "do":
            self.statuses[sid] = status
            if ctx is not None:
                ctx["status"] = status
                self.results[sid] = ctx
            elif message:
                self.results[sid] = {"status": status, "message": message}
        self.emit(ev.StepFinished(
            step_id=self._sid(sid), loc=self._loc(step), status=status, message=message,
            exit_code=result.exit_code if result else None,
            duration=round(time.monotonic() - started, 4) if started else 0.0,
            rendered=rendered, register=register, phase=phase,
            result=digest_only(ctx) if ctx is not None and step.sensitive else ctx,
            interrupted=bool(result and result.interrupted),
        ))
        return status

    def _guard(self, step: StepBody, sid: str, guard: str, expression: Any, context: dict[str, Any]) -> bool:
        try:
            passed = bool(evaluate(expression, context))
            detail = ""
        except TemplateProblem as exc:
            passed, detail = False, str(exc)
        self.emit(ev.GuardEvaluated(
            step_id=self._sid(sid), loc=self._loc(step), guard=guard,
            expression=str(expression), passed=passed, detail=detail,
        ))
        return passed

    @staticmethod
    def _text(template: str | None, context: dict[str, Any]) -> str:
        """A message template rendered, or as written when it cannot be (it is for a person)."""
        if not template:
            return ""
        try:
            return render_text(template, context).strip()
        except TemplateProblem:
            return template

    def _downstream_of_speculation(self, sid: str) -> bool:
        """True when an ancestor did not really run (dry-run): this step's guards are unprovable."""
        seen, todo = set(), list(self._deps.get(sid, []))
        while todo:
            dep = todo.pop()
            if dep in self._speculative:
                return True
            if dep not in seen:
                seen.add(dep)
                todo.extend(self._deps.get(dep, []))
        return False

    async def _run_step(self, step: Step, *, resumed: bool = False) -> str:
        """One step, start to finish. Whatever goes wrong inside is the step's failure, on the
        record, never an escaped exception that would end the run unjournaled."""
        if self.options.before_step is not None and self.parent is None:
            await self.options.before_step(step)
        started = time.monotonic()
        try:
            return await self._guarded_step(step, resumed, started)
        except (_Stop, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug or an odd input: say it in one sentence, keep going safely
            return self._finish_step(step, step.id, "failed", f"{type(exc).__name__}: {exc}", started=started)

    async def _guarded_step(self, step: Step, resumed: bool, started: float) -> str:
        sid = step.id
        dry = self.options.dry_run or self.options.offline
        speculative = dry and self._downstream_of_speculation(sid)

        def unprovable_or(status: str, message: str) -> str:
            if speculative:
                self._speculative.add(sid)
                return self._finish_step(step, sid, "unproven", f"not provable in dry-run: {message}", started=started)
            return self._finish_step(step, sid, status, message, started=started)

        context = self.context()
        if step.when is not None and not self.options.offline:
            if not self._guard(step, sid, "when", step.when, context):
                return self._finish_step(step, sid, "skipped", f"when: {step.when} is false", started=started)
        if step.require is not None and not self.options.offline:
            if not self._guard(step, sid, "require", step.require, context):
                message = self._text(step.message, context) or f"precondition failed: {step.require}"
                if speculative:
                    return unprovable_or("blocked", message)
                if dry:
                    return self._finish_step(step, sid, "blocked", message, started=started)
                answer = await self.ask(
                    "override",
                    f"**Blocked:** {message}\n\nOverride only if you know why the guard is wrong here; "
                    "your reason is recorded.",
                    step=step, step_id=sid, title=f"{step.label}: precondition failed", needs_reason=True,
                )
                if not (answer.approved and (answer.reason or "").strip()):
                    return self._finish_step(step, sid, "blocked", message, started=started)

        try:
            items = self._items(step, context)
        except TemplateProblem as exc:
            return unprovable_or("failed", str(exc))

        if resumed and not dry:
            answer = await self.ask(
                "resume",
                f"Step **{step.label}** was running when the run stopped. It may have half-applied. "
                "Run it again?",
                step=step, step_id=sid, title="Resume an interrupted step",
            )
            if not answer.approved:
                raise _Stop("refused", f"step {sid} was in flight; re-running it was not confirmed")

        mutating = step.is_mutating
        action = ACTIONS[step.action]
        if self.options.offline or (dry and mutating):
            return await self._would_run(step, action, items, context, started)
        if mutating:
            self._check_record(f"step {sid}")

        if mutating and not self._plan_asked and not self.options.dry_run:
            await self._plan_gate(step)
        if step.confirm is not None:
            await self._confirm(step, context)

        # Downstream of a change not made, polling cannot succeed: one attempt says as much.
        once = speculative
        if step.foreach is None:
            result, rendered = await self._attempts(step, action, context, None, once=once)
        else:
            result, rendered = await self._fan_out(step, action, context, items, once=once)
        status = "ok" if result.ok else "failed"
        if status == "failed" and speculative and not result.unreachable:
            self._speculative.add(sid)
            return self._finish_step(step, sid, "unproven", f"not provable in dry-run: {result.message}",
                                     rendered=rendered, result=result, started=started)
        final = self._finish_step(step, sid, status, result.message, rendered=rendered, result=result,
                                  started=started, register=step.register_)
        if result.ok:
            if step.register_:
                self.registered[step.register_] = self.results[sid]
            if mutating:
                self.root._last_change = f"{self._sid(sid)}" + (f" on {step.target_name}" if step.target_name else "")
            if mutating and not step.always:  # cleanup is not a change to walk back
                self._done_mutations.append((step, self.results[sid]))
        return final

    def _items(self, step: StepBody, context: dict[str, Any]) -> list[Any]:
        if step.foreach is None:
            return [None]
        items = step.foreach if isinstance(step.foreach, list) else evaluate(step.foreach, context, truth=False)
        if isinstance(items, dict):
            items = [{"key": k, "value": v} for k, v in items.items()]
        if not isinstance(items, (list, tuple)):
            raise TemplateProblem(f"foreach must give a list, got {type(items).__name__}")
        return list(items)

    async def _would_run(self, step: Step, action: Action, items: list[Any], context: dict[str, Any], started: float) -> str:
        sid = step.id
        lines, details, unreachable = [], [], []
        for item in items:
            ctx = context if step.foreach is None else {**context, "item": item}
            try:
                r = action.render(step, ctx)
            except (TemplateProblem, RunbookError) as exc:
                lines.append(f"(rendered at run time: {exc})")
                continue
            lines.append(r.summary)
            if r.detail:
                details.append(r.detail)
            if not self.options.offline:
                try:
                    shown = await action.preview(r, self._action_context(step, sid))
                    if shown is not None:
                        details.append(shown)
                except RunbookError as exc:
                    # The target could not be read (a changed host key, no route): the rehearsal
                    # has not shown what would change, so it must not pass.
                    unreachable.append(f"cannot show what would change: {exc}")
        rendered = "\n".join(lines)
        self.emit(ev.StepStarted(step_id=self._sid(sid), loc=self._loc(step), title=step.label,
                                 action=step.action, target=step.target_name, rendered=rendered,
                                 mutating=step.is_mutating))
        if unreachable:
            return self._finish_step(step, sid, "failed", "\n".join(unreachable), rendered=rendered, started=started)
        self._speculative.add(sid)
        return self._finish_step(step, sid, "would-run", "\n\n".join(details), rendered=rendered, started=started)

    def _record_failed(self) -> str | None:
        """Why the run's record cannot be written, said once as a notice; None while it can."""
        root = self.root
        if root._record_failure is None:
            failure = next((r.failure for r in root._records if r.failure), None)
            if failure is None:
                return None
            root._record_failure = failure
            root.emit(ev.Notice(text=failure, level="error"))
        return root._record_failure

    def _changes_so_far(self) -> str:
        last = self.root._last_change
        return f"the last change made was step {last}." if last else "no change was made."

    def _check_record(self, before: str) -> None:
        """Stop before a change that the journal could not record (a full disk, a lost folder)."""
        failure = self._record_failed()
        if failure is None:
            for record in self.root._records:
                try:
                    record.check_room()
                except RunbookError as exc:
                    failure = str(exc)
        if failure is not None:
            raise _Stop("failed", f"{failure} Stopped before {before}; {self._changes_so_far()}")

    async def _take_change_lock(self) -> None:
        """Before the first change: one run at a time changes these targets."""
        root = self.root
        lock = root.options.change_lock
        if lock is None or root._locked:
            return
        holder = Holder(self.operator, os.getpid(), time.time(), root.run_id)
        try:
            notes = await lock.acquire(holder, wait=False)
        except LockHeld as held:
            if not root.options.wait_for_lock:
                raise _Stop("refused", f"{held} Nothing was changed; try again when it is done, or add --wait.") from None
            self.emit(ev.Notice(text=f"{held} Waiting for it to finish…", level="info"))
            notes = await lock.acquire(holder, wait=True)
        root._locked = True
        for note in notes:
            self.emit(ev.Notice(text=note))

    async def _plan_gate(self, first: Step) -> None:
        self._plan_asked = True
        self._check_record(f"step {first.id}")
        await self._take_change_lock()
        context = self.context()
        details = []
        for step in self.procedure.steps:
            if not step.is_mutating or self.statuses.get(step.id) in OK_STATUSES:
                continue
            where = step.target_name or ("operator" if ACTIONS[step.action].needs_person else "local machine")
            try:
                summary = ACTIONS[step.action].render(step, context).summary if step.foreach is None else f"for each of {step.foreach}"
            except (TemplateProblem, RunbookError):
                summary = "(rendered when it runs)"
            details.append(f"{step.id} on {where}: {summary}")
        answer = await self.ask(
            "plan",
            f"**{self.procedure.title}** will now change things ({self.options.mode}). "
            "These steps mutate, in order; each one with its own confirmation asks again.",
            step=first, step_id=first.id, title="Plan: what this run will change", details=details,
        )
        if not answer.approved:
            raise _Stop("refused", "the plan was not approved: nothing was changed")

    async def _confirm(self, step: StepBody, context: dict[str, Any], sid: str | None = None) -> None:
        sid = sid or getattr(step, "id", "")
        text = render_text(step.confirm.text, context)
        try:
            summary = ACTIONS[step.action].render(step, context).summary if step.foreach is None else ""
        except (TemplateProblem, RunbookError):
            summary = ""
        details = [f"on {step.target_name}: {summary}" if step.target_name else summary] if summary else []
        if step.confirm.typed:
            phrase = render_text(step.confirm.typed, context)
            answer = await self.ask("typed", text, step=step, step_id=sid, title=step.label,
                                    details=details, phrase=phrase)
        else:
            answer = await self.ask("confirm", text, step=step, step_id=sid, title=step.label, details=details)
        if not answer.approved:
            raise _Stop("refused", f"confirmation for step {sid} was refused")

    def _action_context(self, step: StepBody, sid: str, item: Any = None) -> ActionContext:
        full = self._sid(sid)
        loc = self._loc(step)
        emit = self.emit
        prefix = f"[{item}] " if item is not None and not isinstance(item, (dict, list)) else ""

        def output(stream: str, text: str) -> None:
            emit(ev.OutputLine(step_id=full, loc=loc, stream=stream, text=prefix + text))

        if step.sensitive:  # nothing of it on screen or in the journal; the result keeps it
            def output(stream: str, text: str) -> None:  # noqa: F811
                pass

        async def ask(kind: str, text: str, *, details: list[str]) -> GateAnswer:
            return await self.ask(kind, text, step=step, step_id=sid, title=step.title or sid, details=details)

        return ActionContext(
            step_id=full, inventory=self.inventory, transports=self.transports, output=output,
            read_only=not step.is_mutating, timeout=self._timeout(step),
            ask=ask, call=lambda proc, inputs: self._call(sid, proc, inputs),
        )

    def _timeout(self, step: StepBody) -> float | None:
        if ACTIONS[step.action].needs_person:
            return None  # a person takes the time it takes
        return step.timeout if step.timeout is not None else self.options.default_timeout

    async def _attempts(self, step: StepBody, action: Action, context: dict[str, Any], item: Any,
                        sid: str | None = None, phase: str = "do", once: bool = False) -> tuple[ActionResult, str]:
        """Render, run, parse, check: with ``retry`` until the postconditions hold."""
        sid = sid or step.id
        retry = step.retry or (Retry(attempts=10, delay=3.0) if step.until is not None else Retry(attempts=1, delay=0))
        if once:
            retry = Retry(attempts=1, delay=0)
        ctx = context if item is None else {**context, "item": item}
        result, rendered = ActionResult(ok=False, message="not run"), ""
        for attempt in range(1, retry.attempts + 1):
            try:
                r = action.render(step, ctx)
                rendered = r.summary
            except (TemplateProblem, RunbookError) as exc:
                return ActionResult(ok=False, message=f"cannot render: {exc}"), rendered
            self.emit(ev.StepStarted(
                step_id=self._sid(sid), loc=self._loc(step), title=step.title or sid, action=r.action,
                target=r.target, rendered=r.summary + (f"\n{r.detail}" if r.detail else ""),
                mutating=step.is_mutating, attempt=attempt, item=item, phase=phase,
            ))
            result = await self._execute(step, action, r, sid, item)
            if result.exit_code is not None or result.ok:  # it ran: postconditions decide
                rctx = {**ctx, "result": result.as_context()}
                for guard in ("expect", "until"):
                    expression = getattr(step, guard)
                    if expression is not None:
                        passed = self._guard(step, sid, guard, expression, rctx)
                        result.ok = passed
                        if not passed:
                            result.message = f"{guard} not met: {expression}" + (f" ({result.message})" if result.message else "")
                            break
            if result.ok or attempt == retry.attempts:
                break
            await asyncio.sleep(retry.delay)
        return result, rendered

    async def _execute(self, step: StepBody, action: Action, r: Rendered, sid: str, item: Any) -> ActionResult:
        actx = self._action_context(step, sid, item)
        timeout = actx.timeout
        if timeout:
            timeout += action.timeout_slack(step)
        try:
            async with asyncio.timeout(timeout):
                result = await action.execute(r, actx)
        except TimeoutError:
            return ActionResult(ok=False, message=f"timed out after {_seconds(timeout)}", interrupted=True)
        except RunbookError as exc:
            return ActionResult(ok=False, message=str(exc), unreachable=getattr(exc, "unreachable", False),
                                interrupted=getattr(exc, "interrupted", False))
        if step.parse and result.exit_code in (0, None) and result.ok:
            from runbook_tui.parsers import get_parser

            try:
                result.data = get_parser(step.parse)(result.stdout)
            except RunbookError as exc:
                result.ok = False
                result.message = f"{step.parse}: {exc}"
        return result

    async def _fan_out(self, step: Step, action: Action, context: dict[str, Any], items: list[Any],
                       once: bool = False) -> tuple[ActionResult, str]:
        limit = asyncio.Semaphore(step.concurrency)

        async def one(item: Any) -> tuple[ActionResult, str]:
            async with limit:
                return await self._attempts(step, action, context, item, once=once)

        outcomes = await asyncio.gather(*(one(item) for item in items))
        results = [r for r, _ in outcomes]
        failed = [str(items[i]) for i, r in enumerate(results) if not r.ok]
        merged = ActionResult(
            ok=not failed,
            exit_code=max((r.exit_code or 0 for r in results), default=0),
            stdout="".join(r.stdout for r in results),
            stderr="".join(r.stderr for r in results),
            data=[{"item": items[i], **r.as_context()} for i, r in enumerate(results)],
            message=f"failed for {', '.join(failed)}: " + "; ".join(r.message for r in results if not r.ok) if failed else "",
            unreachable=any(r.unreachable for r in results),
            interrupted=any(r.interrupted for r in results),
        )
        return merged, "\n".join(rendered for _, rendered in outcomes)

    # ---------------------------------------------------------------- call
    async def _call(self, sid: str, procedure_id: str, given: dict[str, Any]) -> ActionResult:
        from runbook_tui.engine.inputs import resolve

        if self.catalog is None:
            return ActionResult(ok=False, message=f"cannot call {procedure_id}: no procedures folder")
        child_proc = self.catalog.get(procedure_id)
        child = Engine(
            child_proc, self.inventory, inputs=resolve(child_proc, given), gates=self.gates,
            options=self.options, transports=self.transports, catalog=self.catalog,
            parent=self, prefix=f"{self._sid(sid)}/",
        )
        report = await child.run()
        self._plan_asked = self._plan_asked or child._plan_asked
        ok = report.outcome == "succeeded"
        return ActionResult(ok=ok, data=child.registered, message="" if ok else f"{procedure_id}: {report.message}")

    # ---------------------------------------------------------------- undo
    async def _undo(self) -> str:
        """Walk completed mutating steps in reverse, each ``undo`` behind its own gate."""
        undone, manual = 0, []
        for step, result in reversed(self._done_mutations):
            started = time.monotonic()
            if step.undo is None:
                manual.append(step.id)
                self._finish_step(step, step.id, "skipped", "no undo defined: reverse it by hand",
                                  started=started, phase="undo")
                continue
            context = self.context(result=result)
            body = step.undo
            action = ACTIONS[body.action]
            try:
                summary = action.render(body, context).summary
            except (TemplateProblem, RunbookError) as exc:
                summary = f"(cannot render: {exc})"
            answer = await self.ask(
                "undo", f"Undo **{step.label}**: {body.title or 'reverse this step'}",
                step=step, step_id=step.id, title=f"Undo {step.id}",
                details=[f"on {body.target_name}: {summary}" if body.target_name else summary],
            )
            if not answer.approved:
                self._finish_step(step, step.id, "skipped", "undo declined", started=started, phase="undo")
                manual.append(step.id)
                continue
            res, rendered = await self._attempts(body, action, context, None, sid=step.id, phase="undo")
            if res.ok:
                undone += 1
                self.statuses[step.id] = "undone"
                self._finish_step(step, step.id, "undone", res.message, rendered=rendered, result=res,
                                  started=started, phase="undo")
            else:
                self._finish_step(step, step.id, "failed", f"undo failed: {res.message}", rendered=rendered,
                                  result=res, started=started, phase="undo")
                manual.append(step.id)
                break  # a failed undo leaves state the operator must look at first
        text = f"undid {undone} step(s)"
        if manual:
            text += f"; reverse by hand: {', '.join(manual)}"
        return text


def _bounded(ctx: dict[str, Any], cap: int = 64 * 1024) -> dict[str, Any]:
    """A result small enough for the journal and for a resume: output tails, data whole."""
    out = dict(ctx)
    for key in ("stdout", "stderr"):
        text = out.get(key) or ""
        if len(text) > cap:
            out[key] = text[-cap:]
    lines = out.get("lines")
    if lines and len(lines) > 2000:
        out["lines"] = lines[-2000:]
    return out


def _seconds(value: float | None) -> str:
    return f"{value:g} s" if value is not None else "?"


def _new_run_id(procedure_id: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{procedure_id}-{uuid.uuid4().hex[:6]}"
