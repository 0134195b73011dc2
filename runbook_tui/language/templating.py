"""Sandboxed Jinja2 for procedures.

Two environments share one rule set (sandbox, undefined names are errors):
- ``shell``: every ``{{ value }}`` is shell-quoted as it is written into a command, unless the
  template says ``| raw``. What this renders is exactly what runs and what dry-run shows.
- ``values``: guards, texts and Kubernetes bodies; a template that is one ``{{ expression }}``
  keeps its native type (a list stays a list).

A hostile value or procedure must end with a sentence, not hang the run (Ctrl+C cannot reach a
blocked event loop) or eat the machine's memory, so templates get limits:
- size: ``*``, ``**``, ``+`` and ``~`` refuse, before building it, a result over MAX_SIZE
  characters, items or bits (``'A' * 2**33``), and so does a render's output; ``range`` stays
  capped by the sandbox's MAX_RANGE.
- time: each render or evaluation is stopped after TIME_LIMIT seconds of wall clock (nested
  ``for`` loops) by a SIGALRM timer. Signals only reach the main thread, so elsewhere (and under
  an alarm that is due sooner) the size limits are all there is. A filter or method that builds a
  huge value in a single call (``'a'|center(10**9)``) is not foreseen by the size limits.
"""

from __future__ import annotations

import _signal  # signal.signal minus the enum conversion that costs 2 µs a call (2 calls a render)
import ipaddress
import json
import shlex
import signal
import time
from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from types import CodeType
from typing import Any, TypeVar

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.compiler import CodeGenerator
from jinja2.environment import TemplateExpression
from jinja2.parser import Parser
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

from runbook_tui.errors import RunbookError
from runbook_tui.language.template_code import kept


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


MAX_SIZE = 1_000_000  # characters or items of a `*`, `+` or `~` result; bits of an integer one
TIME_LIMIT = 2.0  # seconds per render or evaluation

T = TypeVar("T")


class TimeLimitExceeded(BaseException):
    """Raised by the alarm. A BaseException, so that no ``except Exception`` in a filter or in
    Jinja itself swallows it and lets the loop run on."""


def _expire(signum: int, frame: Any) -> None:
    raise TimeLimitExceeded


