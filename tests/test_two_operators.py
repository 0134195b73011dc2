"""Two operators at once, and a resume from every face: each decision is taken in one place.

Real processes throughout: runs and resumes are the CLI in subprocesses; a lock holder that
dies is a real process killed with SIGKILL; the TUI is driven with Pilot.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import runbook, wait_until
from test_resume import crash_mid_run, journal
from test_tui_support import home_ready, make_app, screen_is, wait_for

from runbook_tui.engine.locks import FileLock, Holder, LockHeld

SLOW_CHANGE = """\
id: slow-change
title: A slow change
steps:
  - id: look
    local: echo looking
    mutates: false
  - id: change
    local: echo {name} >> {log}; while ! test -e {release}; do sleep 0.05; done
"""

INVENTORY = "targets:\n  pfsense: {ssh: {host: 192.0.2.1, user: admin}}\n"


def start_cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runbook_tui", *args], cwd=tmp_path, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def two_procedures(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    log, release = tmp_path / "log", tmp_path / "release"
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY)
    files = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(SLOW_CHANGE.format(name=name, log=log, release=release).replace("slow-change", f"slow-change-{name}"))
        files.append(path)
    return files[0], files[1], log, release


def test_a_second_change_to_the_same_targets_is_refused_in_one_sentence(tmp_path: Path, env) -> None:
    a, b, log, release = two_procedures(tmp_path)
    first = start_cli(tmp_path, env, "run", str(a), "--inventory", "inventory.yaml", "--yes")
    try:
        wait_until(lambda: log.exists() and "a" in log.read_text(), "the first change to start")
        second = runbook("run", str(b), "--inventory", "inventory.yaml", "--yes", cwd=tmp_path, env=env)
        assert second.returncode == 3, second.stdout + second.stderr
        # One sentence naming who holds it: user@host, pid, run, since when.
        (sentence,) = [line for line in second.stdout.splitlines() if "is locked by" in line]
        assert f"(pid {first.pid}, run " in sentence and "since 20" in sentence and "--wait" in sentence
        assert "Traceback" not in second.stderr
        assert log.read_text().split() == ["a"], "the second run changed something"
        # A read-only look and a dry run take no lock.
        dry = runbook("--dry-run", "run", str(b), "--inventory", "inventory.yaml", "--yes", cwd=tmp_path, env=env)
        assert dry.returncode == 0, dry.stdout + dry.stderr
    finally:
        release.touch()
        assert first.wait(30) == 0, first.communicate()


def test_wait_takes_the_lock_when_the_first_run_ends(tmp_path: Path, env) -> None:
    a, b, log, release = two_procedures(tmp_path)
    first = start_cli(tmp_path, env, "run", str(a), "--inventory", "inventory.yaml", "--yes")
    wait_until(lambda: log.exists() and "a" in log.read_text(), "the first change to start")
    second = start_cli(tmp_path, env, "run", str(b), "--inventory", "inventory.yaml", "--yes", "--wait")
    try:
        time.sleep(1.5)
        assert second.poll() is None and log.read_text().split() == ["a"], "--wait did not wait"
        release.touch()
        assert first.wait(30) == 0
        out, err = second.communicate(timeout=30)
        assert second.returncode == 0, out + err
        assert "Waiting for it to finish" in out
        assert log.read_text().split() == ["a", "b"]
    finally:
        release.touch()
        for p in (first, second):
            if p.poll() is None:
                p.kill()


def test_a_dead_holders_lock_is_taken_over_and_said(tmp_path: Path, env) -> None:
    a, b, log, release = two_procedures(tmp_path)
    first = start_cli(tmp_path, env, "run", str(a), "--inventory", "inventory.yaml", "--yes")
    wait_until(lambda: log.exists() and "a" in log.read_text(), "the first change to start")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    release.touch()
    second = runbook("run", str(b), "--inventory", "inventory.yaml", "--yes", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "took over the lock on target pfsense (192.0.2.1:22) from" in second.stdout
    assert f"(pid {first.pid}, run " in second.stdout and "that process is gone" in second.stdout


def test_two_resumes_of_one_run_only_one_runs(tmp_path: Path, env) -> None:
    a, _, log, release = two_procedures(tmp_path)
    crashed = start_cli(tmp_path, env, "run", str(a), "--inventory", "inventory.yaml", "--yes")
    wait_until(lambda: log.exists() and "a" in log.read_text(), "the change to start")
    os.killpg(crashed.pid, signal.SIGKILL)
    crashed.wait()
    path = journal(tmp_path)
    run_id = path.stem
    first = start_cli(tmp_path, env, "resume", run_id, "--yes")
    try:
        wait_until(lambda: log.read_text().split() == ["a", "a"], "the first resume to re-run the change")
        second = runbook("resume", run_id, "--yes", cwd=tmp_path, env=env)
        assert second.returncode == 3, second.stdout + second.stderr
        assert f"run {run_id} is locked by" in second.stderr and f"(pid {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        release.touch()
    assert first.wait(30) == 0, first.communicate()
    assert log.read_text().split() == ["a", "a"]
    seqs = [json.loads(line)["seq"] for line in path.read_text().splitlines()]
    assert len(seqs) == len(set(seqs)), "two writers in one journal"


def test_resume_keeps_the_mode_it_was_run_in(tmp_path: Path, env) -> None:
    log, release = crash_mid_run(tmp_path, env)
    run_id = json.loads(journal(tmp_path).read_text().splitlines()[0])["run_id"]
    for flags in (["--lab"], ["--dry-run"], ["--offline"]):
        for args in ([*flags, "resume", run_id, "--yes"], ["resume", run_id, "--yes", *flags]):  # either side
            refused = runbook(*args, cwd=tmp_path, env=env)
            assert refused.returncode != 0 and "cannot be resumed" in refused.stderr, (args, refused.stderr)
    assert log.read_text().split() == ["first", "slow-started"]



async def resume_refused(app, why: str) -> list[str]:
    """Enter on the runs screen's only run, as an operator resumes it: the screen stays (WHY
    it must), and the notifications say what refused it."""
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        await pilot.press("r")
        screen = await screen_is(pilot, "RunsScreen")
        await wait_for(pilot, lambda: len(screen.runs) == 1, what="the run")
        await pilot.press("enter")  # resume
        await pilot.pause(0.3)
        assert app.screen is screen, why
        return [n.message for n in app._notifications]

async def test_the_tui_refuses_to_resume_a_lab_run_against_real_targets(tmp_path: Path, env, monkeypatch) -> None:
    monkeypatch.setenv("RUNBOOK_TUI_STATE_DIR", env["RUNBOOK_TUI_STATE_DIR"])
    lab_env = dict(env)
    log, release = crash_mid_run(tmp_path, lab_env, extra=("--lab",))
    release.touch()
    runs = tmp_path / "state" / "runs"
    (inventory := tmp_path / "inventory.yaml").write_text(INVENTORY)
    app = make_app(runs, inventory=str(inventory), procedures=str(tmp_path))
    notes = await resume_refused(app, "a lab run was resumed against real targets")
    assert any("was a lab rehearsal; it cannot be resumed against real targets" in n for n in notes), notes
    assert log.read_text().split() == ["first", "slow-started"]


async def test_the_tui_refuses_a_run_another_process_is_resuming(tmp_path: Path, env, monkeypatch) -> None:
    monkeypatch.setenv("RUNBOOK_TUI_STATE_DIR", env["RUNBOOK_TUI_STATE_DIR"])
    log, release = crash_mid_run(tmp_path, env)
    path = journal(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from runbook_tui.engine.locks import *; from runbook_tui.headless.journal import lock_for;"
        f"lock_for({str(path)!r}).acquire(Holder('someone@elsewhere', 4242, time.time(), 'x'));"
        "print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        app = make_app(path.parent, procedures=str(tmp_path))
        notes = await resume_refused(app, "a run another process resumes was resumed again")
        assert any("is locked by someone@elsewhere (pid 4242" in n for n in notes), notes
    finally:
        holder.kill()
        holder.wait()
    assert log.read_text().split() == ["first", "slow-started"]


def test_file_lock_releases_on_death_and_names_the_dead(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    child = subprocess.Popen([sys.executable, "-c", (
        "import time; from runbook_tui.engine.locks import FileLock, Holder;"
        f"FileLock({str(path)!r}, 'x').acquire(Holder('op@h', 7, time.time(), 'r1'));"
        "print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    mine = FileLock(path, "thing")
    with pytest.raises(LockHeld, match=r"thing is locked by op@h \(pid 7, run r1\)"):
        mine.acquire(Holder("me@here", os.getpid(), time.time()))
    child.kill()
    child.wait()
    stale = mine.acquire(Holder("me@here", os.getpid(), time.time()))
    assert stale is not None and stale.operator == "op@h"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    mine.release()
    again = FileLock(path, "thing")
    assert again.acquire(Holder("me@here", os.getpid(), time.time())) is None  # released cleanly: not stale
    again.release()


async def test_the_tui_refuses_a_change_while_another_process_holds_the_targets(tmp_path: Path, env,
                                                                                monkeypatch) -> None:
    """The same lock from the TUI's path: the run is refused before its plan gate, naming the holder."""
    from test_tui_support import home_ready, make_app, run_finished, start

    a, _, log, _ = two_procedures(tmp_path)
    procs = tmp_path / "procs"
    procs.mkdir()
    (procs / "a.yaml").write_text(a.read_text())
    runs = tmp_path / "state" / "runs"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from pathlib import Path; from runbook_tui.engine.locks import Holder, TargetLocks;"
        "from runbook_tui.language.inventory_loader import load_inventory;"
        f"locks = TargetLocks(Path({str(runs.parent / 'locks')!r}), load_inventory({str(tmp_path / 'inventory.yaml')!r}));"
        "import asyncio; asyncio.run(locks.acquire(Holder('someone@elsewhere', 4243, time.time(), 'r'), wait=False));"
        "print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        app = make_app(runs, inventory=str(tmp_path / "inventory.yaml"), procedures=str(procs))
        async with app.run_test(size=(120, 40)) as pilot:
            await home_ready(pilot)
            await start(pilot, "slow-change-a")
            run = await run_finished(pilot)
            assert run.state.outcome == "refused"
            assert "is locked by someone@elsewhere (pid 4243" in run.state.message
    finally:
        holder.kill()
        holder.wait()
    assert not log.exists(), "the TUI changed something under another run's lock"


