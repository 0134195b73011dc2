"""Runs under Pilot, against real local commands and the real journal: the happy path,
dry-run, resume, quitting mid-command, the inputs form, the command palette."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from test_tui_support import (
    events,
    home_ready,
    make_app,
    run_finished,
    screen_is,
    start,
    wait_for,
)
from textual.widgets import Button, Input

from runbook_tui.headless.journal import list_runs

pytestmark = pytest.mark.usefixtures("at_root")


async def test_happy_path_runs_and_journals(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "hello")
        await run_finished(pilot)
        assert run.state.outcome == "succeeded"
        assert [v.status for v in run.state] == ["ok", "ok"]
        assert list(run.state.step("greet").output.lines) == ["hello", "from the", "runbook"]
        assert "SUCCEEDED" in str(run.query_one("#run-status").render())
        await pilot.press("escape")
        home = await screen_is(pilot, "HomeScreen")
        await wait_for(pilot, lambda: "succeeded" in str(home.query_one("#procedures").get_row("hello")[2]),
                       what="last outcome on home")
    (finished,) = events(tmp_path, "run_finished")
    assert finished["outcome"] == "succeeded" and finished["run_id"] == "20250101-120000-hello-000001"


async def test_dry_run_shows_what_would_run_and_asks_nothing(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "change", dry_run=True, typed={"note": "hi"})
        assert "DRY-RUN" in str(run.query_one("ModeBanner").render())
        await run_finished(pilot)
        assert run.state.outcome == "succeeded"
        assert {v.id: v.status for v in run.state} == {
            "before": "ok", "write": "would-run", "commit": "would-run", "verify": "ok"}
        assert run.state.step("write").rendered == "for i in $(seq 2); do echo hi; done"
        assert not run.state.step("write").output.lines
    assert not events(tmp_path, "gate_requested")
    (started,) = events(tmp_path, "run_started")
    assert started["mode"] == "dry-run"


async def test_resume_an_interrupted_run(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "change", typed={"note": "hi"})
        await screen_is(pilot, "GateScreen")
        await pilot.press("y")  # plan
        await wait_for(pilot, lambda: app.screen.request.kind == "confirm", what="confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen.request.kind == "typed", what="typed")
        run.cancel_run()  # the operator walks away at the typed gate
        await run_finished(pilot)
        assert run.state.outcome == "aborted"
        await screen_is(pilot, "RunScreen")
        await pilot.press("escape")
        await screen_is(pilot, "HomeScreen")
        await pilot.press("r")
        runs = await screen_is(pilot, "RunsScreen")
        await wait_for(pilot, lambda: runs.runs, what="the runs list")
        assert runs.runs[0].outcome == "aborted"
        await pilot.press("enter")  # resume
        resumed = await wait_for(pilot, lambda: next((s for s in app.screen_stack if type(s).__name__ == "RunScreen"
                                                      and s is not run), None), what="the resumed run")
        # Earlier steps show what the journal recorded, not "pending".
        assert resumed.resume is not None and resumed.state.step("write").status == "ok"
        assert resumed.state.step("write").recorded and resumed.state.step("commit").status == "pending"
        plan = await wait_for(pilot, lambda: getattr(app.screen, "request", None) and app.screen, what="plan again")
        assert plan.request.kind == "plan"
        assert [d.split(" ")[0] for d in plan.request.details] == ["commit"]  # write is done already
        await pilot.press("y")
        gate = await wait_for(pilot, lambda: app.screen.request.kind == "typed" and app.screen, what="typed again")
        gate.query_one("#gate-phrase", Input).focus()
        await pilot.press(*"commit", "enter")  # enter in the field answers, once the phrase matches
        await run_finished(pilot)
        assert resumed.state.outcome == "succeeded"
        assert resumed.state.step("write").status == "ok" and resumed.state.step("write").recorded  # not repeated
    runs = list_runs(tmp_path)
    assert len(runs) == 1 and runs[0].outcome == "succeeded"
    started = [e["step_id"] for e in events(tmp_path, "step_started")]
    assert started.count("write") == 1 and started.count("commit") == 1


async def test_quit_stops_the_running_command(tmp_path: Path):
    pidfile = tmp_path / "pid"
    app = make_app(tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "sleepy", typed={"pidfile": str(pidfile)})
        await wait_for(pilot, lambda: list(run.state.step("sleep").output.lines) == ["sleeping"], what="sleep")
        pid = int(pidfile.read_text())
        os.kill(pid, 0)  # running
        await pilot.press("q")
        await screen_is(pilot, "QuitScreen")  # a step is running: asked first
        await pilot.press("c")  # cancel it and quit
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.02)
    (finished,) = events(tmp_path / "runs", "run_finished")
    assert finished["outcome"] == "aborted"
    cancelled = [e for e in events(tmp_path / "runs", "step_finished") if e["status"] == "cancelled"]
    assert [e["step_id"] for e in cancelled] == ["sleep"]


async def test_inputs_are_validated_as_you_type(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        app.start_procedure("change")
        form = await screen_is(pilot, "InputsScreen")
        start_button = form.query_one("#start", Button)
        assert start_button.disabled  # note is required and empty
        assert "required" in str(form.query_one("#error-note").render())
        assert form.query_one("#in-times", Input).value == "2"  # the declared default
        form.query_one("#in-note", Input).focus()
        await pilot.press(*"hello")
        assert not start_button.disabled
        form.query_one("#in-times", Input).value = "two"
        await pilot.pause()
        assert start_button.disabled
        assert "'two' is not a valid int" in str(form.query_one("#error-times").render())
        form.query_one("#in-times", Input).value = "3"
        await pilot.pause()
        assert not start_button.disabled
        assert form.values() == {"note": "hello", "times": 3, "fail": False}


async def test_command_palette_offers_procedures(tmp_path: Path):
    from runbook_tui.tui.commands import RunbookCommands

    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        provider = RunbookCommands(app.screen)
        hits = [hit async for hit in provider.search("dry-run hello")]
        assert hits and str(hits[0].text) == "Dry-run hello"
        hits[0].command()
        form = await screen_is(pilot, "InputsScreen")
        assert form.mode.kind == "dry-run" and form.procedure.id == "hello"
