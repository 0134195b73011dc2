"""The selected step in full: the rendered command or patch, guard results, and its ``why``."""

from __future__ import annotations

from typing import Any

from textual.widgets import Markdown

from runbook_tui.textsafe import printable
from runbook_tui.tui.run_state import StepView
from runbook_tui.tui.widgets.parsed_table import result_markdown


def _fence(text: str) -> str:
    fence = "````" if "```" in text else "```"
    return f"{fence}\n{text.rstrip()}\n{fence}"


def step_markdown(view: StepView, why: str | None) -> str:
    where = f" on `{view.target}`" if view.target else ""
    parts = [f"### {view.title}", f"`{view.id}` · {view.status}{where}" + (" · **mutates**" if view.mutating else "")]
    if view.loc:
        parts[-1] += f" · {view.loc}"
    if view.recorded:
        parts.append(f"_Recorded by the run being resumed: {view.status}._")
    if len(view.history) > 1:
        parts.append(f"**History:** {view.story}")
    if view.rendered:
        label = "Would run" if view.status == "would-run" else ("Undo" if view.phase == "undo" else "Runs")
        parts += [f"**{label}:**", _fence(view.rendered)]
    if view.guards:
        parts.append("**Guards:**")
        parts += [
            f"- {'✓' if passed else '✗'} {guard}: `{expr}`" + (f" — {detail}" if detail else "")
            for guard, expr, passed, detail in view.guards[-8:]
        ]
    if view.message and view.status != "would-run":
        parts.append(f"**Result:** {view.message}")
    elif view.message:
        parts += ["**Preview:**", _fence(view.message)]
    table = result_markdown(view.result)
    if table:
        parts.append(table)
    if why:
        parts += ["---", why.strip()]
    return printable("\n\n".join(parts))  # commands, results and values as text, never as controls


class StepDetail(Markdown, can_focus=True):
    DEFAULT_CSS = """
    StepDetail {
        height: auto;
        max-height: 45%;
        border: round $panel-lighten-2;
        padding: 0 1;
        overflow-y: auto;
    }
    StepDetail:focus { border: round $accent; }
    StepDetail MarkdownParagraph, StepDetail MarkdownH3 { margin: 0 0 1 0; }
    StepDetail MarkdownFence { margin: 0 0 1 0; }
    StepDetail MarkdownFence > Label { padding: 0 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Detail"
        self._shown = ""
        self._updating: Any = None

    def show(self, view: StepView | None, why: str | None) -> None:
        text = step_markdown(view, why) if view else "_No step selected._"
        if text != self._shown:
            self._shown = text
            self._updating = self.update(text)

    async def settled(self) -> None:
        """Wait until the latest text is laid out (Markdown updates in the background)."""
        if self._updating is not None:
            await self._updating
            self._updating = None
