"""The team lock is begun at the run's start, while its first steps only read, and is held before
its plan gate as before; a run that stops before any change lets it go all the same. Against the
lab's real API server, read with the official client as another operator would."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import AutoGates
from runbook_tui.transports.kube.lease import ClusterLease
from runbook_tui.workspace import Workspace

PROCEDURE = """\
id: read-then-change
title: Read, then change
steps:
  - id: look
    local: {look}
    mutates: false
  - id: change
    needs: [look]
    local: touch {changed}
"""


async def lab_with(tmp_path: Path, look: str) -> Workspace:
    folder = tmp_path / "procedures"
    folder.mkdir()
    (folder / "p.yaml").write_text(PROCEDURE.format(look=look, changed=tmp_path / "changed"))
    ws = await Workspace.open(lab=True, procedures=str(folder), lab_dir=str(tmp_path / "lab"))
    ws.journal_dir = tmp_path / "journal"
    return ws


async def holder_of(ws: Workspace) -> str:
    cluster = ws.inventory.targets["cluster"].kubernetes
    assert cluster is not None
    other = ClusterLease("cluster", cluster)
    try:
        state = await asyncio.to_thread(other.read)
    finally:
        other.close()
    return state.holder if state is not None else ""


async def until_free(ws: Workspace) -> None:
    """The Lease is cleared from a thread once the run ends: a moment later, not never."""
    deadline = time.monotonic() + 10
    while await holder_of(ws):
        assert time.monotonic() < deadline, f"the Lease is still held by {await holder_of(ws)}"
        await asyncio.sleep(0.05)


async def test_the_lease_is_held_while_the_first_steps_read_and_cleared_at_the_end(tmp_path: Path) -> None:
    go = tmp_path / "go"
    ws = await lab_with(tmp_path, f"while ! test -e {go}; do sleep 0.05; done")
    try:
        events: list[ev.Event] = []
        engine = ws.engine(ws.procedure("read-then-change"), inputs={}, subscribers=[events.append],
                           gates=AutoGates(yes=True, lab=True), journal=False)
        run = asyncio.create_task(engine.run())
        deadline = time.monotonic() + 20
        while f"run {engine.run_id})" not in await holder_of(ws):  # taken while `look` still waits
            assert time.monotonic() < deadline and not run.done(), "the Lease was not taken during the read"
            await asyncio.sleep(0.05)
        assert not any(isinstance(e, ev.GateRequested) for e in events)  # the plan gate has not come yet
        go.touch()
        report = await run
        assert report.outcome == "succeeded", report.message
        gates = [i for i, e in enumerate(events) if isinstance(e, ev.GateRequested) and e.gate == "plan"]
        assert gates and (tmp_path / "changed").exists()
        await until_free(ws)
    finally:
        await ws.close()


async def test_a_run_stopped_before_its_change_lets_the_lock_go(tmp_path: Path) -> None:
    ws = await lab_with(tmp_path, "sleep 0.3; false")
    try:
        engine = ws.engine(ws.procedure("read-then-change"), inputs={}, subscribers=[], gates=AutoGates(yes=True, lab=True),
                           journal=False)
        report = await engine.run()
        assert report.outcome == "failed" and not (tmp_path / "changed").exists()
        await until_free(ws)
        lock = engine.options.change_lock
        assert lock is not None
        assert await asyncio.to_thread(lock.holder_sentence) is None  # type: ignore[attr-defined]
    finally:
        await ws.close()


async def test_a_run_cancelled_while_the_lock_is_being_taken_leaves_no_lease(tmp_path: Path) -> None:
    ws = await lab_with(tmp_path, "sleep 5")
    try:
        engine = ws.engine(ws.procedure("read-then-change"), inputs={}, subscribers=[], gates=AutoGates(yes=True, lab=True),
                           journal=False)
        run = asyncio.create_task(engine.run())
        await asyncio.sleep(0.02)  # the Lease's first request is on its way
        run.cancel()
        try:
            await run
        except asyncio.CancelledError:
            pass
        await until_free(ws)
        await asyncio.sleep(0.5)  # a request still in flight then would have landed by now
        await until_free(ws)
    finally:
        await ws.close()
