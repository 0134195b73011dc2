"""Checks of a procedure's ``inputs``: each spec's shape, and a default the run would refuse."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from runbook_tui.language import template_checks
from runbook_tui.language.check_context import (
    IDENT,
    Context,
)
from runbook_tui.language.model import (
    InputSpec,
)
from runbook_tui.language.pydantic_problems import (
    check_keys,
    show,
)
from runbook_tui.language.yaml_source import Path


def check_input(name: str, spec: Any, ctx: Context) -> None:
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
    from runbook_tui.language.inputs import InputError, coerce

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
