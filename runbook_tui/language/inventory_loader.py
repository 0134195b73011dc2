"""Inventory files -> a validated ``Inventory``, or every problem as ``file:line:col``; where an
inventory is found when none is named; the files it names, checked (for ``validate``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_tui.errors import Problem, ProcedureError
from runbook_tui.language import check_cache
from runbook_tui.language.loader import (
    INVENTORY_SHAPE,
    as_error,
    issue_problems,
    parse_document,
    read_bytes,
)
from runbook_tui.language.pydantic_problems import (
    Describer,
    check_keys,
    pydantic_problems,
    show,
    subject,
)
from runbook_tui.language.yaml_source import Path as YamlPath
from runbook_tui.language.yaml_source import SourceError, SourceMap, decode

# The models (pydantic) are built when an inventory is loaded, not here: ``validate`` takes a
# known inventory's fingerprint from the check cache and starts without them.
if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

    from runbook_tui.language.inventory import Inventory

_INVENTORY_EXPECTED = {
    "targets": "a mapping of target names to their settings",
    "vars": "a mapping of names to values",
    "lab": "true or false",
    "ssh": "a mapping with 'host', 'port', 'user', 'key' and 'known_hosts'",
    "kubernetes": "a mapping with 'kubeconfig', 'context' and 'namespace'",
    "port": "a port number (1-65535)",
}

INVENTORY_FILE = "inventory.yaml"


def _inventory_describer(path: YamlPath) -> tuple[str, YamlPath]:
    if len(path) >= 2 and path[0] == "targets" and isinstance(path[1], str):
        return f"target '{path[1]}'", path[2:]
    return "the inventory", path


def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read and validate an inventory file (noted in the check cache when valid, for
    ``known_inventory``)."""
    path = Path(path)
    data = read_bytes(path, "inventory")
    try:
        text = decode(data, str(path))
    except SourceError as exc:
        raise as_error(exc.problems) from None
    inventory = load_inventory_text(text, str(path))
    text_sha = check_cache.text_hash(text)
    key = check_cache.inventory_key(text_sha, str(path))
    if check_cache.load(key, text_sha) is None:
        check_cache.store(key, text_sha, {"fingerprint": check_cache.inventory_fingerprint(inventory)})
    return inventory


def known_inventory(path: str | os.PathLike[str]) -> check_cache.KnownInventory | None:
    """The inventory file as ``load_inventory`` found it before, valid with this very text,
    without building its models (they are built if a procedure must be checked after all);
    None when it must be loaded."""
    try:
        text = decode(read_bytes(Path(path), "inventory"), str(path))
    except (ProcedureError, SourceError):
        return None  # load_inventory says why
    text_sha = check_cache.text_hash(text)
    entry = check_cache.load(check_cache.inventory_key(text_sha, str(path)), text_sha)
    fingerprint = entry.get("fingerprint") if entry is not None else None
    if not isinstance(fingerprint, str):
        return None
    return check_cache.KnownInventory(fingerprint, lambda: load_inventory(path))


def load_inventory_text(text: str, filename: str = "<string>") -> Inventory:
    try:
        return _load_inventory(text, filename)
    except ProcedureError:
        raise
    except RecursionError:
        raise ProcedureError([Problem(filename, 1, 1, "file is nested too deeply to validate")]) from None


def check_inventory_files(path: str | os.PathLike[str]) -> list[Problem]:
    """The key, known_hosts and kubeconfig files an inventory names that are not there, and the
    local paths its vars name for the procedures (the infra repo, its scripts, the Terraform
    stack): what ``validate`` adds to ``load_inventory``, whether that succeeds or not.

    Apart from loading on purpose: ``run`` and the TUI must not be stopped by a missing
    kubeconfig when the procedure only talks to pfSense (a laptop without cluster access), and
    the transport says what is missing, in a sentence, when and only when a step uses that
    target. ``validate`` is where an operator asks whether everything is in place.
    """
    from runbook_tui.language.yaml_compose import read_yaml

    try:
        text = decode(read_bytes(Path(path), "inventory"), str(path))
        doc = read_yaml(text, str(path), expected=INVENTORY_SHAPE)
    except (ProcedureError, SourceError, RecursionError):
        return []  # not readable: load_inventory says why
    if not isinstance(doc.data, dict):
        return []
    problems = _target_file_problems(doc.data, doc.source, _inventory_describer)
    problems += _local_path_problems(doc.data, doc.source)
    return as_error(problems).problems


