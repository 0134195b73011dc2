"""Home: the procedures (read-only or mutating, last outcome) and the targets' state."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from runbook_tui.textsafe import printable
from runbook_tui.tui.messages import RunsChanged, WorkspaceFailed, WorkspaceReady
from runbook_tui.tui.widgets.mode_banner import ModeBanner

if TYPE_CHECKING:
    from textual import getters

    from runbook_tui.tui.host import Host

OUTCOME_STYLE = {"succeeded": "green", "failed": "red", "aborted": "red", "refused": "yellow", "interrupted": "magenta"}


class HomeScreen(Screen):
    if TYPE_CHECKING:
        app = getters.app(Host)  # RunbookApp, which screens do not import

    BINDINGS = [
        Binding("enter", "run", "Run", priority=False),
        Binding("d", "dry_run", "Dry-run"),
        Binding("w", "walkthrough", "Walk through"),
        Binding("r", "runs", "Runs"),
        Binding("p", "probe", "Probe targets"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.procedures: list[Any] = []

    def compose(self) -> ComposeResult:
        yield ModeBanner()
        with Vertical(id="home"):
            yield Label("Procedures", classes="section")
            yield DataTable(id="procedures", cursor_type="row", zebra_stripes=True)
            yield Static("", id="summary")
            yield Label("Targets", classes="section")
            yield DataTable(id="targets", cursor_type="row", zebra_stripes=True)
            yield Static(self._starting_text(), id="home-status")
        yield Footer()

    def _starting_text(self) -> str:
        if getattr(self.app, "workspace", None) is not None:
            return ""
        return "starting the lab…" if getattr(self.app, "options", {}).get("lab") else "loading procedures…"

    def on_mount(self) -> None:
        # Fixed widths: columns do not jump as rows arrive (probes answer one by one).
        table = self.query_one("#procedures", DataTable)
        for label, width in (("Procedure", 22), ("Title", 56), ("Changes", 10), ("Last run", None)):
            table.add_column(label, width=width)
        targets = self.query_one("#targets", DataTable)
        for label, width in (("Target", 13), ("Kind", 10), ("Address", 24), ("State", 11),
                             ("Host key / namespace", 20), ("Detail", None)):
            targets.add_column(label, width=width)
        table.focus()
        if getattr(self.app, "workspace", None) is not None:
            self.post_message(WorkspaceReady())
        elif error := getattr(self.app, "workspace_error", None):
            self.post_message(WorkspaceFailed(error))

    # ------------------------------------------------------------ workspace
    @on(WorkspaceReady)
    def _ready(self) -> None:
        self.query_one("#home-status", Static).update("")
        self.load_procedures()
        self.action_probe()

    @on(WorkspaceFailed)
    def _failed(self, message: WorkspaceFailed) -> None:
        status = self.query_one("#home-status", Static)
        status.update(printable(f"Cannot start: {message.error}"))
        status.add_class("-error")

    @on(RunsChanged)
    def _runs_changed(self) -> None:
        self.load_procedures()

    def on_screen_resume(self) -> None:
        if self.procedures:
            self.load_procedures()  # a run may have finished meanwhile

    @work(group="home-load", exclusive=True, exit_on_error=False)
    async def load_procedures(self) -> None:
        from runbook_tui.headless.journal import last_outcomes

        ws = self.app.workspace
        procedures, problems = await asyncio.to_thread(ws.catalog.load_all)
        outcomes = await asyncio.to_thread(last_outcomes, ws.journal_dir)
        self.procedures = sorted(procedures, key=lambda p: p.id)
        table = self.query_one("#procedures", DataTable)
        row = table.cursor_row
        table.clear()
        for p in self.procedures:
            last = outcomes.get(p.id)
            kind = "[yellow]mutating[/]" if p.mutating else "[green]read-only[/]"
            outcome = f"[{OUTCOME_STYLE.get(last.outcome, '')}]{last.outcome}[/] ({last.mode})" if last else "[dim]never run[/]"
            table.add_row(p.id, printable(p.title), kind, outcome, key=p.id)
        if self.procedures:
            table.move_cursor(row=min(row, len(self.procedures) - 1))
        self._show_summary()
        if problems:
            status = self.query_one("#home-status", Static)
            status.update(printable(f"{len(problems)} problem(s) in the procedures folder; first: {problems[0]}"))
            status.add_class("-error")

    @work(group="probe", exclusive=True, exit_on_error=False)
    async def action_probe(self) -> None:
        from runbook_tui.engine.probe import describe, probe_targets

        ws = self.app.workspace
        if ws is None:
            return
        self._show_targets(describe(ws.inventory), probing=True)
        self._show_targets(await probe_targets(ws.inventory), probing=False)

    def _show_targets(self, states: list[Any], *, probing: bool) -> None:
        table = self.query_one("#targets", DataTable)
        table.clear()
        for s in states:
            if probing or s.reachable is None:
                state = "[dim]probing…[/]"
            elif s.reachable and not s.error:
                state = "[green]reachable[/]"
            elif s.reachable:
                state = "[yellow]refused[/]"
            else:
                state = "[red]unreachable[/]"
            if s.kind == "ssh":
                key = {True: "[green]known[/]", False: "[red]UNKNOWN[/]", None: "[dim]–[/]"}[s.host_key_known]
            else:
                key = f"{s.context or '(current)'} / {s.namespace or 'default'}"
            detail = (s.error or s.version or s.fingerprint or "") if not probing else ""  # a target's words
            table.add_row(s.name, s.kind, printable(s.address), state, printable(key), printable(detail), key=s.name)
        if not states:
            table.add_row("[dim](no targets in the inventory)[/]", "", "", "", "", "")

    # ------------------------------------------------------------- selection
    @on(DataTable.RowHighlighted, "#procedures")
    def _show_summary(self) -> None:
        proc = self.selected
        text = ""
        if proc is not None:
            steps = len(proc.steps)
            text = printable(f"[b]{proc.title}[/b] — {proc.summary or ''}  [dim]({steps} steps, {proc.path})[/]")
        self.query_one("#summary", Static).update(text)

    @property
    def selected(self) -> Any:
        table = self.query_one("#procedures", DataTable)
        if not self.procedures or table.cursor_row is None or not 0 <= table.cursor_row < len(self.procedures):
            return None
        return self.procedures[table.cursor_row]

    @on(DataTable.RowSelected, "#procedures")
    def _selected(self) -> None:
        self.action_run()

    def action_run(self) -> None:
        if self.selected is not None:
            self.app.router.start_procedure(self.selected.id)

    def action_dry_run(self) -> None:
        if self.selected is not None:
            self.app.router.start_procedure(self.selected.id, dry_run=True)

    def action_walkthrough(self) -> None:
        if self.selected is not None:
            self.app.router.start_procedure(self.selected.id, walkthrough=True)

    def action_runs(self) -> None:
        self.app.router.show_runs()
