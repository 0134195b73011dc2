"""Inputs: a form built from the procedure's inputs, validated as you type, defaults filled in
(declared ones at once, discovered ones as the cluster answers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static, Switch

from runbook_tui.language.inputs import InputError, coerce, resolve
from runbook_tui.language.model import InputSpec, Procedure
from runbook_tui.textsafe import printable
from runbook_tui.tui.mode import Mode
from runbook_tui.tui.sentences import error_sentence
from runbook_tui.tui.widgets.mode_banner import ModeBanner

if TYPE_CHECKING:
    from textual import getters

    from runbook_tui.tui.host import Host


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


class InputsScreen(Screen):
    if TYPE_CHECKING:
        app = getters.app(Host)  # RunbookApp, which screens do not import

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+r", "start", "Run", priority=True),
    ]

    def __init__(self, procedure: Procedure, *, mode: Mode, walkthrough: bool = False) -> None:
        super().__init__()
        self.procedure = procedure
        self.mode = mode
        self.walkthrough = walkthrough
        self.touched: set[str] = set()
        self.errors: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        p = self.procedure
        yield ModeBanner(self.mode)
        with Vertical(id="inputs"):
            verb = "Walk through" if self.walkthrough else ("Dry-run" if self.mode.kind == "dry-run" else "Run")
            yield Static(printable(f"[b]{verb}: {p.title}[/b]\n{p.summary or ''}"), id="inputs-title")
            with VerticalScroll(id="inputs-form"):
                for name, spec in p.inputs.items():
                    required = " [red]*[/]" if spec.required else ""
                    yield Label(printable(f"{spec.prompt or name}{required}  [dim]({name}, {spec.type})[/]"), classes="input-label")
                    yield self._field(name, spec)
                    yield Static("", id=f"error-{name}", classes="input-error")
                    if spec.help:
                        yield Static(printable(spec.help), classes="input-help")
                if not p.inputs:
                    yield Static("[dim]This procedure takes no inputs.[/]")
            yield Static("", id="inputs-status")
            with Horizontal(id="inputs-buttons"):
                yield Button(verb, id="start", variant="error" if self.mode.kind == "live" and p.mutating else "primary")
                yield Button("Cancel", id="cancel")
        yield Footer(compact=True, show_command_palette=False)  # ^p is in the help (?)

    def _field(self, name: str, spec: InputSpec) -> Any:
        if spec.type == "bool":
            return Switch(value=bool(coerce(name, spec, spec.default)) if spec.default is not None else False, id=f"in-{name}")
        if spec.choices:
            options = [(printable(str(c)), c) for c in spec.choices]
            return Select(options, value=spec.default if spec.default in spec.choices else Select.NULL,
                          allow_blank=not spec.required or spec.default is None, id=f"in-{name}")
        return Input(value=as_text(spec.default), placeholder=printable(spec.prompt or name), id=f"in-{name}",
                     password=spec.secret)

    def on_mount(self) -> None:
        self.validate_all()
        first = self.query("#inputs-form Input, #inputs-form Select, #inputs-form Switch")
        (first.first() if first else self.query_one("#start")).focus()
        if any(s.discover for s in self.procedure.inputs.values()) and not self.mode.offline:
            self.discover()

    # ------------------------------------------------------------ validation
    def raw_value(self, name: str) -> Any:
        widget = self.query_one(f"#in-{name}")
        if isinstance(widget, Switch):
            return widget.value
        if isinstance(widget, Select):
            return None if widget.value is Select.NULL else widget.value
        assert isinstance(widget, Input)  # the form holds switches, selects and text inputs
        value = widget.value
        return value if value.strip() else None

    def validate_one(self, name: str) -> None:
        spec = self.procedure.inputs[name]
        value = self.raw_value(name)
        error = ""
        if value is None:
            if spec.required:
                error = f"required: {spec.prompt or name}"
        else:
            try:
                coerce(name, spec, value)
            except InputError as exc:
                error = error_sentence(exc)
        if error:
            self.errors[name] = error
        else:
            self.errors.pop(name, None)
        self.query_one(f"#error-{name}", Static).update(printable(error))  # it may quote the value

    def validate_all(self) -> None:
        for name in self.procedure.inputs:
            self.validate_one(name)
        self.query_one("#start", Button).disabled = bool(self.errors)

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def _changed(self, event: Any) -> None:
        widget_id = event.control.id or ""
        if widget_id.startswith("in-") and self.is_current:  # late messages after leaving: ignore
            name = widget_id[3:]
            if event.control.has_focus:
                self.touched.add(name)
            self.validate_one(name)
            self.query_one("#start", Button).disabled = bool(self.errors)

    @work(group="discover", exclusive=True, exit_on_error=False)
    async def discover(self) -> None:
        status = self.query_one("#inputs-status", Static)
        status.update("[dim]discovering defaults from the targets…[/]")
        found = await self.app.workspace.discover(self.procedure)
        if not self.is_current:
            return  # the operator moved on meanwhile
        filled = []
        for name, value in found.items():
            if name in self.touched or name not in self.procedure.inputs:
                continue
            widget = self.query_one(f"#in-{name}")
            if isinstance(widget, Input):
                widget.value = as_text(value)
            elif isinstance(widget, Select):
                widget.value = value
            elif isinstance(widget, Switch):
                widget.value = bool(value)
            filled.append(name)
        self.validate_all()
        status.update(f"[dim]discovered: {', '.join(filled)}[/]" if filled else "")

    # ------------------------------------------------------------------ start
    def values(self) -> dict[str, Any]:
        given = {}
        for name in self.procedure.inputs:
            value = self.raw_value(name)
            if value is not None:
                given[name] = value
        return resolve(self.procedure, given)

    def action_start(self) -> None:
        if not self.is_current:
            return
        self.validate_all()
        if self.errors:
            self.app.bell()
            return
        try:
            inputs = self.values()
        except InputError as exc:
            self.query_one("#inputs-status", Static).update(printable(f"[red]{error_sentence(exc)}[/]"))
            return
        self.app.router.open_run(self.procedure, inputs, mode=self.mode, walkthrough=self.walkthrough)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.app.pop_screen()
