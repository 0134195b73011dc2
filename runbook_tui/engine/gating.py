"""Gating: every question the engine asks a person, and what must hold before each change (the
journal can record it, no other run is changing the same targets)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any

from runbook_tui.actions import ACTIONS
from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import FAILURE_CHOICES, GateAnswer, GateKind, GateRequest
from runbook_tui.engine.locks import Holder, LockHeld
from runbook_tui.engine.options import OK_STATUSES, Stop
from runbook_tui.errors import RunbookError
from runbook_tui.language.model import Step, StepBody
from runbook_tui.language.templating import TemplateProblem, evaluate, names_in, render_text

if TYPE_CHECKING:
    from runbook_tui.engine.runner import Engine


class Gating:
    """Part of ``Engine`` (runner.py): its methods take the whole engine as ``self``."""

    async def ask(self: Engine, kind: GateKind, text: str, *, step: StepBody | None = None, step_id: str = "",
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

    async def _choose_inputs(self: Engine) -> None:
        """A choice input with no value and no default is asked for, once, before anything runs."""
        for name, spec in self.procedure.inputs.items():
            if spec.type != "choice" or self.inputs.get(name) is not None or not spec.choices:
                continue
            labels = tuple(str(c) for c in spec.choices)
            answer = await self.ask("choose", spec.prompt or f"Choose {name}", title=f"Input: {name}",
                                    choices=labels, default=None)
            if not answer.approved or answer.choice not in labels:
                raise Stop("refused", f"no value was chosen for input {name}")
            self.inputs[name] = spec.choices[labels.index(answer.choice)]

    async def _on_failure(self: Engine, failed: list[str]) -> str:
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

    def _record_failed(self: Engine) -> str | None:
        """Why the run's record cannot be written, said once as a notice; None while it can."""
        root = self.root
        if root._record_failure is None:
            failure = next((r.failure for r in root._records if r.failure), None)
            if failure is None:
                return None
            root._record_failure = failure
            root.emit(ev.Notice(text=failure, level="error"))
        return root._record_failure

    def _changes_so_far(self: Engine) -> str:
        last = self.root._last_change
        return f"the last change made was step {last}." if last else "no change was made."

    def _check_record(self: Engine, before: str) -> None:
        """Stop before a change that the journal could not record (a full disk, a lost folder)."""
        failure = self._record_failed()
        if failure is None:
            for record in self.root._records:
                try:
                    record.check_room()
                except RunbookError as exc:
                    failure = str(exc)
        if failure is not None:
            self.root._record_failure = failure  # no change from here on, cleanup included
            raise Stop("failed", f"{failure} Stopped before {before}; {self._changes_so_far()}")

    def _change_lock_lost(self: Engine) -> str | None:
        """Why the change lock no longer holds, once it does not (said once as a notice)."""
        root = self.root
        lock = root.options.change_lock
        if root._lock_lost is None and lock is not None and root._locked:
            lost = lock.still_held()
            if lost is not None:
                root._lock_lost = lost[:1].upper() + lost[1:]
        return root._lock_lost

    def _check_change_lock(self: Engine, before: str) -> None:
        """Stop before a change once the change lock is lost (a Lease taken over, deleted, or
        not renewed in time): another run may be changing these targets now. Counted as could
        not be carried out (exit 4), like a journal that cannot be written: no person refused
        anything, and what was done so far stays done."""
        root = self.root
        said = root._lock_lost is not None
        lost = self._change_lock_lost()
        if lost is None:
            return
        sentence = f"{lost}; stopped before {before}; {self._changes_so_far()}"
        if not said:
            root.emit(ev.Notice(text=sentence, level="error"))
        raise Stop("failed", sentence)

    def _said_lock_lost(self: Engine) -> None:
        """At the run's end: a change lock lost after its last change is said too, on the record."""
        root = self.root
        if root._lock_lost is None and self._change_lock_lost() is not None:
            root.emit(ev.Notice(text=f"{root._lock_lost} before the run ended; {self._changes_so_far()}",
                                level="warning"))

    async def _take_change_lock(self: Engine) -> bool:
        """Before the first change: one run at a time changes these targets. True when it had
        to wait for another run to finish first."""
        root = self.root
        lock = root.options.change_lock
        if lock is None or root._locked:
            return False
        holder = Holder(self.operator, os.getpid(), time.time(), root.run_id)

        def say(text: str) -> None:
            self.emit(ev.Notice(text=text, level="info"))

        waited = False
        try:
            notes = await lock.acquire(holder, wait=False, say=say)
        except LockHeld as held:
            if not root.options.wait_for_lock:
                raise Stop("refused", f"{held} Nothing was changed; try again when it is done, or add --wait.") from None
            self.emit(ev.Notice(text=f"{held} Waiting for it to finish…", level="info"))
            notes, waited = await lock.acquire(holder, wait=True, say=say), True
        root._locked = True
        for note in notes:
            self.emit(ev.Notice(text=note))
        return waited

    async def _plan_gate(self: Engine, first: Step) -> None:
        self._plan_asked = True
        self._check_record(f"step {first.id}")
        context = self.context()
        listed, not_run = [], []
        for step in self.procedure.steps:
            if not step.is_mutating or self.statuses.get(step.id) in OK_STATUSES:
                continue
            if self._when_false(step, context):
                not_run.append(step.id)  # skipped when it comes: not a change this run makes
                continue
            listed.append(step)

        async def previews() -> list[str]:
            # Each step's preview may read its target (a diff): all at once, listed in order.
            return list(await asyncio.gather(*(self._what_runs(step, context, label=True) for step in listed)))

        # The previews are reads: made while the change lock is taken, not after it, unless
        # taking it meant waiting for another run (which may have changed what they show).
        reading = asyncio.ensure_future(previews())
        try:
            waited = await self._take_change_lock()
            self._check_local_files(context)
        except BaseException:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            raise
        if waited:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            reading = asyncio.ensure_future(previews())
        details = await reading
        skipped = (f" Not listed: {', '.join(not_run)} (its `when` is false now, so it will be skipped)."
                   if not_run else "")
        answer = await self.ask(
            "plan",
            f"{self.procedure.title} will now change things ({self.options.mode}). "
            f"These steps mutate, in order; each one with its own confirmation asks again.{skipped}",
            step=first, step_id=first.id, title="Plan: what this run will change", details=details,
        )
        if not answer.approved:
            raise Stop("refused", "the plan was not approved: nothing was changed")

    def _when_false(self: Engine, step: Step, context: dict[str, Any]) -> bool:
        """True when the step's ``when`` can be told now and is false (it will be skipped). One
        that reads what a step still to run registers is told later (``probe is defined``)."""
        if step.when is None:
            return False
        later = {s.register_ for s in self.procedure.steps if s.register_ and self.statuses.get(s.id) not in OK_STATUSES}
        if later & names_in(str(step.when)):
            return False
        try:
            return not evaluate(step.when, context)
        except TemplateProblem:
            return False  # decided later, from what earlier steps register

    async def _what_runs(self: Engine, step: Step, context: dict[str, Any], *, label: bool) -> str:
        """Everything a gate approves for STEP: the rendered command for each item, the body it
        sends (a patch, a file) and, where the kind can read it, the diff against the target now."""
        assert step.action is not None  # the loader lets through steps with exactly one action
        action = ACTIONS[step.action]
        where = step.target_name or ("operator" if action.needs_person else "local machine")
        head = f"{step.id} on {where}: " if label else (f"on {step.target_name}: " if step.target_name else "")
        try:
            items = self._items(step, context)
        except TemplateProblem:
            return head + f"for each of {step.foreach} (rendered when it runs)"
        lines = []
        for item in items:
            ctx = context if step.foreach is None else {**context, "item": item}
            try:
                r = action.render(step, ctx)
            except (TemplateProblem, RunbookError):
                lines.append("(rendered when it runs)")
                continue
            lines.append(r.summary if step.foreach is None else f"[{item}] {r.summary}")
            body = [r.detail] if r.detail and r.detail.strip() != r.summary.strip() else []
            if not self.options.offline:
                try:
                    shown = await action.preview(r, self._action_context(step, step.id))
                    if shown:
                        body.append(shown)
                except RunbookError as exc:
                    body.append(f"(cannot show what would change: {exc})")
            lines += ["    " + line for text in body for line in text.rstrip().splitlines()]
        if step.foreach is not None:  # one line per item, under the step
            return head + f"for each of {len(items)} item(s):\n" + "\n".join("  " + line for line in lines)
        return head + "\n".join(lines)

    def _check_local_files(self: Engine, context: dict[str, Any]) -> None:
        """Every file on this machine that the steps still to run need exists, or the run stops
        before its first change: better than patching the Service and then finding the alias
        script missing. A step whose ``when`` cannot be told yet is checked too, unless false.
        A path another step's command names is one the run makes itself (restore-backup fetches
        the backup it uploads): that is left to the step that makes it."""
        commands = []
        for step in self.procedure.steps:
            try:
                if step.action is not None:
                    commands.append(ACTIONS[step.action].render(step, context).summary)
            except (TemplateProblem, RunbookError):
                continue
        missing = []
        for step in self.procedure.steps:
            if self.statuses.get(step.id) in OK_STATUSES or step.action is None or self._when_false(step, context):
                continue
            try:
                paths = ACTIONS[step.action].local_files(step, context)
            except (TemplateProblem, RunbookError):
                continue  # rendered when it runs; it says then what is wrong
            missing += [f"{path} (step {step.id})" for path in paths
                        if not os.path.exists(path) and not any(path in c for c in commands if c)]
        if missing:
            raise Stop("refused", f"this run needs {'; '.join(missing)}, which does not exist on this machine; "
                                  "nothing was changed.")

    async def _confirm(self: Engine, step: Step, context: dict[str, Any], sid: str | None = None) -> None:
        sid = sid or step.id
        confirm = step.confirm
        assert confirm is not None and step.action is not None  # asked only of a loaded step that has one
        text = render_text(confirm.text, context)
        details = [await self._what_runs(step, context, label=False)]
        if confirm.typed:
            phrase = render_text(confirm.typed, context)
            answer = await self.ask("typed", text, step=step, step_id=sid, title=step.label,
                                    details=details, phrase=phrase)
        else:
            answer = await self.ask("confirm", text, step=step, step_id=sid, title=step.label, details=details)
        if not answer.approved:
            raise Stop("refused", f"confirmation for step {sid} was refused")
