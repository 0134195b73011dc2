"""Help (? or F1): every key that works on the screen it was opened from, grouped, with what it does.

The keys are read from the live bindings when help opens (the focused widget's, the screen's and
the app's, as Textual resolves them), never listed here, so a screen's new keys show by themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static


@dataclass(frozen=True)
class KeyRow:
    keys: str  # as the footer shows them: "?, f1"
    description: str
    enabled: bool = True


def describe(binding: Binding) -> str:
    return binding.description or binding.tooltip or binding.action.replace("_", " ").replace("app.", "")


def group_title(node: DOMNode, screen: Screen) -> str:
    if isinstance(node, App):
        return "Everywhere"
    if node is screen:
        name = type(screen).__name__.removesuffix("Screen") or "This screen"
        return f"{name} screen"
    what = (node.id or "").replace("-", " ").replace("_", " ") or type(node).__name__
    where = "the focused" if node is screen.focused else "the part holding the focus:"
    return f"In {where} {what} ({type(node).__name__})"


def key_groups(screen: Screen) -> list[tuple[str, list[KeyRow]]]:
    """What each key does on SCREEN now: the screen first, then the focused widget, then the app's.
    Keys for the same action are one row; hidden system keys are left out."""
    app = screen.app
    found: list[tuple[DOMNode, Binding, bool]] = [
        (active.node, active.binding, active.enabled) for active in screen.active_bindings.values()
    ]
    if screen.is_modal:  # on a modal only the app's priority keys still act
        taken = {binding.key for _, binding, _ in found}
        found += [(app, b, True) for b in Binding.make_bindings(app.BINDINGS)
                  if b.priority and b.key not in taken]
    # Textual's own screen keys (focus next, copy) after the screen's: less asked for.
    common = {b.action for b in Binding.make_bindings(Screen.BINDINGS)}
    found.sort(key=lambda item: item[0] is screen and item[1].action in common)
    groups: dict[DOMNode, dict[tuple[str, str], list[str]]] = {}
    enabled: dict[tuple[str, str], bool] = {}
    for node, binding, on in found:
        if binding.system:
            continue
        row = (binding.action, describe(binding))
        groups.setdefault(node, {}).setdefault(row, []).append(app.get_key_display(binding))
        enabled[row] = enabled.get(row, False) or on

    def rank(node: DOMNode) -> int:
        return 0 if node is screen else 2 if isinstance(node, App) else 1

    return [
        (group_title(node, screen), [KeyRow(", ".join(keys), text, enabled[(action, text)])
                                     for (action, text), keys in rows.items()])
        for node, rows in sorted(groups.items(), key=lambda item: rank(item[0]))
    ]


def as_text(rows: Iterable[KeyRow]) -> str:
    rows = list(rows)
    width = max((len(r.keys) for r in rows), default=0)
    return "\n".join(f"  {r.keys:<{width}}  {r.description}" + ("" if r.enabled else "  (not now)") for r in rows)


class HelpScreen(ModalScreen[None]):
    """Opened over SOURCE; Esc (or ? / F1 again) closes it."""

    BINDINGS = [Binding("escape", "close", "Close help")]

    def __init__(self, source: Screen) -> None:
        super().__init__()
        self.source_name = type(source).__name__
        self.groups = key_groups(source)

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static("Keys", id="help-title")
            with VerticalScroll(id="help-body"):
                for title, rows in self.groups:
                    yield Label(title, classes="help-group")
                    yield Static(as_text(rows), classes="help-keys", markup=False)
            yield Static("Esc closes this help.", id="help-hint")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()  # arrows and page keys scroll a long list

    def text(self) -> str:
        """Everything the help lists, as plain text (for tests and the screenshots)."""
        return "\n".join(f"{title}\n{as_text(rows)}" for title, rows in self.groups)

    def action_close(self) -> None:
        self.dismiss(None)
