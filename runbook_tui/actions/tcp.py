"""``tcp: {host, port, timeout, banner}``: can we connect, and what does the service say first."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from runbook_tui.actions.base import ActionContext, ActionResult, ModuleAction, Rendered
from runbook_tui.language.model import StepBody
from runbook_tui.language.templating import TemplateProblem, render_value


def render(step: StepBody, tctx: dict[str, Any]) -> Rendered:
    spec = step.tcp
    assert spec is not None  # rendered for tcp steps only
    host = str(render_value(spec.host, tctx))
    port = render_value(spec.port, tctx)
    try:
        port = int(port)
        if not 0 < port < 65536:
            raise ValueError
    except (TypeError, ValueError):
        raise TemplateProblem(f"tcp port {port!r} is not a port number") from None
    summary = f"connect {host}:{port}" + (" and read the banner" if spec.banner else "")
    return Rendered(
        "tcp", None, summary, params={"host": host, "port": port, "timeout": spec.timeout, "banner": spec.banner}
    )


async def execute(r: Rendered, ctx: ActionContext) -> ActionResult:
    p = r.params
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(p["host"], p["port"]), p["timeout"])
    except (TimeoutError, OSError) as exc:
        reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else (exc.strerror or str(exc))
        return ActionResult(ok=False, data={"connected": False}, message=f"cannot connect to {p['host']}:{p['port']}: {reason}")
    banner = None
    try:
        if p["banner"]:
            try:
                raw = await asyncio.wait_for(reader.readline(), p["timeout"])
                banner = raw.decode("utf-8", "replace").rstrip("\r\n")
                ctx.output("stdout", banner)
            except TimeoutError:
                banner = ""
    finally:
        writer.close()
    data = {"connected": True, "banner": banner}
    if isinstance(p["banner"], str) and not re.search(p["banner"], banner or ""):
        return ActionResult(ok=False, data=data, stdout=banner or "", message=f"banner {banner!r} does not match {p['banner']!r}")
    return ActionResult(ok=True, data=data, stdout=banner or "", message=f"connected to {p['host']}:{p['port']}")


ACTION = ModuleAction("tcp", render, execute)
