"""The failure screen keeps the failing step in view: what failed in words, its last output
lines, the attempt after a retry, and Undo only when this run completed a change with an undo."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_gates import _to_failure
from test_tui_support import home_ready, make_app, run_finished, screen_is, start, wait_for
from textual.widgets import Button

pytestmark = pytest.mark.usefixtures("at_root")

FAILING = """\
id: failing
title: A read-only step that fails
summary: Prints many lines, then fails; nothing is changed.
steps:
  - id: count
    title: Count and fail
    local: "for i in $(seq 30); do echo line $i; done; echo 'disk is full' >&2; exit 4"
    mutates: false
"""


def failing_app(tmp_path: Path):
    procedures = tmp_path / "procedures"
    procedures.mkdir()
    (procedures / "failing.yaml").write_text(FAILING)
    return make_app(tmp_path / "journal", procedures=str(procedures))


def plain(screen, selector: str) -> str:
    return screen.query_one(selector).render().plain


async def test_failure_shows_what_failed_its_output_and_the_attempt(tmp_path: Path):
    app = failing_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "failing")
        failure = await screen_is(pilot, "FailureScreen")
        summary = plain(failure, "#failure-summary")
        assert "Count and fail (count) failed: " in summary and "exit code 4" in summary
        shown = plain(failure, "#failure-output")
        assert shown.endswith("line 30\ndisk is full")  # 31 lines (stderr too): the last 15
        assert "line 17\n" in shown and "line 16\n" not in shown and "16 earlier line(s)" in shown
        assert "attempt" not in plain(failure, "#gate-title")
        # Nothing was changed, so there is nothing to undo: no button, and u does nothing.
        assert not failure.query("#undo")
        await pilot.press("u")
        await pilot.pause()
        assert app.screen is failure
        await pilot.press("t")  # try again
        again = await wait_for(pilot, lambda: type(app.screen).__name__ == "FailureScreen"
                               and app.screen is not failure and app.screen, what="the second failure")
        assert "attempt 2" in plain(again, "#gate-title")
        assert run.state.failures == {"count": 2}
        await pilot.click("#abort")
        await pilot.click("#abort-yes")
        await run_finished(pilot)
        assert run.state.outcome in ("failed", "aborted")


async def test_failure_offers_undo_after_a_completed_change(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "change", typed={"note": "hi", "fail": "true"})
        failure = await _to_failure(pilot, app, run)
        assert failure.query_one("#undo", Button).display
        assert plain(failure, "#failure-summary").startswith("Verify (verify) failed: exit code 3")
        assert "verification failed" in plain(failure, "#failure-output")
        assert run.state.undoable_changes() == ["write", "commit"]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_choices_always_show_and_the_evidence_scrolls(tmp_path: Path, size):
    """At 80x24 the failure's evidence (its output) is longer than the screen: it scrolls in the
    room left, and every choice, the abort question and the skip reason stay on screen."""
    app = failing_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await home_ready(pilot)
        await start(pilot, "failing")
        failure = await screen_is(pilot, "FailureScreen")
        await pilot.pause()
        screen = failure.region

        def shown(selector: str) -> bool:
            region = failure.query_one(selector).region
            return region.height > 0 and screen.contains_region(region)

        assert all(shown(f"#{b}") for b in ("retry", "skip", "abort")), [
            (b, failure.query_one(f"#{b}").region) for b in ("retry", "skip", "abort")]
        await pilot.press("x")
        await pilot.pause()
        assert shown("#abort-yes") and shown("#abort-no"), [failure.query_one(s).region for s in ("#abort-yes", "#abort-no", "#gate-dialog", "#gate-buttons")]
        await pilot.press("escape")
        await pilot.press("s")
        await pilot.pause()
        assert shown("#gate-reason")
