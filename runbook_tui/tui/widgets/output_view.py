"""A step's live output: drawn straight from its bounded buffer, line by line, searchable.

Nothing is copied into the widget: ``render_line`` reads the step's deque, so showing another
step or absorbing a flood costs a refresh, not a rebuild. Line 0 says how many earlier lines
were dropped, when any were. Lines are kept as they arrived and drawn through ``printable``:
a remote ``ESC ] 0 ; ... BEL`` or ``ESC [ 2J`` shows as text and never reaches the terminal.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from runbook_tui.textsafe import printable
from runbook_tui.tui.run_state import StepOutput

_MARKER = Style(dim=True, italic=True)
_MATCH = Style(reverse=True, bold=True)
_EMPTY = StepOutput()


class OutputView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    OutputView {
        background: $surface;
        border: round $panel-lighten-2;
        padding: 0 1;
    }
    OutputView:focus { border: round $accent; }
    """

    BINDINGS = [
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Prev match", show=False),
        Binding("end", "follow", "Follow", show=False),
    ]

    class SearchMoved(Message):
        """The current match changed (or none was found)."""

        def __init__(self, view: "OutputView", found: bool) -> None:
            super().__init__()
            self.view = view
            self.found = found

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.output: StepOutput = _EMPTY
        self.follow = True  # keep the newest line in view while output arrives
        self.query_text = ""
        self.match_line: int | None = None  # index into output.lines
        self._width = 0
        self._shown_total = -1

    # ------------------------------------------------------------------ data
    @property
    def _offset(self) -> int:
        return 1 if self.output.dropped else 0

    def show(self, output: StepOutput) -> None:
        """Show another step's buffer."""
        if output is not self.output:
            self.output = output
            self.match_line = None
            self._width = 0
            self._shown_total = -1
        self.refresh_output()

    def refresh_output(self) -> None:
        """New lines may have arrived: resize, keep following, repaint."""
        out = self.output
        if out.total == self._shown_total:
            return
        self._shown_total = out.total
        # Width from recent lines only: scanning thousands at 20 fps would cost more than it gives.
        for line in list(out.lines)[-200:]:
            self._width = max(self._width, len(printable(line)))
        self.virtual_size = Size(self._width, len(out.lines) + self._offset)
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def lines_text(self) -> list[str]:
        """The lines as shown."""
        return [printable(line) for line in self.output.lines]

    # ---------------------------------------------------------------- render
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if self.output.dropped and index == 0:
            text = f"… {self.output.dropped} earlier lines not shown"
            return Strip([Segment(text, base + _MARKER)]).crop_extend(scroll_x, scroll_x + width, base)
        index -= self._offset
        lines = self.output.lines
        if not 0 <= index < len(lines):
            return Strip.blank(width, base)
        text = printable(lines[index])
        style = base + _MATCH if index == self.match_line else base
        return Strip([Segment(text, style)]).crop_extend(scroll_x, scroll_x + width, base)

    # ---------------------------------------------------------------- search
    def search(self, text: str, *, forward: bool = True, start: int | None = None) -> bool:
        """Move to the next (or previous) line containing ``text``; case-insensitive."""
        self.query_text = text
        needle = text.lower()
        lines = self.output.lines
        count = len(lines)
        if not needle or not count:
            self.match_line = None
            self.refresh()
            return False
        if start is None:
            current = self.match_line if self.match_line is not None else (-1 if forward else count)
            start = current + (1 if forward else -1)
        order = range(start, count) if forward else range(start, -1, -1)
        wrap = range(0, min(start, count)) if forward else range(count - 1, start, -1)
        snapshot = self.lines_text()  # as shown; a deque indexed in a loop is O(n) per access
        for index in [*order, *wrap]:
            if 0 <= index < count and needle in snapshot[index].lower():
                self.match_line = index
                self.follow = False
                self.scroll_to(y=max(0, index + self._offset - self.size.height // 2), animate=False)
                self.refresh()
                self.post_message(self.SearchMoved(self, True))
                return True
        self.match_line = None
        self.refresh()
        self.post_message(self.SearchMoved(self, False))
        return False

    def action_next_match(self) -> None:
        if self.query_text:
            self.search(self.query_text, forward=True)

    def action_previous_match(self) -> None:
        if self.query_text:
            self.search(self.query_text, forward=False)

    def action_follow(self) -> None:
        self.follow = True
        self.match_line = None
        self.scroll_end(animate=False)
        self.refresh()

    def on_mouse_scroll_up(self) -> None:
        self.follow = False  # reading back: stop jumping to the newest line

    def action_scroll_up(self) -> None:
        self.follow = False
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self.follow = False
        super().action_page_up()
