"""? and F1 open a help listing every key of the screen they were pressed on, read from its live
bindings (so the run side's keys show as they are), grouped; Esc closes only the help."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_failure import failing_app
from test_tui_support import home_ready, make_app, run_finished, screen_is, start, wait_for
from textual.widgets import Input

from runbook_tui.tui.screens.help import describe

pytestmark = pytest.mark.usefixtures("at_root")


async def open_help(pilot, key: str = "f1"):
    source = pilot.app.screen
    await pilot.press(key)
    helped = await screen_is(pilot, "HelpScreen")
    assert helped.source_name == type(source).__name__
    return source, helped


def lists_own_keys(source, text: str) -> None:
    """Every key the source screen itself binds, as it is in force now, is in the help."""
    own = [a.binding for a in source.active_bindings.values() if a.node is source and not a.binding.system]
    assert own, type(source).__name__
    for binding in own:
        assert describe(binding) in text, (binding, text)


async def close_help(pilot, source) -> None:
    await pilot.press("escape")
    await wait_for(pilot, lambda: pilot.app.screen is source, what="the help to close")


async def test_question_mark_on_home_lists_its_keys_grouped_and_escape_closes_it(journal: Path):
    app = make_app(journal)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        home, helped = await open_help(pilot, "question_mark")
        text = helped.text()
        titles = [title for title, _ in helped.groups]
        assert titles == ["Home screen", "In the focused procedures (DataTable)", "Everywhere"]
        home_rows = {row.description: row.keys for row in helped.groups[0][1]}
        assert home_rows == {"Run": "⏎", "Dry-run": "d", "Walk through": "w", "Runs": "r", "Probe targets": "p",
                             **{k: v for k, v in home_rows.items() if k not in
                                ("Run", "Dry-run", "Walk through", "Runs", "Probe targets")}}
        everywhere = {row.description: row.keys for row in helped.groups[-1][1]}
        assert "q" in everywhere["Quit"] and everywhere["Help"] == "?, f1"
        lists_own_keys(home, text)
        await close_help(pilot, home)
        await pilot.press("question_mark")  # and ? again closes it too
        await screen_is(pilot, "HelpScreen")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: app.screen is home, what="? to close the help")


async def test_f1_on_the_inputs_form_while_typing_and_on_the_runs_screen(journal: Path):
    app = make_app(journal)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        app.start_procedure("change")
        form = await screen_is(pilot, "InputsScreen")
        note = form.query_one("#in-note", Input)
        note.focus()
        await pilot.press("a", "question_mark")  # typing: ? is a character here
        assert note.value.endswith("a?") and app.screen is form
        _, helped = await open_help(pilot, "f1")
        lists_own_keys(form, helped.text())
        assert "Back" in helped.text() and "Run" in helped.text()
        await close_help(pilot, form)  # Esc closed the help only, not the form
        await pilot.press("escape")
        home = await screen_is(pilot, "HomeScreen")
        await pilot.press("r")
        runs = await screen_is(pilot, "RunsScreen")
        await wait_for(pilot, lambda: runs.runs, what="the runs")
        _, helped = await open_help(pilot, "question_mark")
        rows = {row.description: row.keys for row in helped.groups[0][1]}
        assert (rows["Resume"], rows["Export report"], rows["Reload"], rows["Back"]) == ("⏎", "e", "g", "esc")
        assert "u" not in rows.values()  # u is Undo, on the failure screen
        await close_help(pilot, runs)
        await pilot.press("escape")
        assert await screen_is(pilot, "HomeScreen") is home


async def test_help_on_the_run_screen_a_gate_and_the_failure_screen(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        await start(pilot, "change", typed={"note": "hi"})
        gate = await screen_is(pilot, "GateScreen")
        _, helped = await open_help(pilot, "f1")
        lists_own_keys(gate, helped.text())
        assert "Yes" in helped.text() and "Help" in helped.text()
        await close_help(pilot, gate)  # the gate is still asking: Esc on the help decided nothing
        assert gate.request.kind == "plan" and app.screen is gate

    app = failing_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "failing")
        failure = await screen_is(pilot, "FailureScreen")
        _, helped = await open_help(pilot, "f1")
        lists_own_keys(failure, helped.text())
        await close_help(pilot, failure)
        assert app.screen is failure
        await pilot.click("#abort")
        await pilot.click("#abort-yes")
        await run_finished(pilot)
        _, helped = await open_help(pilot, "question_mark")
        lists_own_keys(run, helped.text())
        assert helped.groups[0][0] == "Run screen"
        await close_help(pilot, run)


async def test_the_command_palette_opens_the_help_too(journal: Path):
    app = make_app(journal)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        home = app.screen
        await pilot.press("ctrl+p")
        await pilot.press(*"Keys: help")
        await pilot.pause(0.3)
        await pilot.press("enter")
        helped = await screen_is(pilot, "HelpScreen")
        assert helped.source_name == "HomeScreen"
        await close_help(pilot, home)
