"""YAML procedure and inventory files -> validated models, or every problem as ``file:line:col``.

Everything here raises ``ProcedureError`` (with all the problems found, not just the first) and
nothing else: a procedure file is operator input, and a traceback is not an answer to a typo.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runbook_tui.language import procedure_checks
from runbook_tui.errors import Problem, ProcedureError
from runbook_tui.language.inventory import Inventory, KubeTarget, SSHTarget, Target, host_is_option
from runbook_tui.language.model import Procedure, SourceLoc, StepBody
from runbook_tui.language.pydantic_problems import check_keys, did_you_mean, key_subject, pydantic_problems, show, subject
from runbook_tui.language.yaml_source import MAX_BYTES, Document, SourceError, SourceMap, decode, read_yaml

__all__ = [
    "MAX_BYTES",
    "Catalog",
    "ProcedureNotFound",
    "check_inventory_files",
    "default_procedures_dir",
    "find_inventory",
    "load_inventory",
    "load_inventory_text",
    "load_procedure",
    "load_procedure_text",
]

PROCEDURE_SHAPE = "a procedure: a mapping with 'id', 'title' and 'steps'"
INVENTORY_SHAPE = "an inventory: a mapping with 'targets' and 'vars'"
INVENTORY_FILE = "inventory.yaml"
# Used while the parsers package is not importable (it imports lazily and may be mid-change).
_FALLBACK_PARSERS = (
    "freebsd.sockstat",
    "haproxy.check",
    "haproxy.servers_state",
    "haproxy.stat",
    "maillog.connect_from",
    "pfctl.rdr",
    "pfsense.config",
    "ss.listening",
)


class ProcedureNotFound(ProcedureError):
    """An id that names no procedure in the catalog: one sentence, no position."""

    title = "No such procedure"

    def __init__(self, message: str, directory: str):
        super().__init__([Problem(directory, 1, 1, message)])
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])


def _parser_names() -> tuple[str, ...]:
    try:
        from runbook_tui.parsers import PARSER_NAMES
    except Exception:  # noqa: BLE001 - any import trouble: fall back to the documented names
        return _FALLBACK_PARSERS
    return tuple(PARSER_NAMES)


def _read_bytes(path: Path, what: str) -> bytes:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ProcedureError(
                [
                    Problem(
                        name,
                        1,
                        1,
                        f"file is {size} bytes, over the limit of {MAX_BYTES} bytes (1 MiB); refusing to read it",
                    )
                ]
            )
        with path.open("rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise ProcedureError(
            [Problem(name, 1, 1, f"cannot read {what}: this is a folder, expected a YAML file")]
        ) from None
    except FileNotFoundError:
        raise ProcedureError([Problem(name, 1, 1, f"cannot read {what}: no such file")]) from None
    except OSError as exc:
        raise ProcedureError([Problem(name, 1, 1, f"cannot read {what}: {exc.strerror or exc}")]) from None


def _document(text: str, filename: str, shape: str) -> Document:
    try:
        return read_yaml(text, filename, expected=shape)
    except SourceError as exc:
        raise _fail(exc.problems) from None


def _fail(problems: list[Problem]) -> ProcedureError:
    """One line per problem, whatever the file contained (a key may hold a newline)."""
    clean = {
        Problem(p.file, p.line, p.col, p.message.replace("\r", "\\r").replace("\n", "\\n")) for p in problems
    }
    return ProcedureError(sorted(clean, key=lambda p: (p.line, p.col, p.message)))


def _issue_problems(doc: Document, describe) -> list[Problem]:
    out = []
    for issue in doc.issues:
        what = (
            key_subject(describe, issue.path, issue.key)
            if issue.key is not None
            else subject(describe, issue.path)
        )
        message = issue.message.replace("{subject}", what)
        out.append(Problem(doc.source.file, issue.line, issue.col, message))
    return out


# ---------------------------------------------------------------- procedures


def load_procedure(
    path: str | os.PathLike[str], *, inventory: Inventory | None = None, catalog: Catalog | None = None
) -> Procedure:
    """Read and validate one procedure file."""
    path = Path(path)
    data = _read_bytes(path, "procedure")
    try:
        text = decode(data, str(path))
    except SourceError as exc:
        raise _fail(exc.problems) from None
    return load_procedure_text(text, str(path), inventory=inventory, catalog=catalog)


def load_procedure_text(
    text: str,
    filename: str = "<string>",
    *,
    inventory: Inventory | None = None,
    catalog: Catalog | None = None,
) -> Procedure:
    """Validate procedure YAML ``text``; ``filename`` is what problems are reported against."""
    try:
        return _load_procedure(text, filename, inventory, catalog)
    except ProcedureError:
        raise
    except RecursionError:
        raise ProcedureError([Problem(filename, 1, 1, "file is nested too deeply to validate")]) from None


def _load_procedure(
    text: str, filename: str, inventory: Inventory | None, catalog: Catalog | None
) -> Procedure:
    doc = _document(text, filename, PROCEDURE_SHAPE)
    data, source = doc.data, doc.source
    describe = procedure_checks.describer(data)
    problems = _issue_problems(doc, describe)
    procedure_id = data.get("id") if isinstance(data.get("id"), str) else None
    ctx = procedure_checks.Context(
        source=source,
        describe=describe,
        inventory=inventory,
        parsers=_parser_names(),
        callee=catalog.callee if catalog is not None else None,
        procedure_id=procedure_id,
        problems=problems,
        call_loop=catalog.call_loop if catalog is not None else None,
    )
    procedure_checks.check(data, ctx)
    procedure: Procedure | None = None
    try:
        procedure = Procedure.model_validate(data)
    except ValidationError as exc:
        # Input names are checked at their key by procedure_checks, with a better position.
        def skip(path: tuple, error: dict[str, Any]) -> bool:
            if path == ("inputs",) and error["type"] == "value_error":
                return True
            return any(path[: len(bad)] == bad for bad in doc.unreadable)

        problems.extend(pydantic_problems(exc, data, source, describe, skip=skip))
    if problems or procedure is None:
        raise _fail(problems)
    _attach_locations(procedure, data, source)
    return procedure


def _loc(source: SourceMap, path: tuple) -> SourceLoc:
    line, col = source.value(path)
    return SourceLoc(source.file, line, col)


def _attach_body(body: StepBody, raw: dict[str, Any], source: SourceMap, path: tuple) -> None:
    body._loc = _loc(source, path)
    body._field_locs = {key: _loc(source, path + (key,)) for key in raw}


def _attach_locations(procedure: Procedure, data: dict[str, Any], source: SourceMap) -> None:
    procedure._path = source.file
    procedure._loc = _loc(source, ())
    procedure._field_locs = {key: _loc(source, (key,)) for key in data}
    for name, spec in procedure.inputs.items():
        spec._loc = _loc(source, ("inputs", name))
    for i, step in enumerate(procedure.steps):
        raw = data["steps"][i]
        _attach_body(step, raw, source, ("steps", i))
        if step.undo is not None:
            _attach_body(step.undo, raw["undo"], source, ("steps", i, "undo"))


# ---------------------------------------------------------------- inventory

_INVENTORY_EXPECTED = {
    "targets": "a mapping of target names to their settings",
    "vars": "a mapping of names to values",
    "lab": "true or false",
    "ssh": "a mapping with 'host', 'port', 'user', 'key' and 'known_hosts'",
    "kubernetes": "a mapping with 'kubeconfig', 'context' and 'namespace'",
    "port": "a port number (1-65535)",
}


def _inventory_describer(path: tuple) -> tuple[str, tuple]:
    if len(path) >= 2 and path[0] == "targets" and isinstance(path[1], str):
        return f"target '{path[1]}'", path[2:]
    return "the inventory", path


def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read and validate an inventory file."""
    path = Path(path)
    data = _read_bytes(path, "inventory")
    try:
        text = decode(data, str(path))
    except SourceError as exc:
        raise _fail(exc.problems) from None
    return load_inventory_text(text, str(path))


