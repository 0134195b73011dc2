"""JSON Schema (draft 2020-12) of procedure and inventory files, for editors.

Generated from the pydantic models, then adjusted to what YAML files may actually say: durations
as ``30s`` text, ``confirm`` as plain text, and one action per step. Point yaml-language-server
at it with ``# yaml-language-server: $schema=procedure.schema.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runbook_tui.language.model import ACTIONS, Procedure

DRAFT = "https://json-schema.org/draft/2020-12/schema"
DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"
DURATION_FIELDS = ("timeout", "delay", "since")

DESCRIPTIONS: dict[str, str] = {
    "id": "A slug: lowercase letters, digits, '-' and '_'.",
    "title": "What this is, in a few words.",
    "why": "Markdown shown in the guided walkthrough: why this step exists.",
    "ssh": "Run 'run' on this SSH target from the inventory.",
    "run": "The shell command to run over SSH. Interpolated values are shell-quoted unless '| raw'.",
    "upload": "Write a file to an SSH target: {target, src | content, dest, mode}.",
    "k8s": "A Kubernetes verb, with target, kind, name, namespace and the verb's own fields.",
    "local": "A shell command to run on this machine.",
    "tcp": "Open a TCP connection: {host, port, timeout, banner}.",
    "manual": "Markdown instructions; the operator marks the step done.",
    "assert": "An expression that must be true.",
    "call": "Run another procedure by id, with inputs from 'with'.",
    "with": "Inputs for the called procedure.",
    "needs": "Steps that must finish first (default: the previous step).",
    "when": "Skip the step unless this expression is true.",
    "require": "Precondition: block with 'message' unless the operator overrides.",
    "message": "Shown when 'require' is false.",
    "expect": "Postcondition over 'result'.",
    "until": "Repeat (with 'retry') until this expression over 'result' is true.",
    "retry": "{attempts, delay}.",
    "timeout": "A duration like 30s, 2m or 500ms.",
    "mutates": "Whether the step changes something (default: by action).",
    "confirm": "Ask before running: text, or {text, typed: PHRASE} to require typing PHRASE.",
    "register": "Keep the result under this name for later steps.",
    "parse": "Parse stdout with this parser into result.data.",
    "foreach": "Run once per item (a list or an expression); the item is 'item'.",
    "concurrency": "How many foreach items run at once.",
    "undo": "A step body that reverses this step, offered when a later step fails.",
}


def _walk(node: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def _fix_keywords(node: dict[str, Any]) -> None:
    # Constraints pydantic could not translate leak out as "ge"/"le": make them JSON Schema.
    for source, target in (
        ("ge", "minimum"),
        ("le", "maximum"),
        ("gt", "exclusiveMinimum"),
        ("lt", "exclusiveMaximum"),
    ):
        if source in node and isinstance(node[source], (int, float)) and "type" in node:
            node[target] = node.pop(source)


def procedure_schema() -> dict[str, Any]:
    schema = Procedure.model_json_schema(by_alias=True, mode="validation")
    _walk(schema, _fix_keywords)
    duration = {
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": DURATION_PATTERN},
        ]
    }
    defs = schema["$defs"]
    for model in defs.values():
        props = model.get("properties", {})
        for name in DURATION_FIELDS:
            if name in props:
                nullable = {"type": "null"} in props[name].get("anyOf", [])
                options = duration["anyOf"] + ([{"type": "null"}] if nullable else [])
                props[name] = {"anyOf": options, "default": props[name].get("default")}
        if "confirm" in props:
            props["confirm"] = {
                "anyOf": [{"type": "string"}, {"$ref": "#/$defs/Confirm"}, {"type": "null"}],
                "default": None,
            }
        for name, text in DESCRIPTIONS.items():
            if name in props:
                props[name]["description"] = text
    for name in ("Step", "StepBody"):
        # Exactly one action per step (a key set to null does not count).
        defs[name]["oneOf"] = [
            {"required": [action], "properties": {action: {"not": {"type": "null"}}}} for action in ACTIONS
        ]
    schema["properties"]["steps"]["description"] = "The steps, in order; each does exactly one action."
    return {
        "$schema": DRAFT,
        "$id": "https://runbook-tui.invalid/schema/procedure.json",
        **schema,
        "title": "runbook-tui procedure",
    }


def inventory_schema() -> dict[str, Any]:
    from runbook_tui.language.inventory import Inventory

    schema = Inventory.model_json_schema(by_alias=True, mode="validation")
    _walk(schema, _fix_keywords)
    target = schema["$defs"]["Target"]
    target["oneOf"] = [
        {"required": ["ssh"], "properties": {"ssh": {"not": {"type": "null"}}}},
        {"required": ["kubernetes"], "properties": {"kubernetes": {"not": {"type": "null"}}}},
    ]
    return {
        "$schema": DRAFT,
        "$id": "https://runbook-tui.invalid/schema/inventory.json",
        **schema,
        "title": "runbook-tui inventory",
    }


SCHEMAS = {"procedure": procedure_schema, "inventory": inventory_schema}
