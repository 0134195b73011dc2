"""Step execution: one step from its guards to its final status, with retries, fan-out, dry-run
rendering and the bounded result a journal and a resume keep."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from runbook_tui.actions import ACTIONS
from runbook_tui.actions.base import Action, ActionContext, ActionResult, Rendered
from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import GateAnswer, GateKind
from runbook_tui.engine.options import Stop
from runbook_tui.engine.redact import digest_only
from runbook_tui.errors import RunbookError
from runbook_tui.importing import load, loaded
from runbook_tui.language.model import Retry, Step, StepBody
from runbook_tui.language.templating import TemplateProblem, evaluate, render_text

if TYPE_CHECKING:
    from runbook_tui.engine.runner import Engine


async def _ssh_library_loaded() -> None:
    """asyncssh costs ~0.1 s of CPU to import: imported in a thread, so that a run's other first
    steps (a Kubernetes exec, the team lock) start meanwhile instead of waiting behind it on the
    event loop. Steps that arrive while it loads wait in threads of their own."""
    if not loaded("asyncssh"):
        await asyncio.to_thread(load, "asyncssh")


class StepExecution:
    """Part of ``Engine`` (runner.py): its methods take the whole engine as ``self``."""

    def _finish_step(self: Engine, step: StepBody, sid: str, status: ev.StepStatus, message: str = "", *,
                     rendered: str = "", result: ActionResult | None = None, started: float | None = None,
                     register: str | None = None, phase: ev.Phase = "do") -> str:
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

    def _guard(self: Engine, step: StepBody, sid: str, guard: str, expression: Any, context: dict[str, Any]) -> bool:
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

    def _downstream_of_speculation(self: Engine, sid: str) -> bool:
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

    async def _run_step(self: Engine, step: Step, *, resumed: bool = False) -> str:
        """One step, start to finish. Whatever goes wrong inside is the step's failure, on the
        record, never an escaped exception that would end the run unjournaled."""
        if self.options.before_step is not None and self.parent is None:
            await self.options.before_step(step)
        started = time.monotonic()
        try:
            return await self._guarded_step(step, resumed, started)
        except (Stop, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug or an odd input: say it in one sentence, keep going safely
            return self._finish_step(step, step.id, "failed", f"{type(exc).__name__}: {exc}", started=started)

    async def _guarded_step(self: Engine, step: Step, resumed: bool, started: float) -> str:
        sid = step.id
        dry = self.options.dry_run or self.options.offline
        speculative = dry and self._downstream_of_speculation(sid)

        def unprovable_or(status: ev.StepStatus, message: str) -> str:
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
                    f"Blocked: {message}\n\nOverride only if you know why the guard is wrong here; "
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
                f"Step {step.label} was running when the run stopped. It may have half-applied. "
                "Run it again?",
                step=step, step_id=sid, title="Resume an interrupted step",
            )
            if not answer.approved:
                raise Stop("refused", f"step {sid} was in flight; re-running it was not confirmed")

        mutating = step.is_mutating
        assert step.action is not None  # the loader lets through steps with exactly one action
        action = ACTIONS[step.action]
        if self.options.offline or (dry and mutating):
            return await self._would_run(step, action, items, context, started)
        if mutating:
            self._check_record(f"step {sid}")

        if mutating and not self._plan_asked and not self.options.dry_run:
            await self._plan_gate(step)
        if step.confirm is not None:
            await self._confirm(step, context)
        if mutating:  # after its gates: a person may have taken minutes over them
            self._check_change_lock(f"step {self._sid(sid)}")

        # Downstream of a change not made, polling cannot succeed: one attempt says as much.
        once = speculative
        if step.foreach is None:
            result, rendered = await self._attempts(step, action, context, None, once=once)
        else:
            result, rendered = await self._fan_out(step, action, context, items, once=once)
        status: ev.StepStatus = "ok" if result.ok else "failed"
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

    def _items(self: Engine, step: StepBody, context: dict[str, Any]) -> list[Any]:
        if step.foreach is None:
            return [None]
        items = step.foreach if isinstance(step.foreach, list) else evaluate(step.foreach, context, truth=False)
        if isinstance(items, dict):
            items = [{"key": k, "value": v} for k, v in items.items()]
        if not isinstance(items, (list, tuple)):
            raise TemplateProblem(f"foreach must give a list, got {type(items).__name__}")
        return list(items)

    async def _would_run(self: Engine, step: Step, action: Action, items: list[Any], context: dict[str, Any], started: float) -> str:
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
        assert step.action is not None  # the loader lets through steps with exactly one action
        self.emit(ev.StepStarted(step_id=self._sid(sid), loc=self._loc(step), title=step.label,
                                 action=step.action, target=step.target_name, rendered=rendered,
                                 mutating=step.is_mutating))
        if unreachable:
            why = "\n".join(unreachable)
            return self._finish_step(step, sid, "failed", why, rendered=rendered, started=started,
                                     result=ActionResult(ok=False, message=why, unreachable=True))
        self._speculative.add(sid)
        return self._finish_step(step, sid, "would-run", "\n\n".join(details), rendered=rendered, started=started)

    def _action_context(self: Engine, step: StepBody, sid: str, item: Any = None) -> ActionContext:
        full = self._sid(sid)
        loc = self._loc(step)
        emit = self.emit
        label = _item_label(item)
        prefix = f"[{label}] " if label is not None else ""

        def output(stream: str, text: str) -> None:
            emit(ev.OutputLine(step_id=full, loc=loc, stream=stream, text=prefix + text))

        if step.sensitive:  # nothing of it on screen or in the journal; the result keeps it
            def output(stream: str, text: str) -> None:
                pass

        async def ask(kind: GateKind, text: str, *, details: list[str]) -> GateAnswer:
            return await self.ask(kind, text, step=step, step_id=sid, title=step.title or sid, details=details)

        return ActionContext(
            step_id=full, inventory=self.inventory, transports=self.transports, output=output,
            read_only=not step.is_mutating, timeout=self._timeout(step),
            ask=ask, call=lambda proc, inputs: self._call(sid, proc, inputs),
        )

    def _timeout(self: Engine, step: StepBody) -> float | None:
        assert step.action is not None  # the loader lets through steps with exactly one action
        if ACTIONS[step.action].needs_person:
            return None  # a person takes the time it takes
        return step.timeout if step.timeout is not None else self.options.default_timeout

    async def _attempts(self: Engine, step: StepBody, action: Action, context: dict[str, Any], item: Any,
                        sid: str | None = None, phase: ev.Phase = "do", once: bool = False) -> tuple[ActionResult, str]:
        """Render, run, parse, check: with ``retry`` until the postconditions hold."""
        if not sid:
            assert isinstance(step, Step)  # an undo body comes with its step's id
            sid = step.id
        retry = step.retry or (Retry(attempts=10, delay=3.0) if step.until is not None else Retry(attempts=1, delay=0))
        if once:
            retry = Retry(attempts=1, delay=0)
        ctx = context if item is None else {**context, "item": item}
        result, rendered = ActionResult(ok=False, message="not run"), ""
        # Pauses between looks, in delays, against the attempts - 1 that `retry` allows. A look
        # the action brings forward (``settle``: what it reads has changed) is charged the part
        # of a delay it waited (a tenth at least, so a chatty object cannot make looks endless):
        # a change is seen at once, and the step gives up no later than polling would.
        waited, attempt = 0.0, 0
        while True:
            attempt += 1
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
            if result.ok or waited >= retry.attempts - 1 - 1e-9:
                break
            if retry.delay <= 0:
                await asyncio.sleep(0)
                waited += 1
                continue
            started = time.monotonic()
            if await action.settle(r, self._action_context(step, sid, item), result, retry.delay):
                waited += max(0.1, (time.monotonic() - started) / retry.delay)
            else:
                waited += 1
        return result, rendered

    async def _execute(self: Engine, step: StepBody, action: Action, r: Rendered, sid: str, item: Any) -> ActionResult:
        actx = self._action_context(step, sid, item)
        timeout = actx.timeout
        if timeout:
            timeout += action.timeout_slack(step)
        try:
            async with asyncio.timeout(timeout):
                if step.ssh is not None or step.upload is not None:
                    await _ssh_library_loaded()
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

    async def _fan_out(self: Engine, step: Step, action: Action, context: dict[str, Any], items: list[Any],
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


def _item_label(item: Any) -> str | None:
    """What a foreach item's output lines are prefixed with: a scalar item itself; a dict item
    its ``key`` (a mapping's entry), ``name`` or ``id``, else its first scalar value."""
    if item is None or isinstance(item, list):
        return None
    if not isinstance(item, dict):
        return str(item)
    named = [item[k] for k in ("key", "name", "id") if k in item]
    for value in named + list(item.values()):
        if value is not None and not isinstance(value, (dict, list)):
            return str(value)
    return None
