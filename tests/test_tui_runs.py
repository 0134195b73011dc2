"""The runs screen under Pilot: the journal's runs, a run's timeline, the Markdown report
exported to a file whose path is shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_support import home_ready, make_app, screen_is, wait_for
from textual.widgets import DataTable, Static

pytestmark = pytest.mark.usefixtures("at_root")


async def test_runs_timeline_and_report_export(journal: Path):
    app = make_app(journal)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        await pilot.press("r")
        runs = await screen_is(pilot, "RunsScreen")
        await wait_for(pilot, lambda: len(runs.runs) == 2, what="two runs")
        assert [r.run_id for r in runs.runs] == ["20250101-100000-change-0b0b0b", "20250101-090000-hello-0a0a0a"]
        timeline = runs.query_one("#timeline", DataTable)
        await wait_for(pilot, lambda: timeline.row_count > 10, what="the timeline")
        rows = [[str(c) for c in timeline.get_row_at(i)] for i in range(timeline.row_count)]
        whats = [r[2] for r in rows]
        assert whats[0].startswith("started (live)")
        assert any(r[1] == "verify" and "failed" in r[2] for r in rows)
        assert any(r[1] == "commit" and r[2].startswith("undo start") for r in rows)
        assert "undid 2 step(s)" in whats[-1]
        await pilot.press("e")
        report = journal / "20250101-100000-change-0b0b0b.md"
        assert report.exists()
        text = report.read_text()
        assert text.startswith("# Change a file, gated — failed") and "## Timeline" in text
        assert str(report) in str(runs.query_one("#runs-status", Static).render())
        await pilot.press("down")
        await wait_for(pilot, lambda: timeline.row_count and "hello" in str(
            runs.query_one("#timeline-title").render()), what="the other run's timeline")
        status = runs.query_one("#runs-status", Static)
        assert "resume" not in str(status.render())  # it succeeded
        await pilot.press("enter")  # nothing to resume: says why, stays
        await wait_for(pilot, lambda: "already succeeded; nothing to resume" in str(status.render()), what="why not")
        assert app.screen is runs
        await pilot.press("escape")
        await screen_is(pilot, "HomeScreen")
