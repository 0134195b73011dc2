"""Keys on the gates do what the operator means: a typed gate is typed into, not refused by a
letter of the phrase; escape on the failure screen closes the innermost thing and never aborts,
and aborting asks first."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_support import events, gate_of, home_ready, make_app, run_finished, screen_is, start, wait_for
from textual.widgets import Button, Input

pytestmark = pytest.mark.usefixtures("at_root")


async def _to_typed(pilot):
    await gate_of(pilot, "plan")
    await pilot.press("y")
    await gate_of(pilot, "confirm")
    await pilot.press("y")
    return await gate_of(pilot, "typed")


async def test_typing_the_phrase_goes_into_the_box(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "change", typed={"note": "hi"})
        gate = await _to_typed(pilot)
        phrase = gate.query_one("#gate-phrase", Input)
        assert app.focused is phrase  # not No: the phrase's letters must not answer
        assert "commit" not in phrase.placeholder  # an empty box must not look filled in
        await pilot.press("n", "y")  # shortcuts are letters here
        assert phrase.value == "ny" and app.screen is gate
        await pilot.press("backspace", "backspace", *"commi", "enter")  # not the phrase yet
        assert app.screen is gate and phrase.value == "commi"
        await pilot.press("t", "enter")
        await run_finished(pilot)
        assert run.state.outcome == "succeeded"
    typed = [a for a in events(tmp_path, "gate_answered") if a["gate"] == "typed"]
    assert typed[0]["approved"] is True


async def test_escape_on_the_failure_screen_never_aborts(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "change", typed={"note": "hi", "fail": "true"})
        gate = await _to_typed(pilot)
        gate.query_one("#gate-phrase", Input).value = "commit"
        await pilot.pause()
        await pilot.click("#yes")
        failure = await screen_is(pilot, "FailureScreen")
        await pilot.press("s")
        reason = failure.query_one("#gate-reason", Input)
        await pilot.press(*"checked")
        await pilot.press("escape")  # closes the reason box
        assert app.screen is failure and not reason.display
        assert app.focused is failure.query_one("#skip", Button)
        await pilot.press("escape")  # nothing left to close: the dialog goes, to read the output
        await screen_is(pilot, "RunScreen")
        assert not run.state.outcome and run.running  # still asking: nothing was decided
        await wait_for(pilot, lambda: "waiting for your decision" in str(run.query_one("#run-status").render()),
                       what="the status line to say a decision is pending")
        await pilot.press("escape")  # on the run screen: back is refused while the run waits
        assert app.screen is run and not run.state.outcome
        await pilot.press("x")  # brings the question back
        failure = await screen_is(pilot, "FailureScreen")
        await pilot.press("x")  # aborting asks
        question = failure.query_one("#abort-question")
        assert app.screen is failure and question.display
        assert app.focused is failure.query_one("#abort-no", Button)
        await pilot.press("escape")  # closes the question
        assert app.screen is failure and not question.display
        await pilot.press("enter")  # on the focused Abort: asks again
        assert app.screen is failure and question.display
        await pilot.click("#abort-yes")
        await run_finished(pilot)
        assert run.state.outcome == "failed"
    (answer,) = [a for a in events(tmp_path, "gate_answered") if a["gate"] == "failure"]
    assert answer["choice"] == "abort"
