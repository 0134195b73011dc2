"""``k8s: VERB``: structured Kubernetes verbs through the API, never kubectl strings."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import yaml

from runbook_tui.actions.base import ActionContext, ActionResult, ModuleAction, Rendered
from runbook_tui.language.model import StepBody
from runbook_tui.language.templating import render_command, render_text, render_value


def _opt(value: Any, tctx: dict[str, Any]) -> Any:
    return None if value is None else render_value(value, tctx)


def render(step: StepBody, tctx: dict[str, Any]) -> Rendered:
    p: dict[str, Any] = {
        "verb": step.k8s,
        "kind": _opt(step.kind, tctx),
        "name": _opt(step.name, tctx),
        "namespace": _opt(step.namespace, tctx),
        "api_version": _opt(step.api_version, tctx),
        "patch_type": step.patch_type,
        "cronjob": _opt(step.cronjob, tctx),
        "condition": _opt(step.condition, tctx),
        "container": _opt(step.container, tctx),
        "tail": step.tail,
        "since": step.since,
        "follow": step.follow,
        "label_selector": _opt(step.label_selector, tctx),
        "timeout": step.timeout,
    }
    body = step.body
    if isinstance(body, str):
        body = yaml.safe_load(render_text(body, tctx))
    elif body is not None:
        body = render_value(body, tctx)
    p["body"] = body
    command = step.command
    if isinstance(command, str):
        # A string runs under ``sh -c``: values are shell-quoted like ``ssh``/``local`` commands.
        command = ["sh", "-c", render_command(command, tctx).strip()]
    elif command is not None:
        command = [str(render_value(c, tctx)) for c in command]
    p["command"] = command

    ns = f" -n {p['namespace']}" if p["namespace"] else ""
    obj = f"{(p['kind'] or '').lower()}/{p['name']}" if p["name"] else (p["kind"] or "")
    verb = p["verb"]
    detail = ""
    if verb == "patch":
        summary = f"PATCH {obj}{ns} ({p['patch_type']})"
        detail = json.dumps(body, indent=2, sort_keys=True)
    elif verb == "apply":
        meta = (body or {}).get("metadata", {}) if isinstance(body, dict) else {}
        summary = f"APPLY {(body or {}).get('kind', '?')}/{meta.get('name', '?')}{ns}"
        detail = yaml.safe_dump(body, sort_keys=False)
    elif verb == "delete":
        summary = f"DELETE {obj}{ns}"
    elif verb == "job-from-cronjob":
        summary = f"CREATE job/{p['name']} from cronjob/{p['cronjob']}{ns}"
    elif verb == "wait":
        summary = f"WAIT {obj}{ns} for condition={p['condition']}"
    elif verb == "logs":
        tail = f" --tail={p['tail']}" if p["tail"] else ""
        summary = (f"LOGS {p['name']}{ns}" + (f" -c {p['container']}" if p["container"] else "") + tail
                   + (" -f" if p["follow"] else ""))
    elif verb == "exec":
        summary = f"EXEC {p['name']}{ns}" + (f" -c {p['container']}" if p["container"] else "") + " -- " + " ".join(command or [])
    elif verb == "list":
        summary = f"LIST {p['kind']}{ns}" + (f" -l {p['label_selector']}" if p["label_selector"] else "")
    else:
        summary = f"GET {obj}{ns}"
    return Rendered("k8s", step.target, summary, detail=detail, params=p)


# libyaml's emitter when PyYAML has it: the same text, a tenth of the time (an object per get).
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _emit_yaml(ctx: ActionContext, data: Any) -> str:
    text = yaml.dump(data, Dumper=_DUMPER, sort_keys=False, default_flow_style=False)
    for line in text.splitlines()[:200]:
        ctx.output("stdout", line)
    return text


async def execute(r: Rendered, ctx: ActionContext) -> ActionResult:
    ctx.transports.check(r.target, "kubernetes")
    assert r.target is not None  # check() refused a step without one
    client = ctx.transports.kube.client(r.target)
    p = r.params
    ns, kind, name, verb = p["namespace"], p["kind"], p["name"], p["verb"]
    if verb == "get":
        obj = await client.get(kind, name, namespace=ns, api_version=p["api_version"])
        return ActionResult(data=obj, stdout=_emit_yaml(ctx, obj))
    if verb == "list":
        items = await client.list(kind, namespace=ns, label_selector=p["label_selector"], api_version=p["api_version"])
        names = [i.get("metadata", {}).get("name", "?") for i in items]
        for n in names:
            ctx.output("stdout", n)
        return ActionResult(data={"items": items}, stdout="\n".join(names))
    if verb == "patch":
        obj = await client.patch(kind, name, p["body"], namespace=ns, patch_type=p["patch_type"], api_version=p["api_version"])
        ctx.output("stdout", f"{kind}/{name} patched")
        return ActionResult(data=obj, message=f"{kind}/{name} patched")
    if verb == "apply":
        obj = await client.apply(p["body"], namespace=ns)
        ref = f"{obj.get('kind', '?')}/{obj.get('metadata', {}).get('name', '?')}"
        ctx.output("stdout", f"{ref} applied")
        return ActionResult(data=obj, message=f"{ref} applied")
    if verb == "delete":
        obj = await client.delete(kind, name, namespace=ns)
        ctx.output("stdout", f"{kind}/{name} deleted")
        return ActionResult(data=obj, message=f"{kind}/{name} deleted")
    if verb == "job-from-cronjob":
        obj = await client.job_from_cronjob(p["cronjob"], name, namespace=ns)
        ctx.output("stdout", f"job.batch/{name} created")
        return ActionResult(data=obj, message=f"job/{name} created from cronjob/{p['cronjob']}")
    if verb == "wait":
        obj = await client.wait(kind, name, p["condition"], namespace=ns, timeout=p["timeout"] or ctx.timeout or 60)
        ctx.output("stdout", f"{kind}/{name} condition met: {p['condition']}")
        return ActionResult(data=obj, message=f"condition {p['condition']} met")
    if verb == "logs" and p["follow"]:
        # Each line shows as the container writes it; the result is the log as a plain read's.
        res = await client.follow(name, namespace=ns, container=p["container"], tail=p["tail"], since=p["since"],
                                  on_output=ctx.output)
        return ActionResult(data={"lines": res.stdout.splitlines()}, stdout=res.stdout, truncated=res.truncated)
    if verb == "logs":
        text = await client.logs(name, namespace=ns, container=p["container"], tail=p["tail"], since=p["since"])
        lines = text.splitlines()
        for line in lines:
            ctx.output("stdout", line)
        return ActionResult(data={"lines": lines}, stdout=text)
    if verb == "exec":
        res = await client.exec(name, p["command"], namespace=ns, container=p["container"], on_output=ctx.output, timeout=ctx.timeout)
        return ActionResult(
            exit_code=res.exit_code, stdout=res.stdout, stderr=res.stderr, ok=res.exit_code == 0,
            message="" if res.exit_code == 0 else f"exit code {res.exit_code}", truncated=res.truncated,
        )
    raise ValueError(f"unknown verb {verb}")


def _wait_slack(step: StepBody) -> float:
    """A wait's own timeout speaks first, in kubectl's words ("timed out waiting for the condition")."""
    return 5.0 if step.k8s == "wait" else 0.0


async def _settle(r: Rendered, ctx: ActionContext, last: ActionResult, delay: float) -> bool:
    """Between two looks of a ``get`` with ``until``: watch the object from the version last
    read, so the next look comes when it changes, not a whole delay later."""
    p = r.params
    version = ((last.data or {}).get("metadata") or {}).get("resourceVersion") if isinstance(last.data, dict) else None
    if p["verb"] != "get" or not version or r.target is None:
        await asyncio.sleep(delay)
        return False
    client = ctx.transports.kube.client(r.target)
    return await client.changed(p["kind"], p["name"], namespace=p["namespace"], api_version=p["api_version"],
                                resource_version=version, timeout=delay)


async def _preview(r: Rendered, ctx: ActionContext) -> str | None:
    """A Job from a CronJob: the containers and commands it will run, read from the CronJob now
    (the Job created, if approved, is this one)."""
    p = r.params
    if p["verb"] != "job-from-cronjob" or r.target is None:
        return None
    from runbook_tui.transports.kube.jobs import describe

    ctx.transports.check(r.target, "kubernetes")
    client = ctx.transports.kube.client(r.target)
    return describe(await client.plan_job_from_cronjob(p["cronjob"], p["name"], namespace=p["namespace"]))


ACTION = ModuleAction("k8s", render, execute, preview_fn=_preview, slack=_wait_slack, settle_fn=_settle)
