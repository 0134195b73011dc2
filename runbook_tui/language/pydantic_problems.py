"""Turn pydantic's validation errors into ``file:line:col: sentence`` problems.

Pydantic reports a path like ``('steps', 0, 'when', 'bool')``; the tail may name union members
that do not exist in the data. We walk the path against the data to find the YAML node the error
is about, merge a union's per-member errors into one sentence, and say what was found and what is
expected ("'timeout' in step 'restart' must be a duration like 30s, 2m or 500ms, found 'soon'").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from runbook_tui.errors import Problem
from runbook_tui.language.yaml_source import Path, SourceMap

if TYPE_CHECKING:  # only named here: checking an inventory's files builds no model
    from pydantic import BaseModel, ValidationError
    from pydantic_core import ErrorDetails

# (where, field): where = "step 'restart'", field = the rest of the path inside it.
Describer = Callable[[Path], tuple[str, Path]]

# What a field should hold, in words, when the generic type names would be unhelpful.
EXPECTED: dict[str, str] = {
    "id": "a slug (lowercase letters, digits, '-' and '_', starting with a letter or digit)",
    "confirm": "text, or a mapping with 'text' and optionally 'typed'",
    "timeout": "a duration like 30s, 2m or 500ms",
    "delay": "a duration like 30s, 2m or 500ms",
    "since": "a duration like 30s, 2m or 500ms",
    "needs": "a list of step ids",
    "foreach": "a list or an expression",
    "when": "an expression or true/false",
    "require": "an expression or true/false",
    "expect": "an expression or true/false",
    "until": "an expression or true/false",
    "body": "a mapping, a list or text",
    "command": "a list of arguments or a command line",
    "port": "a port number",
    "mode": "a file mode like '0644'",
    "register": "a name of letters, digits and _ (not starting with a digit)",
    "retry": "a mapping with 'attempts' and 'delay'",
    "tcp": "a mapping with 'host', 'port' and 'timeout'",
    "upload": "a mapping with 'target', 'src' or 'content', 'dest' and 'mode'",
    "undo": "a mapping: a step body without 'id' or 'needs'",
    "with": "a mapping of input names to values",
    "inputs": "a mapping of input names to their settings",
    "steps": "a list of steps",
    "targets": "a mapping of target names to their settings",
    "vars": "a mapping of names to values",
    "ssh": "a target name",
}

_TYPE_WORDS: dict[str, str] = {
    "string_type": "text",
    "string_sub_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "null",
}


def show(value: Any, limit: int = 40) -> str:
    """A found value, as a reader would recognise it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    text = str(value).replace("\n", "\\n")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"'{text}'"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'run'?)`` or nothing."""
    import difflib  # only when a name is wrong: it is not small

    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def field_name(rest: Path) -> str:
    """``('retry', 'attempts')`` -> ``'retry.attempts'``; list items -> ``item 2 of 'needs'``."""
    keys: list[str] = []
    text = ""
    for part in rest:
        if isinstance(part, int):
            base = f"'{'.'.join(keys)}'" if keys else text
            text = f"item {part + 1} of {base}" if base else f"item {part + 1}"
            keys = []
        else:
            keys.append(part)
    if keys:
        dotted = f"'{'.'.join(keys)}'"
        return f"{dotted} of {text}" if text else dotted
    return text


def subject(describe: Describer, path: Path) -> str:
    """ "'retry.attempts' in step 'x'" or just "step 'x'" when the path is the thing itself."""
    where, rest = describe(path)
    name = field_name(rest)
    return f"{name} in {where}" if name else where


def key_subject(describe: Describer, path: Path, key: str) -> str:
    """ "'upload.dest' in step 'x'": a key of the mapping at ``path``, named from its context."""
    where, rest = describe(path + (key,))
    name = field_name(rest)
    if not name or isinstance(rest[-1], int):
        return f"'{key}' in {subject(describe, path)}"
    return f"{name} in {where}"


def known_keys(model: type[BaseModel]) -> list[str]:
    """The keys a YAML mapping for ``model`` may use (aliases, as written in files)."""
    return [info.alias or name for name, info in model.model_fields.items()]


def check_keys(
    data: dict[str, Any],
    path: Path,
    model: type[BaseModel],
    source: SourceMap,
    describe: Describer,
) -> list[Problem]:
    """One problem per key ``model`` does not know, with a did-you-mean when one is close."""
    allowed = known_keys(model)
    problems = []
    for key in data:
        if key in allowed:
            continue
        if key in ("id", "needs", "undo") and "undo" not in allowed and "concurrency" in allowed:
            hint = " (an undo is a step body: no 'id', 'needs' or 'undo' of its own)"
        else:
            hint = did_you_mean(key, allowed)
        if not hint and len(allowed) <= 8:
            hint = f" (expected one of: {', '.join(allowed)})"
        problems.append(
            source.problem(source.key(path + (key,)), f"unknown key {key_subject(describe, path, key)}{hint}")
        )
    return problems


def _walk(data: Any, loc: tuple[Any, ...]) -> tuple[Path, tuple[Any, ...], Any]:
    """Follow ``loc`` into ``data`` as far as it exists: (data path, leftover, value there)."""
    path: list[str | int] = []
    value = data
    for i, part in enumerate(loc):
        if isinstance(value, dict) and isinstance(part, str) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            return tuple(path), tuple(loc[i:]), value
        path.append(part)
    return tuple(path), (), value


def _expected(errors: list[ErrorDetails], path: Path, expected: dict[str, str]) -> str:
    last = next((p for p in reversed(path) if isinstance(p, str)), "")
    if last in expected and not (path and isinstance(path[-1], int)):
        return expected[last]
    words: list[str] = []
    for error in errors:
        word = _TYPE_WORDS.get(error["type"])
        if word and word not in words:
            words.append(word)
    return " or ".join(words) if words else "something else"


def pydantic_problems(
    exc: ValidationError,
    data: Any,
    source: SourceMap,
    describe: Describer,
    *,
    skip: Callable[[Path, ErrorDetails], bool] = lambda path, error: False,
    expected: dict[str, str] = EXPECTED,
) -> list[Problem]:
    """Every error in ``exc`` as a Problem at the YAML node it is about."""
    groups: dict[Path, list[ErrorDetails]] = {}
    problems: list[Problem] = []
    for error in exc.errors(include_url=False, include_input=False):
        kind = error["type"]
        if kind == "extra_forbidden":
            continue  # check_keys reports these with a did-you-mean
        path, rest, value = _walk(data, tuple(error["loc"]))
        if skip(path, error):
            continue
        if kind == "missing":
            missing = rest[0] if rest else "?"
            problems.append(
                source.problem(
                    source.value(path), f"missing required key {key_subject(describe, path, str(missing))}"
                )
            )
            continue
        if kind in _TYPE_WORDS:
            groups.setdefault(path, []).append(error)
            continue
        problems.append(
            source.problem(
                source.value(path), _constraint_message(kind, error, path, value, describe, expected)
            )
        )
    for path, errors in groups.items():
        _, _, value = _walk(data, path)
        message = (
            f"{subject(describe, path)} must be {_expected(errors, path, expected)}, found {show(value)}"
        )
        problems.append(source.problem(source.value(path), message))
    return problems


def _constraint_message(
    kind: str, error: ErrorDetails, path: Path, value: Any, describe: Describer, expected: dict[str, str]
) -> str:
    what = subject(describe, path)
    ctx = error.get("ctx") or {}
    last = next((p for p in reversed(path) if isinstance(p, str)), "")
    if kind == "string_pattern_mismatch":
        words = expected.get(last, f"text matching {ctx.get('pattern')}")
        return f"{what} must be {words}, found {show(value)}"
    if kind == "literal_error":
        choices = [
            c.strip().strip("'") for c in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")
        ]
        hint = did_you_mean(str(value), choices) if isinstance(value, str) else ""
        return f"{what} must be one of {ctx.get('expected')}, found {show(value)}{hint}"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        return f"{what} must be at least {bound}{'' if kind.endswith('equal') else ' (exclusive)'}, found {show(value)}"
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        return f"{what} must be at most {bound}, found {show(value)}"
    if kind == "too_short":
        return f"{what} must not be empty"
    if kind == "value_error":
        if last in expected:
            return f"{what} must be {expected[last]}, found {show(value)}"
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        return f"{what}: {message}"
    return f"{what}: {error.get('msg', 'invalid value')}"
