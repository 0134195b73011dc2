"""What an action is: render a step into exactly what will run, then run it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from runbook_tui.transports.base import OutputCallback

if TYPE_CHECKING:
    from runbook_tui.language.inventory import Inventory
    from runbook_tui.transports.pool import Transports


@dataclass
class Rendered:
    """A step with every template resolved: what dry-run shows and what runs, the same object."""

    action: str
    target: str | None
    summary: str  # one line: the command, "PATCH service/mailserver", the file
    detail: str = ""  # the full body: a patch, a manifest, a file's content
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ActionResult:
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    data: Any = None
    ok: bool = True
    message: str = ""
    truncated: bool = False
    unreachable: bool = False  # the target was not reached: no step ran there
    interrupted: bool = False  # cut off mid-command (a drop, a timeout): it may have half-applied

    def as_context(self) -> dict[str, Any]:
        """The ``result`` that guards and later steps see."""
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "lines": self.stdout.splitlines(),
            "data": self.data,
            "message": self.message,
        }


@dataclass
class ActionContext:
    step_id: str
    inventory: "Inventory"
    transports: "Transports"
    output: OutputCallback
    read_only: bool
    timeout: float | None
    ask: Callable[..., Awaitable[Any]] | None = None  # engine-side gate helper (records answers)
    call: Callable[[str, dict[str, Any]], Awaitable[ActionResult]] | None = None
