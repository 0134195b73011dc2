"""Quit while a step is running: say which step on which target, then stay (the default), wait for
it to finish and quit, or cancel it and quit. Dismissed with "stay", "wait" or "cancel"."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from runbook_tui.textsafe import printable


def describe(view: Any) -> str:
    """One running step, for a person: which, where, and whether it changes its target."""
    where = f"on {view.target}" if view.target else "on this machine"
    title = f" ({view.title})" if view.title and view.title != view.id else ""
    change = "it changes its target" if view.mutating else "read-only"
    return f"step {view.id}{title} {where}: {change}"


class QuitScreen(ModalScreen[str]):
    BINDINGS = [
        Binding("escape", "choose('stay')", "Stay", priority=True),
        Binding("s", "choose('stay')", "Stay"),
        Binding("w", "choose('wait')", "Wait, then quit"),
        Binding("c", "choose('cancel')", "Cancel it and quit"),
    ]

    def __init__(self, steps: list[Any]) -> None:
        super().__init__()
        self.steps = steps

    def compose(self) -> ComposeResult:
        mutating = any(v.mutating for v in self.steps)
        with Vertical(id="gate-dialog", classes="-quit" + (" -mutating" if mutating else "")):
            yield Static("Quit while a step is running?", id="gate-kind")
            running = "\n".join(f"• {describe(v)}" for v in self.steps)
            yield Static(printable(f"Running now:\n{running}"), id="quit-steps", markup=False)
            if mutating:
                yield Label("Cancelling a step that changes things may leave it half-done; the journal "
                            "records it and a resume asks before running it again.", classes="gate-label")
            with Horizontal(id="gate-buttons"):
                yield Button("Wait for it, then quit", id="wait")
                yield Button("Cancel it and quit", id="cancel", variant="error")
                yield Button("Stay", id="stay", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()  # the default is to stay

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "stay")
