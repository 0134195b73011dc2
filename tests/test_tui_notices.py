"""The engine's notices on the run screen and the walkthrough, from real runs: the team lock's
word when the inventory has no Kubernetes target (information: no toast), a journal whose disk fills mid-run
(an error that stops the run, shown on the end-of-run summary too), and a resumed run's earlier
notices read back from its journal."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_full_disk import tmpfs
from test_tui_support import events, home_ready, make_app, run_finished, screen_is, start, to_gate, wait_for
from textual.widgets import Input

from runbook_tui.engine import events as ev
from runbook_tui.tui.run_state import RunState
from runbook_tui.tui.run_tools import journal_notices
from runbook_tui.tui.widgets.notices import NoticePanel
from runbook_tui.tui.widgets.run_summary import RunSummary

pytestmark = pytest.mark.usefixtures("at_root")

NO_LEASE = "The inventory has no Kubernetes target to hold a team-wide Lease in: only this machine's lock keeps other runs out."


def panel_text(screen) -> str:
    panel = screen.query_one(NoticePanel)
    return str(panel.render()) if panel.display else ""


def toasts(app) -> list[tuple[str, str]]:
    return [(n.severity, n.message) for n in app._notifications]


def test_notices_are_kept_in_order_and_errors_picked_out() -> None:
    state = RunState()
    state.apply(ev.Notice(text="took over the Lease", level="info"))
    state.take_dirty()
    state.apply(ev.Notice(text="the journal is full", level="error"))
    assert state.take_dirty()[2]  # the run's view redraws
    state.seed_notices([("said before the resume", "warning")])
    assert [(n.text, n.level, n.recorded) for n in state.notices] == [
        ("said before the resume", "warning", True), ("took over the Lease", "info", False),
        ("the journal is full", "error", False)]
    assert [n.text for n in state.errors()] == ["the journal is full"]


def test_journal_notices_reads_only_what_was_there(tmp_path: Path) -> None:
    """A resumed run appends to the journal being read: only the bytes there at the start count."""
    path = tmp_path / "run.jsonl"
    first = [ev.Notice(text="one", level="info"), ev.OutputLine(step_id="s", stream="stdout", text='"notice" in output')]
    import json

    path.write_text("".join(json.dumps(e.to_dict()) + "\n" for e in first))
    size = path.stat().st_size
    with path.open("a") as f:
        f.write(json.dumps(ev.Notice(text="two").to_dict()) + "\n")
    assert journal_notices(path, size) == [("one", "info")]
    assert journal_notices(path, path.stat().st_size) == [("one", "info"), ("two", "warning")]


async def test_the_lock_notice_shows_on_the_run_screen(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await to_gate(pilot, "plan")  # the lock is taken before the plan gate asks
        run = next(s for s in app.screen_stack if type(s).__name__ == "RunScreen")
        await wait_for(pilot, lambda: panel_text(run), what="the notices panel")
        assert panel_text(run) == f"· {NO_LEASE}"
        assert run.query_one(NoticePanel).border_title == "Notices (1)"
        assert not [t for t in toasts(app) if NO_LEASE in t[1]]  # the usual case on a laptop: no toast
        await pilot.press("y")
        gate = await wait_for(pilot, lambda: app.screen.request.kind == "confirm" and app.screen, what="confirm")
        await pilot.press("y")
        gate = await wait_for(pilot, lambda: app.screen.request.kind == "typed" and app.screen, what="typed")
        gate.query_one("#gate-phrase", Input).value = "commit"
        await pilot.pause()
        await pilot.click("#yes")
        await run_finished(pilot)
        assert run.state.outcome == "succeeded" and panel_text(run) == f"· {NO_LEASE}"
        assert not run.query_one(RunSummary).display  # information is no reason the run stopped
    assert [e["text"] for e in events(tmp_path, "notice")] == [NO_LEASE]


async def test_the_walkthrough_shows_notices_too(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        walk = await start(pilot, "change", walkthrough=True, typed={"note": "hi"})
        await wait_for(pilot, lambda: walk.current and walk._go is not None, what="Next for before")
        assert not walk.query_one(NoticePanel).display  # nothing said yet
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: walk.current.id == "write" and walk._go is not None, what="Next for write")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: getattr(app.screen, "request", None) is not None, what="the plan gate")
        await wait_for(pilot, lambda: panel_text(walk), what="the notices panel")
        assert panel_text(walk) == f"· {NO_LEASE}"
        walk.cancel_run()
        await run_finished(pilot)


FILLS = """\
id: fills
title: Two changes, the journal's disk fills between them
steps:
  - id: a
    local: touch {tmp}/a
  - id: fill
    title: Something else fills the disk
    local: head -c 64M /dev/zero > {disk}/filler || true
    mutates: false
  - id: c
    local: touch {tmp}/c
