"""Home under Pilot: procedures with their kind and last outcome, the mode banner, the targets'
state probed from the rehearsal lab, and a failure to start said in one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_tui_support import (
    home_ready,
    make_app,
    run_finished,
    screen_is,
    start,
    wait_for,
)
from textual.widgets import DataTable, Static

from runbook_tui.tui.app import RunbookApp
from runbook_tui.tui.mode import Mode
from runbook_tui.tui.widgets.mode_banner import ModeBanner

pytestmark = pytest.mark.usefixtures("at_root")


def cells(table: DataTable, key: str) -> list[str]:
    return [str(c) for c in table.get_row(key)]


async def test_home_lists_procedures_with_kind_and_last_outcome(journal: Path):
    app = make_app(journal)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        table = app.screen.query_one("#procedures", DataTable)
        assert [str(k.value) for k in table.rows] == ["change", "cleanup", "flood", "guarded", "hello", "manual", "sleepy"]
        hello, change = cells(table, "hello"), cells(table, "change")
        assert hello[3] == "Say hello" and "read-only" in hello[1] and "succeeded" in hello[2]
        assert "mutating" in change[1] and "failed" in change[2]
        assert "never run" in cells(table, "flood")[2]
        banner = app.screen.query_one(ModeBanner)
        assert "LIVE" in str(banner.render()) and banner.has_class("-live")
        targets = app.screen.query_one("#targets", DataTable)
        assert "no targets in the inventory" in str(targets.get_row_at(0)[0])


async def test_dry_run_app_banner_is_amber(tmp_path: Path):
    app = make_app(tmp_path, dry_run=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        banner = app.screen.query_one(ModeBanner)
        assert "DRY-RUN" in str(banner.render()) and banner.has_class("-dry-run")
        run = await start(pilot, "change", typed={"note": "x"})
        await run_finished(pilot)
        assert run.state.mode == "dry-run" and run.state.step("write").status == "would-run"


async def test_unreadable_procedures_folder_is_one_sentence(tmp_path: Path):
    app = make_app(tmp_path, inventory=str(tmp_path / "missing.yaml"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.workspace_error, what="the error")
        status = app.screen.query_one("#home-status", Static)
        await wait_for(pilot, lambda: "Cannot start" in str(status.render()), what="the error on screen")
        text = str(status.render())
        assert "missing.yaml" in text and "Traceback" not in text and "\n" not in text.strip()


async def test_lab_targets_are_probed_and_a_read_only_procedure_runs(tmp_path: Path):
    app = RunbookApp(lab=True, journal_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        assert "starting the lab" in str(app.screen.query_one("#home-status", Static).render())
        await wait_for(pilot, lambda: app.workspace is not None or app.workspace_error, timeout=30, what="the lab")
        assert app.workspace_error is None, app.workspace_error
        await home_ready(pilot)
        banner = app.screen.query_one(ModeBanner)
        assert banner.has_class("-lab") and "pfsense" in str(banner.render())
        targets = app.screen.query_one("#targets", DataTable)
        await wait_for(pilot, lambda: "probing" not in " ".join(cells(targets, "pfsense")), what="the probe")
        pfsense, cluster = cells(targets, "pfsense"), cells(targets, "cluster")
        assert "reachable" in pfsense[3] and "known" in pfsense[4] and pfsense[5].startswith("SHA256:")
        assert "reachable" in cluster[3] and "mailserver" in cluster[4]
        ids = app.workspace.catalog.ids()
        if "backend-health" not in ids:
            pytest.skip("the shipped backend-health procedure is not there yet")
        run = await start(pilot, "backend-health")
        await run_finished(pilot, timeout=30)
        assert run.state.mode == "lab"
        assert run.state.outcome == "succeeded", [(v.id, v.status, v.message) for v in run.state]
        await pilot.press("escape")
        await screen_is(pilot, "HomeScreen")
        await app.action_quit()
    assert app.workspace.lab is None  # stopped on quit


def many_runs(folder: Path, count: int) -> None:
    """COUNT small journals of the TUI's procedures, the newest of each ending as it says; one of
    them with a large output in the middle (a listing reads only a journal's first and last lines)."""
    procs = ["change", "cleanup", "flood", "guarded", "hello", "manual", "sleepy"]
    outcomes = ["succeeded", "failed", "aborted", "refused", "interrupted"]
    for n in range(count):
        proc, outcome = procs[n % len(procs)], outcomes[n % len(outcomes)]
        run_id = f"20250102-{n:06d}-{proc}-{n:06x}"
        ts = 1735776000.0 + n
        lines = [json.dumps({"event": "run_started", "run_id": run_id, "seq": 1, "ts": ts, "procedure": proc,
                             "title": proc, "mode": "dry-run" if n % 2 else "live", "operator": "oncall@edge",
                             "inputs": {}, "steps": []})]
        if n == 0:
            lines += [json.dumps({"event": "output", "run_id": run_id, "seq": 2 + i, "ts": ts, "step_id": "s",
                                  "stream": "stdout", "line": "x" * 200}) for i in range(20_000)]
        if outcome != "interrupted":
            lines.append(json.dumps({"event": "run_finished", "run_id": run_id, "seq": 99_999, "ts": ts + 0.5,
                                     "outcome": outcome, "message": "", "counts": {}}))
        (folder / f"{run_id}.jsonl").write_text("\n".join(lines) + "\n")


async def test_home_and_runs_with_hundreds_of_runs_show_the_last_outcomes(tmp_path: Path):
    many_runs(tmp_path, 350)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        table = app.screen.query_one("#procedures", DataTable)
        # The newest run of each: run 349 is sleepy (349 % 7 = 6), interrupted (349 % 5 = 4), dry-run.
        await wait_for(pilot, lambda: "interrupted (dry-run)" in cells(table, "sleepy")[2], what="sleepy's last run")
        assert "aborted (dry-run)" in cells(table, "hello")[2]  # run 347: 347 % 7 = 4, 347 % 5 = 2, odd
        await pilot.press("r")
        runs = await screen_is(pilot, "RunsScreen")
        await wait_for(pilot, lambda: len(runs.runs) == 350, what="the runs")
        assert runs.runs[0].run_id.startswith("20250102-000349-sleepy")


def test_the_banner_names_the_lab_faults():
    assert Mode(lab=True, faults=("latency=0.05",)).label == "LAB · faults: latency=0.05"
    assert Mode(dry_run=True, lab=True, faults=("node-down=k8s-node2", "probe-fails")).label == (
        "DRY-RUN · LAB · faults: node-down=k8s-node2, probe-fails")
    assert Mode(faults=("latency=0.05",)).label == "LIVE"  # faults exist only in the lab


async def test_active_lab_faults_show_in_the_banner_of_every_screen(tmp_path: Path):
    app = RunbookApp(lab=True, faults=["latency=0.05"], journal_dir=tmp_path, preferences=tmp_path / "prefs.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None or app.workspace_error, timeout=30, what="the lab")
        assert app.workspace_error is None, app.workspace_error
        await home_ready(pilot)
        banner = app.screen.query_one(ModeBanner)
        assert "● LAB · faults: latency=0.05   targets: pfsense" in str(banner.render())
        app.start_procedure("validate", dry_run=True)
        form = await screen_is(pilot, "InputsScreen")
        assert "DRY-RUN · LAB · faults: latency=0.05" in str(form.query_one(ModeBanner).render())


async def test_home_names_who_holds_the_team_lock(tmp_path: Path):
    """Before choosing a change, the operator sees who is changing these targets: the cluster's
    Lease held by someone on another machine shows on home (read again on `p`)."""
    import asyncio
    import time

    from runbook_tui.engine.locks import Holder
    from runbook_tui.transports.kube.lease import ClusterLease

    app = RunbookApp(lab=True, journal_dir=tmp_path / "runs", preferences=tmp_path / "prefs.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None or app.workspace_error, timeout=30, what="the lab")
        assert app.workspace_error is None, app.workspace_error
        await home_ready(pilot)
        holder_line = app.screen.query_one("#lock-holder", Static)
        assert not holder_line.display
        cluster = app.workspace.inventory.targets["cluster"].kubernetes
        other = ClusterLease("cluster", cluster)
        identity = Holder("carol@elsewhere", 4242, time.time(), "20261130-reload-1234").identity()
        assert await asyncio.to_thread(other.acquire, identity) is None
        try:
            await pilot.press("p")
            await wait_for(pilot, lambda: holder_line.display, what="the holder on home")
            shown = str(holder_line.render())
            assert "carol@elsewhere (pid 4242, run 20261130-reload-1234)" in shown
            assert "holds the Lease mailserver/runbook-tui" in shown
        finally:
            await asyncio.to_thread(other.release, identity)
        await pilot.press("p")
        await wait_for(pilot, lambda: not holder_line.display, what="the holder gone")
