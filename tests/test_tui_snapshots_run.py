"""Snapshots of the run side where the look is the point: the run screen at 80x24, a failure
with HAProxy's servers as a table, a plan gate longer than its dialog, the walkthrough keeping
each step's result. Procedures in tests/data/tui_run; update with ``--snapshot-update`` on this file."""

from __future__ import annotations

import pytest
from test_tui_support import SIZE, home_ready, make_app, run_finished, screen_is, settle, start, wait_for

pytestmark = pytest.mark.usefixtures("fixed_world")

PROCEDURES = "tests/data/tui_run"


class TestRunSide:
    def test_run_at_80x24(self, snap_compare, tmp_path):
        """The step list narrows (the status word gives way to the icon) and the output keeps its room."""

        async def run_before(pilot):
            await home_ready(pilot)
            await start(pilot, "hello")
            await run_finished(pilot)
            await settle(pilot)

        assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=run_before)

    def test_failure_with_servers_table(self, snap_compare, tmp_path):
        """A DOWN backend: the servers as a table, DOWN first, beside the failing step's output."""

        async def run_before(pilot):
            await home_ready(pilot)
            await start(pilot, "health")
            await screen_is(pilot, "FailureScreen")
            await settle(pilot)

        app = make_app(tmp_path, procedures=PROCEDURES)
        assert snap_compare(app, terminal_size=(160, 48), run_before=run_before)

    def test_plan_gate_lists_every_item(self, snap_compare, tmp_path):
        """Each item's command; the step whose when is false is named as not listed."""

        async def run_before(pilot):
            await home_ready(pilot)
            await start(pilot, "many")
            await screen_is(pilot, "GateScreen")
            await settle(pilot)

        assert snap_compare(make_app(tmp_path, procedures=PROCEDURES), terminal_size=SIZE, run_before=run_before)

    def test_walkthrough_keeps_results(self, snap_compare, tmp_path):
        """The skipped step and the first result stay listed; the state reads as words."""

        async def run_before(pilot):
            await home_ready(pilot)
            walk = await start(pilot, "walk", walkthrough=True)
            await wait_for(pilot, lambda: walk.current and walk._go is not None, what="Next for look")
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: walk.current.id == "after" and walk._go is not None, what="after")
            await settle(pilot)

        assert snap_compare(make_app(tmp_path, procedures=PROCEDURES), terminal_size=SIZE, run_before=run_before)
