"""What a finished run leaves to read: the engine's error notices (what stopped it: a team lock
lost, a journal that could not be written), a dry-run's would-have-changed list (each step, its
target, its rendered command), and the changes an undo left for the operator to reverse by hand.

A panel, not a status line: a list of commands does not fit in one line and must not be cut off.
"""

from __future__ import annotations

import re
from typing import Any

from textual.widgets import Markdown

from runbook_tui.textsafe import printable
from runbook_tui.tui.run_state import RunState

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def literal(text: str) -> str:
    """TEXT as Markdown that reads as TEXT: every ASCII punctuation mark backslash-escaped (CommonMark),
    so `<mailserver>`, `*` or `[x]` in an engine's sentence stay as written."""
    return _PUNCTUATION.sub(r"\\\1", text)


def _fence(text: str) -> str:
    fence = "````" if "```" in text else "```"
    return f"{fence}\n{text.rstrip()}\n{fence}"


def counts(state: RunState) -> dict[str, int]:
    tally: dict[str, int] = {}
    for view in state:
        tally[view.status] = tally.get(view.status, 0) + 1
    return tally


def dry_run_markdown(state: RunState) -> str:
    would = [v for v in state if v.status == "would-run"]
    tally = counts(state)
    said = ", ".join(f"{n} {k}" for k, n in tally.items())
    parts = [f"### Dry run: nothing was changed ({said})"]
    if not would:
        parts.append("No step would have changed anything.")
    for view in would:
        where = f" on `{view.target}`" if view.target else " on this machine"
        parts.append(f"**{view.id}**{where}: {view.title}")
        if view.rendered:
            parts.append(_fence(view.rendered))
    unproven = [v.id for v in state if v.status == "unproven"]
    if unproven:
        parts.append("Not provable without the changes before them: " + ", ".join(f"`{s}`" for s in unproven))
    skipped = [v.id for v in state if v.status == "skipped"]
    if skipped:
        parts.append("Skipped: " + ", ".join(f"`{s}`" for s in skipped))
    return printable("\n\n".join(parts))


def by_hand_markdown(state: RunState) -> str:
    left = state.by_hand()
    parts = [f"### Reverse by hand: {len(left)} change(s) still in place"]
    for view in left:
        where = f" on `{view.target}`" if view.target else " on this machine"
        parts.append(f"**{view.id}**{where}: {view.title} ({view.story})")
        if view.rendered:
            parts.append("It ran:\n\n" + _fence(view.rendered))
    return printable("\n\n".join(parts))


def stopped_markdown(state: RunState) -> str:
    errors = state.errors()
    parts = ["### The engine said" if state.outcome == "succeeded" else "### Why the run stopped"]
    parts += [f"- {literal(n.text)}" for n in errors]
    return printable("\n".join(parts))


class RunSummary(Markdown, can_focus=True):
    """Hidden while the run goes; after it, what is left to read (see the module's doc)."""

    DEFAULT_CSS = """
    RunSummary {
        height: auto;
        max-height: 50%;
        border: round $warning;
        padding: 0 1;
        overflow-y: auto;
        display: none;
    }
    RunSummary:focus { border: round $accent; }
    RunSummary MarkdownParagraph, RunSummary MarkdownH3 { margin: 0 0 1 0; }
    RunSummary MarkdownFence { margin: 0 0 1 0; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown = ""

    def show_for(self, state: RunState, *, dry_run: bool) -> None:
        parts = []
        stopped = bool(state.outcome and state.errors())
        if stopped:
            parts.append(stopped_markdown(state))
        if state.by_hand():
            parts.append(by_hand_markdown(state))
        if dry_run and state.outcome:
            parts.append(dry_run_markdown(state))
        text = "\n\n".join(parts)
        self.display = bool(text)
        self.border_title = ("Reverse by hand" if state.by_hand() else "What would have changed"
                             if dry_run and state.outcome else "The run's errors" if stopped else "")
        if text != self._shown:
            self._shown = text
            self.update(text)
