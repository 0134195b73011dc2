"""Folders of procedures, found by their id; what each ``call`` step may call, and call loops."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from runbook_tui.errors import Problem, ProcedureError
from runbook_tui.language.listing import Listing
from runbook_tui.language.loader import ProcedureNotFound, cached_listing, load_procedure
from runbook_tui.language.yaml_source import MAX_BYTES

if TYPE_CHECKING:  # the models are built only when a procedure or an inventory is
    from runbook_tui.language.check_cache import KnownInventory
    from runbook_tui.language.inventory import Inventory
    from runbook_tui.language.model import Procedure

_ID_LINE = re.compile(r"""(?m)^id:[ \t]*["']?([A-Za-z0-9_-]+)["']?[ \t]*(?:#.*)?$""")


class Catalog:
    """The procedures of one folder or of a search path of folders (``*.yaml``/``*.yml``, not
    recursive; see search_path.py), found by their id. One id claimed by two files is an error
    naming both, wherever they are: neither silently wins."""

    def __init__(
        self,
        directory: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        inventory: Inventory | KnownInventory | None = None,
    ):
        given = [directory] if isinstance(directory, str | os.PathLike) else list(directory)
        self.directories = [Path(d) for d in given]
        self.directory = self.directories[-1]  # the most specific: where a new procedure would go
        self.inventory = inventory
        self._index: dict[str, Path] | None = None
        self._id_lines: dict[Path, tuple[int, int]] = {}
        self._clashes: dict[str, list[Path]] = {}
        self._loaded: dict[Path, Procedure] = {}
        self._callees: dict[str, Procedure | str | None] = {}

    @property
    def where(self) -> str:
        """The folders, for a sentence: the ones that exist (and the last one given, always)."""
        from runbook_tui.language.loader import default_procedures_dir

        shipped = default_procedures_dir()
        shown = [
            "the shipped procedures" if len(self.directories) > 1 and d == shipped else str(d)
            for d in self.directories
            if d.is_dir() or d == self.directory
        ]
        return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]

    def files(self) -> list[Path]:
        found: list[Path] = []
        for directory in self.directories:
            if directory.is_dir():
                found += sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        return found

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
                if match:
                    line = head.count("\n", 0, match.start()) + 1
                    self._id_lines[path] = (line, match.start(1) - match.start() + 1)
                key = match.group(1) if match else path.stem
                if key in index:
                    self._clashes.setdefault(key, [index[key]]).append(path)
                index.setdefault(key, path)
            self._index = index
        return self._index

    def at(self, path: Path) -> str:
        """``file:line`` of a file's ``id:``, to name it in a clash."""
        return f"{path}:{self._id_lines.get(path, (1, 1))[0]}"

    def clashes(self) -> list[Problem]:
        """Every id that more than one file claims, as problems (see clash)."""
        return [problem for procedure_id in self.ids() for problem in self.clash(procedure_id)]

    def clash(self, procedure_id: str) -> list[Problem]:
        """The problems of an id that more than one file claims (none when it is unique): one
        at each later file's ``id:``, naming the file that claimed it first."""
        self._ids()
        if procedure_id not in self._clashes:
            return []
        first, *others = self._clashes[procedure_id]
        return [Problem(str(path), *self._id_lines.get(path, (1, 1)),
                        f"procedure id '{procedure_id}' is also used by {self.at(first)}") for path in others]

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
                from runbook_tui.language.pydantic_problems import did_you_mean  # pydantic

                hint = did_you_mean(id_or_path, self._ids())
                raise ProcedureNotFound(
                    f"no procedure '{id_or_path}' in {self.where}{hint}", str(self.directory)
                )
        elif clash := self.clash(id_or_path):
            raise ProcedureError(clash)
        if path not in self._loaded:
            self._loaded[path] = load_procedure(path, inventory=self.inventory, catalog=self)
        return self._loaded[path]

    def callee(self, procedure_id: str) -> Procedure | str | None:
        """For ``call`` checks: the procedure, None when unknown, or why it cannot be used.
        Loaded without a catalog so that procedures calling each other do not recurse."""
        if procedure_id not in self._callees:
            path = self.path_of(procedure_id)
            if path is None:
                from runbook_tui.language.pydantic_problems import did_you_mean  # pydantic

                hint = did_you_mean(procedure_id, self._ids())
                self._callees[procedure_id] = f"which is not a procedure in {self.where}{hint}"
            elif self._clashes.get(procedure_id):
                files = " and ".join(self.at(p) for p in self._clashes[procedure_id])
                self._callees[procedure_id] = f"which is the id of two procedures: {files}"
            else:
                try:
                    self._callees[procedure_id] = load_procedure(path, inventory=self.inventory)
                except ProcedureError:
                    self._callees[procedure_id] = f"which is invalid itself (see the problems in {path})"
        return self._callees[procedure_id]

    def _calls_of(self, procedure_id: str) -> list[str]:
        """The procedures ``procedure_id`` calls (steps and undos, in file order); none when it is
        unknown or invalid (that is reported where it is called)."""
        from runbook_tui.language.model import Procedure

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
        """Every procedure in the folders, and every problem of the ones that are invalid."""
        procedures: list[Procedure] = []
        problems: list[Problem] = []
        seen: dict[str, Path] = {}
        for path in self.files():
            try:
                procedure = self._loaded.get(path) or load_procedure(
                    path, inventory=self.inventory, catalog=self
                )
            except ProcedureError as exc:
                problems.extend(exc.problems)
                continue
            self._loaded[path] = procedure
            loc = procedure.field_loc("id")
            assert loc is not None  # load_procedure attached where every key was written
            if (taken := self._taken(path, procedure.id, (loc.line, loc.col), seen)) is not None:
                problems.append(taken)
                continue
            procedures.append(procedure)
        # A file that claims a taken id and is invalid besides (its calls of the id, say).
        problems += [p for p in self.clashes() if p not in problems]
        return procedures, problems

    def listing(self) -> tuple[list[Listing], list[Problem]]:
        """What ``load_all`` finds, as listings: read from the check cache without building a
        model when it holds every file as valid, else from ``load_all``."""
        files = self.files()
        found = [self._cached_listing(path) for path in files]
        if not all(found):
            procedures, problems = self.load_all()
            return [Listing.of(p) for p in procedures], problems
        listings: list[Listing] = []
        problems = []
        seen: dict[str, Path] = {}
        for path, listing in zip(files, found):
            assert listing is not None  # all(found)
            if (taken := self._taken(path, listing.id, (listing.id_at.line, listing.id_at.col), seen)) is not None:
                problems.append(taken)
                continue
            listings.append(listing)
        problems += [p for p in self.clashes() if p not in problems]
        return listings, problems

    def _cached_listing(self, path: Path) -> Listing | None:
        try:
            return cached_listing(path, inventory=self.inventory, catalog=self)
        except ProcedureError:
            return None  # unreadable: load_all says why

    def _taken(self, path: Path, procedure_id: str, id_at: tuple[int, int], seen: dict[str, Path]) -> Problem | None:
        """The problem of a valid file whose id an earlier one claims; None (and the id is the
        file's now) when it is the first. The index gives each id to the first file (folder by
        folder, then by name) that claims it, valid or not."""
        owner = self.path_of(procedure_id)
        if procedure_id in seen or (owner is not None and owner != path):
            first = seen[procedure_id] if procedure_id in seen else owner
            assert first is not None
            return Problem(str(path), *id_at, f"procedure id '{procedure_id}' is also used by {self.at(first)}")
        seen[procedure_id] = path
        return None
