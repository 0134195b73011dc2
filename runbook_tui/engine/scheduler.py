"""Scheduling: the step graph walked with graphlib. Steps whose ``needs`` are met run concurrently
under a global limit; after a failure nothing new starts, running steps finish, and the operator
chooses retry, skip, undo or abort. Cleanup (``always``) runs however the run ends."""

from __future__ import annotations

import asyncio
from graphlib import TopologicalSorter
from typing import TYPE_CHECKING

from runbook_tui.engine import events as ev
from runbook_tui.engine.options import OK_STATUSES, ResumeState, Stop

if TYPE_CHECKING:
    from runbook_tui.engine.runner import Engine


class Scheduling:
    """Part of ``Engine`` (runner.py): its methods take the whole engine as ``self``."""

    def _restore(self: Engine, resume: ResumeState) -> None:
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

    async def _schedule(self: Engine) -> tuple[ev.Outcome, str]:
        sorter = TopologicalSorter(self._deps)
        sorter.prepare()
        ready: list[str] = []
        running: dict[asyncio.Task[str], str] = {}
        failed: list[str] = []
        stop: Stop | None = None
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
                        except Stop as exc:
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
                        try:
                            undone = await self._undo()
                        except Stop as lost:  # the change lock: the walk back stops too
                            return lost.outcome, str(lost)
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

    async def _always(self: Engine) -> None:
        """The run stopped early: run the cleanup steps that never started, in file order."""
        for step in self.procedure.steps:
            if step.always and step.id not in self.statuses:
                try:
                    await self._run_step(step)
                except Stop:
                    continue  # a refused gate on cleanup: the operator chose to leave it
