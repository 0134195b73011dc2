"""Procedure inputs: typed, validated values from --set, a form, or their defaults."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import yaml

from runbook_tui.errors import RunbookError
from runbook_tui.model import InputSpec, Procedure

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


class InputError(RunbookError):
    title = "Invalid input"


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
                parsed = yaml.safe_load(value) if value.strip().startswith(("[", "{")) else None
                value = parsed if parsed is not None else [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, (list, dict)):
                raise ValueError
        else:
            value = str(value) if not isinstance(value, (dict, list)) else value
    except ValueError:
        raise InputError(f"input {name}: {value!r} is not a valid {kind}.") from None
    if spec.choices is not None and value not in spec.choices:
        options = ", ".join(str(c) for c in spec.choices)
        raise InputError(f"input {name}: {value!r} is not one of {options}.")
    if spec.pattern and isinstance(value, str) and not re.fullmatch(spec.pattern, value):
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
