"""Walkthrough: a procedure step by step, its ``why`` large, the state as registered so far
beside what the step expects, and Next only once the previous step is done.

The engine holds before each step on ``RunOptions.before_step`` until Next is pressed, and runs one
step at a time; gates still ask as in any run. What is registered so far comes from the run's
events (``RunState.registered``), as the journal and the other faces see it.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Input, Markdown, Static

from runbook_tui.language.model import Step
from runbook_tui.textsafe import printable
from runbook_tui.tui.run_base import RunScreenBase
from runbook_tui.tui.run_state import StepView
from runbook_tui.tui.widgets.mode_banner import ModeBanner
from runbook_tui.tui.widgets.notices import NoticePanel
from runbook_tui.tui.widgets.output_view import OutputView
from runbook_tui.tui.widgets.parsed_table import result_markdown
from runbook_tui.tui.widgets.run_summary import RunSummary
from runbook_tui.tui.widgets.step_detail import StepDetail
from runbook_tui.tui.widgets.step_list import ICONS, StepList

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _data_words(data: Any) -> str:
    """Parsed data in a few words: its scalars by name, its lists and mappings by size."""
    if isinstance(data, dict):
        said = []
        for key, value in list(data.items())[:8]:
            if isinstance(value, (list, dict)):
                said.append(f"{key}: {len(value)} {'item' if isinstance(value, list) else 'entry'}(s)")
            else:
                said.append(f"{key}: {value}")
        more = f" … and {len(data) - 8} more" if len(data) > 8 else ""
        return "; ".join(said) + more
    if isinstance(data, list):
        return f"{len(data)} item(s)"
    return str(data)[:200]


def value_markdown(name: str, value: Any) -> str:
    """One registered result for a person: how it ended, its first lines, its data (servers as a table)."""
    if not isinstance(value, dict):
        return f"**{name}**: {str(value)[:200]}"
    head = [f"**{name}**"]
    if value.get("status"):
        head.append(str(value["status"]))
    if value.get("exit_code") is not None:
        head.append(f"exit code {value['exit_code']}")
    stdout = (value.get("stdout") or "").strip().splitlines()
    if stdout:
        head.append(f"{len(stdout)} line(s) of output")
    parts = [" · ".join(head)]
    if stdout:
        shown = stdout[:4] + ([f"… {len(stdout) - 4} more"] if len(stdout) > 4 else [])
        parts.append("```\n" + "\n".join(shown) + "\n```")
    table = result_markdown(value, f"{name}.data")
    if table:
        parts.append(table)
    elif value.get("data") not in (None, "", [], {}):
        parts.append(f"data: {_data_words(value['data'])}")
    return "\n\n".join(parts)


def current_markdown(registered: dict[str, Any], step: Step) -> str:
    """What earlier steps registered, limited to the names this step's expressions use."""
    text = " ".join(str(getattr(step, f) or "") for f in ("when", "require", "expect", "until", "run", "local", "assert_"))
    used = {n for n in _NAME.findall(text)} & set(registered)
    if not registered:
        return "### Current state\n\n_Nothing registered yet: this is the first look._"
    if not used:
        listed = ", ".join(f"`{n}`" for n in sorted(registered))
        return f"### Current state\n\nThis step reads nothing registered so far ({listed})."
    parts = ["### Current state"] + [value_markdown(name, registered[name]) for name in sorted(used)[:4]]
    return "\n\n".join(parts)


def result_line(view: StepView) -> str:
    """A finished step in one line, for the results kept on screen."""
    icon = ICONS.get(view.status, ICONS["pending"])[0]  # the step list's own icons
    said = f": {view.message.splitlines()[0]}" if view.message and view.status != "would-run" else ""
    return f"{icon} {view.id} {view.status}{said}"


def expected_markdown(step: Step) -> str:
    parts = ["### Expected"]
    rows = [("runs only when", step.when), ("requires", step.require), ("expects after", step.expect),
            ("waits until", step.until)]
    for label, expr in rows:
        if expr is not None:
            parts.append(f"- {label}: `{expr}`")
    if step.message:
        parts.append(f"- otherwise: {step.message}")
    if step.is_mutating:
        parts.append("- **changes the target**" + (" (asks first)" if step.confirm else ""))
    else:
        parts.append("- read-only")
    if step.undo is not None:
        parts.append(f"- undo: {step.undo.title or 'defined'}")
    if len(parts) == 1:
        parts.append("_No guard: the step's own success is the check._")
    return "\n".join(parts)


