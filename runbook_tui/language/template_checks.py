"""Check a procedure's templates before anything runs: syntax, and names that can never exist.

A template may use ``inputs.X``, ``vars.X``, ``targets.X``, ``run.id``, every registered name,
``item`` inside a ``foreach`` step and ``result`` in ``expect``/``until``/``undo``. Anything else
is a typo that would only surface mid-incident as "undefined", so the loader reports it here,
at the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.parser import Parser

from runbook_tui.errors import Problem
from runbook_tui.language.pydantic_problems import did_you_mean
from runbook_tui.language.templating import environment, is_template
from runbook_tui.language.yaml_source import Path, SourceMap

ALWAYS = frozenset({"inputs", "vars", "targets", "run"})
RESERVED = ALWAYS | {"item", "result"}
# Mapping methods a template may call on inputs/vars/targets: not names of entries.
_METHODS = frozenset({"get", "items", "keys", "values"})

# Where in the file a template node (and, given, the first place of a name in it) was written.
At = Callable[[nodes.Node | None, str | None], tuple[int, int]]


@dataclass
class Scope:
    """What a template at one place may refer to."""

    inputs: set[str]
    registers: set[str]
    vars: set[str] | None = None  # None: no inventory given, so vars are not checked
    targets: set[str] | None = None
    item: bool = False
    result: bool = False
    globals: set[str] = field(default_factory=lambda: set(environment().globals))


def parse(text: str, *, expression: bool) -> nodes.Template:
    """The Jinja AST of ``text``: a template, or a bare expression (guards, ``assert``)."""
    env = environment()
    if not expression or is_template(text):
        return env.parse(text)
    parser = Parser(env, text, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        token = parser.stream.current
        raise TemplateSyntaxError(f"unexpected {token.value!r} after the expression", token.lineno)
    template = nodes.Template([nodes.Output([expr])], lineno=1)
    template.set_environment(env)
    return template


def check(
    text: str,
    *,
    expression: bool,
    scope: Scope | None,
    path: Path,
    subject: str,
    source: SourceMap,
) -> list[Problem]:
    """Problems in one string value; ``scope=None`` checks syntax only."""
    if not expression and not is_template(text):
        return []
    try:
        ast = parse(text, expression=expression)
    except TemplateSyntaxError as exc:
        where = source.template_line(path, exc.lineno or 1)
        return [source.problem(where, f"{subject} has a template syntax error: {exc.message}")]
    except RecursionError:
        return [source.problem(source.value(path), f"{subject} has a template nested too deeply to read")]

    def at(node: nodes.Node | None, needle: str | None = None) -> tuple[int, int]:
        line, col = source.template_line(path, getattr(node, "lineno", 1) or 1)
        return _column_of(source, line, col, needle) if needle else (line, col)

    problems = _unknown_filters(ast, subject, at, source)
    if problems:
        return problems  # the compiler behind the name check stops at the first one anyway
    if scope is None:
        return []
    try:
        undeclared = meta.find_undeclared_variables(ast)
    except TemplateSyntaxError as exc:
        return [
            source.problem(
                source.template_line(path, exc.lineno or 1), f"{subject} has a template error: {exc.message}"
            )
        ]
    except RecursionError:
        return [source.problem(source.value(path), f"{subject} has a template nested too deeply to read")]

    names = {n.name: n for n in reversed(list(ast.find_all(nodes.Name))) if n.ctx == "load"}
    for name in sorted(undeclared - scope.globals - ALWAYS):
        node = names.get(name)
        if name in scope.registers:
            continue
        if name == "item":
            if not scope.item:
                problems.append(
                    source.problem(at(node, name), f"{subject} uses 'item' outside a 'foreach' step")
                )
            continue
        if name == "result":
            if not scope.result:
                problems.append(
                    source.problem(
                        at(node, name),
                        f"{subject} uses 'result', which only exists in 'expect', 'until' and 'undo'",
                    )
                )
            continue
        known = sorted(
            ALWAYS
            | scope.registers
            | ({"item"} if scope.item else set())
            | ({"result"} if scope.result else set())
        )
        problems.append(
            source.problem(
                at(node, name),
                f"{subject} uses '{name}', which is never defined{did_you_mean(name, known)};"
                " names come from inputs, vars, targets, run and 'register'",
            )
        )
    problems.extend(_member_problems(ast, undeclared, scope, subject, at, source))
    return problems


def quoted_interpolations(text: str) -> list[tuple[int, str]]:
    """``{{ ... }}`` (without ``| raw``) written inside '...' or "..." in a shell command: the
    value is already shell-quoted, so surrounding quotes undo that and let the shell expand it.
    Returns (offset, the interpolation) for each."""
    found: list[tuple[int, str]] = []
    state: str | None = None
    i, n = 0, len(text)
    while i < n:
        if text.startswith("{{", i):
            end = text.find("}}", i + 2)
            end = n if end < 0 else end + 2
            if state is not None and not re.search(r"\|\s*raw\b", text[i:end]):
                found.append((i, text[i:end]))
            i = end
            continue
        if text.startswith(("{%", "{#"), i):
            end = text.find("%}" if text[i + 1] == "%" else "#}", i + 2)
            i = n if end < 0 else end + 2
            continue
        char = text[i]
        if char == "\\" and state != "'":
            i += 2
            continue
        if state is None and char in "'\"":
            state = char
        elif state == char:
            state = None
        i += 1
    return found


def check_shell_quoting(text: str, *, path: Path, subject: str, source: SourceMap) -> list[Problem]:
    problems = []
    for offset, written in quoted_interpolations(text):
        line, col = source.template_line(path, text.count("\n", 0, offset) + 1)
        line, col = _column_of(source, line, col, written)
        problems.append(
            source.problem(
                (line, col),
                f"{subject} puts {written!r} inside quotes; values are shell-quoted for you and the quotes"
                " would undo that, so remove them (or write '| raw' for a trusted value)",
            )
        )
    return problems


def _column_of(source: SourceMap, line: int, col: int, needle: str) -> tuple[int, int]:
    """Point at ``needle`` on that source line (Jinja only knows lines), when it is there."""
    lines = source.text.splitlines()
    if 1 <= line <= len(lines):
        if not needle[:1].isalnum() and needle[:1] != "_":
            index = lines[line - 1].find(needle, col - 1)
            return (line, index + 1) if index >= 0 else (line, col)
        match = re.compile(
            rf"(?<![\w.]){re.escape(needle)}(?!\w)|(?<=[.'\"]){re.escape(needle)}(?!\w)"
        ).search(lines[line - 1], col - 1)
        if match:
            return line, match.start() + 1
    return line, col


def _unknown_filters(ast: nodes.Template, subject: str, at: At, source: SourceMap) -> list[Problem]:
    env = environment()
    problems = []
    for node in ast.find_all((nodes.Filter, nodes.Test)):
        known = env.filters if isinstance(node, nodes.Filter) else env.tests
        if node.name not in known:
            what = "filter" if isinstance(node, nodes.Filter) else "test"
            problems.append(
                source.problem(
                    at(node, node.name),
                    f"{subject} uses unknown {what} '{node.name}'{did_you_mean(node.name, known)}",
                )
            )
    return problems


def _member(node: nodes.Node) -> tuple[str, str] | None:
    """``inputs.host`` / ``inputs['host']`` -> ("inputs", "host")."""
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        return node.node.name, node.attr
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.node, nodes.Name)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return node.node.name, node.arg.value
    return None


def _member_problems(
    ast: nodes.Template, undeclared: set[str], scope: Scope, subject: str, at: At, source: SourceMap
) -> list[Problem]:
    checks: dict[str, tuple[set[str] | None, str]] = {
        "inputs": (scope.inputs, "but the procedure has no input '{key}'"),
        "vars": (scope.vars, "which the inventory's vars do not define"),
        "targets": (scope.targets, "which is not a target in the inventory"),
    }
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        member = _member(node)
        if member is None or member in seen:
            continue
        base, key = member
        if base not in checks or base not in undeclared or key in _METHODS:
            continue  # a local {% set %} or loop variable shadows it, or a method call
        known, why = checks[base]
        if known is None or key in known:
            continue
        seen.add(member)
        problems.append(
            source.problem(
                at(node, key),
                f"{subject} uses '{base}.{key}', {why.format(key=key)}{did_you_mean(key, known)}",
            )
        )
    return problems


def walk_strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """Every string leaf under ``value`` with its path (mapping keys are not templates)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from walk_strings(child, path + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from walk_strings(child, path + (i,))
