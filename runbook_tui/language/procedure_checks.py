"""What a procedure must satisfy beyond its field types, checked on the raw YAML data.

Working on the data (not the validated model) lets one bad step not hide the problems of the
others: every check guards its own types and leaves type errors to pydantic's report.
"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from runbook_tui.language import template_checks
from runbook_tui.errors import Problem
from runbook_tui.language.inventory import Inventory
from runbook_tui.language.model import (
    ACTIONS,
    K8S_VERBS,
    Confirm,
    InputSpec,
    Procedure,
    Retry,
    Step,
    StepBody,
    TcpSpec,
    UploadSpec,
)
from runbook_tui.language.pydantic_problems import check_keys, did_you_mean, show, subject
from runbook_tui.language.yaml_source import Path, SourceMap

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
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
    "logs": ("container", "tail", "since", "label_selector"),
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
        "undo",
        "foreach",
    }
)
_DEFAULTS = {name: info.default for name, info in StepBody.model_fields.items()}
_DEFAULTS.update({info.alias: info.default for info in StepBody.model_fields.values() if info.alias})


def present(body: dict[str, Any], key: str) -> bool:
    """Given a value other than nothing or the field's default (so a full dump reads back)."""
    if key not in body or body[key] is None:
        return False
    if key == "with":
        return body[key] != {}
    return not (key in _DEFAULTS and body[key] == _DEFAULTS[key] and key not in ACTIONS)