async def test_the_tui_in_dry_run_refuses_to_resume_a_live_run(tmp_path: Path, env, monkeypatch) -> None:
    """`serve --dry-run` needs no --allow-live: its TUI must not turn a live run back on."""
    monkeypatch.setenv("RUNBOOK_TUI_STATE_DIR", env["RUNBOOK_TUI_STATE_DIR"])
    log, release = crash_mid_run(tmp_path, env)
    release.touch()
    path = journal(tmp_path)
    app = make_app(path.parent, procedures=str(tmp_path), dry_run=True)
    notes = await resume_refused(app, "a live run was resumed from a dry-run TUI")
    assert any("it cannot be resumed as dry-run" in n for n in notes), notes
    assert log.read_text().split() == ["first", "slow-started"]


async def test_the_tui_refuses_a_change_while_someone_elsewhere_holds_the_team_lease(tmp_path: Path) -> None:
    """The team Lease from the TUI's path: held by an operator on another machine, a change on
    the lab is refused before its plan gate, naming them; nothing reached the firewall."""
    import asyncio

    from test_tui_support import home_ready, run_finished, start

    from runbook_tui.engine.locks import Holder
    from runbook_tui.transports.kube.lease import ClusterLease
    from runbook_tui.tui.app import RunbookApp

    app = RunbookApp(lab=True, journal_dir=tmp_path / "runs", preferences=tmp_path / "prefs.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.workspace is not None or app.workspace_error, timeout=30, what="the lab")
        assert app.workspace_error is None, app.workspace_error
        await home_ready(pilot)
        other = ClusterLease("cluster", app.workspace.inventory.targets["cluster"].kubernetes)
        identity = Holder("carol@elsewhere", 4242, time.time(), "20261130-reload-1234").identity()
        assert await asyncio.to_thread(other.acquire, identity) is None
        try:
            await start(pilot, "reload")
            run = await run_finished(pilot)
            assert run.state.outcome == "refused"
            assert "carol@elsewhere (pid 4242, run 20261130-reload-1234)" in run.state.message
            assert not [e for e in app.workspace.lab.command_log.entries() if e["mutating"]]
        finally:
            await asyncio.to_thread(other.release, identity)
