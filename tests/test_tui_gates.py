"""Gates under Pilot, against real local commands and the real journal: refused, typed,
failure -> undo, skip with a reason, override, manual."""

from __future__ import annotations

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

pytestmark = pytest.mark.usefixtures("at_root")


async def test_gate_refused_changes_nothing(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "change", typed={"note": "hi"})
        gate = await screen_is(pilot, "GateScreen")
        assert gate.request.kind == "plan"
        assert app.focused is gate.query_one("#no", Button)  # the default is No
        assert any("for i in $(seq 2); do echo hi; done" in d for d in gate.request.details)
        await pilot.press("enter")  # enter on the focused No
        await run_finished(pilot)
        assert run.state.outcome == "refused"
        assert run.state.step("write").status == "pending"
    answered = events(tmp_path, "gate_answered")
    assert [(a["gate"], a["approved"]) for a in answered] == [("plan", False)]
    assert not [e for e in events(tmp_path, "step_started") if e["step_id"] != "before"]


async def test_escape_does_not_answer_a_confirm_and_n_refuses(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "change", typed={"note": "hi"})
        await screen_is(pilot, "GateScreen")
        await pilot.press("y")  # plan approved
        gate = await wait_for(pilot, lambda: getattr(app.screen, "request", None) and app.screen.request.kind == "confirm"
                              and app.screen, what="the confirm gate")
        assert gate.query_one("#gate-details").render().plain.strip() == "for i in $(seq 2); do echo hi; done"
        await pilot.press("escape")  # answers nothing: says to press y or n
        await pilot.pause()
        assert app.screen is gate and not run.state.outcome
        assert any("press y or n" in str(n.message) for n in app._notifications)
        await pilot.press("n")
        await run_finished(pilot)
        assert run.state.outcome == "refused"


async def test_typed_gate_needs_the_exact_phrase(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "change", typed={"note": "hi"})
        await screen_is(pilot, "GateScreen")
        await pilot.press("y")  # plan
        await wait_for(pilot, lambda: app.screen.request.kind == "confirm", what="confirm")
        await pilot.press("y")
        gate = await wait_for(pilot, lambda: getattr(app.screen, "request", None) and app.screen.request.kind == "typed"
                              and app.screen, what="the typed gate")
        yes = gate.query_one("#yes", Button)
        phrase = gate.query_one("#gate-phrase", Input)
        assert yes.disabled
        phrase.focus()
        await pilot.press(*"Commit")
        assert yes.disabled  # case matters
        phrase.value = "commi"
        await pilot.pause()
        assert yes.disabled
        await pilot.press("y")  # typed into the field, not an approval
        assert phrase.value == "commiy" and app.screen is gate
        phrase.value = "commit"
        await pilot.pause()
        assert not yes.disabled
        await pilot.click("#yes")
        await run_finished(pilot)
        assert run.state.outcome == "succeeded"
        assert list(run.state.step("write").output.lines) == ["hi", "hi"]
    typed = [a for a in events(tmp_path, "gate_answered") if a["gate"] == "typed"]
    assert typed and typed[0]["approved"] is True


async def _to_failure(pilot, app, run):
    await screen_is(pilot, "GateScreen")
    await pilot.press("y")  # plan
    await wait_for(pilot, lambda: app.screen.request.kind == "confirm", what="confirm")
    await pilot.press("y")
    gate = await wait_for(pilot, lambda: app.screen.request.kind == "typed" and app.screen, what="typed")
    gate.query_one("#gate-phrase", Input).value = "commit"
    await pilot.pause()
    await pilot.click("#yes")
    return await screen_is(pilot, "FailureScreen")


async def test_failure_then_undo_walks_back_in_reverse(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "change", typed={"note": "hi", "fail": "true"})
        failure = await _to_failure(pilot, app, run)
        assert app.focused is failure.query_one("#abort", Button)
        assert "verify: exit code 3" in failure.query_one("#gate-details").render().plain
        await pilot.press("u")
        undo = await wait_for(pilot, lambda: getattr(app.screen, "request", None) and app.screen.request.kind == "undo"
                              and app.screen, what="first undo gate")
        assert undo.request.step_id == "commit"
        await pilot.press("y")
        undo2 = await wait_for(pilot, lambda: getattr(app.screen, "request", None) and app.screen.request.kind == "undo"
                               and app.screen.request.step_id == "write" and app.screen, what="second undo gate")
        assert undo2 is not undo
        await pilot.press("y")
        await run_finished(pilot)
        assert run.state.outcome == "failed"
        assert run.state.step("commit").status == "undone" and run.state.step("write").status == "undone"
        assert run.state.step("verify").status == "failed"
        assert "undid 2 step(s)" in run.state.message
    undo_runs = [e["step_id"] for e in events(tmp_path, "step_started") if e.get("phase") == "undo"]
    assert undo_runs == ["commit", "write"]


async def test_failure_skip_asks_for_a_reason(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "change", typed={"note": "hi", "fail": "true"})
        failure = await _to_failure(pilot, app, run)
        await pilot.press("s")
        reason = failure.query_one("#gate-reason", Input)
        assert reason.display and app.focused is reason and app.screen is failure
        await pilot.press("enter")  # empty reason: still asking
        assert app.screen is failure
        await pilot.press(*"checked by hand")
        await pilot.press("enter")
        await run_finished(pilot)
        assert run.state.outcome == "succeeded"
        assert run.state.step("verify").status == "skipped"
    skip = [a for a in events(tmp_path, "gate_answered") if a["gate"] == "failure"]
    assert skip[0]["choice"] == "skip" and skip[0]["reason"] == "checked by hand"


async def test_override_needs_a_reason(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "guarded")
        gate = await wait_for(pilot, lambda: getattr(app.screen, "request", None) and app.screen, what="override")
        assert gate.request.kind == "override"
        assert "the system is not ready" in gate.request.text
        yes = gate.query_one("#yes", Button)
        assert yes.disabled
        await pilot.press("y")
        assert app.screen is gate  # no reason, no override
        gate.query_one("#gate-reason", Input).value = "verified on the console"
        await pilot.pause()
        assert not yes.disabled
        await pilot.click("#yes")
        await run_finished(pilot)
        assert run.state.outcome == "succeeded"
        assert list(run.state.step("act").output.lines) == ["acted"]
        assert run.state.step("act").guards[0][:3] == ("require", "'ready' == look.stdout.strip()", False)


async def test_manual_step_waits_for_done(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "manual")
        # A manual step mutates by default: the plan comes first.
        plan = await wait_for(pilot, lambda: getattr(app.screen, "request", None) and app.screen, what="plan")
        assert plan.request.kind == "plan"
        await pilot.press("y")
        gate = await wait_for(pilot, lambda: app.screen.request.kind == "manual" and app.screen, what="manual")
        assert "mail dashboard" in gate.request.text
        assert str(gate.query_one("#yes", Button).label) == "Done (y)"  # the key shown on the gate
        await pilot.click("#yes")
        await run_finished(pilot)
        assert run.state.outcome == "succeeded"
        assert run.state.step("look").status == "ok"
