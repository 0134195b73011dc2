"""The step graph as a list in procedure order: each step's state, elapsed time, what it needs."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from runbook_tui.textsafe import printable
from runbook_tui.tui.run_state import RunState, StepView

ICONS = {
    "pending": ("·", "dim"),
    "running": ("▶", "bold cyan"),
    "ok": ("✓", "green"),
    "failed": ("✗", "bold red"),
    "skipped": ("–", "dim"),
    "blocked": ("■", "red"),
    "would-run": ("◌", "yellow"),
    "unproven": ("?", "yellow"),
    "undone": ("↶", "magenta"),
    "cancelled": ("⨯", "red"),
}


NAME_WIDTH = 20  # the row must fit the list's width: a wrapped row reads as two steps


def fmt_elapsed(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def step_row(state: RunState, view: StepView, width: int) -> Text:
    icon, style = ICONS.get(view.status, ("·", ""))
    depth = view.id.count("/")
    name = "  " * depth + printable(view.id.rsplit("/", 1)[-1])
    name = (name if len(name) <= width else name[: width - 1] + "…").ljust(width)
    row = Text()
    row.append(f"{icon} ", style)
    row.append(name, "bold" if view.status == "running" else "")
    status = "undoing" if view.phase == "undo" and view.status == "running" else view.status
    row.append(f" {status:<9}", style)
    row.append(f" {fmt_elapsed(state.elapsed(view)):>6}", "dim")
    if view.mutating:
        row.append(" M", "bold yellow")
    return row


class StepList(OptionList):
    DEFAULT_CSS = """
    StepList {
        width: 46;
        height: 1fr;
        border: round $panel-lighten-2;
    }
    StepList:focus { border: round $accent; }
    """

    def __init__(self, state: RunState, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        self._ids: list[str] = []
        self.border_title = "Steps"

    @property
    def name_width(self) -> int:
        return max([len(v.id) for v in self.state] + [8])

    def rebuild(self) -> None:
        """The step set changed (run started, a called procedure's steps appeared)."""
        highlighted = self.highlighted_id
        width = min(self.name_width, NAME_WIDTH)
        self._ids = list(self.state.steps)
        self.clear_options()
        self.add_options(Option(step_row(self.state, v, width), id=v.id) for v in self.state)
        if highlighted in self._ids:
            self.highlighted = self._ids.index(highlighted)
        elif self._ids:
            self.highlighted = 0

    def refresh_rows(self, ids: set[str] | None = None) -> None:
        if list(self.state.steps) != self._ids:
            self.rebuild()
            return
        width = min(self.name_width, NAME_WIDTH)
        for index, sid in enumerate(self._ids):
            if ids is None or sid in ids:
                self.replace_option_prompt_at_index(index, step_row(self.state, self.state.steps[sid], width))

    @property
    def highlighted_id(self) -> str | None:
        if self.highlighted is None or not 0 <= self.highlighted < len(self._ids):
            return None
        return self._ids[self.highlighted]

    def select_id(self, sid: str) -> None:
        if sid in self._ids:
            self.highlighted = self._ids.index(sid)
