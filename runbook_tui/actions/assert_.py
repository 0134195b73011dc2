"""``assert: EXPR``: a pure guard over what is known."""

from __future__ import annotations

from typing import Any

from runbook_tui.actions.base import ActionContext, ActionResult, ModuleAction, Rendered
from runbook_tui.language.model import StepBody
from runbook_tui.language.templating import evaluate


def render(step: StepBody, tctx: dict[str, Any]) -> Rendered:
    assert step.assert_ is not None  # rendered for assert steps only
    passed = evaluate(step.assert_, tctx)
    return Rendered("assert", None, f"assert {step.assert_.strip()}", params={"passed": passed})


async def execute(r: Rendered, ctx: ActionContext) -> ActionResult:
    if r.params["passed"]:
        return ActionResult(ok=True, data=True)
    return ActionResult(ok=False, data=False, message=f"assertion failed: {r.summary[7:]}")


ACTION = ModuleAction("assert", render, execute)