def load_inventory_text(text: str, filename: str = "<string>") -> Inventory:
    try:
        return _load_inventory(text, filename)
    except ProcedureError:
        raise
    except RecursionError:
        raise ProcedureError([Problem(filename, 1, 1, "file is nested too deeply to validate")]) from None


def check_inventory_files(path: str | os.PathLike[str]) -> list[Problem]:
    """The key, known_hosts and kubeconfig files an inventory names that are not there: what
    ``validate`` adds to ``load_inventory``, whether that succeeds or not.

    Apart from loading on purpose: ``run`` and the TUI must not be stopped by a missing
    kubeconfig when the procedure only talks to pfSense (a laptop without cluster access), and
    the transport says what is missing, in a sentence, when and only when a step uses that
    target. ``validate`` is where an operator asks whether everything is in place.
    """
    try:
        text = decode(_read_bytes(Path(path), "inventory"), str(path))
        doc = read_yaml(text, str(path), expected=INVENTORY_SHAPE)
    except (ProcedureError, SourceError, RecursionError):
        return []  # not readable: load_inventory says why
    if not isinstance(doc.data, dict):
        return []
    return _fail(_target_file_problems(doc.data, doc.source, _inventory_describer)).problems


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


def _target_file_problems(data: dict[str, Any], source: SourceMap, describe) -> list[Problem]:
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


