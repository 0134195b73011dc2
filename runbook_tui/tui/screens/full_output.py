"""A step's whole output, full screen, when no pager can take the terminal (as in a test, or
with no ``less`` installed): scrollable, searchable, selectable; escape goes back."""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from runbook_tui.textsafe import printable
from runbook_tui.tui.run_state import StepOutput
from runbook_tui.tui.widgets.output_view import OutputView


class FullOutputScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    FullOutputScreen { background: $background; }
    FullOutputScreen #full-title { height: 1; padding: 0 1; text-style: bold; }
    FullOutputScreen OutputView { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back to the run"),
        Binding("l", "wrap", "Wrap lines"),
    ]

    def __init__(self, step_id: str, lines: list[str]) -> None:
        super().__init__()
        self.step_id = step_id
        self.output = StepOutput(lines=deque(lines), times=deque([0.0] * len(lines)), total=len(lines))

    def compose(self) -> ComposeResult:
        yield Static(printable(f"Full output of {self.step_id} · {self.output.total} line(s), from the journal"),
                     id="full-title", markup=False)
        yield OutputView(id="full-output")
        yield Footer()

    def on_mount(self) -> None:
        view = self.query_one(OutputView)
        view.follow = False
        view.show(self.output)
        view.focus()

    def action_wrap(self) -> None:
        view = self.query_one(OutputView)
        view.set_wrap(not view.wrap)