# The files a target may name, what each is, and what its absence costs.
_TARGET_FILES = (
    ("ssh", "key", "the key file", "the SSH login would fail"),
    (
        "ssh",
        "known_hosts",
        "the known_hosts file",
        "every host key would look unknown; fix the path, or create the file empty to start with"
        " nothing trusted",
    ),
    ("kubernetes", "kubeconfig", "the kubeconfig", "nothing could reach the cluster"),
)
# Where ssh and kubectl look when a target names nothing, and where an inventory (the shipped
# example among them) usually points. Naming one of these is the same as naming nothing, which is
# not checked either: a machine not set up for that tool yet lacks them (a setup step, not a wrong
# path in the inventory), and the transport says so when a step first needs one. A missing
# known_hosts there is even the normal start: nothing trusted yet, written on the first accepted key.
_TOOL_DEFAULTS = {"known_hosts": "~/.ssh/known_hosts", "kubeconfig": "~/.kube/config"}


def _target_file_problems(data: dict[str, Any], source: SourceMap, describe: Describer) -> list[Problem]:
    """Paths are expanded as the model does (``~`` -> home) before the transports see them and,
    like the transports, taken relative to the current folder."""
    problems: list[Problem] = []
    targets = data.get("targets")
    if not isinstance(targets, dict):
        return problems
    for name, target in targets.items():
        if not isinstance(target, dict):
            continue
        for kind, field, what, cost in _TARGET_FILES:
            settings = target.get(kind)
            raw = settings.get(field) if isinstance(settings, dict) else None
            if not isinstance(raw, str) or not raw:
                continue
            path = os.path.expanduser(raw)
            shown = raw if path == raw else f"{raw} ({path})"
            where = subject(describe, ("targets", name, kind, field))
            at = source.value(("targets", name, kind, field))
            if os.path.isdir(path):
                message = f"{where} names {what} {shown}, which is a folder, not a file"
                problems.append(source.problem(at, message))
                continue
            if os.path.exists(path):
                continue
            if field in _TOOL_DEFAULTS and path == os.path.expanduser(_TOOL_DEFAULTS[field]):
                continue
            relative = "" if os.path.isabs(path) else f" (relative to the current folder, {os.getcwd()})"
            problems.append(
                source.problem(at, f"{where} names {what} {shown}{relative}, which does not exist: {cost}")
            )
    return problems


# Vars that name paths on this machine: the shipped procedures upload the scripts and run
# Terraform in the stack; a run checks them before its first change (Action.local_files), and
# validate says so beforehand. Any var ending in _script is a script to upload.
_LOCAL_FOLDERS = {
    "infra_repo": ("the infra repository checkout", "the steps that work in it cannot run"),
    "terraform_stack": ("the Terraform stack", "a Terraform change of the Service cannot run"),
}
_SCRIPT = ("the script", "a run that uploads it stops before its first change")