"""


async def test_an_error_notice_that_stopped_the_run_is_on_the_summary(tmp_path: Path):
    """The journal's disk fills after the first change: the engine says so (an error) and stops
    before the next. The sentence names the journal's folder, brackets and all, as written."""
    procs = tmp_path / "procs"
    procs.mkdir()
    with tmpfs(tmp_path / "disk", "24m") as disk:
        (procs / "fills.yaml").write_text(FILLS.format(tmp=tmp_path, disk=disk))
        journal = disk / "[b]runs<mx>"
        app = make_app(journal, procedures=str(procs), preferences=tmp_path / "preferences.json")
        async with app.run_test(size=(120, 40)) as pilot:
            await home_ready(pilot)
            run = await start(pilot, "fills")
            await screen_is(pilot, "GateScreen")
            await pilot.press("y")  # the plan
            await run_finished(pilot)
            assert run.state.outcome == "failed" and not (tmp_path / "c").exists()
            (error,) = run.state.errors()
            assert "No space left on device" in error.text and "[b]runs<mx>" in error.text
            shown = panel_text(run)
            assert shown.splitlines()[0] == f"· {NO_LEASE}"
            assert shown.splitlines()[1].startswith("✗ ") and "[b]runs<mx>" in shown  # literally, not bold
            assert run.query_one(NoticePanel).has_class("-error")
            assert ("error", error.text) in toasts(app)
            summary = run.query_one(RunSummary)
            assert summary.display and summary.border_title == "The run's errors"
            assert "### Why the run stopped" in summary.source
            rendered = "\n".join(str(block._content) for block in summary.query("MarkdownBlock")
                                 if getattr(block, "_content", None) is not None)
            assert "[b]runs<mx>" in rendered and "No space left on device" in rendered


async def test_a_resumed_run_shows_the_notices_its_journal_holds(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        gate = await to_gate(pilot, "typed")
        first = next(s for s in app.screen_stack if type(s).__name__ == "RunScreen")
        first.cancel_run()  # the operator walks away at the typed gate
        await run_finished(pilot)
        await pilot.press("escape")
        await screen_is(pilot, "HomeScreen")
        await pilot.press("r")
        runs = await screen_is(pilot, "RunsScreen")
        await wait_for(pilot, lambda: runs.runs, what="the runs list")
        await pilot.press("enter")  # resume
        resumed = await wait_for(pilot, lambda: next((s for s in app.screen_stack if type(s).__name__ == "RunScreen"
                                                      and s is not first), None), what="the resumed run")
        gate = await wait_for(pilot, lambda: getattr(app.screen, "request", None) and app.screen, what="plan again")
        assert gate.request.kind == "plan"
        await wait_for(pilot, lambda: len(resumed.state.notices) == 2, what="both notices")
        earlier, now = resumed.state.notices
        assert (earlier.text, earlier.recorded) == (NO_LEASE, True)
        assert (now.text, now.recorded) == (NO_LEASE, False)  # the resumed part took the lock again
        await wait_for(pilot, lambda: "(earlier in this run)" in panel_text(resumed), what="the earlier notice")
        assert panel_text(resumed) == f"· {NO_LEASE} (earlier in this run)\n· {NO_LEASE}"
        resumed.cancel_run()
        await run_finished(pilot)
