"""Cancel the run? Asked on c: says which steps are running where, and keeps running unless the
operator says yes. Escape closes the question (the run goes on); it never cancels."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from runbook_tui.textsafe import printable


def _describe(view: Any) -> str:
    where = f"on {view.target}" if view.target else "on this machine"
    return f"• step {view.id} {where}" + (": it changes its target" if view.mutating else "")


class CancelScreen(ModalScreen[bool]):
    DEFAULT_CSS = "CancelScreen { align: center middle; background: $background 60%; }"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes, cancel the run"),
        Binding("n", "answer(False)", "No, keep running"),
        Binding("escape", "answer(False)", "Close (keep running)", priority=True),
    ]

    def __init__(self, steps: list[Any]) -> None:
        super().__init__()
        self.steps = steps

    def compose(self) -> ComposeResult:
        with Vertical(id="gate-dialog", classes="-cancel"):
            yield Static("Cancel the run?", id="gate-kind")
            running = "\n".join(_describe(v) for v in self.steps) or "• no step is running (waiting on a question)"
            yield Static(printable(f"Running now:\n{running}"), id="cancel-steps", markup=False)
            yield Label("The running step is stopped; nothing more runs but cleanup. The journal records it, "
                        "and a resume asks before running a cut-off step again.", classes="gate-label")
            with Horizontal(id="gate-buttons"):
                yield Button("Cancel the run (y)", id="yes", variant="error")
                yield Button("Keep running (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the default is to keep running

    def action_answer(self, cancel: bool) -> None:
        self.dismiss(cancel)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