def within_time_limit(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, interrupted with TimeLimitExceeded after TIME_LIMIT seconds. Runs without a
    limit off the main thread, and inside an alarm due within TIME_LIMIT (ours, when nested), which
    fires first anyway. An alarm due later (pytest-timeout's) gets its handler and remaining time back."""
    due = signal.getitimer(signal.ITIMER_REAL)[0]
    if 0 < due <= TIME_LIMIT:
        return fn(*args)
    try:
        previous = _signal.signal(signal.SIGALRM, _expire)
    except ValueError:  # not the main thread: signals cannot be handled here
        return fn(*args)
    start = time.monotonic()
    _, interval = signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        return fn(*args)
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            _signal.signal(signal.SIGALRM, _signal.SIG_DFL if previous is None else previous)
            if due:
                signal.setitimer(signal.ITIMER_REAL, max(due - (time.monotonic() - start), 1e-6), interval)


class _TooBig(Exception):
    pass


def _size(operator: str, left: Any, right: Any) -> tuple[int, str]:
    """How big ``left operator right`` would be, and in what unit, worked out without building it."""
    sequences = (str, list, tuple)
    if operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            return left.bit_length() * right, "bits"
    elif operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            return left.bit_length() + right.bit_length(), "bits"
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, sequences) and isinstance(times, int):
                return len(seq) * times, "characters" if isinstance(seq, str) else "items"
    elif isinstance(left, sequences) and isinstance(right, sequences):  # "+"
        return len(left) + len(right), "characters" if isinstance(left, str) else "items"
    return 0, ""


def _too_big(what: str, size: int, unit: str) -> _TooBig:
    return _TooBig(f"{what} would be {size:,} {unit}, over the limit of {MAX_SIZE:,}")


class _CodeGenerator(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:
        # Jinja has no hook for `~`: route it through the environment, like intercepted binops.
        self.write("environment.tilde(context.eval_ctx, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with a size limit on what its operators build."""

    intercepted_binops = frozenset({"*", "**", "+"})
    code_generator_class = _CodeGenerator

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        size, unit = _size(operator, left, right)
        if size > MAX_SIZE:
            raise _too_big(f"the result of '{operator}'", size, unit)
        return super().call_binop(context, operator, left, right)

    def concat(self, pieces: Iterable[str]) -> str:
        # What render() joins: the output has the same limit, so a loop that writes fails fast.
        out, size = [], 0
        for piece in pieces:
            size += len(piece)
            if size > MAX_SIZE:
                raise _TooBig(f"the output would be over the limit of {MAX_SIZE:,} characters")
            out.append(piece)
        return "".join(out)

    def tilde(self, eval_ctx: Any, parts: tuple[Any, ...]) -> str:
        size = sum(len(p) if isinstance(p, str) else len(str(p)) for p in parts)
        if size > MAX_SIZE:
            raise _too_big("the result of '~'", size, "characters")
        return markup_join(parts) if eval_ctx.autoescape else str_join(parts)


def _make_env(*, shell: bool) -> ImmutableSandboxedEnvironment:
    env = _Sandbox(
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


@cache
def _env(shell: bool) -> ImmutableSandboxedEnvironment:
    return _make_env(shell=shell)


def environment(*, shell: bool = False) -> ImmutableSandboxedEnvironment:
    return _env(shell)


def is_template(text: Any) -> bool:
    return isinstance(text, str) and ("{{" in text or "{%" in text)


def _template(env: ImmutableSandboxedEnvironment, code: CodeType) -> Template:
    return env.template_class.from_code(env, code, env.make_globals(None), None)  # as from_string


@lru_cache(maxsize=4096)
def _compile(source: str, shell: bool) -> Template:
    env = _env(shell)
    return _template(env, kept("shell" if shell else "text", source, lambda: env.compile(source), CodeType))


@lru_cache(maxsize=4096)
def _single_expression(source: str) -> str | None:
    """The expression inside a template that is exactly ``{{ expr }}``, else None."""
    return kept("single", source, lambda: _find_single_expression(source), (str, type(None)))


def _find_single_expression(source: str) -> str | None:
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


def _render(template: str, shell: bool, context: dict[str, Any]) -> str:
    try:
        return within_time_limit(lambda: _compile(template, shell).render(context))
    except TimeLimitExceeded:
        raise TemplateProblem(
            f"rendering {template.strip()!r} took longer than {TIME_LIMIT:g} s, so it was stopped"
        ) from None
    except Exception as exc:  # a filter's own error (e.g. from_json) is the template's problem too
        raise TemplateProblem(f"cannot render {template.strip()!r}: {exc}") from None


def render_command(template: str, context: dict[str, Any]) -> str:
    """Render a shell command: interpolated values are shell-quoted unless ``| raw``."""
    return _render(template, True, context)


def render_text(template: str, context: dict[str, Any]) -> str:
    return _render(template, False, context)


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
def _compile_expression(expression: str) -> TemplateExpression:
    env = _env(False)
    code = kept("expression", expression, lambda: _expression_code(env, expression), CodeType)
    return TemplateExpression(_template(env, code), undefined_to_none=False)


def _expression_code(env: ImmutableSandboxedEnvironment, source: str) -> CodeType:
    """``Environment.compile_expression`` up to its code object, which can be kept on disk."""
    parser = Parser(env, source, state="variable")
    try:
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno, None, None)
        expr.set_environment(env)
    except TemplateSyntaxError:
        env.handle_exception(source=source)
    body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
    return env.compile(nodes.Template(body, lineno=1))


@lru_cache(maxsize=1024)
def names_in(expression: str) -> frozenset[str]:
    """The variables a guard (``{{ expr }}`` or a bare ``expr``) reads; none when it cannot be read."""
    source = expression.strip()
    try:
        return frozenset(meta.find_undeclared_variables(_env(False).parse(
            source if is_template(source) else "{{ " + source + " }}")))
    except (TemplateError, RecursionError):
        return frozenset()


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
        value = within_time_limit(lambda: _compile_expression(source)(context))
    except TimeLimitExceeded:
        raise TemplateProblem(
            f"evaluating {source!r} took longer than {TIME_LIMIT:g} s, so it was stopped"
        ) from None
    except Exception as exc:
        raise TemplateProblem(f"cannot evaluate {source!r}: {exc}") from None
    if truth:
        return bool(value)
    return value
