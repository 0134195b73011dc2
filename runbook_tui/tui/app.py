"""The TUI application: opens the workspace after the first frame, owns the mode, quits safely.

Kept thin: screens live in ``tui/screens`` and only ``tui/router.py`` knows them; widgets live in
``tui/widgets``. Engine, workspace and journal modules are imported only when first needed, so the
home screen paints at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.worker import Worker, WorkerState

from runbook_tui.tui.commands import RunbookCommands
from runbook_tui.tui.messages import WorkspaceFailed, WorkspaceReady
from runbook_tui.tui.mode import Mode
from runbook_tui.tui.router import Router
from runbook_tui.tui.sentences import error_sentence
from runbook_tui.tui.widgets.mode_banner import ModeBanner


class RunbookApp(App[int]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "runbook-tui"
    COMMANDS = App.COMMANDS | {RunbookCommands}
    BINDINGS = [
        Binding("ctrl+c", "quit", "Quit", priority=True, show=False),
        Binding("q", "quit", "Quit"),
    ]

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
    ) -> None:
        super().__init__()
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
        self._quitting = False
        self.router = Router(self)

    # ------------------------------------------------------------- lifecycle
    def on_mount(self) -> None:
        self.router.home()
        self.call_after_refresh(self.open_workspace)  # after the first frame is on screen

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
        self.mode = replace(self.mode, lab=ws.is_lab, targets=tuple(ws.inventory.targets))
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

    # ----------------------------------------------------------------- quit
    @property
    def run_in_progress(self) -> bool:
        return any(w.group == "run" and not w.is_finished for w in self.workers)

    async def stop_runs(self) -> None:
        """Cancel the engine and wait for it: running commands are stopped and journaled."""
        runs = [w for w in self.workers if w.group == "run" and not w.is_finished]
        for worker in runs:
            worker.cancel()
        for worker in runs:
            try:
                await worker.wait()
            except Exception:  # cancelled or failed: either way it is no longer running
                pass

    async def action_quit(self) -> None:
        if self._quitting:
            return
        self._quitting = True
        if self.run_in_progress:
            self.notify("Cancelling the running step before quitting…", timeout=3)
        await self.stop_runs()
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
