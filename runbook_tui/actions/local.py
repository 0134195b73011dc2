"""``local: COMMAND``: a command on the operator's machine, streamed."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from runbook_tui.actions.base import ActionContext, ActionResult, ModuleAction, Rendered
from runbook_tui.language.model import StepBody
from runbook_tui.language.templating import render_command, render_text
from runbook_tui.transports.base import TailBuffer


def render(step: StepBody, tctx: dict[str, Any]) -> Rendered:
    command = render_command(step.local or "", tctx).strip()
    cwd = os.path.expanduser(render_text(step.cwd, tctx)) if step.cwd else None
    summary = f"(cd {cwd} && {command})" if cwd else command
    return Rendered("local", None, summary, params={"command": command, "cwd": cwd})


async def _pump(stream: asyncio.StreamReader, name: str, buf: TailBuffer, ctx: ActionContext) -> None:
    """Lines as they come; read in chunks so a single endless line cannot overflow the reader."""
    pending = b""
    count = 0
    while chunk := await stream.read(1 << 16):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            text = line.decode("utf-8", "replace")
            buf.append(text)
            ctx.output(name, text)
            count += 1
            if count % 256 == 0:
                await asyncio.sleep(0)  # let the UI take a key press mid-flood
        await asyncio.sleep(0)  # a read from a full buffer does not give way by itself
        if len(pending) > 1 << 20:  # a megabyte with no newline: hand it on as a line
            text = pending.decode("utf-8", "replace")
            buf.append(text)
            ctx.output(name, text)
            pending = b""
    if pending:
        text = pending.decode("utf-8", "replace")
        buf.append(text)
        ctx.output(name, text)


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(1 << 16):
        pass


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Stop the command's process group: TERM, then KILL after a second. What its pipes still
    hold is read and dropped: asyncio's ``wait()`` returns only once both pipes are closed, and a
    pipe left full (a flood cut short) would never close."""
    assert proc.stdout is not None and proc.stderr is not None  # both are pipes
    drain = asyncio.gather(_discard(proc.stdout), _discard(proc.stderr), proc.wait())
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            await asyncio.wait_for(asyncio.shield(drain), 1.0)
            return
        except TimeoutError:
            continue
    drain.cancel()  # something outside the group holds a pipe open: give up on it


async def execute(r: Rendered, ctx: ActionContext) -> ActionResult:
    cwd = r.params["cwd"]
    if cwd and not os.path.isdir(cwd):
        return ActionResult(ok=False, message=f"working directory {cwd} does not exist")
    proc = await asyncio.create_subprocess_shell(
        r.params["command"],
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # so cancelling can signal the whole process group
    )
    assert proc.stdout is not None and proc.stderr is not None  # both are pipes
    out, err = TailBuffer(), TailBuffer()
    try:
        await asyncio.gather(
            _pump(proc.stdout, "stdout", out, ctx), _pump(proc.stderr, "stderr", err, ctx)
        )
        code = await proc.wait()
    except BaseException:
        await _stop(proc)
        raise
    return ActionResult(
        exit_code=code,
        stdout=out.text(),
        stderr=err.text(),
        ok=code == 0,
        message="" if code == 0 else f"exit code {code}",
        truncated=out.truncated or err.truncated,
    )


def _folder(step: StepBody, tctx: dict[str, Any]) -> list[str]:
    return [os.path.expanduser(render_text(step.cwd, tctx))] if step.cwd else []


ACTION = ModuleAction("local", render, execute, files=_folder)