def _load_inventory(text: str, filename: str) -> Inventory:
    doc = _document(text, filename, INVENTORY_SHAPE)
    data, source = doc.data, doc.source
    describe = _inventory_describer
    problems = _issue_problems(doc, describe)
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

        def skip(path: tuple, error: dict[str, Any]) -> bool:
            if path[-1:] == ("host",) and error["type"] == "value_error":
                return True  # a host starting with '-': reported above, in words
            return any(path[: len(bad)] == bad for bad in doc.unreadable)

        problems.extend(
            pydantic_problems(exc, data, source, describe, skip=skip, expected=_INVENTORY_EXPECTED)
        )
    if problems or inventory is None:
        raise _fail(problems)
    return inventory


def find_inventory(explicit: str | os.PathLike[str] | None) -> Path | None:
    """``--inventory`` when given, else ./inventory.yaml, else the user config dir's, else None."""
    if explicit:
        return Path(explicit)
    local = Path.cwd() / INVENTORY_FILE
    if local.is_file():
        return Path(INVENTORY_FILE)
    import platformdirs

    user = platformdirs.user_config_path("runbook-tui") / INVENTORY_FILE
    return user if user.is_file() else None


def default_procedures_dir() -> Path:
    """The procedures shipped with the project: the top-level ``procedures/`` folder."""
    return Path(__file__).resolve().parents[2] / "procedures"


# ---------------------------------------------------------------- catalog

_ID_LINE = re.compile(r"""(?m)^id:[ \t]*["']?([A-Za-z0-9_-]+)["']?[ \t]*(?:#.*)?$""")


