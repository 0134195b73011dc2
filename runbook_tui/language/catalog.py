"""A folder of procedures, found by their id; what each ``call`` step may call, and call loops."""

from __future__ import annotations

import os
import re
from pathlib import Path

from runbook_tui.errors import Problem, ProcedureError
from runbook_tui.language.inventory import Inventory
from runbook_tui.language.loader import ProcedureNotFound, load_procedure
from runbook_tui.language.model import Procedure
from runbook_tui.language.pydantic_problems import did_you_mean
from runbook_tui.language.yaml_source import MAX_BYTES

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
                        while (back := previous[chain[-1]]) is not None:
                            chain.append(back)
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
                assert loc is not None  # load_procedure attached where every key was written
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
