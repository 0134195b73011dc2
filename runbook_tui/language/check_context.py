"""What every check of a procedure file shares: where the problems go, how a path is named
("step 'restart'"), and whether a key was given."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runbook_tui.errors import Problem
from runbook_tui.language.inventory import Inventory
from runbook_tui.language.model import (
    ACTIONS,
    Procedure,
    StepBody,
)
from runbook_tui.language.pydantic_problems import (
    subject,
)
from runbook_tui.language.yaml_source import Path, SourceMap

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def present(body: dict[str, Any], key: str) -> bool:
    """Given a value other than nothing or the field's default (so a full dump reads back)."""
    if key not in body or body[key] is None:
        return False
    if key == "with":
        return bool(body[key] != {})
    return not (key in _DEFAULTS and body[key] == _DEFAULTS[key] and key not in ACTIONS)


def and_list(words: list[str]) -> str:
    quoted = [f"'{w}'" for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def describer(data: dict[str, Any]) -> Callable[[Path], tuple[str, Path]]:
    steps = data.get("steps") if isinstance(data, dict) else None

    def describe(path: Path) -> tuple[str, Path]:
        if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
            step = steps[path[1]] if isinstance(steps, list) and path[1] < len(steps) else None
            step_id = step.get("id") if isinstance(step, dict) else None
            name = f"step '{step_id}'" if isinstance(step_id, str) and step_id else f"step #{path[1] + 1}"
            if len(path) >= 3 and path[2] == "undo":
                return f"the undo of {name}", path[3:]
            return name, path[2:]
        if len(path) >= 2 and path[0] == "inputs" and isinstance(path[1], str):
            return f"input '{path[1]}'", path[2:]
        return "the procedure", path

    return describe


@dataclass
class Context:
    source: SourceMap
    describe: Callable[[Path], tuple[str, Path]]
    inventory: Inventory | None
    parsers: tuple[str, ...] | None
    callee: Callable[[str], Procedure | None | str] | None  # None: unknown; str: why it is unusable
    procedure_id: str | None
    problems: list[Problem]
    # (caller, called) -> the ids of a loop those calls would go round, or None (see Catalog.call_loop)
    call_loop: Callable[[str | None, str], list[str] | None] | None = None

    def add(self, at: tuple[int, int], message: str) -> None:
        self.problems.append(self.source.problem(at, message))

    def subject(self, path: Path) -> str:
        return subject(self.describe, path)


_DEFAULTS = {name: info.default for name, info in StepBody.model_fields.items()}
_DEFAULTS.update({info.alias: info.default for info in StepBody.model_fields.values() if info.alias})
