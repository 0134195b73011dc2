"""What a step kind is: render a step into exactly what will run, then run it.

``Action`` is the one contract every step kind meets; the engine asks its capabilities
(``preview``, ``needs_person``, ``timeout_slack``, ``settle``) and never compares kind names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from runbook_tui.transports.base import OutputCallback

if TYPE_CHECKING:
    from runbook_tui.language.inventory import Inventory
    from runbook_tui.language.model import StepBody
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
            "unreachable": self.unreachable,
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


class Action(Protocol):
    """A step kind."""

    name: str
    # A person does the step (it waits for them): no timeout; the plan says "operator".
    needs_person: bool

    def render(self, step: "StepBody", context: dict[str, Any]) -> Rendered:
        """Resolve every template: what this returns is what dry-run shows and what runs."""
        ...

    async def execute(self, rendered: Rendered, ctx: ActionContext) -> ActionResult: ...

    async def preview(self, rendered: Rendered, ctx: ActionContext) -> str | None:
        """What the step would change on its target, read without changing it (a dry run's
        diff); None when the kind has nothing to show beyond ``rendered``."""
        ...

    def timeout_slack(self, step: "StepBody") -> float:
        """Seconds added to the step's timeout, so that the action's own timeout, which says
        more, speaks first."""
        ...

    def local_files(self, step: "StepBody", context: dict[str, Any]) -> list[str]:
        """Paths on this machine the step needs (an upload's source, a command's folder),
        checked before the run's first change so that a missing one changes nothing."""
        ...

    async def settle(self, rendered: Rendered, ctx: ActionContext, last: ActionResult, delay: float) -> bool:
        """The pause between two looks of a step with ``until``: at most ``delay`` seconds, True
        as soon as what the step reads has changed (a watch), False when the time ran out."""
        ...


Render = Callable[["StepBody", dict[str, Any]], Rendered]
Execute = Callable[[Rendered, ActionContext], Awaitable[ActionResult]]
Preview = Callable[[Rendered, ActionContext], Awaitable[str | None]]
Settle = Callable[[Rendered, ActionContext, ActionResult, float], Awaitable[bool]]


@dataclass(frozen=True)
class ModuleAction:
    """An Action made of a module's functions: each step kind is one module of this package."""

    name: str
    render_fn: Render
    execute_fn: Execute
    preview_fn: Preview | None = None
    needs_person: bool = False
    slack: Callable[["StepBody"], float] | None = None
    files: Callable[["StepBody", dict[str, Any]], list[str]] | None = None
    settle_fn: Settle | None = None

    def render(self, step: "StepBody", context: dict[str, Any]) -> Rendered:
        return self.render_fn(step, context)

    async def execute(self, rendered: Rendered, ctx: ActionContext) -> ActionResult:
        return await self.execute_fn(rendered, ctx)

    async def preview(self, rendered: Rendered, ctx: ActionContext) -> str | None:
        return await self.preview_fn(rendered, ctx) if self.preview_fn is not None else None

    def timeout_slack(self, step: "StepBody") -> float:
        return self.slack(step) if self.slack is not None else 0.0

    def local_files(self, step: "StepBody", context: dict[str, Any]) -> list[str]:
        return self.files(step, context) if self.files is not None else []

    async def settle(self, rendered: Rendered, ctx: ActionContext, last: ActionResult, delay: float) -> bool:
        if self.settle_fn is not None:
            return await self.settle_fn(rendered, ctx, last, delay)
        await asyncio.sleep(delay)
        return False