def _local_path_problems(data: dict[str, Any], source: SourceMap) -> list[Problem]:
    problems: list[Problem] = []
    variables = data.get("vars")
    if not isinstance(variables, dict):
        return problems
    for key, raw in variables.items():
        folder = key in _LOCAL_FOLDERS
        if not isinstance(raw, str) or not raw or not (folder or str(key).endswith("_script")):
            continue
        what, cost = _LOCAL_FOLDERS[key] if folder else _SCRIPT
        path = os.path.expanduser(raw)
        shown = raw if path == raw else f"{raw} ({path})"
        where = f"'vars.{key}' in the inventory"
        at = source.value(("vars", key))
        if folder and os.path.isdir(path) or not folder and os.path.isfile(path):
            continue
        if os.path.exists(path):
            kind = "a file, not a folder" if folder else "a folder, not a file"
            problems.append(source.problem(at, f"{where} names {what} {shown}, which is {kind}: {cost}"))
            continue
        relative = "" if os.path.isabs(path) else f" (relative to the current folder, {os.getcwd()})"
        problems.append(source.problem(at, f"{where} names {what} {shown}{relative}, which does not exist: {cost}"))
    return problems


def _load_inventory(text: str, filename: str) -> Inventory:
    from pydantic import ValidationError

    from runbook_tui.language.inventory import Inventory, KubeTarget, SSHTarget, Target, host_is_option

    doc = parse_document(text, filename, INVENTORY_SHAPE)
    data, source = doc.data, doc.source
    describe = _inventory_describer
    problems = issue_problems(doc, describe)
    problems.extend(check_keys(data, (), Inventory, source, describe))
    targets = data.get("targets")
    if isinstance(targets, dict):
        for name, target in targets.items():
            path = ("targets", name)
            if not isinstance(target, dict):
                continue
            problems.extend(check_keys(target, path, Target, source, describe))
            kinds = [k for k in ("ssh", "kubernetes") if target.get(k) is not None]
            if not kinds:
                problems.append(
                    source.problem(
                        source.value(path), f"target '{name}' needs 'ssh' or 'kubernetes' settings"
                    )
                )
            elif len(kinds) == 2:
                problems.append(
                    source.problem(
                        source.key(path + ("kubernetes",)),
                        f"target '{name}' has both 'ssh' and 'kubernetes'; a target is one or the other",
                    )
                )
            for kind, model in (("ssh", SSHTarget), ("kubernetes", KubeTarget)):
                if isinstance(target.get(kind), dict):
                    problems.extend(check_keys(target[kind], path + (kind,), model, source, describe))
            host = target["ssh"].get("host") if isinstance(target.get("ssh"), dict) else None
            if isinstance(host, str) and host_is_option(host):
                where = subject(describe, path + ("ssh", "host"))
                problems.append(
                    source.problem(
                        source.value(path + ("ssh", "host")),
                        f"{where} is {show(host)}, which starts with '-': ssh and other tools would read it"
                        " as an option, not a host",
                    )
                )
    for section in ("targets", "vars"):
        if isinstance(data.get(section), dict):
            for name in data[section]:
                if hasattr(dict, name):
                    problems.append(
                        source.problem(
                            source.key((section, name)),
                            f"'{name}' in '{section}' is also a method of mappings, so '{section}.{name}'"
                            " would not be it in templates; pick another name",
                        )
                    )
    inventory: Inventory | None = None
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:

        def skip(path: YamlPath, error: ErrorDetails) -> bool:
            if path[-1:] == ("host",) and error["type"] == "value_error":
                return True  # a host starting with '-': reported above, in words
            return any(path[: len(bad)] == bad for bad in doc.unreadable)

        problems.extend(
            pydantic_problems(exc, data, source, describe, skip=skip, expected=_INVENTORY_EXPECTED)
        )
    if problems or inventory is None:
        raise as_error(problems)
    return inventory


def find_inventory(explicit: str | os.PathLike[str] | None) -> Path | None:
    """``--inventory`` when given, else ./inventory.yaml, else the user config dir's, else None."""
    if explicit:
        return Path(explicit)
    local = Path.cwd() / INVENTORY_FILE
    if local.is_file():
        return Path(INVENTORY_FILE)
    user = user_inventory_path()
    return user if user.is_file() else None


def user_inventory_path() -> Path:
    """Where an operator's own inventory lives when none is in the current folder."""
    import platformdirs

    return platformdirs.user_config_path("runbook-tui") / INVENTORY_FILE
