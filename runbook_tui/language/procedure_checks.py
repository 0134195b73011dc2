"""What a procedure must satisfy beyond its field types, checked on the raw YAML data.

Working on the data (not the validated model) lets one bad step not hide the problems of the
others: every check guards its own types and leaves type errors to pydantic's report.
"""

from __future__ import annotations

import re
from typing import Any

from runbook_tui.language import flow_checks, input_checks, template_checks
from runbook_tui.language.check_context import Context, and_list, present
from runbook_tui.language.model import (
    ACTIONS,
    K8S_VERBS,
    Confirm,
    Procedure,
    Retry,
    Step,
    StepBody,
    TcpSpec,
    UploadSpec,
)
from runbook_tui.language.pydantic_problems import (
    check_keys,
    did_you_mean,
    show,
)
from runbook_tui.language.templating import is_template
from runbook_tui.language.yaml_source import Path

ACTION_KEYS = {"assert": "assert"}  # the YAML key of each action is its name

# k8s fields, and which verbs take them beyond target/kind/name/namespace/api_version.
K8S_COMMON = ("target", "kind", "name", "namespace", "api_version")
K8S_EXTRA = (
    "body",
    "patch_type",
    "cronjob",
    "condition",
    "container",
    "tail",
    "since",
    "follow",
    "command",
    "label_selector",
)
K8S_TAKES: dict[str, tuple[str, ...]] = {
    "get": (),
    "list": ("label_selector",),
    "patch": ("body", "patch_type"),
    "apply": ("body",),
    "delete": (),
    "job-from-cronjob": ("cronjob",),
    "wait": ("condition",),
    "logs": ("container", "tail", "since", "follow", "label_selector"),
    "exec": ("container", "command"),
}
K8S_NEEDS: dict[str, tuple[str, ...]] = {
    "get": ("target", "kind", "name"),
    "list": ("target", "kind"),
    "patch": ("target", "kind", "name", "body"),
    "apply": ("target", "body"),
    "delete": ("target", "kind", "name"),
    "job-from-cronjob": ("target", "cronjob", "name"),
    "wait": ("target", "kind", "name", "condition"),
    "logs": ("target", "name"),
    "exec": ("target", "name", "command"),
}
# Fields that only mean something next to another field.
COMPANIONS = {"run": "ssh", "cwd": "local", "with": "call", "message": "require", "concurrency": "foreach"}
EXPRESSIONS = ("when", "require", "expect", "until", "assert")
NOT_TEMPLATES = frozenset(
    {
        "id",
        "needs",
        "register",
        "parse",
        "k8s",
        "patch_type",
        "mutates",
        "concurrency",
        "retry",
        "timeout",
        "since",
        "tail",
        "follow",
        "undo",
        "foreach",
    }
)
def check(data: dict[str, Any], ctx: Context) -> None:
    """Append every problem of procedure ``data`` to ``ctx.problems``."""
    src = ctx.source
    ctx.problems.extend(check_keys(data, (), Procedure, src, ctx.describe))
    inputs = data.get("inputs")
    if isinstance(inputs, dict):
        for name, spec in inputs.items():
            input_checks.check_input(name, spec, ctx)
    steps = data.get("steps")
    if not isinstance(steps, list):
        return
    registers = {
        reg
        for step in steps
        if isinstance(step, dict)
        for body in (step, step.get("undo"))
        if isinstance(body, dict)
        for reg in [body.get("register")]
        if isinstance(reg, str)
    }
    input_names = set(inputs) if isinstance(inputs, dict) else set()
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        path: Path = ("steps", i)
        ctx.problems.extend(check_keys(step, path, Step, src, ctx.describe))
        _check_body(step, path, ctx)
        foreach = present(step, "foreach")
        _check_templates(step, path, ctx, input_names, registers, item=foreach, in_undo=False)
        undo = step.get("undo")
        if isinstance(undo, dict):
            upath = path + ("undo",)
            ctx.problems.extend(check_keys(undo, upath, StepBody, src, ctx.describe))
            _check_body(undo, upath, ctx)
            _check_templates(undo, upath, ctx, input_names, registers, item=foreach, in_undo=True)
    flow_checks.check_graph(steps, ctx)


