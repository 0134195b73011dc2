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
    "always": "Cleanup: also runs when the run stops early (a failure, a refused gate), whatever became of its needs.",
    "sensitive": "The output holds secrets: later steps use it, but only its size and sha256 are shown or journaled.",
    "summary": "A paragraph on what the procedure does and when to use it.",
    "tags": "Free words to group procedures (e.g. validation, read-mostly).",
    "inputs": "What the operator gives: name -> {type, default, required, choices, ...}; read as inputs.NAME.",
    # k8s
    "kind": "The Kubernetes kind (Deployment, Service, Job, ...), as kubectl names it.",
    "name": "The Kubernetes object's name.",
    "namespace": "The Kubernetes namespace (default: the target's).",
    "api_version": "The object's apiVersion when the kind alone is ambiguous (e.g. metallb.io/v1beta1).",
    "body": "The object (apply, create) or the patch (patch), as YAML or a mapping.",
    "patch_type": "How 'body' patches: merge (default), strategic or json.",
    "cronjob": "job-from-cronjob: the CronJob whose job template the new Job copies.",
    "condition": "wait: the condition type to wait for (e.g. Complete, Ready); 'Complete|Failed' waits for either.",
    "container": "logs, exec: the container (default: the pod's only one).",
    "tail": "logs: only this many last lines.",
    "since": "logs: only lines newer than this duration.",
    "follow": "logs: show each line as the container writes it and end when the container ends (kubectl logs -f).",
    "command": "exec: the command, as a list (no shell) or a string run by sh -c.",
    "label_selector": "get, list, wait: select objects by label (app=mail,tier=edge).",
    "cwd": "local: the folder to run in (default: the current one).",
    # inputs
    "prompt": "The question shown when the value is asked for.",
    "type": "string, int, bool, choice (one of 'choices'), ip or list.",
    "default": "The value when none is given (templated; 'discover' may fill it).",
    "required": "Refuse to start without a value.",
    "choices": "The allowed values (type choice).",
    "pattern": "A regular expression the whole value must match.",
    "help": "A longer explanation shown beside the prompt.",
    "secret": "Masked (***) wherever shown or stored; only the target receives the real value.",
    "discover": "A read-only Kubernetes query whose result fills the default: {target, kind, namespace, label_selector, value}.",
    # confirm, retry, upload, tcp
    "text": "What the gate says (shown as written).",
    "typed": "A phrase the operator must type to approve.",
    "attempts": "How many times to try in all.",
    "delay": "How long to wait between attempts (a duration).",
    "src": "A file on this machine to upload (~ expanded; relative to the current folder).",
    "content": "The text to upload, instead of 'src' (templated).",
    "dest": "The path on the target.",
    "mode": "The file mode, as octal text ('0644') or a number.",
    "host": "The host to connect to.",
    "port": "The TCP port (a number, or a template).",
    "banner": "true: read one line; a string: a regular expression the first line must match.",
}
# Where one property name means something else in one model.
MODEL_DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("Step", "target"): "k8s: the Kubernetes target from the inventory.",
    ("StepBody", "target"): "k8s: the Kubernetes target from the inventory.",
    ("UploadSpec", "target"): "The SSH target from the inventory to write to.",
    ("TcpSpec", "timeout"): "How long to wait for the connection (and the banner).",
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
    from runbook_tui.parsers import PARSER_NAMES

    schema = Procedure.model_json_schema(by_alias=True, mode="validation")
    _walk(schema, _fix_keywords)
    duration = {
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": DURATION_PATTERN},
        ]
    }
    defs = schema["$defs"]
    for model_name, model in [*defs.items(), ("Procedure", schema)]:
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
        if "parse" in props:
            props["parse"] = {"anyOf": [{"enum": list(PARSER_NAMES)}, {"type": "null"}], "default": None}
        for name, prop in props.items():
            text = MODEL_DESCRIPTIONS.get((model_name, name)) or DESCRIPTIONS.get(name)
            if text:
                prop["description"] = text
    for name in ("Step", "StepBody"):
        # Exactly one action per step (a key set to null does not count).
        defs[name]["oneOf"] = [
            {"required": [action],
             "properties": {action: {"not": {"type": "null"}, "description": f"This step's action is {action}."}}}
            for action in ACTIONS
        ]
    schema["properties"]["steps"]["description"] = "The steps, in order; each does exactly one action."
    schema["properties"]["id"]["description"] = "The procedure's id: `runbook-tui run ID`, `call: ID`; unique on the search path."
    return {
        "$schema": DRAFT,
        "$id": "https://runbook-tui.invalid/schema/procedure.json",
        **schema,
        "title": "runbook-tui procedure",
    }


INVENTORY_DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("Inventory", "targets"): "The systems procedures act on, by name: each is ssh or kubernetes.",
    ("Inventory", "vars"): "Site facts procedures read as vars.NAME (addresses, ports, script paths).",
    ("Inventory", "lab"): "Written by the rehearsal lab; alone it relaxes nothing (see lab_proof).",
    ("Inventory", "lab_proof"): "The lab's secret every lab server must present before gates are relaxed.",
    ("Target", "ssh"): "Reach this target over SSH.",
    ("Target", "kubernetes"): "Reach this target through the Kubernetes API.",
    ("SSHTarget", "host"): "The host name or address, or a Host alias of ~/.ssh/config.",
    ("SSHTarget", "port"): "The SSH port; when left out, ~/.ssh/config's Port, else 22.",
    ("SSHTarget", "user"): "The login user; when left out, ~/.ssh/config's User, else yours.",
    ("SSHTarget", "key"): "A private key file; when left out, the config's IdentityFile, the agent and default keys.",
    ("SSHTarget", "known_hosts"): "The known_hosts file; when left out, the config's UserKnownHostsFile, else ~/.ssh/known_hosts.",
    ("KubeTarget", "kubeconfig"): "The kubeconfig file; when left out, KUBECONFIG (merged) or ~/.kube/config, as kubectl.",
    ("KubeTarget", "context"): "The kubeconfig context (default: its current-context).",
    ("KubeTarget", "namespace"): "The default namespace (default: the context's).",
}


def inventory_schema() -> dict[str, Any]:
    from runbook_tui.language.inventory import Inventory

    schema = Inventory.model_json_schema(by_alias=True, mode="validation")
    _walk(schema, _fix_keywords)
    target = schema["$defs"]["Target"]
    target["oneOf"] = [
        {"required": [kind], "properties": {kind: {"not": {"type": "null"}, "description": f"A {kind} target."}}}
        for kind in ("ssh", "kubernetes")
    ]
    for model_name, model in [*schema["$defs"].items(), ("Inventory", schema)]:
        for name, prop in model.get("properties", {}).items():
            text = INVENTORY_DESCRIPTIONS.get((model_name, name))
            if text:
                prop["description"] = text
    return {
        "$schema": DRAFT,
        "$id": "https://runbook-tui.invalid/schema/inventory.json",
        **schema,
        "title": "runbook-tui inventory",
    }


SCHEMAS = {"procedure": procedure_schema, "inventory": inventory_schema}
