"""The TUI application: opens the workspace after the first frame, owns the mode, quits safely.

Kept thin: screens live in ``tui/screens`` and only ``tui/router.py`` knows them; widgets live in
``tui/widgets``. Engine, workspace and journal modules are imported only when first needed, so the
home screen paints at once.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from runbook_tui.textsafe import printable
from runbook_tui.tui.colours import marker_variables
from runbook_tui.tui.commands import RunbookCommands
from runbook_tui.tui.messages import WorkspaceFailed, WorkspaceReady
from runbook_tui.tui.mode import Mode
from runbook_tui.tui.preferences import save, saved_theme
from runbook_tui.tui.router import Router
from runbook_tui.tui.sentences import error_sentence
from runbook_tui.tui.widgets.mode_banner import ModeBanner


class RunbookApp(App[int]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "runbook-tui"
    COMMANDS = App.COMMANDS | {RunbookCommands}
    # One key map for every screen (tests/test_tui_keymap.py holds it to that). ? and F1 act on
    # modals too (priority); ? stays a character wherever one is being typed (Textual leaves a key
    # an Input consumes to the Input).
    BINDINGS = [
        Binding("ctrl+c", "quit", "Quit", priority=True, show=False),
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", priority=True),
        Binding("f1", "help", "Help", priority=True, show=False),
        Binding("ctrl+p", "command_palette", "Commands", tooltip="every procedure's run, dry-run and walk "
                "through; the runs; the theme", priority=True, show=False),
    ]
    # Screens narrower than 100 columns are "-narrow" (app.tcss rearranges them for 80x24).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]

    mode: reactive[Mode] = reactive(Mode, always_update=True, init=False)

    def __init__(
        self,
        *,
        inventory: str | None = None,
        procedures: str | None = None,
        lab: bool = False,
        faults: Sequence[str] = (),
        phase: int = 6,
        dry_run: bool = False,
        offline: bool = False,
        accept_host_keys: Sequence[str] = (),
        journal_dir: str | Path | None = None,
        clock: Callable[[], float] | None = None,
        run_ids: Callable[[str], str] | None = None,
        preferences: Path | None = None,
    ) -> None:
        super().__init__()
        # The theme chosen last time (tui/preferences.py); tests and screenshots pass their own file.
        self.preferences = preferences
        theme = saved_theme(preferences)
        if theme in self.available_themes:
            self.theme = theme
        self.options: dict[str, Any] = dict(
            inventory=inventory, procedures=procedures, lab=lab, faults=tuple(faults), phase=phase,
            accept_host_keys=tuple(accept_host_keys),
        )
        self.journal_dir = Path(journal_dir) if journal_dir else None
        # Hooks for deterministic screens (snapshots): the clock elapsed times use, and run ids.
        self.clock = clock or time.monotonic
        self.run_ids = run_ids
        self.workspace: Any = None
        self.workspace_error: str | None = None
        self.set_reactive(RunbookApp.mode, Mode(dry_run=dry_run or offline, offline=offline, lab=lab))
        self._quitting = False  # waiting for the runs to stop, then exiting
        self._exiting = False
        self._quit_question: Any = None  # the "a step is running" modal, while it is open
        self._terminal_lost = False
        self.router = Router(self)

    # ------------------------------------------------------------- lifecycle
    def get_default_screen(self) -> Screen:
        # Home is the bottom of the stack itself: no blank default screen mounted and styled first.
        return self.router.home_screen()

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.call_after_refresh(self.open_workspace)  # after the first frame is on screen
        if _on_a_terminal(self):
            self.set_interval(TERMINAL_CHECK, self._check_terminal)

    def _check_terminal(self) -> None:
        """The terminal is gone without a hangup signal reaching us (a wrapper such as make kept
        it, or a window closed): nobody can answer a gate any more, and Textual's input thread
        reads the closed terminal in a loop, a core's worth of CPU for ever. What runs is
        cancelled (its commands stopped, the journal told) and the TUI quits; a cleanup gate no
        one can answer does not keep it past TERMINAL_GRACE."""
        if self._terminal_lost or _stdin_is_terminal():
            return
        self._terminal_lost = True
        self.quit_when_stopped(cancel=True)
        self.set_timer(TERMINAL_GRACE, lambda: self.exit(1))

    def _remember_theme(self, theme: Any) -> None:
        if (problem := save({"theme": theme.name}, self.preferences)) is not None:
            self.notify(printable(problem), severity="warning", timeout=6)

    @work(group="workspace", exit_on_error=False)
    async def open_workspace(self) -> None:
        import importlib

        # Import the engine's modules off the event loop, so the screen keeps painting.
        await asyncio.to_thread(importlib.import_module, "runbook_tui.workspace")
        await asyncio.to_thread(importlib.import_module, "runbook_tui.engine.runner")
        from runbook_tui.workspace import Workspace

        ws = await Workspace.open(**self.options)
        if self.journal_dir is not None:
            ws.journal_dir = self.journal_dir
        self.workspace = ws
        faults = tuple(f.strip() for f in self.options["faults"]) if ws.is_lab else ()
        self.mode = replace(self.mode, lab=ws.is_lab, targets=tuple(ws.inventory.targets), faults=faults)
        self._broadcast(WorkspaceReady())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Failures of the app's own workers (opening the workspace) become one sentence."""
        if event.worker.group != "workspace" or event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        self.workspace_error = error_sentence(error)
        self._broadcast(WorkspaceFailed(self.workspace_error))

    def _broadcast(self, message: Any) -> None:
        for screen in self.screen_stack:
            screen.post_message(message)

    def watch_mode(self, mode: Mode) -> None:
        for screen in self.screen_stack:
            for banner in screen.query(ModeBanner):
                if banner.follows_app:
                    banner.mode = mode

    def get_css_variables(self) -> dict[str, str]:
        """The theme's variables and ``$marker-*``: meaning-carrying colours made readable on this
        theme (tui/colours.py)."""
        variables = super().get_css_variables()
        self.theme_variables = {**variables, **marker_variables(variables)}
        return self.theme_variables

    # ----------------------------------------------------------------- help
    def action_help(self) -> None:
        """The keys of the screen on top; pressed again on the help itself, closes it."""
        if getattr(self.screen, "source_name", None) is not None:
            self.screen.dismiss(None)
            return
        self.push_screen(self.router.help_screen(self.screen))

    # ----------------------------------------------------------------- quit
    @property
    def run_in_progress(self) -> bool:
        return any(w.group == "run" and not w.is_finished for w in self.workers)

    def running_steps(self) -> list[Any]:
        """The steps running now, in every run screen on the stack (their ``StepView``)."""
        steps: list[Any] = []
        for screen in self.screen_stack:
            state = getattr(screen, "state", None)
            if state is not None and getattr(screen, "running", False):
                steps.extend(state.step(sid) for sid in state.running)
        return steps

    async def stop_runs(self) -> None:
        """Cancel the engine and wait for it: running commands are stopped and journaled.
        Not for a key's handler: a cleanup step's gate would wait on the loop this one holds."""
        runs = [w for w in self.workers if w.group == "run" and not w.is_finished]
        for worker in runs:
            worker.cancel()
        for worker in runs:
            try:
                await worker.wait()
            except Exception:  # cancelled or failed: either way it is no longer running
                pass

    async def action_quit(self) -> None:
        """q or ctrl+c. While a step runs, ask first (stay, wait for it, or cancel it); then stop
        the run without holding the event loop, so its cleanup's gates can still be answered."""
        if self._quit_question is not None:
            return  # being asked already
        steps = self.running_steps()
        if steps:
            self._quit_question = self.router.quit_screen(steps)
            self.push_screen(self._quit_question, callback=self._quit_answered)
            return
        if not self.run_in_progress:
            await self._close_and_exit()
            return
        self.quit_when_stopped(cancel=True)

    def _quit_answered(self, choice: str | None) -> None:
        self._quit_question = None
        if choice == "cancel":
            self.quit_when_stopped(cancel=True)
        elif choice == "wait":
            for screen in self.screen_stack:
                if hasattr(screen, "stop_after_running_steps"):
                    screen.stop_after_running_steps()
            self.notify("Quitting once the running step finishes (q again to cancel it).", timeout=5)
            self.quit_when_stopped(cancel=False)

    def quit_when_stopped(self, *, cancel: bool) -> None:
        """Quit once no run is left; with ``cancel``, cancel the runs first."""
        if cancel:
            if self.run_in_progress:
                self.notify("Cancelling the running step before quitting…", timeout=3)
            for worker in self.workers:
                if worker.group == "run" and not worker.is_finished:
                    worker.cancel()
        if not self._quitting:
            self._quitting = True
            self.run_worker(self._exit_when_stopped(), group="quit", exit_on_error=False)

    async def _exit_when_stopped(self) -> None:
        while True:
            runs = [w for w in self.workers if w.group == "run" and not w.is_finished]
            if not runs:
                break
            for worker in runs:
                try:
                    await worker.wait()
                except Exception:
                    pass
        await self._close_and_exit()

    async def _close_and_exit(self) -> None:
        if self._exiting:
            return
        self._exiting = True
        if self.workspace is not None:
            await self.workspace.close()
        self.exit(0)

    # ------------------------------------------------------------- navigation
    # Screens and the palette ask the router; these two are for what drives the app from outside
    # (Pilot tests, the screenshots, the benchmarks).
    def start_procedure(self, ref: str, *, dry_run: bool | None = None, walkthrough: bool = False) -> None:
        """The inputs form for procedure REF, then the run (see ``Router.start_procedure``)."""
        self.router.start_procedure(ref, dry_run=dry_run, walkthrough=walkthrough)

    def show_runs(self) -> None:
        self.router.show_runs()


TERMINAL_CHECK = 1.0  # seconds between looks at the terminal
TERMINAL_GRACE = 30.0  # seconds a cancelled run's cleanup gets once the terminal is gone


def _stdin_is_terminal() -> bool:
    stdin = sys.__stdin__
    try:
        return stdin is not None and os.isatty(stdin.fileno())
    except (ValueError, OSError):
        return False


def _on_a_terminal(app: App) -> bool:
    """Driving a terminal on stdin: not headless (tests), not a browser (``serve``)."""
    return not (app.is_headless or app.is_web) and _stdin_is_terminal()
