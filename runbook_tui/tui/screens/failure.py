"""A step failed: retry it, skip it (with a reason), undo what this run changed, or abort.

The dialog says in plain words what failed (each failed step's message), which attempt this was
after a retry, and shows the failing step's last lines of output, so the operator decides with
the output in view. Undo is offered only once this run has completed a change that has an undo.
Abort is focused, and asks before it aborts. Escape closes the innermost thing open (the abort
question, else the reason box, else the dialog itself, to read the run's output; t, s, u or x
there bring it back) and never answers. Undo walks the completed steps in reverse, and the
engine gates each one on its own.
"""

from __future__ import annotations

import re

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Markdown, Static

from runbook_tui.engine.gates import GateAnswer, GateRequest
from runbook_tui.textsafe import printable
from runbook_tui.tui.run_state import RunState
from runbook_tui.tui.widgets.gate_text import gate_text
from runbook_tui.tui.widgets.parsed_table import result_markdown

TAIL = 15  # the failing step's last output lines shown in the dialog


def summary(request: GateRequest, state: RunState | None) -> str:
    """What failed, in words: each failed step's title and message (the engine's ``sid: message``)."""
    lines = []
    for detail in request.details:
        sid, _, message = detail.partition(": ")
        view = state.steps.get(sid) if state is not None else None
        name = f"{view.title} ({sid})" if view is not None and view.title != sid else sid
        lines.append(f"{name} failed: {message.strip() or 'no message'}")
    return "\n".join(lines)


def attempt(request: GateRequest, state: RunState | None) -> int:
    """Which attempt of the step failed: one more than the failure gates asked for it before."""
    return state.failures.get(request.step_id, 1) if state is not None else 1


def tail(request: GateRequest, state: RunState | None) -> tuple[list[str], int]:
    """The failing step's last TAIL output lines, and how many came before them."""
    if state is None or request.step_id not in state.steps:
        return [], 0
    output = state.steps[request.step_id].output
    lines = list(output.lines)[-TAIL:]
    return lines, output.total - len(lines)


def evidence(request: GateRequest, state: RunState | None) -> str | None:
    """The parsed data behind the failure, as tables: the failing step's own, else what its
    guards read of earlier steps (``backends`` for "every server is UP")."""
    if state is None or request.step_id not in state.steps:
        return None
    view = state.steps[request.step_id]
    own = result_markdown(view.result, f"{request.step_id} found")
    if own:
        return own
    read = " ".join([view.rendered, *(expr for _, expr, _, _ in view.guards)])
    tables = [result_markdown(value if isinstance(value, dict) else None, f"{name} (registered earlier)")
              for name, value in state.registered.items() if re.search(rf"\b{re.escape(name)}\b", read)]
    return "\n\n".join(t for t in tables if t) or None


# Rows of the failure dialog around its evidence: border, padding, kind, title, summary, the
# buttons and, when open, the skip reason or the abort question.
FRAME_ROWS = 17


class FailureScreen(ModalScreen[GateAnswer | None]):
    BINDINGS = [
        Binding("t", "choose('retry')", "Try the step again"),
        Binding("s", "choose('skip')", "Skip it (asks a reason)"),
        Binding("u", "choose('undo')", "Undo this run's changes"),
        Binding("x", "choose('abort')", "Abort the run (asks)"),
        Binding("escape", "close", "Close (read the output)", priority=True),
    ]

    def __init__(self, request: GateRequest, state: RunState | None = None) -> None:
        super().__init__()
        self.request = request
        self.state = state
        # Undo walks back what this run changed; with no completed change that has an undo,
        # there is nothing for it to do, so it is not offered.
        self.can_undo = state is not None and bool(state.undoable_changes())

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical(id="gate-dialog", classes="-failure"):
            yield Static("A step failed", id="gate-kind")
            title = f"step {r.step_id}" if r.step_id else r.title
            number = attempt(r, self.state)
            if number > 1:
                title += f" · attempt {number}"
            yield Label(printable(title), id="gate-title", markup=False)
            if r.details:
                yield Static(printable(summary(r, self.state)), id="failure-summary", markup=False)
            with VerticalScroll(id="gate-body"):
                yield gate_text(r)
                if r.details:
                    yield Static(printable("\n".join(r.details)), id="gate-details", markup=False)
                table = evidence(r, self.state)
                if table:
                    yield Markdown(table, id="failure-data")
                lines, earlier = tail(r, self.state)
                if lines:
                    more = f"… {earlier} earlier line(s) in the output view\n" if earlier else ""
                    text = Static(printable(more + "\n".join(lines)), id="failure-output", markup=False)
                    text.border_title = f"last output of {r.step_id}"
                    yield text
            yield Label("Reason for skipping (recorded):", classes="gate-label", id="skip-label")
            yield Input(placeholder="why it is safe to go on without this step", id="gate-reason")
            with Horizontal(id="abort-question"):
                yield Label("Abort the run? Nothing more runs but cleanup.", classes="gate-label")
                yield Button("Abort the run", id="abort-yes", variant="error")
                yield Button("Back", id="abort-no", variant="primary")
            with Horizontal(id="gate-buttons"):
                yield Button("Try again (t)", id="retry")
                yield Button("Skip… (s)", id="skip")
                if self.can_undo:
                    yield Button("Undo (u)", id="undo", variant="warning")
                yield Button("Abort… (x)", id="abort", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#skip-label").display = False
        self.query_one("#gate-reason").display = False
        self.query_one("#abort-question").display = False
        self.query_one("#abort", Button).focus()
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """The evidence scrolls within what the screen leaves once the title, the summary, the
        buttons and a skip reason or abort question have their rows: the choices always show,
        and a short failure leaves the run's output visible around the dialog."""
        self.query_one("#gate-body").styles.max_height = max(3, int(self.size.height * 0.9) - FRAME_ROWS)

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
            # Nothing inside is open: close the dialog to read the run's output. The question
            # stays asked; t, s, u or x on the run screen brings it back.
            self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose" and parameters == ("undo",) and not self.can_undo:
            return False  # not offered: hidden from the footer, the key does nothing
        return True

    def action_choose(self, choice: str) -> None:
        if choice not in self.request.choices or choice == "undo" and not self.can_undo:
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
