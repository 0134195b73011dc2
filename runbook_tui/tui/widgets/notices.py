"""The engine's notices for the run: what the operator must know that is no step's doing (the team
lock taken, taken over or lost, only this machine's lock holding, a journal that cannot be
written).

Hidden until the engine says one; then a strip under the run's header, one line per notice,
coloured by level (info dim, warning amber, error red). The engine's sentences name Leases,
holders and targets as they are: shown literally, never read as markup.
"""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widgets import Static

from runbook_tui.textsafe import printable
from runbook_tui.tui.run_state import NoticeView

LEVEL_MARKUP = {
    "info": "[dim]· $text[/]",
    "warning": "[$warning]! $text[/]",
    "error": "[bold $error]✗ $text[/]",
}


def notice_content(notice: NoticeView) -> Content:
    earlier = " (earlier in this run)" if notice.recorded else ""
    markup = LEVEL_MARKUP.get(notice.level, LEVEL_MARKUP["warning"])
    return Content.from_markup(markup, text=printable(notice.text) + earlier)


class NoticePanel(Static, can_focus=True):
    """The run's notices, oldest first; it scrolls when they outgrow it."""

    DEFAULT_CSS = """
    NoticePanel {
        height: auto;
        max-height: 5;
        border: none;
        border-top: solid $warning 60%;
        border-title-color: $text-warning;
        padding: 0 1;
        overflow-y: auto;
        display: none;
    }
    NoticePanel.-error { border-top: solid $error; border-title-color: $text-error; }
    NoticePanel:focus { border-top: solid $accent; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self._shown = 0

    def show_for(self, notices: list[NoticeView]) -> None:
        if len(notices) == self._shown:
            return  # notices only ever come in addition
        self._shown = len(notices)
        self.display = bool(notices)
        self.set_class(any(n.level == "error" for n in notices), "-error")
        self.border_title = f"Notices ({len(notices)})"
        self.update(Content("\n").join(notice_content(n) for n in notices))