class Catalog:
    """The procedures of one folder (``*.yaml``/``*.yml``, not recursive), found by their id."""

    def __init__(self, directory: str | os.PathLike[str], *, inventory: Inventory | None = None):
        self.directory = Path(directory)
        self.inventory = inventory
        self._index: dict[str, Path] | None = None
        self._loaded: dict[Path, Procedure] = {}
        self._callees: dict[str, Procedure | str | None] = {}

    def files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())

    def _ids(self) -> dict[str, Path]:
        # Ids come from each file's top-level ``id:`` line (cheap: no validation); a file
        # without a readable one is known by its name.
        if self._index is None:
            index: dict[str, Path] = {}
            for path in self.files():
                try:
                    head = path.read_bytes()[:MAX_BYTES].decode("utf-8", "replace")
                except OSError:
                    head = ""
                match = _ID_LINE.search(head)
                index.setdefault(match.group(1) if match else path.stem, path)
            self._index = index
        return self._index

    def ids(self) -> list[str]:
        return sorted(self._ids())

    def path_of(self, procedure_id: str) -> Path | None:
        return self._ids().get(procedure_id)

    def get(self, id_or_path: str) -> Procedure:
        """A procedure by id in this folder, or by path to a YAML file anywhere."""
        path = self.path_of(id_or_path)
        if path is None:
            candidate = Path(id_or_path)
            looks_like_path = (
                candidate.suffix in (".yaml", ".yml") or os.sep in id_or_path or "/" in id_or_path
            )
            if looks_like_path or candidate.is_file():
                path = candidate
            else:
                hint = did_you_mean(id_or_path, self._ids())
                raise ProcedureNotFound(
                    f"no procedure '{id_or_path}' in {self.directory}{hint}", str(self.directory)
                )
        if path not in self._loaded:
            self._loaded[path] = load_procedure(path, inventory=self.inventory, catalog=self)
        return self._loaded[path]

    def callee(self, procedure_id: str) -> Procedure | str | None:
        """For ``call`` checks: the procedure, None when unknown, or why it cannot be used.
        Loaded without a catalog so that procedures calling each other do not recurse."""
        if procedure_id not in self._callees:
            path = self.path_of(procedure_id)
            if path is None:
                hint = did_you_mean(procedure_id, self._ids())
                self._callees[procedure_id] = f"which is not a procedure in {self.directory}{hint}"
            else:
                try:
                    self._callees[procedure_id] = load_procedure(path, inventory=self.inventory)
                except ProcedureError:
                    self._callees[procedure_id] = f"which is invalid itself (see the problems in {path})"
        return self._callees[procedure_id]

    def _calls_of(self, procedure_id: str) -> list[str]:
        """The procedures ``procedure_id`` calls (steps and undos, in file order); none when it is
        unknown or invalid (that is reported where it is called)."""
        procedure = self.callee(procedure_id)
        if not isinstance(procedure, Procedure):
            return []
        bodies = [b for s in procedure.steps for b in (s, s.undo) if b is not None]
        return list(dict.fromkeys(b.call for b in bodies if b.call))

    def call_loop(self, caller: str | None, called: str) -> list[str] | None:
        """Where ``caller`` calling ``called`` would go round forever, as ids: ``[caller, called,
        ..., caller]`` when the calls come back to ``caller``, else ``[x, ..., x]`` for a loop
        further on; None when every call chain from ``called`` ends.

        Calls are static (a templated ``call`` is refused), so the graph is known before a run;
        without this check a loop recurses until Python gives up, running steps all the way."""
        if caller is not None and caller != called:
            # The shortest way back to the caller, breadth first.
            previous: dict[str, str | None] = {called: None}
            queue = [called]
            for node in queue:
                for nxt in self._calls_of(node):
                    if nxt == caller:
                        chain = [node]
                        while previous[chain[-1]] is not None:
                            chain.append(previous[chain[-1]])
                        return [caller, *reversed(chain), caller]
                    if nxt not in previous:
                        previous[nxt] = node
                        queue.append(nxt)
        # A loop that does not pass through the caller: depth first, iteratively.
        done: set[str] = set()
        path: list[str] = [called]
        pending: list[list[str]] = [self._calls_of(called)]
        while pending:
            if not pending[-1]:
                done.add(path.pop())
                pending.pop()
                continue
            nxt = pending[-1].pop(0)
            if nxt in path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in done and nxt != caller:
                path.append(nxt)
                pending.append(self._calls_of(nxt))
        return None

    def load_all(self) -> tuple[list[Procedure], list[Problem]]:
        """Every procedure in the folder, and every problem of the ones that are invalid."""
        procedures: list[Procedure] = []
        problems: list[Problem] = []
        seen: dict[str, Procedure] = {}
        for path in self.files():
            try:
                procedure = self._loaded.get(path) or load_procedure(
                    path, inventory=self.inventory, catalog=self
                )
            except ProcedureError as exc:
                problems.extend(exc.problems)
                continue
            self._loaded[path] = procedure
            # The index gives each id to the first file (by name) that claims it, valid or not.
            owner = self.path_of(procedure.id)
            if procedure.id in seen or (owner is not None and owner != path):
                loc = procedure.field_loc("id")
                other = seen[procedure.id].path if procedure.id in seen else str(owner)
                problems.append(
                    Problem(
                        procedure.path,
                        loc.line,
                        loc.col,
                        f"procedure id '{procedure.id}' is also used by {other}",
                    )
                )
                continue
            seen[procedure.id] = procedure
            procedures.append(procedure)
        return procedures, problems

