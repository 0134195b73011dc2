"""Sandboxed Jinja2 for procedures.

Two environments share one rule set (sandbox, undefined names are errors):
- ``shell``: every ``{{ value }}`` is shell-quoted as it is written into a command, unless the
  template says ``| raw``. What this renders is exactly what runs and what dry-run shows.
- ``values``: guards, texts and Kubernetes bodies; a template that is one ``{{ expression }}``
  keeps its native type (a list stays a list).
"""

from __future__ import annotations

import ipaddress
import json
import shlex
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from runbook_tui.errors import RunbookError


class TemplateProblem(RunbookError):
    """A template failed to render or evaluate; the message names the expression."""

    title = "Template error"


class Raw(str):
    """A value the template author marked ``| raw``: written into a command unquoted."""


def _quote(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if value is None:
        return "''"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return " ".join(_quote(v) for v in value)
    return shlex.quote(str(value))


def _in_network(address: Any, network: str) -> bool:
    try:
        return ipaddress.ip_address(str(address)) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def _make_env(*, shell: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_quote if shell else None,
    )
    env.filters["raw"] = lambda v: Raw("" if v is None else v)
    env.filters["quote"] = lambda v: Raw(_quote(v))
    env.filters["to_json"] = lambda v: json.dumps(v, sort_keys=True)
    env.filters["from_json"] = json.loads
    env.filters["in_network"] = _in_network
    env.tests["in_network"] = _in_network
    return env


@lru_cache(maxsize=None)
def _env(shell: bool) -> ImmutableSandboxedEnvironment:
    return _make_env(shell=shell)


def environment(*, shell: bool = False) -> ImmutableSandboxedEnvironment:
    return _env(shell)


def is_template(text: Any) -> bool:
    return isinstance(text, str) and ("{{" in text or "{%" in text)


@lru_cache(maxsize=4096)
def _compile(source: str, shell: bool):
    return _env(shell).from_string(source)


@lru_cache(maxsize=4096)
def _single_expression(source: str) -> str | None:
    """The expression inside a template that is exactly ``{{ expr }}``, else None."""
    stripped = source.strip()
    if not (stripped.startswith("{{") and stripped.endswith("}}")):
        return None
    try:
        body = _env(False).parse(stripped).body
    except TemplateError:
        return None
    if len(body) == 1 and isinstance(body[0], nodes.Output) and len(body[0].nodes) == 1:
        if not isinstance(body[0].nodes[0], nodes.TemplateData):
            return stripped[2:-2]
    return None


def render_command(template: str, context: dict[str, Any]) -> str:
    """Render a shell command: interpolated values are shell-quoted unless ``| raw``."""
    try:
        return _compile(template, True).render(context)
    except Exception as exc:  # a filter's own error (e.g. from_json) is the template's problem too
        raise TemplateProblem(f"cannot render {template.strip()!r}: {exc}") from None


def render_text(template: str, context: dict[str, Any]) -> str:
    try:
        return _compile(template, False).render(context)
    except Exception as exc:  # a filter's own error (e.g. from_json) is the template's problem too
        raise TemplateProblem(f"cannot render {template.strip()!r}: {exc}") from None


def render_value(value: Any, context: dict[str, Any]) -> Any:
    """Render strings, dicts and lists recursively; ``"{{ expr }}"`` keeps its native type."""
    if isinstance(value, dict):
        return {render_value(k, context): render_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    if not is_template(value):
        return value
    expression = _single_expression(value)
    if expression is not None:
        return evaluate(expression, context, truth=False)
    return render_text(value, context)


@lru_cache(maxsize=4096)
def _compile_expression(expression: str):
    return _env(False).compile_expression(expression, undefined_to_none=False)


def evaluate(expression: Any, context: dict[str, Any], *, truth: bool = True) -> Any:
    """Evaluate a guard: ``"{{ expr }}"`` or a bare ``expr``; booleans pass through."""
    if isinstance(expression, bool) or expression is None:
        return expression
    source = str(expression).strip()
    inner = _single_expression(source)
    if inner is not None:
        source = inner
    elif is_template(source):
        rendered = render_text(source, context).strip()
        return rendered.lower() in ("true", "yes", "1") if truth else rendered
    try:
        value = _compile_expression(source)(context)
    except Exception as exc:
        raise TemplateProblem(f"cannot evaluate {source!r}: {exc}") from None
    if truth:
        return bool(value)
    return value
