"""Runs: the journal's runs, a run's timeline, the Markdown report exported, resume."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from runbook_tui.textsafe import printable
from runbook_tui.tui.colours import marked
from runbook_tui.tui.mode import Mode
from runbook_tui.tui.sentences import error_sentence
from runbook_tui.tui.widgets.mode_banner import ModeBanner


def clock(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def describe(e: dict[str, Any]) -> str:
    """One timeline row for a journal event (output lines are counted, not listed)."""
    kind = e["event"]
    if kind == "run_started":
        return ("resumed" if e.get("resumed") else "started") + f" ({e.get('mode')})"
    if kind == "run_finished":
        return f"[b]{e['outcome']}[/b]" + (f": {e['message']}" if e.get("message") else "")
    if kind == "step_started":
        first = (e.get("rendered") or "").splitlines()[:1]
        phase = "undo " if e.get("phase") == "undo" else ""
        return f"{phase}start" + (f" #{e['attempt']}" if e.get("attempt", 1) > 1 else "") + (f": {first[0]}" if first else "")
    if kind == "step_finished":
        msg = (e.get("message") or "").splitlines()[:1]
        return f"[b]{e['status']}[/b]" + (f": {msg[0]}" if msg and e["status"] != "would-run" else "")
    if kind == "guard":
        return f"{e['guard']} {'held' if e['passed'] else 'failed'}: {e['expression']}"
    if kind == "gate_requested":
        return f"asked {e['gate']}"
    if kind == "gate_answered":
        return f"answered {'yes' if e['approved'] else 'no'}" + (f" ({e['choice']})" if e.get("choice") else "") + (
            f": {e['reason']}" if e.get("reason") else "")
    if kind == "output_truncated":
        from runbook_tui.headless.journal import truncation_text

        return truncation_text(e)
    return kind


def timeline_events(path: Path) -> tuple[list[dict[str, Any]], int]:
    """A journal's events but its output lines, which are only counted: a run that printed
    millions of lines costs one pass over the file, not a list of them in memory."""
    from runbook_tui.headless.journal import read_events

    events, lines = [], 0
    for e in read_events(path):
        if e.get("event") == "output":
            lines += 1
        elif "ts" in e:
            events.append(e)
    return events, lines


class RunsScreen(Screen):
    BINDINGS = [
        # Priority: Enter resumes the highlighted run from either table, in place of their "select".
        Binding("enter", "resume", "Resume", priority=True),
        Binding("e", "export", "Export report"),
        Binding("g", "reload", "Reload"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[Any] = []
        self.exported: Path | None = None

    def compose(self) -> ComposeResult:
        yield ModeBanner()
        with Horizontal(id="runs-body"):
            with Vertical(id="runs-left"):
                yield Label("Runs", classes="section")
                yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
            with Vertical(id="runs-right"):
                yield Label("Timeline", classes="section", id="timeline-title")
                yield DataTable(id="timeline", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-status")
        yield Footer(compact=True, show_command_palette=False)  # ^p is in the help (?)

    def on_mount(self) -> None:
        self.query_one("#runs", DataTable).add_columns("Started", "Procedure", "Mode", "Outcome")
        self.query_one("#timeline", DataTable).add_columns("Time", "Step", "What")
        self.query_one("#runs", DataTable).focus()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.action_reload())  # outcome colours
        self.action_reload()

    @property
    def directory(self) -> Path | None:
        ws = getattr(self.app, "workspace", None)
        return ws.journal_dir if ws is not None else getattr(self.app, "journal_dir", None)

    @work(group="runs-load", exclusive=True, exit_on_error=False)
    async def action_reload(self) -> None:
        from runbook_tui.headless.journal import list_runs

        self.runs = await asyncio.to_thread(list_runs, self.directory)
        table = self.query_one("#runs", DataTable)
        table.clear()
        colours = self.app.theme_variables
        for r in self.runs:
            table.add_row(clock(r.started), Text(r.procedure), Text(r.mode), marked(colours, r.outcome, r.outcome),
                          key=r.run_id)
        if not self.runs:
            self.query_one("#runs-status", Static).update("[dim]No runs yet in the journal.[/]")
        else:
            self.show_timeline()

    @property
    def selected(self) -> Any:
        table = self.query_one("#runs", DataTable)
        row = table.cursor_row
        return self.runs[row] if self.runs and row is not None and 0 <= row < len(self.runs) else None

    @on(DataTable.RowHighlighted, "#runs")
    def _highlighted(self) -> None:
        self.show_timeline()

    @work(group="timeline", exclusive=True, exit_on_error=False)
    async def show_timeline(self) -> None:
        run = self.selected
        if run is None:
            return
        events, lines = await asyncio.to_thread(timeline_events, run.path)
        table = self.query_one("#timeline", DataTable)
        table.clear()
        for e in events:
            table.add_row(time.strftime("%H:%M:%S", time.localtime(e["ts"])), e.get("step_id") or "—",
                          printable(describe(e)))  # rendered commands and messages, as text
        self.query_one("#timeline-title", Label).update(printable(f"Timeline · {run.title} · {run.run_id}"))
        status = f"[dim]{lines} output lines · e: export the Markdown report"
        if run.outcome != "succeeded":
            status += " · Enter: resume"
        self.query_one("#runs-status", Static).update(status + "[/]")

    def action_export(self) -> None:
        from runbook_tui.headless.report import markdown_report

        run = self.selected
        if run is None:
            return
        target = Path(run.path).with_suffix(".md")
        target.write_text(markdown_report(run.path), encoding="utf-8")
        self.exported = target
        self.query_one("#runs-status", Static).update(f"Report written to {target}")
        self.notify(f"Report written to {target}", timeout=6)

    def action_resume(self) -> None:
        from runbook_tui.errors import RunbookError

        run = self.selected
        app: Any = self.app
        if run is None:
            return
        if app.workspace is None:
            self.notify(printable(app.workspace_error or "Still starting: try again in a moment."), severity="warning")
            return
        try:  # the workspace decides, as for `runbook-tui resume`: lab vs live, mode, the run's lock
            again = app.workspace.resume(str(run.path), dry_run=app.mode.dry_run, offline=app.mode.offline)
        except RunbookError as exc:  # e.g. it succeeded: nothing to resume; another process holds it
            why = printable(error_sentence(exc))
            self.query_one("#runs-status", Static).update(Content(f"Cannot resume: {why}"))
            self.notify(why, severity="error", timeout=8)
            return
        mode = Mode(dry_run=again.dry_run, offline=again.offline, lab=app.mode.lab, targets=app.mode.targets)
        app.router.open_run(again.procedure, again.inputs, mode=mode, resume=again)