def _check_body(body: dict[str, Any], path: Path, ctx: Context) -> None:
    src = ctx.source
    where = ctx.subject(path)
    actions = [a for a in ACTIONS if present(body, a)]
    if not actions:
        ctx.add(src.value(path), f"{where} has no action; expected one of: {', '.join(ACTIONS)}")
    elif len(actions) > 1:
        ctx.add(
            src.key(path + (actions[1],)),
            f"{where} has {len(actions)} actions ({and_list(actions)}); a step does exactly one thing, so keep one",
        )
    if present(body, "ssh") and not present(body, "run"):
        ctx.add(src.key(path + ("ssh",)), f"{where} has 'ssh' but no 'run' command to run there")
    for key, companion in COMPANIONS.items():
        if present(body, key) and not present(body, companion):
            if key == "run":
                hint = "; a command on this machine goes in 'local'" if "local" in actions else ""
                ctx.add(
                    src.key(path + (key,)), f"'run' in {where} needs 'ssh: TARGET' to say where it runs{hint}"
                )
            else:
                ctx.add(src.key(path + (key,)), f"'{key}' in {where} only applies with '{companion}'")
    verb = body.get("k8s")
    k8s_fields = [f for f in K8S_COMMON + K8S_EXTRA if present(body, f)]
    if verb is None:
        for f in k8s_fields:
            ctx.add(src.key(path + (f,)), f"'{f}' in {where} only applies to k8s steps")
    elif isinstance(verb, str) and verb in K8S_VERBS:
        missing = [f for f in K8S_NEEDS[verb] if not present(body, f)]
        if missing:
            ctx.add(src.key(path + ("k8s",)), f"k8s {verb} in {where} needs {and_list(missing)}")
        takes = K8S_COMMON + K8S_TAKES[verb]
        for f in k8s_fields:
            if f not in takes:
                ctx.add(src.key(path + (f,)), f"'{f}' in {where} does not apply to k8s {verb}")
    upload = body.get("upload")
    if isinstance(upload, dict):
        _check_upload(upload, path + ("upload",), ctx)
    tcp = body.get("tcp")
    if isinstance(tcp, dict):
        ctx.problems.extend(check_keys(tcp, path + ("tcp",), TcpSpec, src, ctx.describe))
    retry = body.get("retry")
    if isinstance(retry, dict):
        ctx.problems.extend(check_keys(retry, path + ("retry",), Retry, src, ctx.describe))
    _check_confirm(body.get("confirm"), path + ("confirm",), ctx)
    parser = body.get("parse")
    if isinstance(parser, str) and ctx.parsers is not None and parser not in ctx.parsers:
        hint = did_you_mean(parser, ctx.parsers) or f"; expected one of: {', '.join(ctx.parsers)}"
        ctx.add(src.value(path + ("parse",)), f"unknown parser '{parser}' in {where}{hint}")
    register = body.get("register")
    if isinstance(register, str) and register in template_checks.RESERVED:
        ctx.add(
            src.value(path + ("register",)),
            f"'register' in {where} uses the reserved name '{register}'; pick another",
        )
    _check_targets(body, path, ctx)
    flow_checks.check_call(body, path, ctx)


def _check_upload(upload: dict[str, Any], path: Path, ctx: Context) -> None:
    src = ctx.source
    where = ctx.subject(path)
    ctx.problems.extend(check_keys(upload, path, UploadSpec, src, ctx.describe))
    has_src, has_content = upload.get("src") is not None, upload.get("content") is not None
    if has_src and has_content:
        ctx.add(src.key(path + ("content",)), f"{where} has both 'src' and 'content'; give one")
    elif not has_src and not has_content:
        ctx.add(src.value(path), f"{where} needs 'src' (a local file) or 'content' (the text to write)")
    mode = upload.get("mode")
    if isinstance(mode, str) and not re.fullmatch(r"0?[0-7]{3,4}", mode.strip()):
        ctx.add(
            src.value(path + ("mode",)),
            f"{ctx.subject(path + ('mode',))} must be an octal file mode like '0644', found {show(mode)}",
        )


def _check_confirm(confirm: Any, path: Path, ctx: Context) -> None:
    src = ctx.source
    if isinstance(confirm, dict):
        ctx.problems.extend(check_keys(confirm, path, Confirm, src, ctx.describe))
        text, typed = confirm.get("text"), confirm.get("typed")
        if isinstance(typed, str) and not typed.strip():
            ctx.add(
                src.value(path + ("typed",)),
                f"{ctx.subject(path + ('typed',))} is empty; give the phrase the operator must type",
            )
    else:
        text = confirm
    if isinstance(text, str) and not text.strip():
        at = path + ("text",) if isinstance(confirm, dict) else path
        ctx.add(src.value(at), f"{ctx.subject(at)} is empty; say what the operator is agreeing to")


def _check_targets(body: dict[str, Any], path: Path, ctx: Context) -> None:
    if ctx.inventory is None:
        return
    src = ctx.source
    where = ctx.subject(path)
    upload = body.get("upload")
    uses = [
        ("ssh", path + ("ssh",), body.get("ssh"), "runs over ssh"),
        (
            "ssh",
            path + ("upload", "target"),
            upload.get("target") if isinstance(upload, dict) else None,
            "uploads over ssh",
        ),
        (
            "kubernetes",
            path + ("target",),
            body.get("target") if body.get("k8s") is not None else None,
            "talks to Kubernetes",
        ),
    ]
    targets = ctx.inventory.targets
    for kind, at, name, verb in uses:
        if not isinstance(name, str) or is_template(name):
            continue
        if name not in targets:
            hint = did_you_mean(name, targets) or (
                f"; the inventory has: {', '.join(targets)}" if targets else "; the inventory has no targets"
            )
            ctx.add(src.value(at), f"unknown target '{name}' in {where}{hint}")
        elif targets[name].kind != kind:
            kind_found = targets[name].kind
            article = "an" if kind_found == "ssh" else "a"
            ctx.add(src.value(at), f"{where} {verb}, but target '{name}' is {article} {kind_found} target")


def _check_templates(
    body: dict[str, Any],
    path: Path,
    ctx: Context,
    inputs: set[str],
    registers: set[str],
    *,
    item: bool,
    in_undo: bool,
) -> None:
    inventory = ctx.inventory
    for key, value in body.items():
        if key in NOT_TEMPLATES and key != "foreach":
            continue
        scope = template_checks.Scope(
            inputs=inputs,
            registers=registers,
            vars=set(inventory.vars) if inventory is not None else None,
            targets=set(inventory.targets) if inventory is not None else None,
            item=item and key != "foreach",
            result=in_undo or key in ("expect", "until"),
        )
        expression = key in EXPRESSIONS or (key == "foreach" and isinstance(value, str))
        for leaf, text in template_checks.walk_strings(value, path + (key,)):
            found = template_checks.check(
                text,
                expression=expression,
                scope=scope,
                path=leaf,
                subject=ctx.subject(leaf),
                source=ctx.source,
            )
            if key in ("run", "local") and not found:
                found = template_checks.check_shell_quoting(
                    text, path=leaf, subject=ctx.subject(leaf), source=ctx.source
                )
            ctx.problems.extend(found)

