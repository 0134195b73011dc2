"""Snapshots of the app-wide screens in the corners operators meet: an 80x24 terminal, the help,
the light theme, a lab with faults. Fixed content as in test_tui_snapshots.py.

Update after an intended change: ``pytest tests/test_tui_snapshots_app.py --snapshot-update``.
"""

from __future__ import annotations

import pytest
from test_tui_support import home_ready, make_app, screen_is, settle

pytestmark = pytest.mark.usefixtures("fixed_world")

SMALL = (80, 24)


async def _runs(pilot) -> None:
    await home_ready(pilot)
    pilot.app.show_runs()
    await screen_is(pilot, "RunsScreen")
    await pilot.app.workers.wait_for_complete()
    await settle(pilot)


class TestSmallTerminal:
    def test_home_at_80x24(self, snap_compare, journal):
        """80x24: the Changes column (read-only / mutating) and the last outcome stay in view; the
        title is what gets cut; the footer's keys fit."""

        async def run_before(pilot):
            await home_ready(pilot)
            await settle(pilot)

        assert snap_compare(make_app(journal), terminal_size=SMALL, run_before=run_before)

    def test_runs_at_80x24(self, snap_compare, journal):
        """80x24: the timeline goes under the runs, both full width."""
        assert snap_compare(make_app(journal), terminal_size=SMALL, run_before=_runs)


class TestHelp:
    def test_help_on_home(self, snap_compare, journal):
        """? on home: the home screen's keys, the focused table's, and the keys that work everywhere."""

        async def run_before(pilot):
            await home_ready(pilot)
            await pilot.press("question_mark")
            await screen_is(pilot, "HelpScreen")
            await settle(pilot)

        assert snap_compare(make_app(journal), terminal_size=(120, 40), run_before=run_before)


class TestLightTheme:
    def test_home_light(self, snap_compare, journal):
        """The light theme: markers and outcomes darkened to read at 4.5:1 (tests/test_tui_theme.py)."""
        app = make_app(journal)
        app.theme = "textual-light"

        async def run_before(pilot):
            await home_ready(pilot)
            await settle(pilot)

        assert snap_compare(app, terminal_size=SMALL, run_before=run_before)

    def test_runs_light(self, snap_compare, journal):
        """The runs screen in the light theme."""
        app = make_app(journal)
        app.theme = "textual-light"
        assert snap_compare(app, terminal_size=SMALL, run_before=_runs)
