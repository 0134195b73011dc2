"""YAML procedure and inventory files -> validated models, or every problem as ``file:line:col``.

Everything here raises ``ProcedureError`` (with all the problems found, not just the first) and
nothing else: a procedure file is operator input, and a traceback is not an answer to a typo.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_tui.errors import Problem, ProcedureError
from runbook_tui.language import check_cache
from runbook_tui.language.check_cache import KnownInventory
from runbook_tui.language.listing import Listing
from runbook_tui.language.yaml_source import (
    MAX_BYTES,
    Document,
    SourceError,
    SourceMap,
    decode,
)
from runbook_tui.language.yaml_source import Path as YamlPath

# The checks (and Jinja2 and PyYAML under them) are imported when a file is checked, and the
# models (pydantic) when one is built, not here: a start that finds every procedure in the check
# cache never needs the checks, and ``list`` not even the models.
if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

    from runbook_tui.language.catalog import Catalog
    from runbook_tui.language.inventory import Inventory
    from runbook_tui.language.model import Procedure, SourceLoc, StepBody
    from runbook_tui.language.pydantic_problems import Describer

__all__ = [
    "MAX_BYTES",
    "ProcedureNotFound",
    "default_procedures_dir",
    "load_procedure",
    "load_procedure_text",
]

PROCEDURE_SHAPE = "a procedure: a mapping with 'id', 'title' and 'steps'"
INVENTORY_SHAPE = "an inventory: a mapping with 'targets' and 'vars'"
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
    except Exception:
        return _FALLBACK_PARSERS
    return tuple(PARSER_NAMES)


def read_bytes(path: Path, what: str) -> bytes:
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


def parse_document(text: str, filename: str, shape: str) -> Document:
    from runbook_tui.language.yaml_compose import read_yaml  # PyYAML only once a file is parsed

    try:
        return read_yaml(text, filename, expected=shape)
    except SourceError as exc:
        raise as_error(exc.problems) from None


def as_error(problems: list[Problem]) -> ProcedureError:
    """One line per problem, whatever the file contained (a key may hold a newline)."""
    clean = {
        Problem(p.file, p.line, p.col, p.message.replace("\r", "\\r").replace("\n", "\\n")) for p in problems
    }
    return ProcedureError(sorted(clean, key=lambda p: (p.line, p.col, p.message)))


def issue_problems(doc: Document, describe: Describer) -> list[Problem]:
    from runbook_tui.language.pydantic_problems import key_subject, subject

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
    path: str | os.PathLike[str], *, inventory: Inventory | KnownInventory | None = None, catalog: Catalog | None = None
) -> Procedure:
    """Read and validate one procedure file; its checks are skipped when the check cache holds
    this very text as valid in the same setting (see check_cache), else it is checked and then
    noted there. What the procedure holds is always read from the file itself."""
    text, key, text_sha = _read_for_cache(Path(path), inventory, catalog)
    if check_cache.load(key, text_sha) is not None and (procedure := _known_valid(text, str(path))) is not None:
        return procedure
    procedure = _checked(text, str(path), inventory, catalog)
    check_cache.store(key, text_sha, {"listing": Listing.of(procedure).to_json()})
    return procedure


def cached_listing(
    path: Path, *, inventory: Inventory | KnownInventory | None = None, catalog: Catalog | None = None
) -> Listing | None:
    """What ``list`` shows of the file, when the check cache holds it as valid in this setting
    (no model is built); None when it must be loaded. Raises ProcedureError as load_procedure."""
    _, key, text_sha = _read_for_cache(path, inventory, catalog)
    entry = check_cache.load(key, text_sha)
    return Listing.from_json(entry.get("listing"), str(path)) if entry is not None else None


def _read_for_cache(path: Path, inventory: Inventory | KnownInventory | None, catalog: Catalog | None) -> tuple[str, str, str]:
    """The file's text, its check cache key and its content hash."""
    try:
        text = decode(read_bytes(path, "procedure"), str(path))
    except SourceError as exc:
        raise as_error(exc.problems) from None
    text_sha = check_cache.text_hash(text)
    return text, check_cache.key(text_sha, str(path), inventory, catalog), text_sha


def load_procedure_text(
    text: str,
    filename: str = "<string>",
    *,
    inventory: Inventory | KnownInventory | None = None,
    catalog: Catalog | None = None,
) -> Procedure:
    """Validate procedure YAML ``text``; ``filename`` is what problems are reported against."""
    return _checked(text, filename, inventory, catalog)


def _checked(
    text: str, filename: str, inventory: Inventory | KnownInventory | None, catalog: Catalog | None
) -> Procedure:
    if isinstance(inventory, KnownInventory):
        inventory = inventory.load()  # a procedure to check after all: the models are needed now
    try:
        return _load_procedure(text, filename, inventory, catalog)
    except ProcedureError:
        raise
    except RecursionError:
        raise ProcedureError([Problem(filename, 1, 1, "file is nested too deeply to validate")]) from None


def _load_procedure(text: str, filename: str, inventory: Inventory | None, catalog: Catalog | None) -> Procedure:
    from pydantic import ValidationError

    from runbook_tui.language import check_context, procedure_checks
    from runbook_tui.language.model import Procedure
    from runbook_tui.language.pydantic_problems import pydantic_problems

    doc = parse_document(text, filename, PROCEDURE_SHAPE)
    data, source = doc.data, doc.source
    describe = check_context.describer(data)
    problems = issue_problems(doc, describe)
    procedure_id = data.get("id") if isinstance(data.get("id"), str) else None
    ctx = check_context.Context(
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
        def skip(path: YamlPath, error: ErrorDetails) -> bool:
            if path == ("inputs",) and error["type"] == "value_error":
                return True
            return any(path[: len(bad)] == bad for bad in doc.unreadable)

        problems.extend(pydantic_problems(exc, data, source, describe, skip=skip))
    if problems or procedure is None:
        raise as_error(problems)
    _attach_locations(procedure, data, source)
    return procedure


def _known_valid(text: str, filename: str) -> Procedure | None:
    """A procedure whose checks passed before: parsed (libyaml: a millisecond) and built, the
    checks skipped. The cache only ever says that the checks passed, never what a file holds, so
    a damaged or forged entry cannot change what runs. None when it does not build after all."""
    from pydantic import ValidationError

    from runbook_tui.language.model import Procedure

    try:
        doc = parse_document(text, filename, PROCEDURE_SHAPE)
        if doc.issues:
            return None
        procedure = Procedure.model_validate(doc.data)
    except (ProcedureError, ValidationError, RecursionError):
        return None
    _attach_locations(procedure, doc.data, doc.source)
    return procedure


def _loc(source: SourceMap, path: YamlPath) -> SourceLoc:
    from runbook_tui.language.model import SourceLoc

    line, col = source.value(path)
    return SourceLoc(source.file, line, col)


def _attach_body(body: StepBody, raw: dict[str, Any], source: SourceMap, path: YamlPath) -> None:
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

def default_procedures_dir() -> Path:
    """The procedures shipped with the project: ``runbook_tui/procedures`` (the repository's
    top-level ``procedures`` is a link to it)."""
    from runbook_tui.language.search_path import shipped_procedures_dir

    return shipped_procedures_dir()


# ---------------------------------------------------------------- catalog
