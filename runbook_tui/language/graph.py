"""A procedure's step graph as text (for the terminal) or Mermaid / Graphviz DOT (for docs).

The text form is what an operator reads before running: the steps in order, what each needs,
what it does and where, which ones change something (MUTATES), and its guards and gates.
"""

from __future__ import annotations

from collections.abc import Callable

from runbook_tui.language.model import Procedure, StepBody

FORMATS = ("text", "mermaid", "dot")


def _clip(text: str, width: int = 72) -> str:
    first = " ".join(str(text).strip().splitlines()[:1]) if str(text).strip() else ""
    more = len(str(text).strip().splitlines()) > 1
    if len(first) > width or more:
        return first[: width - 1].rstrip() + "…"
    return first


def _seconds(value: float) -> str:
    if value >= 60 and value % 60 == 0:
        return f"{int(value // 60)}m"
    return f"{value:g}s"


def action_summary(body: StepBody) -> str:
    """One line: what the step does and where."""
    action = body.action
    if action == "ssh":
        return f"ssh {body.ssh}: {_clip(body.run or '')}"
    if action == "upload" and body.upload is not None:
        what = body.upload.src or "inline content"
        return f"upload {what} to {body.upload.target}:{body.upload.dest}"
    if action == "k8s":
        obj = "/".join(x for x in (body.kind, body.name) if x) or (body.cronjob or "")
        if body.k8s == "job-from-cronjob":
            obj = f"cronjob/{body.cronjob} as job/{body.name}"
        if body.k8s == "exec" and body.command:
            argv = body.command if isinstance(body.command, str) else " ".join(body.command)
            obj += f" -- {_clip(argv, 40)}"
        where = f" -n {body.namespace}" if body.namespace else ""
        return f"k8s {body.k8s} {obj}{where} @ {body.target}".replace("  ", " ")
    if action == "local":
        return f"local: {_clip(body.local or '')}"
    if action == "tcp" and body.tcp is not None:
        return f"tcp {body.tcp.host}:{body.tcp.port} (timeout {_seconds(body.tcp.timeout)})"
    if action == "manual":
        return f"manual: {_clip(body.manual or '')}"
    if action == "assert":
        return f"assert {_clip(body.assert_ or '')}"
    if action == "call":
        given = f" with {', '.join(body.with_)}" if body.with_ else ""
        return f"call {body.call}{given}"
    return "(no action)"


def gate(body: StepBody) -> str | None:
    if body.confirm is not None:
        if body.confirm.typed:
            return f'type "{body.confirm.typed}" to confirm: {_clip(body.confirm.text, 60)}'
        return f"confirm: {_clip(body.confirm.text, 60)}"
    if body.action == "manual":
        return "operator marks it done"
    return None


def _details(body: StepBody) -> list[str]:
    lines = []
    if body.when is not None:
        lines.append(f"when: {_clip(str(body.when))}")
    if body.foreach is not None:
        over = body.foreach if isinstance(body.foreach, str) else ", ".join(map(str, body.foreach))
        lines.append(f"foreach: {_clip(over)} (concurrency {body.concurrency})")
    if body.require is not None:
        message = f" — {_clip(body.message, 50)}" if body.message else ""
        lines.append(f"require: {_clip(str(body.require))}{message}")
    gate_text = gate(body)
    if gate_text:
        lines.append(f"gate: {gate_text}")
    if body.expect is not None:
        lines.append(f"expect: {_clip(str(body.expect))}")
    if body.until is not None:
        lines.append(f"until: {_clip(str(body.until))}")
    if body.retry is not None:
        lines.append(f"retry: {body.retry.attempts} attempts, {_seconds(body.retry.delay)} apart")
    if body.timeout is not None:
        lines.append(f"timeout: {_seconds(body.timeout)}")
    if body.register_ or body.parse:
        parts = []
        if body.parse:
            parts.append(f"parse {body.parse}")
        if body.register_:
            parts.append(f"register {body.register_}")
        lines.append(" -> ".join(parts) if len(parts) == 2 else parts[0])
    return lines


