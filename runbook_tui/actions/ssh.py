"""``ssh: TARGET`` + ``run: COMMAND``: a shell command on an SSH target, streamed."""

from __future__ import annotations

from typing import Any

from runbook_tui.actions.base import ActionContext, ActionResult, ModuleAction, Rendered
from runbook_tui.language.model import StepBody
from runbook_tui.language.templating import render_command


def render(step: StepBody, tctx: dict[str, Any]) -> Rendered:
    command = render_command(step.run or "", tctx).strip()
    return Rendered("ssh", step.ssh, command, params={"command": command})


async def execute(r: Rendered, ctx: ActionContext) -> ActionResult:
    ctx.transports.check(r.target, "ssh")
    assert r.target is not None  # check() refused a step without one
    res = await ctx.transports.ssh.run(
        r.target,
        r.params["command"],
        on_output=ctx.output,
        timeout=ctx.timeout,
        reconnect=ctx.read_only,  # rerunning is safe only when the command changes nothing
    )
    return ActionResult(
        exit_code=res.exit_code,
        stdout=res.stdout,
        stderr=res.stderr,
        ok=res.exit_code == 0,
        message="" if res.exit_code == 0 else f"exit code {res.exit_code}",
        truncated=res.truncated,
    )


ACTION = ModuleAction("ssh", render, execute)
