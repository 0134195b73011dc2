"""Procedure inputs: typed, validated values from --set, a form, or their defaults."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from runbook_tui.errors import RunbookError
from runbook_tui.language import templating
from runbook_tui.language.model import InputSpec, Procedure
from runbook_tui.language.yaml_compose import read_value
from runbook_tui.language.yaml_source import SourceError

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


class InputError(RunbookError):
    title = "Invalid input"


def _structured(name: str, text: str) -> Any:
    """A ``[...]`` or ``{...}`` value read like a procedure file: plain data only, no aliases
    (so no "billion laughs"), no tags; a problem is one sentence with its column."""
    try:
        return read_value(text, f"input {name}")
    except SourceError as exc:
        problem = exc.problems[0]
        where = f"column {problem.col}" if problem.line == 1 else f"line {problem.line}, column {problem.col}"
        raise InputError(f"input {name}, {where}: {problem.message}.") from None


def _matches(name: str, pattern: str, value: str) -> bool:
    """``value`` matches ``pattern`` in full. A pattern that backtracks catastrophically
    (``(a+)+$``) is stopped after TIME_LIMIT seconds: ``re`` checks for signals while it
    matches, so the templates' SIGALRM budget interrupts it. That budget only exists in the main
    thread (where the CLI and the TUI take their inputs); elsewhere the match is unbounded."""
    try:
        return templating.within_time_limit(re.fullmatch, pattern, value) is not None
    except templating.TimeLimitExceeded:
        raise InputError(
            f"input {name}: matching {pattern} took longer than {templating.TIME_LIMIT:g} s, "
            "so it was stopped; the pattern backtracks too much for this value."
        ) from None


def coerce(name: str, spec: InputSpec, value: Any) -> Any:
    """One input's value in its declared type, or InputError with a sentence."""
    kind = spec.type
    try:
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            value = int(value)
        elif kind == "bool":
            if isinstance(value, str):
                if value.lower() not in _TRUE | _FALSE:
                    raise ValueError
                value = value.lower() in _TRUE
            value = bool(value)
        elif kind == "ip":
            value = str(ipaddress.ip_address(str(value).strip()))
        elif kind == "list":
            if isinstance(value, str):
                if value.strip().startswith(("[", "{")):
                    value = _structured(name, value)
                else:
                    value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, (list, dict)):
                raise ValueError
        else:
            value = str(value) if not isinstance(value, (dict, list)) else value
    except ValueError:
        raise InputError(f"input {name}: {value!r} is not a valid {kind}.") from None
    if spec.choices is not None and value not in spec.choices:
        options = ", ".join(str(c) for c in spec.choices)
        raise InputError(f"input {name}: {value!r} is not one of {options}.")
    if spec.pattern and isinstance(value, str) and not _matches(name, spec.pattern, value):
        raise InputError(f"input {name}: {value!r} does not match {spec.pattern}.")
    return value


def resolve(procedure: Procedure, given: dict[str, Any], discovered: dict[str, Any] | None = None) -> dict[str, Any]:
    """All inputs: given values, else discovered defaults, else declared defaults."""
    unknown = sorted(set(given) - set(procedure.inputs))
    if unknown:
        known = ", ".join(procedure.inputs) or "none"
        raise InputError(f"{procedure.id} has no input {unknown[0]} (its inputs: {known}).")
    values: dict[str, Any] = {}
    for name, spec in procedure.inputs.items():
        if name in given:
            values[name] = coerce(name, spec, given[name])
        elif discovered and name in discovered:
            values[name] = coerce(name, spec, discovered[name])
        elif spec.default is not None:
            values[name] = coerce(name, spec, spec.default)
        elif spec.required:
            raise InputError(f"input {name} is required: {spec.prompt or name} (give --set {name}=...).")
        else:
            values[name] = None
    return values


def parse_sets(pairs: list[str]) -> dict[str, str]:
    """``--set NAME=VALUE`` pairs; the value is kept verbatim (it is quoted where it is used)."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--set {pair!r}: expected NAME=VALUE.")
        values[name.strip()] = value
    return values
