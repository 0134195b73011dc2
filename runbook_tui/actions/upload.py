"""``upload: {target, src | content, dest, mode}``: a file to an SSH target, verified by hash."""

from __future__ import annotations

import difflib
import hashlib
import os
import posixpath
import re
from typing import Any

from runbook_tui.actions.base import ActionContext, ActionResult, ModuleAction, Rendered
from runbook_tui.errors import RunbookError
from runbook_tui.language.model import StepBody
from runbook_tui.language.templating import render_text


def _mode(value: Any) -> int | None:
    if value is None:
        return None
    return value if isinstance(value, int) else int(str(value), 8)


def _literal_folder(template: str) -> str | None:
    """The folder the dest template names before its first ``{{``/``{%``: ``/tmp/`` of
    ``/tmp/{{ inputs.v }}``; None when the template has no tag or no ``/`` before it."""
    template = template.strip()
    cuts = [i for i in (template.find("{{"), template.find("{%")) if i >= 0]
    if not cuts:
        return None
    prefix = template[: min(cuts)]
    slash = prefix.rfind("/")
    return prefix[: slash + 1] if slash >= 0 else None


def _inside(dest: str, folder: str) -> bool:
    """``dest`` (no ``..`` components) lies in ``folder`` or is it."""
    base, path = posixpath.normpath(folder), posixpath.normpath(dest)
    if base == ".":
        return not path.startswith("/")
    if base.strip("/") == "":
        return path.startswith("/")
    return path == base or path.startswith(base + "/")


_INPUT_REF = re.compile(r"""\binputs\s*(?:\.\s*(\w+)|\[\s*['"]([^'"]+)['"]\s*\])""")


def _origin(template: str, dest: str, tctx: dict[str, Any]) -> str:
    """Which input(s) the destination was built from, for the refusal."""
    inputs = tctx.get("inputs") or {}
    named = {a or b for a, b in _INPUT_REF.findall(template)}
    if not named & set(inputs):  # reached through a foreach item or a registered value
        named = {k for k, v in inputs.items() if isinstance(v, str) and len(v) > 1 and v in dest}
    found = [f"input {name!r} = {value!r}" for name, value in inputs.items() if name in named]
    if found:
        return "from " + " and ".join(found)
    return f"from the template {template.strip()!r}"


def _check_dest(template: str, dest: str, tctx: dict[str, Any]) -> None:
    """A value must not steer the upload out of the folder the procedure names."""
    if "\x00" in dest or "\n" in dest or "\r" in dest:
        problem = "it contains a NUL or line-break character"
    elif ".." in dest.split("/"):
        problem = "it has a '..' path component"
    else:
        folder = _literal_folder(template)
        if folder is None or _inside(dest, folder):
            return
        problem = f"it leaves {folder}"
    raise RunbookError(
        f"Refusing to upload to {dest!r}: {problem}, built {_origin(template, dest, tctx)}."
    )


def render(step: StepBody, tctx: dict[str, Any]) -> Rendered:
    spec = step.upload
    assert spec is not None  # rendered for upload steps only
    dest = render_text(spec.dest, tctx).strip()
    _check_dest(spec.dest, dest, tctx)
    if spec.src is not None:
        src = os.path.expanduser(render_text(spec.src, tctx).strip())
        try:
            with open(src, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise RunbookError(f"cannot read {src}: {exc.strerror or exc}.") from None
        origin = src
    else:
        data = render_text(spec.content or "", tctx).encode()
        origin = "inline content"
    digest = hashlib.sha256(data).hexdigest()
    summary = f"upload {origin} ({len(data)} bytes, sha256 {digest[:12]}) to {spec.target}:{dest}"
    # No body in what is shown and journaled: a config.xml holds password hashes and keys. The
    # digest names the file; a dry run shows the diff against the target (``preview``).
    return Rendered(
        "upload", spec.target, summary,
        params={"data": data, "dest": dest, "mode": _mode(spec.mode), "sha256": digest},
    )


async def preview(r: Rendered, ctx: ActionContext) -> str:
    """The diff of what would be written against what the target holds now (read-only)."""
    ctx.transports.check(r.target, "ssh")
    assert r.target is not None  # check() refused a step without one
    current = await ctx.transports.ssh.read_file(r.target, r.params["dest"])
    new = r.params["data"].decode("utf-8", "replace").splitlines(keepends=True)
    if current is None:
        return f"{r.params['dest']} does not exist on {r.target}: it would be created."
    old = current.decode("utf-8", "replace").splitlines(keepends=True)
    diff = "".join(difflib.unified_diff(old, new, f"{r.target}:{r.params['dest']}", "new"))
    return diff or f"{r.params['dest']} on {r.target} already holds exactly this content."


async def execute(r: Rendered, ctx: ActionContext) -> ActionResult:
    ctx.transports.check(r.target, "ssh")
    assert r.target is not None  # check() refused a step without one
    res = await ctx.transports.ssh.upload(r.target, r.params["data"], r.params["dest"], mode=r.params["mode"])
    message = f"wrote {res.size} bytes to {r.target}:{res.dest}, sha256 verified"
    ctx.output("stdout", message)
    return ActionResult(ok=True, data={"dest": res.dest, "size": res.size, "sha256": res.sha256}, message=message)



def _source(step: StepBody, tctx: dict[str, Any]) -> list[str]:
    spec = step.upload
    if spec is None or spec.src is None:
        return []
    return [os.path.expanduser(render_text(spec.src, tctx).strip())]


ACTION = ModuleAction("upload", render, execute, preview_fn=preview, files=_source)