def text(procedure: Procedure) -> str:
    deps = procedure.dependencies()
    mode = "mutating" if procedure.mutating else "read-only"
    out = [f"{procedure.id}: {procedure.title} ({mode})"]
    if procedure.path != "<memory>":
        out.append(f"file: {procedure.path}")
    if procedure.inputs:
        described = []
        for name, spec in procedure.inputs.items():
            flags: list[str] = [spec.type]
            if spec.required:
                flags.append("required")
            if spec.default is not None:
                flags.append(f"default {spec.default!r}")
            described.append(f"{name} ({', '.join(flags)})")
        out.append(f"inputs: {'; '.join(described)}")
    out.append("")
    width = len(str(len(procedure.steps)))
    for number, step in enumerate(procedure.steps, 1):
        mark = "  MUTATES" if step.is_mutating else ""
        title = f" — {step.title}" if step.title else ""
        out.append(f"{number:>{width}}. {step.id}{title}{mark}")
        pad = " " * (width + 4)
        needs = deps[step.id]
        out.append(f"{pad}needs: {', '.join(needs) if needs else '(start)'}")
        out.append(f"{pad}{action_summary(step)}")
        out.extend(f"{pad}{line}" for line in _details(step))
        if step.undo is not None:
            out.append(f"{pad}undo: {action_summary(step.undo)}")
    return "\n".join(out) + "\n"


def _label(procedure: Procedure, index: int) -> list[str]:
    step = procedure.steps[index]
    lines = [step.id]
    if step.title:
        lines.append(step.title)
    lines.append(action_summary(step) if len(action_summary(step)) <= 48 else _clip(action_summary(step), 48))
    marks = []
    if step.is_mutating:
        marks.append("MUTATES")
    if step.confirm is not None:
        marks.append("typed gate" if step.confirm.typed else "gate")
    if step.when is not None:
        marks.append("when")
    if step.foreach is not None:
        marks.append("foreach")
    if marks:
        lines.append(" · ".join(marks))
    return lines


def mermaid(procedure: Procedure) -> str:
    ids = {step.id: f"s{i + 1}" for i, step in enumerate(procedure.steps)}
    out = ["flowchart TD"]
    for i, step in enumerate(procedure.steps):
        label = "<br/>".join(line.replace('"', "#quot;") for line in _label(procedure, i))
        gated = step.confirm is not None or step.action == "manual"
        shape = ('{{"', '"}}') if gated else ('["', '"]')
        css = ":::mutating" if step.is_mutating else ""
        out.append(f"  {ids[step.id]}{shape[0]}{label}{shape[1]}{css}")
    for step in procedure.steps:
        for need in procedure.dependencies()[step.id]:
            out.append(f"  {ids[need]} --> {ids[step.id]}")
    out.append("  classDef mutating stroke:#c0392b,stroke-width:2px")
    return "\n".join(out) + "\n"


def _dot_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(procedure: Procedure) -> str:
    out = [
        f"digraph {_dot_quote(procedure.id)} {{",
        f"  label={_dot_quote(procedure.title)};",
        "  labelloc=t;",
        "  rankdir=TB;",
        '  node [shape=box, fontname="Helvetica"];',
    ]
    for i, step in enumerate(procedure.steps):
        attrs = [f"label={_dot_quote(chr(10).join(_label(procedure, i)))}"]
        if step.confirm is not None or step.action == "manual":
            attrs.append("shape=hexagon")
        if step.is_mutating:
            attrs.append('color="#c0392b", penwidth=2')
        out.append(f"  {_dot_quote(step.id)} [{', '.join(attrs)}];")
    for step in procedure.steps:
        for need in procedure.dependencies()[step.id]:
            out.append(f"  {_dot_quote(need)} -> {_dot_quote(step.id)};")
    out.append("}")
    return "\n".join(out) + "\n"


RENDERERS: dict[str, Callable[[Procedure], str]] = {"text": text, "mermaid": mermaid, "dot": dot}


def render(procedure: Procedure, fmt: str = "text") -> str:
    return RENDERERS[fmt](procedure)
