"""The app as its screens see it, for the type checker.

Screens import neither ``tui/app.py`` nor ``tui/router.py`` (the router imports them), so Textual's
``self.app`` would be a plain ``App`` to them. A screen that uses the app's own attributes declares
``app = getters.app(Host)`` under ``TYPE_CHECKING``; nothing here runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from textual.app import App

if TYPE_CHECKING:
    from textual.screen import Screen

    from runbook_tui.engine.gates import GateAnswer, GateRequest
    from runbook_tui.language.model import Procedure
    from runbook_tui.tui.mode import Mode
    from runbook_tui.tui.run_state import RunState


class Opens(Protocol):
    """What screens ask of ``Router`` (tui/router.py)."""

    def start_procedure(self, ref: str, *, dry_run: bool | None = None, walkthrough: bool = False) -> None: ...

    def open_run(self, procedure: Procedure, inputs: dict[str, Any], *, mode: Mode,
                 walkthrough: bool = False, resume: Any = None) -> None: ...

    def show_runs(self) -> None: ...

    def gate_screen(self, request: GateRequest, state: RunState | None = None) -> Screen[GateAnswer | None]: ...

    def cancel_screen(self, steps: list[Any]) -> Screen[bool]: ...

    def full_output_screen(self, step_id: str, lines: list[str]) -> Screen[None]: ...


class Host(App[int]):
    """``RunbookApp`` (tui/app.py): what its screens read of it."""

    workspace: Any  # the Workspace once opened, else None
    workspace_error: str | None
    router: Opens
