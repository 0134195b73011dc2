"""The gate: a modal that shows exactly what will run, where, and what it affects, and waits.

The default is No (focused; n answers it). Escape answers nothing: it says to press y or n. A typed gate starts in its phrase box, where
y and n are letters, not answers; its Yes (and enter in the box) acts only once the phrase matches
exactly. An override's Yes stays disabled until a reason is given. Manual steps show their
instructions and wait for Done.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from runbook_tui.engine.gates import GateAnswer, GateRequest
from runbook_tui.textsafe import printable
from runbook_tui.tui.widgets.gate_text import gate_text

HEADINGS = {
    "plan": "Plan: approve what this run will change",
    "confirm": "Confirm",
    "typed": "Type to confirm",
    "manual": "By hand",
    "choose": "Choose",
    "override": "Blocked by a guard",
    "resume": "Resume",
    "undo": "Undo",
}
YES_LABELS = {"manual": "Done", "override": "Override", "resume": "Run it again", "undo": "Undo it",
              "plan": "Approve plan", "choose": "Choose"}
NO_LABELS = {"manual": "Not done", "override": "Keep blocked", "undo": "Leave it"}


class GateScreen(ModalScreen[GateAnswer | None]):
    DEFAULT_CSS = """
    GateScreen #gate-body:focus { background: $boost; }
    GateScreen #gate-hint { color: $text-muted; height: auto; }
    """
    BINDINGS = [
        Binding("y", "approve", "Yes (approve)"),
        Binding("n", "refuse", "No (refuse)"),
        Binding("escape", "unanswered", "Does not answer: press y or n", show=False, priority=True),
    ]

    def __init__(self, request: GateRequest) -> None:
        super().__init__()
        self.request = request

    @property
    def needs_phrase(self) -> bool:
        return self.request.kind == "typed"

    @property
    def needs_reason(self) -> bool:
        return self.request.needs_reason or self.request.kind == "override"

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical(id="gate-dialog", classes=f"-{r.kind}"):
            yield Static(HEADINGS.get(r.kind, r.kind.title()), id="gate-kind")
            yield Label(printable(r.title + (f"  ·  step {r.step_id}" if r.step_id else "")), id="gate-title",
                        markup=False)
            with VerticalScroll(id="gate-body"):
                yield gate_text(r)
                if r.details:
                    label = "Will change:" if r.kind == "plan" else "Exactly what will run:"
                    yield Label(label, classes="gate-label")
                    yield Static(printable("\n".join(r.details)), id="gate-details", markup=False)
                if r.target:
                    yield Label(printable(f"Target: {r.target}"), classes="gate-label", markup=False)
            yield Static("", id="gate-hint")
            if r.kind == "choose":
                options = [Option(printable(str(c)), id=str(c)) for c in r.choices]
                yield OptionList(*options, id="gate-choices")
            if self.needs_phrase:
                yield Label(printable(f"Type  {r.phrase}  to go ahead:"), classes="gate-label", markup=False)
                yield Input(placeholder="type the phrase above", id="gate-phrase")
            if self.needs_reason:
                yield Label("Reason (recorded in the journal):", classes="gate-label")
                yield Input(placeholder="why", id="gate-reason")
            with Horizontal(id="gate-buttons"):
                yield Button(YES_LABELS.get(r.kind, "Yes") + " (y)", id="yes", variant="error" if r.kind != "manual" else "success",
                             disabled=self.needs_phrase or self.needs_reason)
                yield Button(NO_LABELS.get(r.kind, "No") + " (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.call_after_refresh(self._hint)
        if self.request.kind == "choose" and self.request.default in self.request.choices:
            for chooser in self.query("#gate-choices").results(OptionList):
                chooser.highlighted = list(self.request.choices).index(self.request.default)
        if self.needs_phrase:
            for phrase in self.query("#gate-phrase"):  # (absent if answered before it mounted)
                phrase.focus()  # typing the phrase is the way on; a key typed here is never an answer
            return
        for no in self.query("#no"):
            no.focus()  # the default is No

    def _hint(self) -> None:
        """Say how to read the rest when the details are longer than the dialog."""
        for body in self.query("#gate-body").results(VerticalScroll):
            if body.max_scroll_y > 0:
                self.query_one("#gate-hint", Static).update("more below: tab to the details, then ↑ ↓ pgup pgdn")

    # ---------------------------------------------------------------- answers
    def _allowed(self) -> bool:
        if self.needs_phrase and self.query_one("#gate-phrase", Input).value != self.request.phrase:
            return False
        if self.needs_reason and not self.query_one("#gate-reason", Input).value.strip():
            return False
        return True

    @on(Input.Changed)
    def _recheck(self) -> None:
        self.query_one("#yes", Button).disabled = not self._allowed()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        if self._allowed():
            self.action_approve()
        else:
            self.app.bell()  # not yet: enter submits only a matching phrase

    def action_approve(self) -> None:
        if not self._allowed():
            self.app.bell()
            return
        r = self.request
        typed = self.query_one("#gate-phrase", Input).value if self.needs_phrase else None
        reason = self.query_one("#gate-reason", Input).value.strip() if self.needs_reason else None
        choice = None
        if r.kind == "choose":
            chooser = self.query_one("#gate-choices", OptionList)
            if chooser.highlighted is None:
                self.app.bell()
                return
            choice = str(r.choices[chooser.highlighted])
        self.dismiss(GateAnswer(True, choice=choice, reason=reason, typed=typed))

    def action_unanswered(self) -> None:
        self.notify("This question needs an answer: press y or n.", severity="warning", timeout=3)

    def action_refuse(self) -> None:
        self.dismiss(GateAnswer.no("refused by the operator"))

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.action_approve()

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.action_refuse()
