"""A step's live output: drawn straight from its bounded buffer, line by line, searchable.

Nothing is copied into the widget: ``render_line`` reads the step's deque, so showing another
step or absorbing a flood costs a refresh, not a rebuild. Line 0 says how many earlier lines
were dropped, when any were. Lines are kept as they arrived and drawn through ``printable``:
a remote ``ESC ] 0 ; ... BEL`` or ``ESC [ 2J`` shows as text and never reaches the terminal.

Long lines scroll sideways, or wrap (``wrap``); each line may carry the time it arrived
(``timestamps``). Text can be selected with the mouse (Textual's selection); ``selected_text``
gives it back as shown.
"""

from __future__ import annotations

import time

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from runbook_tui.textsafe import printable
from runbook_tui.tui.run_state import StepOutput

_MARKER = Style(dim=True, italic=True)
_MATCH = Style(reverse=True, bold=True)
_TIME = Style(dim=True)
_EMPTY = StepOutput()
TIME_WIDTH = 13  # "12:00:01.234 "


def stamp(ts: float) -> str:
    """A line's arrival time as shown: local wall clock to the millisecond."""
    if not ts:
        return " " * (TIME_WIDTH - 1)
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"


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
        Binding("end", "follow", "Follow the newest line", show=False),
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
        self.wrap = False
        self.timestamps = False
        self._width = 0
        self._shown_total = -1
        self._rows: list[tuple[int, int]] = []  # wrapped: (line index or -1 for the marker, start)
        self._wrapped_at = (-1, -1)  # (total, width) the rows were made for

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
            self._wrapped_at = (-1, -1)
        self.refresh_output()

    def refresh_output(self, *, force: bool = False) -> None:
        """New lines may have arrived: resize, keep following, repaint."""
        out = self.output
        if out.total == self._shown_total and not force:
            return
        self._shown_total = out.total
        prefix = TIME_WIDTH if self.timestamps else 0
        if self.wrap:
            self._wrap_rows()
            self.virtual_size = Size(self._text_width, len(self._rows))
        else:
            # Width from recent lines only: scanning thousands at 20 fps would cost more than it gives.
            for line in list(out.lines)[-200:]:
                self._width = max(self._width, len(printable(line)))
            self.virtual_size = Size(self._width + prefix, len(out.lines) + self._offset)
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    @property
    def _text_width(self) -> int:
        return max(10, self.scrollable_content_region.width or self.size.width)

    def _wrap_rows(self) -> None:
        """The display rows of wrapped output, remade when lines arrive or the width changes."""
        width = self._text_width
        if self._wrapped_at == (self.output.total, width):
            return
        self._wrapped_at = (self.output.total, width)
        body = width - (TIME_WIDTH if self.timestamps else 0)
        rows: list[tuple[int, int]] = [(-1, 0)] if self.output.dropped else []
        for index, line in enumerate(self.lines_text()):
            rows.extend((index, start) for start in range(0, max(1, len(line)), max(1, body)))
        self._rows = rows

    def on_resize(self) -> None:
        if self.wrap:
            self.refresh_output(force=True)

    def set_wrap(self, wrap: bool) -> None:
        self.wrap = wrap
        self._wrapped_at = (-1, -1)
        self.scroll_to(x=0, animate=False, immediate=True)
        self.refresh_output(force=True)

    def set_timestamps(self, on: bool) -> None:
        self.timestamps = on
        self._wrapped_at = (-1, -1)
        self.refresh_output(force=True)

    def lines_text(self) -> list[str]:
        """The lines as shown."""
        return [printable(line) for line in self.output.lines]

    def _row(self, row: int) -> tuple[str, int | None, bool]:
        """Display row ROW: its text (time prefix included), its line index, whether it starts
        the line (else it continues a wrapped one)."""
        out = self.output
        if self.wrap:
            if not 0 <= row < len(self._rows):
                return "", None, False
            index, start = self._rows[row]
        else:
            index, start = row - self._offset, 0
            if out.dropped and row == 0:
                index = -1
        if index == -1:
            return f"… {out.dropped} earlier lines not shown (o: the full output)", None, True
        if not 0 <= index < len(out.lines):
            return "", None, False
        text = printable(out.lines[index])
        if self.wrap:
            body = self._text_width - (TIME_WIDTH if self.timestamps else 0)
            text = text[start:start + max(1, body)]
        if self.timestamps:
            prefix = stamp(out.times[index]) + " " if start == 0 else " " * TIME_WIDTH
            text = prefix + text
        return text, index, start == 0

    # ---------------------------------------------------------------- render
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        base = self.rich_style
        text, index, first = self._row(row)
        if index is None and text:
            style = base + _MARKER
        elif index is not None and index == self.match_line:
            style = base + _MATCH
        else:
            style = base
        segments = [Segment(text, style)]
        if self.timestamps and index is not None and first:
            segments = [Segment(text[:TIME_WIDTH], base + _TIME), Segment(text[TIME_WIDTH:], style)]
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(row)) is not None:
            start, end = span
            end = len(text) if end == -1 else end
            highlight = self.screen.get_component_rich_style("screen--selection")
            parts = [*Segment.divide(segments, [start, end, max(end, len(text))]), [], []]
            before, chosen, after = parts[:3]
            segments = [*before, *(Segment(s.text, (s.style or base) + highlight) for s in chosen), *after]
        strip = Strip(segments).crop_extend(scroll_x, scroll_x + width, base)
        return strip.apply_offsets(scroll_x, row)

    # ------------------------------------------------------------- selection
    def _all_rows(self) -> list[str]:
        if self.wrap:
            self._wrap_rows()
            return [self._row(r)[0] for r in range(len(self._rows))]
        return [self._row(r)[0] for r in range(len(self.output.lines) + self._offset)]

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract("\n".join(self._all_rows())), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()

    def selected_text(self) -> str:
        """What the operator selected in this view, as shown; empty when nothing is."""
        selection = self.text_selection
        if selection is None:
            return ""
        got = self.get_selection(selection)
        return got[0] if got else ""

    # ---------------------------------------------------------------- search
    def goto_line(self, index: int) -> None:
        """Mark line INDEX (of ``output.lines``) as the match and bring it to the middle."""
        self.match_line = index
        self.follow = False
        row = index + self._offset
        if self.wrap:
            self._wrap_rows()
            row = next((r for r, (i, _) in enumerate(self._rows) if i == index), row)
        self.scroll_to(y=max(0, row - self.size.height // 2), animate=False, immediate=True)
        self.refresh()

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
                self.goto_line(index)
                self.post_message(self.SearchMoved(self, True))
                return True
        self.match_line = None
        self.refresh()
        self.post_message(self.SearchMoved(self, False))
        return False

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
