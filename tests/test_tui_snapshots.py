"""Snapshots of every screen at 120x40, with fixed content: local procedures whose output is fixed,
a frozen clock, fixed run ids, a journal with fixed timestamps, UTC, no cursor blink.

Update after an intended change: ``pytest tests/test_tui_snapshots.py --snapshot-update``, then
review the SVGs in ``tests/__snapshots__/`` (``pytest --snapshot-report`` shows a diff page).
"""

from __future__ import annotations

import pytest
from test_tui_support import (
    SIZE,
    home_ready,
    make_app,
    run_finished,
    screen_is,
    settle,
    start,
    wait_for,
)
from textual.widgets import Input

pytestmark = pytest.mark.usefixtures("fixed_world")


class TestHome:
    def test_home(self, snap_compare, journal):
        """Procedures with kind and last outcome, the (empty) targets, the LIVE banner."""

        async def run_before(pilot):
            await home_ready(pilot)
            await settle(pilot)

        assert snap_compare(make_app(journal), terminal_size=SIZE, run_before=run_before)

    def test_home_dry_run_banner(self, snap_compare, journal):
        """The amber DRY-RUN banner."""

        async def run_before(pilot):
            await home_ready(pilot)
            await settle(pilot)

        assert snap_compare(make_app(journal, dry_run=True), terminal_size=SIZE, run_before=run_before)


class TestInputs:
    def test_inputs_form_with_an_error(self, snap_compare, tmp_path):
        """The form: defaults filled in, a required input empty, an invalid int explained."""

        async def run_before(pilot):
            await home_ready(pilot)
            pilot.app.start_procedure("change")
            form = await screen_is(pilot, "InputsScreen")
            form.query_one("#in-times", Input).value = "two"
            await settle(pilot)

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)


class TestRun:
    def test_run_succeeded(self, snap_compare, tmp_path):
        """A finished read-only run: steps, the selected step's output and detail."""

        async def run_before(pilot):
            await home_ready(pilot)
            await start(pilot, "hello")
            await run_finished(pilot)
            await settle(pilot)

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_run_dry_run(self, snap_compare, tmp_path):
        """Dry-run: mutating steps shown as would-run with exactly what they would run."""

        async def run_before(pilot):
            await home_ready(pilot)
            run = await start(pilot, "change", dry_run=True, typed={"note": "hi"})
            await run_finished(pilot)
            run.query_one("StepList").focus()
            run.query_one("StepList").select_id("write")
            run.follow_running = False
            run.flush()
            await settle(pilot)

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_run_search(self, snap_compare, tmp_path):
        """Searching a step's output: the match is highlighted."""

        async def run_before(pilot):
            await home_ready(pilot)
            await start(pilot, "flood", typed={"lines": "300"})
            await run_finished(pilot)
            await pilot.press("slash", *"150", "enter")
            await settle(pilot)

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)


class TestRuns:
    def test_runs_and_timeline(self, snap_compare, journal):
        """The journal's runs and the newest run's timeline."""

        async def run_before(pilot):
            await home_ready(pilot)
            await pilot.press("r")
            runs = await screen_is(pilot, "RunsScreen")
            await wait_for(pilot, lambda: runs.runs, what="runs")
            await pilot.app.workers.wait_for_complete()
            await settle(pilot)

        assert snap_compare(make_app(journal), terminal_size=SIZE, run_before=run_before)


class TestWalkthrough:
    def test_walkthrough_second_step(self, snap_compare, tmp_path):
        """The walkthrough at step 2: why, what step 1 registered, what this step expects, Next."""

        async def run_before(pilot):
            await home_ready(pilot)
            walk = await start(pilot, "hello", walkthrough=True)
            await wait_for(pilot, lambda: walk._go is not None, what="Next")
            await pilot.press("enter")
            await wait_for(pilot, lambda: walk.current.id == "check" and walk._go is not None, what="step 2")
            await settle(pilot)

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)
