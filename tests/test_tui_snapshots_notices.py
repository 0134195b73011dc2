"""A snapshot of the run screen with an engine notice: a live run whose inventory has no
Kubernetes target, finished, with the lock's warning in the Notices strip under the header.
Update with ``--snapshot-update`` on this file."""

from __future__ import annotations

import pytest
from test_tui_support import SIZE, make_app, run_finished, settle, to_gate, wait_for
from textual.widgets import Input

pytestmark = pytest.mark.usefixtures("fixed_world")


def test_run_with_a_notice(snap_compare, tmp_path):
    async def run_before(pilot):
        app = pilot.app
        gate = await to_gate(pilot, "typed")
        gate.query_one("#gate-phrase", Input).value = "commit"
        await pilot.pause()
        await pilot.click("#yes")
        run = await run_finished(pilot)
        await wait_for(pilot, lambda: run.state.notices, what="the notice")
        app.clear_notifications()  # the toast's timeout runs on the wall clock: not in a snapshot
        await settle(pilot)

    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)
