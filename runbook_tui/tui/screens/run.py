"""Run: the step graph with each step's state beside the selected step's live output and detail.

Everything but the layout (the engine's worker, redraws, search, cancel) is in ``RunScreenBase``,
which the walkthrough shares.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, Static

from runbook_tui.tui.run_base import RunScreenBase
from runbook_tui.tui.widgets.mode_banner import ModeBanner
from runbook_tui.tui.widgets.notices import NoticePanel
from runbook_tui.tui.widgets.output_view import OutputView
from runbook_tui.tui.widgets.run_summary import RunSummary
from runbook_tui.tui.widgets.step_detail import StepDetail
from runbook_tui.tui.widgets.step_list import StepList


class RunScreen(RunScreenBase):
    """The engine's notices, if any, under the header; the steps on the left; the selected step's
    output, the search box, what the finished run leaves to read (why it stopped, a dry-run's
    would-change list, what to reverse by hand) and the step's detail on the right."""

    def compose(self) -> ComposeResult:
        yield ModeBanner(self.mode)
        yield Static(self._header(), id="run-header")
        yield NoticePanel(id="notices")
        with Horizontal(id="run-body"):
            yield StepList(self.state, id="steps")
            with Vertical(id="run-right"):
                yield OutputView(id="output")
                yield Input(placeholder="search every step's output (enter: find, escape: close)", id="search")
                yield RunSummary(id="run-summary")
                yield StepDetail(id="detail")
        yield Static("", id="run-status")
        yield Footer()
