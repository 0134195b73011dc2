"""Snapshots of the gates and the failure screen at 120x40, with fixed content: local procedures whose output is fixed,
a frozen clock, fixed run ids, a journal with fixed timestamps, UTC, no cursor blink.

Update after an intended change: ``pytest tests/test_tui_snapshots.py --snapshot-update``, then
review the SVGs in ``tests/__snapshots__/`` (``pytest --snapshot-report`` shows a diff page).
"""

from __future__ import annotations

import pytest
from test_tui_support import (
    SIZE,
    gate_of,
    home_ready,
    make_app,
    run_finished,
    screen_is,
    settle,
    start,
    to_gate,
    wait_for,
)
from textual.widgets import Input

pytestmark = pytest.mark.usefixtures("fixed_world")


class TestGates:
    def test_plan_gate(self, snap_compare, tmp_path):
        """The plan: every mutating step and what it will run; No focused."""

        async def run_before(pilot):
            await to_gate(pilot, "plan")
            await settle(pilot)

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_confirm_gate(self, snap_compare, tmp_path):
        """A step's confirmation: its text and exactly what will run."""

        async def run_before(pilot):
            await to_gate(pilot, "confirm")
            await settle(pilot)

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_typed_gate_partly_typed(self, snap_compare, tmp_path):
        """A typed gate: Yes stays disabled while the phrase does not match."""

        async def run_before(pilot):
            gate = await to_gate(pilot, "typed")
            gate.query_one("#gate-phrase", Input).focus()
            await pilot.press(*"comm")
            await settle(pilot)

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_manual_gate(self, snap_compare, tmp_path):
        """A manual step: its instructions, waiting for Done."""

        async def run_before(pilot):
            await home_ready(pilot)
            await start(pilot, "manual")
            await gate_of(pilot, "plan")
            await pilot.press("y")
            await gate_of(pilot, "manual")
            await settle(pilot)

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_override_gate(self, snap_compare, tmp_path):
        """A blocked guard: override only with a reason."""

        async def run_before(pilot):
            await home_ready(pilot)
            await start(pilot, "guarded")
            await gate_of(pilot, "override")
            await settle(pilot)

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)


class TestFailure:
    def test_failure_choices(self, snap_compare, tmp_path):
        """A failed step: retry, skip, undo, abort (focused)."""

        async def run_before(pilot):
            await to_gate(pilot, "none", fail="true")
            await screen_is(pilot, "FailureScreen")
            await settle(pilot)

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_undo_gate(self, snap_compare, tmp_path):
        """Undo walks back: the first undo gate is for the last change."""

        async def run_before(pilot):
            await to_gate(pilot, "none", fail="true")
            await screen_is(pilot, "FailureScreen")
            await pilot.press("u")
            await gate_of(pilot, "undo")
            await settle(pilot)

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_after_undo(self, snap_compare, tmp_path):
        """The run after undo: changed steps undone, the failed one marked."""

        async def run_before(pilot):
            await to_gate(pilot, "none", fail="true")
            await screen_is(pilot, "FailureScreen")
            await pilot.press("u")
            for _ in range(2):
                gate = await gate_of(pilot, "undo")
                await pilot.press("y")
                await wait_for(pilot, lambda: pilot.app.screen is not gate, what="the next undo")  # noqa: B023
            await run_finished(pilot)
            await settle(pilot)

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)
