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
MIN_NAME = 12  # narrower than this, the status word goes (the icon still says it)
BY_HAND = ("undo declined", "no undo", "undo failed")


def fmt_elapsed(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def status_word(view: StepView) -> str:
    if view.phase == "undo" and view.status == "running":
        return "undoing"
    if view.history[-1:] and view.history[-1] in BY_HAND:
        return "by hand"  # the change is still in place: the operator reverses it
    return view.status


def step_row(state: RunState, view: StepView, width: int, *, status: bool = True) -> Text:
    icon, style = ICONS.get(view.status, ("·", ""))
    depth = view.id.count("/")
    name = "  " * depth + printable(view.id.rsplit("/", 1)[-1])
    name = (name if len(name) <= width else name[: width - 1] + "…").ljust(width)
    row = Text()
    row.append(f"{icon} ", style)
    row.append(name, "bold" if view.status == "running" else "")
    if status:
        word = status_word(view)
        row.append(f" {word:<9}", "bold red" if word == "by hand" else style)
    row.append(f" {fmt_elapsed(state.elapsed(view)):>6}", "dim")
    if view.mutating:
        row.append(" M", "bold yellow")
    return row


class StepList(OptionList):
    DEFAULT_CSS = """
    StepList {
        width: 46;
        max-width: 40%;
        height: 1fr;
        border: round $panel-lighten-2;
    }
    StepList:focus { border: round $accent; }
    """

    def __init__(self, state: RunState, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        self._ids: list[str] = []
        self._layout = (NAME_WIDTH, True)
        self._auto: list[str] = []  # highlights made by code, whose OptionHighlighted is still to come
        self.border_title = "Steps"

    @property
    def name_width(self) -> int:
        return max([len(v.id) for v in self.state] + [4])

    @property
    def layout_(self) -> tuple[int, bool]:
        """The name's width and whether the status word fits, for the list's width now: at
        80 columns the list narrows and its rows with it."""
        room = (self.scrollable_content_region.width or 44) - 2  # a scrollbar may take 2
        fixed = 2 + 10 + 7 + 2  # icon, status word, elapsed time, the M of a mutating step
        names = min(self.name_width, NAME_WIDTH)
        if room - fixed >= min(names, MIN_NAME):
            return min(names, room - fixed), True
        return max(4, min(names, room - fixed + 10)), False

    def _row(self, view: StepView) -> Text:
        width, status = self._layout
        return step_row(self.state, view, width, status=status)

    def on_resize(self) -> None:
        if self.layout_ != self._layout:
            self._layout = self.layout_
            self.rebuild()  # every row, in the new layout

    def rebuild(self) -> None:
        """The step set changed (run started, a called procedure's steps appeared)."""
        highlighted = self.highlighted_id
        self._ids = list(self.state.steps)
        self.clear_options()
        self.add_options(Option(self._row(v), id=v.id) for v in self.state)
        if highlighted in self._ids:
            self._highlight(self._ids.index(highlighted))
        elif self._ids:
            self._highlight(0)

    def refresh_rows(self, ids: set[str] | None = None) -> None:
        if list(self.state.steps) != self._ids:
            self.rebuild()
            return
        for index, sid in enumerate(self._ids):
            if ids is None or sid in ids:
                self.replace_option_prompt_at_index(index, self._row(self.state.steps[sid]))

    @property
    def highlighted_id(self) -> str | None:
        if self.highlighted is None or not 0 <= self.highlighted < len(self._ids):
            return None
        return self._ids[self.highlighted]

    def select_id(self, sid: str) -> None:
        if sid in self._ids:
            self._highlight(self._ids.index(sid))

    def _highlight(self, index: int) -> None:
        if self.highlighted != index:
            self._auto.append(self._ids[index])
            self.highlighted = index

    def by_operator(self, event: OptionList.OptionHighlighted) -> bool:
        """Whether a highlight came from the operator (a key, a click), not from ``select_id``:
        the message arrives later, when the code may have moved on."""
        if event.option_id in self._auto:
            self._auto.remove(event.option_id)
            return False
        return True