def _and(words: list[str]) -> str:
    quoted = [f"'{w}'" for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def describer(data: dict[str, Any]) -> Callable[[Path], tuple[str, Path]]:
    steps = data.get("steps") if isinstance(data, dict) else None

    def describe(path: Path) -> tuple[str, Path]:
        if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
            step = steps[path[1]] if isinstance(steps, list) and path[1] < len(steps) else None
            step_id = step.get("id") if isinstance(step, dict) else None
            name = f"step '{step_id}'" if isinstance(step_id, str) and step_id else f"step #{path[1] + 1}"
            if len(path) >= 3 and path[2] == "undo":
                return f"the undo of {name}", path[3:]
            return name, path[2:]
        if len(path) >= 2 and path[0] == "inputs" and isinstance(path[1], str):
            return f"input '{path[1]}'", path[2:]
        return "the procedure", path

    return describe


@dataclass
class Context:
    source: SourceMap
    describe: Callable[[Path], tuple[str, Path]]
    inventory: Inventory | None
    parsers: tuple[str, ...] | None
    callee: Callable[[str], Procedure | None | str] | None  # None: unknown; str: why it is unusable
    procedure_id: str | None
    problems: list[Problem]
    # (caller, called) -> the ids of a loop those calls would go round, or None (see Catalog.call_loop)
    call_loop: Callable[[str | None, str], list[str] | None] | None = None

    def add(self, at: tuple[int, int], message: str) -> None:
        self.problems.append(self.source.problem(at, message))

    def subject(self, path: Path) -> str:
        return subject(self.describe, path)


def check(data: dict[str, Any], ctx: Context) -> None:
    """Append every problem of procedure ``data`` to ``ctx.problems``."""
    src = ctx.source
    ctx.problems.extend(check_keys(data, (), Procedure, src, ctx.describe))
    inputs = data.get("inputs")
    if isinstance(inputs, dict):
        for name, spec in inputs.items():
            _check_input(name, spec, ctx)
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
    _check_graph(steps, ctx)


def _check_input(name: str, spec: Any, ctx: Context) -> None:
    src = ctx.source
    path: Path = ("inputs", name)
    if not IDENT.match(name):
        ctx.add(
            src.key(path),
            f"input name '{name}' must be an identifier (letters, digits and _, not starting with a digit)",
        )
    elif hasattr(dict, name):
        # Jinja reads inputs.items as the mapping's method before the entry.
        ctx.add(
            src.key(path),
            f"input name '{name}' is also a method of mappings, so 'inputs.{name}' would not be the input; pick another",
        )
    if not isinstance(spec, dict):
        return
    ctx.problems.extend(check_keys(spec, path, InputSpec, src, ctx.describe))
    choices = spec.get("choices")
    if spec.get("type") == "choice" and not choices:
        ctx.add(src.value(path + ("type",)), f"input '{name}' has type 'choice' but no 'choices'")
    default = spec.get("default")
    not_a_choice = isinstance(choices, list) and bool(choices) and default is not None and default not in choices
    if not_a_choice:
        ctx.add(
            src.value(path + ("default",)),
            f"'default' in input '{name}' is {show(default)}, which is not one of its choices",
        )
    pattern = spec.get("pattern")
    pattern_ok = True
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error as exc:
            pattern_ok = False
            ctx.add(
                src.value(path + ("pattern",)),
                f"'pattern' in input '{name}' is not a valid regular expression: {exc}",
            )
    if default is not None and pattern_ok and not not_a_choice:
        _check_default(name, spec, path, ctx)
    for leaf, text in template_checks.walk_strings(spec, path):
        if leaf[-1:] != ("pattern",):
            ctx.problems.extend(
                template_checks.check(
                    text, expression=False, scope=None, path=leaf, subject=ctx.subject(leaf), source=src
                )
            )


_INPUT_TYPE_WORDS = {
    "string": "text",
    "int": "a whole number",
    "bool": "true or false",
    "ip": "an IP address",
    "list": "a list",
    "choice": "one of its choices",
}


def _check_default(name: str, spec: dict[str, Any], path: Path, ctx: Context) -> None:
    """A default the input itself would refuse when the run starts. The run's own ``coerce``
    judges (one set of rules); the sentence says which part of the declaration it breaks."""
    from runbook_tui.engine.inputs import InputError, coerce

    try:
        declared = InputSpec.model_validate(
            {k: spec[k] for k in ("type", "choices", "pattern", "default") if k in spec}
        )
    except ValidationError:
        return  # a bad type, choices or pattern: reported as such
    default = declared.default

    def judge(**without: Any) -> tuple[bool, Any]:
        try:
            return True, coerce(name, declared.model_copy(update=without), default)
        except InputError:
            return False, None

    if judge()[0]:
        return
    typed, value = judge(choices=None, pattern=None)
    what = f"'default' in input '{name}'"
    if not typed:
        kind = declared.type
        message = f"{what} must be {_INPUT_TYPE_WORDS.get(kind, kind)} (type '{kind}'), found {show(default)}"
    elif declared.choices is not None and not judge(pattern=None)[0]:
        read = f", which the run reads as {show(value)}," if value != default else ""
        message = f"{what} is {show(default)}{read} not one of its choices"
    else:
        message = f"{what} is {show(default)}, which does not match its pattern {show(declared.pattern)}"
    ctx.add(ctx.source.value(path + ("default",)), message)


def _check_body(body: dict[str, Any], path: Path, ctx: Context) -> None:
    src = ctx.source
    where = ctx.subject(path)
    actions = [a for a in ACTIONS if present(body, a)]
    if not actions:
        ctx.add(src.value(path), f"{where} has no action; expected one of: {', '.join(ACTIONS)}")
    elif len(actions) > 1:
        ctx.add(
            src.key(path + (actions[1],)),
            f"{where} has {len(actions)} actions ({_and(actions)}); a step does exactly one thing, so keep one",
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
            ctx.add(src.key(path + ("k8s",)), f"k8s {verb} in {where} needs {_and(missing)}")
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
    _check_call(body, path, ctx)


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
        if not isinstance(name, str) or template_checks.is_template(name):
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


def _check_call(body: dict[str, Any], path: Path, ctx: Context) -> None:
    called = body.get("call")
    if not isinstance(called, str):
        return
    src = ctx.source
    where = ctx.subject(path)
    if template_checks.is_template(called):
        # Which procedure runs must be known before the run: for loops, inputs and review.
        ctx.add(
            src.value(path + ("call",)),
            f"'call' in {where} is a template ({show(called)}); name the procedure itself, so that"
            " what a run calls is known before it starts",
        )
        return
    if called == ctx.procedure_id:
        ctx.add(src.value(path + ("call",)), f"{where} calls its own procedure '{called}'")
        return
    if ctx.callee is None:
        return
    callee = ctx.callee(called)
    if callee is None or isinstance(callee, str):
        reason = callee if isinstance(callee, str) else "which is not a known procedure"
        ctx.add(src.value(path + ("call",)), f"{where} calls '{called}', {reason}")
        return
    loop = ctx.call_loop(ctx.procedure_id, called) if ctx.call_loop is not None else None
    if loop and loop[0] == ctx.procedure_id:
        ctx.add(src.value(path + ("call",)), f"procedures call each other in a loop: {' -> '.join(loop)}")
    elif loop:
        ctx.add(
            src.value(path + ("call",)),
            f"{where} calls '{called}', which never finishes: procedures call each other in a loop:"
            f" {' -> '.join(loop)}",
        )
    given = body.get("with")
    given = given if isinstance(given, dict) else {}
    for key in given:
        if key not in callee.inputs:
            hint = did_you_mean(key, callee.inputs)
            ctx.add(
                src.key(path + ("with", key)),
                f"'with' in {where} gives '{key}', but procedure '{called}' has no input '{key}'{hint}",
            )
    for name, spec in callee.inputs.items():
        if spec.required and spec.default is None and spec.discover is None and name not in given:
            ctx.add(
                src.value(path + ("call",)), f"{where} calls '{called}' without its required input '{name}'"
            )


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


def _check_graph(steps: list[Any], ctx: Context) -> None:
    src = ctx.source
    first: dict[str, int] = {}
    for i, step in enumerate(steps):
        step_id = step.get("id") if isinstance(step, dict) else None
        if not isinstance(step_id, str):
            continue
        if step_id in first:
            line = src.value(("steps", first[step_id], "id"))[0]
            ctx.add(src.value(("steps", i, "id")), f"duplicate step id '{step_id}' (first at line {line})")
        else:
            first[step_id] = i
    deps: dict[str, list[str]] = {}
    previous: str | None = None
    for i, step in enumerate(steps):
        step_id = step.get("id") if isinstance(step, dict) else None
        needs = step.get("needs") if isinstance(step, dict) else None
        mine: list[str] = []
        if isinstance(needs, list):
            for j, need in enumerate(needs):
                if not isinstance(need, str):
                    continue
                if need in first:
                    mine.append(need)
                else:
                    hint = did_you_mean(need, first)
                    ctx.add(
                        src.value(("steps", i, "needs", j)),
                        f"{ctx.subject(('steps', i))} needs '{need}', which is not a step in this procedure{hint}",
                    )
        elif needs is None and previous is not None:
            mine.append(previous)
        if isinstance(step_id, str) and first.get(step_id) == i:
            deps[step_id] = mine
            previous = step_id
    try:
        graphlib.TopologicalSorter(deps).prepare()
    except graphlib.CycleError as exc:
        cycle = list(reversed(exc.args[1]))
        # Report at the cycle's step that comes first in the file.
        start = min(cycle[:-1], key=lambda s: first[s])
        k = cycle.index(start)
        ordered = cycle[k:-1] + cycle[:k] + [start]
        i = first[start]
        at = (
            src.key(("steps", i, "needs"))
            if isinstance(steps[i].get("needs"), list)
            else src.value(("steps", i))
        )
        ctx.add(at, f"steps need each other in a cycle: {' -> '.join(ordered)}")
