"""What ``list`` shows of a valid procedure (and what ``validate`` needs to know of it: its id and
where the id is written), read from the check cache without building the pydantic model.

Building the models is a third of a start; a listing is plain data. ``Listing.of`` takes it from
a checked procedure, so both ways give the same rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from runbook_tui.language.model import Procedure


class IdAt(NamedTuple):
    file: str
    line: int
    col: int


@dataclass(frozen=True)
class InputLine:
    type: str
    required: bool
    default: Any  # as JSON would write it (what is not JSON, as text)


@dataclass(frozen=True)
class Listing:
    id: str
    title: str
    mutating: bool
    inputs: dict[str, InputLine]
    tags: list[str]
    path: str
    id_at: IdAt

    @classmethod
    def of(cls, procedure: Procedure) -> Listing:
        loc = procedure.field_loc("id")
        assert loc is not None  # a loaded procedure knows where each key was written
        return cls(
            id=procedure.id,
            title=procedure.title,
            mutating=procedure.mutating,
            inputs={
                name: InputLine(spec.type, spec.required, json.loads(json.dumps(spec.default, default=str)))
                for name, spec in procedure.inputs.items()
            },
            tags=list(procedure.tags),
            path=procedure.path,
            id_at=IdAt(loc.file, loc.line, loc.col),
        )

    def to_json(self) -> dict[str, Any]:
        inputs = [[name, i.type, i.required, i.default] for name, i in self.inputs.items()]
        return {"id": self.id, "title": self.title, "mutating": self.mutating, "inputs": inputs,
                "tags": self.tags, "id_at": [self.id_at.line, self.id_at.col]}

    @classmethod
    def from_json(cls, data: Any, path: str) -> Listing | None:
        """The listing ``to_json`` wrote, or None when ``data`` is anything else."""
        try:
            inputs = {name: InputLine(kind, required, default) for name, kind, required, default in data["inputs"]}
            line, col = data["id_at"]
            listing = cls(data["id"], data["title"], data["mutating"], inputs, data["tags"], path,
                          IdAt(path, line, col))
        except (KeyError, TypeError, ValueError):
            return None
        typed = (
            isinstance(listing.id, str) and isinstance(listing.title, str) and isinstance(listing.mutating, bool)
            and isinstance(listing.tags, list) and all(isinstance(t, str) for t in listing.tags)
            and isinstance(line, int) and isinstance(col, int)
            and all(isinstance(n, str) and isinstance(i.type, str) and isinstance(i.required, bool)
                    for n, i in inputs.items())
        )
        return listing if typed else None
