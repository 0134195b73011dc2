"""A crash mid-run leaves a journal that `resume` continues from (real processes, real kill -9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support import runbook

PROCEDURE = """\
id: crashy
title: Survives a crash
steps:
  - id: first
    title: Change one thing
    local: echo first >> {log}
  - id: slow
    title: Change another, slowly
    local: echo slow-started >> {log}; test -e {release} || sleep 60; echo slow >> {log}
  - id: last
    local: echo last >> {log}
"""


def journal(tmp_path: Path) -> Path:
    files = list((tmp_path / "state" / "runs").glob("*.jsonl"))
    assert len(files) == 1, files
    return files[0]


def crash_mid_run(tmp_path: Path, env: dict[str, str], extra: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """Start a run, wait until its slow step is in flight, then kill -9 it and its children."""
    log, release = tmp_path / "log", tmp_path / "release"
    proc_file = tmp_path / "crashy.yaml"
    proc_file.write_text(PROCEDURE.format(log=log, release=release))
    child = subprocess.Popen([sys.executable, "-m", "runbook_tui", "run", str(proc_file), "--yes", *extra],
                             env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while not (log.exists() and "slow-started" in log.read_text()):
        assert time.monotonic() < deadline, "the run never reached the slow step"
        assert child.poll() is None, "the run ended early"
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)  # the run and its sleeping step, no chance to clean up
    child.wait()
    return log, release


def test_kill_9_then_resume_completes_the_run(tmp_path: Path, env):
    log, release = crash_mid_run(tmp_path, env)

    path = journal(tmp_path)
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert events[-1]["event"] == "step_started" and events[-1]["step_id"] == "slow"
    assert not any(e["event"] == "run_finished" for e in events)
    run_id = events[0]["run_id"]

    listing = runbook("runs", cwd=tmp_path, env=env)
    assert run_id in listing.stdout and "interrupted" in listing.stdout

    release.touch()
    resumed = runbook("resume", run_id, "--yes", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # first is not repeated; slow was in flight, so it is confirmed and re-run; last runs once.
    assert log.read_text().split() == ["first", "slow-started", "slow-started", "slow", "last"]

    events = [json.loads(line) for line in path.read_text().splitlines()]
    gates = [e for e in events if e["event"] == "gate_answered"]
    assert any(g["gate"] == "resume" and g["approved"] for g in gates)
    assert events[-1]["event"] == "run_finished" and events[-1]["outcome"] == "succeeded"
    assert [e["event"] for e in events].count("run_started") == 2

    report = runbook("runs", "report", run_id, cwd=tmp_path, env=env)
    assert report.returncode == 0
    assert "# Survives a crash — succeeded" in report.stdout
    assert "slow-started" in report.stdout and "asked (resume)" in report.stdout
    assert "run resumed" in report.stdout


def test_resume_without_confirmation_refuses_to_rerun_in_flight_step(tmp_path: Path, env):
    log, release = crash_mid_run(tmp_path, env)
    run_id = json.loads(journal(tmp_path).read_text().splitlines()[0])["run_id"]
    refused = runbook("resume", run_id, cwd=tmp_path, env=env)  # no TTY, no --yes: fail closed
    assert refused.returncode == 3
    assert log.read_text().split() == ["first", "slow-started"]


async def test_resume_after_an_ssh_drop_asks_whether_to_rerun_the_half_applied_step(tmp_path: Path, env):
    """The connection drops while HAProxy restarts (the lab drops it at the 3rd command): the
    restart may or may not have happened, so a resume asks as it does after kill -9."""
    from test_cli_flags import cli

    from runbook_tui.lab import Lab

    async with Lab(tmp_path / "lab", faults=["ssh-drop-after=3"]) as lab:
        inventory = str(lab.inventory_path)
        code, out, err = await cli(tmp_path, "run", "reload", "--inventory", inventory, "--yes")
        assert code == 4, out + err  # the connection dropped: the run could not be carried out
        assert "dropped while" in out and "may or may not have completed" in out
        path = journal(tmp_path)
        events = [json.loads(line) for line in path.read_text().splitlines()]
        (cut,) = [e for e in events if e["event"] == "step_finished" and e["step_id"] == "restart"]
        assert cut["status"] == "failed" and cut["interrupted"]

        refused = await cli(tmp_path, "resume", path.stem)  # no TTY, no --yes: the question fails closed
        assert refused[0] == 3, refused
        resumed = await cli(tmp_path, "resume", path.stem, "--yes")
        assert resumed[0] == 0, resumed
    events = [json.loads(line) for line in path.read_text().splitlines()]
    asked = [e for e in events if e["event"] == "gate_requested" and e["gate"] == "resume"]
    assert [e["step_id"] for e in asked] == ["restart", "restart"]
    assert "may have half-applied" in asked[0]["text"]
