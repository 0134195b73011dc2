"""``manual: MARKDOWN``: the operator does something by hand and says when it is done."""

from __future__ import annotations

from typing import Any

from runbook_tui.actions.base import ActionContext, ActionResult, ModuleAction, Rendered
from runbook_tui.language.model import StepBody
from runbook_tui.language.templating import render_text


def render(step: StepBody, tctx: dict[str, Any]) -> Rendered:
    text = render_text(step.manual or "", tctx).strip()
    first = text.splitlines()[0] if text else ""
    return Rendered("manual", None, f"by hand: {first}", detail=text, params={"text": text})


async def execute(r: Rendered, ctx: ActionContext) -> ActionResult:
    assert ctx.ask is not None  # the engine gives every step its gate helper
    answer = await ctx.ask("manual", r.params["text"], details=[])
    if answer.approved:
        return ActionResult(ok=True, message="done by hand", stdout=answer.reason or "")
    return ActionResult(ok=False, message="the operator did not confirm the manual step was done")


ACTION = ModuleAction("manual", render, execute, needs_person=True)