class WalkthroughScreen(RunScreenBase):
    DEFAULT_CSS = """
    WalkthroughScreen #walk-results {
        height: auto; max-height: 8; padding: 0 1; color: $text-muted; overflow-y: auto; display: none;
    }
    """
    BINDINGS = [
        Binding("ctrl+n", "next", "Next step", priority=True),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current: Step | None = None
        self._go: asyncio.Future[None] | None = None

    def compose(self) -> ComposeResult:
        yield ModeBanner(self.mode)
        yield Static(self._header(), id="run-header")
        yield NoticePanel(id="notices")
        with Horizontal(id="run-body"):
            yield StepList(self.state, id="steps")
            with Vertical(id="walk-main"):
                yield Markdown("_Starting…_", id="walk-why")
                with Horizontal(id="walk-compare"):
                    yield Markdown("", id="walk-current")
                    yield Markdown("", id="walk-expected")
                yield Static("", id="walk-results", markup=False)
                yield RunSummary(id="run-summary")
                yield OutputView(id="output")
                yield Input(placeholder="search every step's output", id="search")
                with Horizontal(id="walk-buttons"):
                    yield Button("Next", id="next", variant="primary", disabled=True)
                    yield Static("", id="walk-hint")
        yield StepDetail(id="detail")
        yield Static("", id="run-status")
        yield Footer()

    def on_mount(self) -> None:
        # (RunScreenBase.on_mount runs too: Textual calls each class's handler.)
        self.query_one(StepDetail).display = False  # the walkthrough shows its own panels

    def _header(self) -> str:
        return "[b]Walkthrough[/b] · " + super()._header()

    def engine_options(self) -> dict[str, Any]:
        # One step at a time, in order, each held until Next is pressed.
        return {"concurrency": 1, "before_step": self.before_step}

    async def before_step(self, step: Step) -> None:
        """The engine's hook: show the step, enable Next, wait for it."""
        if any(w.is_cancelled for w in self.run_workers):
            return  # cancelled: the engine's cleanup steps run without waiting for Next
        if self._when_false(step):
            return  # the engine skips it: nothing to wait for
        self.current = step
        index = [s.id for s in self.procedure.steps].index(step.id) + 1
        why = self._render_why(step.why) or "_This step says nothing about why._"
        self.query_one("#walk-why", Markdown).update(
            printable(f"## Step {index} of {len(self.procedure.steps)}: {step.label}\n\n{why}"))
        self.query_one("#walk-current", Markdown).update(printable(current_markdown(self.state.registered, step)))
        self.query_one("#walk-expected", Markdown).update(printable(expected_markdown(step)))
        self.state.latest = step.id  # the step about to run is the one to show
        self.query_one(StepList).select_id(step.id)
        button = self.query_one("#next", Button)
        button.label = f"Next: run {step.id}"
        button.disabled = False
        button.focus()
        self.query_one("#walk-hint", Static).update("[dim]enter or ctrl+n runs this step[/]")
        self._go = asyncio.get_running_loop().create_future()
        self._update_status()
        try:
            await self._go
        finally:
            self._go = None
            button.disabled = True
            self.query_one("#walk-hint", Static).update(f"[dim]running {step.id}…[/]")

    def _when_false(self, step: Step) -> bool:
        """The step's ``when`` is false now: the engine will skip it."""
        if step.when is None or self.engine is None:
            return False
        from runbook_tui.language.templating import TemplateProblem, evaluate

        try:
            return not evaluate(step.when, self.engine.context())
        except TemplateProblem:
            return False  # the engine decides, and says so

    def _update_status(self) -> None:
        if self._go is not None and not self._go.done() and self.current is not None and not self.state.outcome:
            self.query_one("#run-status", Static).update(printable(
                f"[yellow]waiting for Next[/]: {self.current.id} runs when you press enter or ctrl+n"))
            return
        super()._update_status()

    def action_next(self) -> None:
        if self._go is not None and not self._go.done():
            self._go.set_result(None)
        else:
            self.app.bell()  # Next only once the step before is done

    @on(Button.Pressed, "#next")
    def _next(self) -> None:
        self.action_next()

    def flush(self) -> None:
        super().flush()
        step = self.current
        if step is None:
            return
        finished = [result_line(v) for v in self.state if v.status not in ("pending", "running")]
        results = self.query_one("#walk-results", Static)
        text = printable("Results so far:\n" + "\n".join(finished)) if finished else ""
        if getattr(results, "_shown", None) != text:
            results._shown = text  # type: ignore[attr-defined]
            results.update(text)
            results.display = bool(text)
        view = self.state.steps.get(step.id)
        if view is not None and view.status not in ("pending", "running") and self._go is None:
            guards = "\n".join(f"- {'✓' if p else '✗'} {g}: `{e}`" for g, e, p, _ in view.guards[-4:])
            result = f"### Result of {view.id}\n\n**{view.status}**" + (f": {view.message}" if view.message and view.status != "would-run" else "")
            text = printable(result + ("\n\n" + guards if guards else ""))
            current = self.query_one("#walk-current", Markdown)
            if getattr(current, "_shown_result", None) != text:
                current._shown_result = text  # type: ignore[attr-defined]
                current.update(text)
            if self.state.outcome:
                self.query_one("#next", Button).label = "Finished"
                self.query_one("#walk-hint", Static).update("[dim]walkthrough finished · escape: back[/]")
