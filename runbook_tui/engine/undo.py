"""Undo: the run's completed changes walked back in reverse, each ``undo`` behind its own gate."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from runbook_tui.actions import ACTIONS
from runbook_tui.errors import RunbookError
from runbook_tui.language.templating import TemplateProblem

if TYPE_CHECKING:
    from runbook_tui.engine.runner import Engine
    from runbook_tui.language.model import Step


class Undo:
    """Part of ``Engine`` (runner.py): its methods take the whole engine as ``self``."""

    async def _undo(self: Engine) -> str:
        """Walk completed mutating steps in reverse, each ``undo`` behind its own gate."""
        undone, manual, left = 0, [], []
        step: Step  # reversed() of a list holding Any-valued dicts types as Any
        result: dict[str, Any]
        walk = list(reversed(self._done_mutations))
        for position, (step, result) in enumerate(walk):
            started = time.monotonic()
            if step.undo is None:
                manual.append(step.id)
                self._finish_step(step, step.id, "skipped", "no undo defined: reverse it by hand",
                                  started=started, phase="undo")
                continue
            context = self.context(result=result)
            body = step.undo
            assert body.action is not None  # the loader lets through bodies with exactly one action
            action = ACTIONS[body.action]
            try:
                summary = action.render(body, context).summary
            except (TemplateProblem, RunbookError) as exc:
                summary = f"(cannot render: {exc})"
            self._check_change_lock(f"undoing step {step.id}")
            answer = await self.ask(
                "undo", f"Undo {step.label}: {body.title or 'reverse this step'}",
                step=step, step_id=step.id, title=f"Undo {step.id}",
                details=[f"on {body.target_name}: {summary}" if body.target_name else summary],
            )
            if not answer.approved:
                self._finish_step(step, step.id, "skipped", "undo declined", started=started, phase="undo")
                manual.append(step.id)
                continue
            self._check_change_lock(f"undoing step {step.id}")  # the gate may have taken minutes
            res, rendered = await self._attempts(body, action, context, None, sid=step.id, phase="undo")
            if res.ok:
                undone += 1
                self.root._last_change = f"{step.id} (its undo)"
                self.statuses[step.id] = "undone"
                self._finish_step(step, step.id, "undone", res.message, rendered=rendered, result=res,
                                  started=started, phase="undo")
            else:
                self._finish_step(step, step.id, "failed", f"undo failed: {res.message}", rendered=rendered,
                                  result=res, started=started, phase="undo")
                manual.append(step.id)
                left = [s.id for s, _ in walk[position + 1:]]
                break  # a failed undo leaves state the operator must look at first
        text = f"undid {undone} step(s)"
        if manual:
            text += f"; reverse by hand: {', '.join(manual)}"
        if left:  # changes still in place that the walk back never reached
            text += f"; not walked back (a failed undo stopped it): {', '.join(left)}"
        return text
