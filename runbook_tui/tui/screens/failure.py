"""A step failed: retry it, skip it (with a reason), undo what this run changed, or abort.

Abort is focused, and asks before it aborts. Escape closes the innermost thing open (the abort
question, else the reason box) and never aborts. Undo walks the completed steps in reverse, and the
engine gates each one on its own.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from runbook_tui.engine.gates import GateAnswer, GateRequest
from runbook_tui.textsafe import printable
from runbook_tui.tui.widgets.gate_text import gate_text


class FailureScreen(ModalScreen[GateAnswer]):
    BINDINGS = [
        Binding("r", "choose('retry')", "Retry"),
        Binding("s", "choose('skip')", "Skip…"),
        Binding("u", "choose('undo')", "Undo"),
        Binding("a", "choose('abort')", "Abort"),
        Binding("escape", "close", "Close", priority=True),
    ]

    def __init__(self, request: GateRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical(id="gate-dialog", classes="-failure"):
            yield Static("A step failed", id="gate-kind")
            yield Label(printable(f"step {r.step_id}" if r.step_id else r.title), id="gate-title", markup=False)
            with VerticalScroll(id="gate-body"):
                yield gate_text(r)
                if r.details:
                    yield Static(printable("\n".join(r.details)), id="gate-details", markup=False)
            yield Label("Reason for skipping (recorded):", classes="gate-label", id="skip-label")
            yield Input(placeholder="why it is safe to go on without this step", id="gate-reason")
            with Horizontal(id="abort-question"):
                yield Label("Abort the run? Nothing more runs but cleanup.", classes="gate-label")
                yield Button("Abort the run", id="abort-yes", variant="error")
                yield Button("Back", id="abort-no", variant="primary")
            with Horizontal(id="gate-buttons"):
                yield Button("Retry", id="retry")
                yield Button("Skip…", id="skip")
                yield Button("Undo", id="undo", variant="warning")
                yield Button("Abort", id="abort", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#skip-label").display = False
        self.query_one("#gate-reason").display = False
        self.query_one("#abort-question").display = False
        self.query_one("#abort", Button).focus()

    def action_close(self) -> None:
        """Escape: close the innermost thing open; never an answer."""
        question = self.query_one("#abort-question")
        reason = self.query_one("#gate-reason", Input)
        if question.display:
            question.display = False
            self.query_one("#abort", Button).focus()
        elif reason.display:
            reason.display = False
            self.query_one("#skip-label").display = False
            self.query_one("#skip", Button).focus()
        else:
            self.app.bell()

    def action_choose(self, choice: str) -> None:
        if choice not in self.request.choices:
            self.app.bell()
            return
        if choice == "abort":
            question = self.query_one("#abort-question")
            if not question.display:  # aborting always asks
                question.display = True
                self.query_one("#abort-no", Button).focus()
                return
        if choice == "skip":
            reason = self.query_one("#gate-reason", Input)
            if not reason.display or not reason.value.strip():
                self.query_one("#skip-label").display = True
                reason.display = True
                reason.focus()
                return
            self.dismiss(GateAnswer(True, choice="skip", reason=reason.value.strip()))
            return
        self.dismiss(GateAnswer(True, choice=choice))

    @on(Button.Pressed, "#abort-yes")
    def _abort(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(GateAnswer(True, choice="abort"))

    @on(Button.Pressed, "#abort-no")
    def _back(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_close()

    @on(Button.Pressed, "#gate-buttons Button")
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id or "abort")

    @on(Input.Submitted, "#gate-reason")
    def _reason(self) -> None:
        self.action_choose("skip")
