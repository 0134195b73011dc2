"""``call: PROCEDURE_ID`` with ``with: {inputs}``: run another procedure as one step."""

from __future__ import annotations

from typing import Any

from runbook_tui.actions.base import ActionContext, ActionResult, ModuleAction, Rendered
from runbook_tui.language.model import StepBody
from runbook_tui.language.templating import render_value


def render(step: StepBody, tctx: dict[str, Any]) -> Rendered:
    inputs = render_value(step.with_, tctx)
    args = ", ".join(f"{k}={v!r}" for k, v in inputs.items())
    return Rendered("call", None, f"call {step.call}" + (f" with {args}" if args else ""), params={"procedure": step.call, "inputs": inputs})


async def execute(r: Rendered, ctx: ActionContext) -> ActionResult:
    assert ctx.call is not None  # the engine gives every step a way to call
    return await ctx.call(r.params["procedure"], r.params["inputs"])


ACTION = ModuleAction("call", render, execute)
