"""The two engine changes the TUI relies on: the ``before_step`` hook a walkthrough holds its
Next on, and a resume that goes on past the steps it already finished."""

from __future__ import annotations

import asyncio

from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import AutoGates
from runbook_tui.engine.runner import Engine, ResumeState, RunOptions
from runbook_tui.language.inventory import Inventory
from runbook_tui.language.model import Procedure


def proc() -> Procedure:
    return Procedure.model_validate({"id": "t", "title": "T", "steps": [
        {"id": "a", "local": "echo a", "mutates": False},
        {"id": "b", "local": "echo b", "mutates": False},
        {"id": "c", "local": "echo c", "mutates": False},
    ]})


async def test_before_step_holds_each_step_until_released():
    events: list[ev.Event] = []
    held: list[str] = []
    gate = asyncio.Queue()

    async def before(step) -> None:
        held.append(step.id)
        await gate.get()

    engine = Engine(proc(), Inventory(), inputs={}, gates=AutoGates(yes=True), subscribers=[events.append],
                    options=RunOptions(concurrency=1, before_step=before))
    task = asyncio.create_task(engine.run())
    for expected in ("a", "b", "c"):
        while len(held) < ("a", "b", "c").index(expected) + 1:
            await asyncio.sleep(0.01)
        started = [e.step_id for e in events if isinstance(e, ev.StepStarted)]
        assert held[-1] == expected and expected not in started  # held before it starts
        gate.put_nowait(None)
    report = await asyncio.wait_for(task, 10)
    assert report.outcome == "succeeded" and held == ["a", "b", "c"]


async def test_cancel_while_held_aborts_cleanly():
    events: list[ev.Event] = []
    never = asyncio.Event()

    async def before(step) -> None:
        await never.wait()

    engine = Engine(proc(), Inventory(), inputs={}, gates=AutoGates(yes=True), subscribers=[events.append],
                    options=RunOptions(before_step=before))
    task = asyncio.create_task(engine.run())
    await asyncio.sleep(0.05)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    finished = [e for e in events if isinstance(e, ev.RunFinished)]
    assert [f.outcome for f in finished] == ["aborted"]
    assert not [e for e in events if isinstance(e, ev.StepStarted)]


async def test_resume_runs_the_steps_after_those_already_done():
    events: list[ev.Event] = []
    state = ResumeState(run_id="r-1", next_seq=10, statuses={"a": "ok"}, results={}, inflight=[])
    engine = Engine(proc(), Inventory(), inputs={}, gates=AutoGates(yes=True), subscribers=[events.append],
                    resume=state)
    report = await engine.run()
    started = [e.step_id for e in events if isinstance(e, ev.StepStarted)]
    assert started == ["b", "c"]
    assert report.outcome == "succeeded" and report.statuses == {"a": "ok", "b": "ok", "c": "ok"}
