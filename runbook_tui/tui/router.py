"""The one place that knows the screens: which screen opens when a screen or the palette asks.

Screens import neither one another nor the app; they ask ``self.app.router``. Each move happens
in the call, as ``switch_screen`` itself does, not later from a message queue: once ``open_run``
returns, the screen that asked is no longer current, so a second key press cannot start a second
run, and a resume's lock is never held for a request still waiting in a queue.

Screens other than home are imported when first opened, so home paints before the modules the
others stand on (the language's models, the engine's inputs) have loaded.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from runbook_tui.textsafe import printable
from runbook_tui.tui.screens.home import HomeScreen
from runbook_tui.tui.sentences import error_sentence

if TYPE_CHECKING:
    from textual.screen import Screen

    from runbook_tui.engine.gates import GateAnswer, GateRequest
    from runbook_tui.language.model import Procedure
    from runbook_tui.tui.mode import Mode
    from runbook_tui.tui.run_state import RunState


class Router:
    """Opens screens for the app: home, the inputs form, a run or walkthrough, the runs, gates."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def home_screen(self) -> HomeScreen:
        return HomeScreen()

    def start_procedure(self, ref: str, *, dry_run: bool | None = None, walkthrough: bool = False) -> None:
        """From home or the command palette: the inputs form, then the run."""
        from runbook_tui.tui.screens.inputs import InputsScreen

        app = self.app
        if app.workspace is None:
            message = app.workspace_error or "Still starting: try again in a moment."
            app.notify(printable(message), severity="warning")
            return
        try:
            procedure = app.workspace.procedure(ref)
        except Exception as exc:
            app.notify(printable(error_sentence(exc)), severity="error", timeout=8)
            return
        mode = app.mode if dry_run is None else replace(app.mode, dry_run=dry_run or app.mode.offline)
        app.push_screen(InputsScreen(procedure, mode=mode, walkthrough=walkthrough))

    def open_run(self, procedure: Procedure, inputs: dict[str, Any], *, mode: Mode,
                 walkthrough: bool = False, resume: Any = None) -> None:
        """The run (or the walkthrough) in place of the screen that asked: the inputs form or the runs."""
        from runbook_tui.tui.screens.run import RunScreen
        from runbook_tui.tui.screens.walkthrough import WalkthroughScreen

        screen_cls = WalkthroughScreen if walkthrough else RunScreen
        self.app.switch_screen(screen_cls(procedure, inputs, mode=mode, resume=resume))

    def show_runs(self) -> None:
        from runbook_tui.tui.screens.runs import RunsScreen

        self.app.push_screen(RunsScreen())

    def gate_screen(self, request: GateRequest, state: RunState | None = None) -> Screen[GateAnswer | None]:
        """The modal that answers one of the engine's questions; a failed step has its own, which
        reads the run so far (STATE) for the step's output, its attempt and what undo can do."""
        if request.kind == "failure":
            from runbook_tui.tui.screens.failure import FailureScreen

            return FailureScreen(request, state)
        from runbook_tui.tui.screens.gate import GateScreen

        return GateScreen(request)

    def cancel_screen(self, steps: list[Any]) -> Screen[bool]:
        """Asked before cancelling a run while STEPS (``StepView``s) run: True to cancel."""
        from runbook_tui.tui.screens.cancel import CancelScreen

        return CancelScreen(steps)

    def full_output_screen(self, step_id: str, lines: list[str]) -> Screen[None]:
        """A step's whole output, full screen, where no pager can take the terminal."""
        from runbook_tui.tui.screens.full_output import FullOutputScreen

        return FullOutputScreen(step_id, lines)

    def quit_screen(self, steps: list[Any]) -> Screen[str]:
        """Asked before quitting while STEPS (``StepView``s) run: "stay", "wait" or "cancel"."""
        from runbook_tui.tui.screens.quit import QuitScreen

        return QuitScreen(steps)

    def help_screen(self, source: Screen) -> Screen[None]:
        """The keys that work on SOURCE, read from its bindings."""
        from runbook_tui.tui.screens.help import HelpScreen

        return HelpScreen(source)
