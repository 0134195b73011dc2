"""Home: the procedures (read-only or mutating, last outcome) and the targets' state."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from runbook_tui.textsafe import printable
from runbook_tui.tui.colours import marked
from runbook_tui.tui.messages import RunsChanged, WorkspaceFailed, WorkspaceReady
from runbook_tui.tui.widgets.mode_banner import ModeBanner

if TYPE_CHECKING:
    from textual import getters

    from runbook_tui.tui.host import Host



class HomeScreen(Screen):
    if TYPE_CHECKING:
        app = getters.app(Host)  # RunbookApp, which screens do not import

    BINDINGS = [
        # Priority: Enter is Run (not the table's "select"), in the footer and in the help alike.
        Binding("enter", "run", "Run", priority=True),
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
            yield Static("", id="lock-holder")  # who is changing these targets now, if anyone
            yield Static(self._starting_text(), id="home-status")
        yield Footer(compact=True, show_command_palette=False)  # ^p is in the help (?)

    def _starting_text(self) -> str:
        if getattr(self.app, "workspace", None) is not None:
            return ""
        return "starting the lab…" if getattr(self.app, "options", {}).get("lab") else "loading procedures…"

    def on_mount(self) -> None:
        # Fixed widths: columns do not jump as rows arrive (probes answer one by one). The title
        # comes last, so on a narrow terminal it is what gets cut, not read-only/mutating.
        table = self.query_one("#procedures", DataTable)
        for label, width in (("Procedure", 20), ("Changes", 9), ("Last run", 21), ("Title", None)):
            table.add_column(label, width=width)
        targets = self.query_one("#targets", DataTable)
        for label, width in (("Target", 13), ("Kind", 10), ("Address", 24), ("State", 11),
                             ("Host key / namespace", 20), ("Detail", None)):
            targets.add_column(label, width=width)
        table.focus()
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
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

    def _theme_changed(self, _theme: object) -> None:
        if self.procedures:
            self.load_procedures()  # the markers' colours are the theme's

    def on_screen_resume(self) -> None:
        if self.procedures:
            self.load_procedures()  # a run may have finished meanwhile
            self.show_lock_holder()

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
        colours = self.app.theme_variables
        for p in self.procedures:
            last = outcomes.get(p.id)
            kind = marked(colours, "mutating" if p.mutating else "read-only", "mutating" if p.mutating else "read-only")
            outcome = (marked(colours, last.outcome, f"{last.outcome} ({last.mode})") if last
                       else marked(colours, "muted", "never run"))
            table.add_row(p.id, kind, outcome, Text(printable(p.title)), key=p.id)
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
        self.show_lock_holder()

    @work(group="lock-holder", exclusive=True, exit_on_error=False)
    async def show_lock_holder(self) -> None:
        """The team's Lease (or this machine's lock) holder, read when the targets are probed
        and each time home comes back: before choosing a change, see who is changing things."""
        ws = self.app.workspace
        if ws is None:
            return
        try:
            holder = await ws.change_lock_holder()
        except Exception as exc:  # the cluster may refuse or be gone: home still works
            holder = f"Cannot tell who holds the change lock: {exc}"
        label = self.query_one("#lock-holder", Static)
        label.update(Content(f"🔒 {printable(holder)}") if holder else "")  # literal, never markup
        label.display = bool(holder)

    def _show_targets(self, states: list[Any], *, probing: bool) -> None:
        table = self.query_one("#targets", DataTable)
        table.clear()
        colours = self.app.theme_variables
        for s in states:
            if probing or s.reachable is None:
                state = marked(colours, "muted", "probing…")
            elif s.reachable and not s.error:
                state = marked(colours, "good", "reachable")
            elif s.reachable:
                state = marked(colours, "caution", "refused")
            else:
                state = marked(colours, "bad", "unreachable")
            if s.kind == "ssh":
                key = {True: marked(colours, "good", "known"), False: marked(colours, "bad", "UNKNOWN"),
                       None: marked(colours, "muted", "–")}[s.host_key_known]
            else:
                key = Text(printable(f"{s.context or '(current)'} / {s.namespace or 'default'}"))
            detail = (s.error or s.version or s.fingerprint or "") if not probing else ""  # a target's words
            table.add_row(Text(s.name), s.kind, Text(printable(s.address)), state, key, Text(printable(detail)),
                          key=s.name)
        if not states:
            table.add_row(marked(colours, "muted", "(no targets in the inventory)"), "", "", "", "", "")

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
