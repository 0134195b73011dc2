"""A full disk or a lost state folder: one sentence, never a traceback, and no change unrecorded.

The disks are real: small tmpfs mounts (the suite runs as root in CI), filled for real, so the
journal meets a true ENOSPC from the kernel.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(path: Path, size: str, *options: str):
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join((f"size={size}", *options)), "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"CI must be able to mount a tmpfs (as root): {mounted.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def run(tmp_path: Path, state: Path, procedure: str) -> subprocess.CompletedProcess:
    (tmp_path / "p.yaml").write_text(procedure)
    env = dict(os.environ, RUNBOOK_TUI_STATE_DIR=str(state), XDG_CONFIG_HOME=str(tmp_path / "config"))
    return subprocess.run([sys.executable, "-m", "runbook_tui", "run", "p.yaml", "--yes"], cwd=tmp_path, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


CHANGES = """\
id: p
title: Three changes
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


def test_no_room_for_the_journal_refuses_before_the_first_change(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "1m") as disk:
        done = run(tmp_path, disk / "state", CHANGES.format(tmp=tmp_path, disk=tmp_path))
    assert done.returncode == 4, done.stdout + done.stderr  # could not be carried out
    assert "MiB free; a run that changes things needs 20 MiB to keep its record" in done.stdout
    assert "Stopped before step a; no change was made." in done.stdout
    assert "Traceback" not in done.stderr and not (tmp_path / "a").exists()


def test_a_disk_that_fills_mid_run_stops_before_the_next_change(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "24m") as disk:
        done = run(tmp_path, disk / "state", CHANGES.format(tmp=tmp_path, disk=disk))
        journal = next((disk / "state" / "runs").glob("*.jsonl")).read_text()
    assert done.returncode == 4, done.stdout + done.stderr  # could not be carried out
    assert "No space left on device" in done.stdout
    assert "Stopped before step c; the last change made was step a." in done.stdout
    assert "Traceback" not in done.stderr
    assert (tmp_path / "a").exists() and not (tmp_path / "c").exists()
    assert '"step_id": "a"' in journal  # what was written before the disk filled is kept


def test_an_unusable_state_folder_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    done = run(tmp_path, tmp_path / "a-file" / "state", CHANGES.format(tmp=tmp_path, disk=tmp_path))
    assert done.returncode == 4, done.stdout + done.stderr  # could not be carried out
    assert "cannot write the journal" in done.stdout and "Not a directory" in done.stdout
    assert "Stopped before step a; no change was made." in done.stdout
    assert "Traceback" not in done.stderr and not (tmp_path / "a").exists()


def test_a_read_only_state_folder_is_one_sentence(tmp_path: Path) -> None:
    state = tmp_path / "ro"
    with tmpfs(state, "1m", "ro"):
        done = run(tmp_path, state / "state", CHANGES.format(tmp=tmp_path, disk=tmp_path))
    assert done.returncode == 4, done.stdout + done.stderr  # could not be carried out
    assert "Read-only file system" in done.stdout and "no change was made" in done.stdout
    assert "Traceback" not in done.stderr and not (tmp_path / "a").exists()




def test_the_journal_meets_enospc_without_raising(tmp_path: Path) -> None:
    from runbook_tui.engine import events as ev
    from runbook_tui.headless.journal import Journal

    with tmpfs(tmp_path / "disk", "64k") as disk:
        journal = Journal(disk / "runs")
        start = ev.RunStarted(procedure="p", title="P", path="p.yaml", mode="live", operator="me", inputs={},
                              targets={})
        start.run_id, start.seq = "run-1", 1
        journal(start)
        for seq in range(2, 2000):
            finished = ev.StepFinished(step_id="s", status="ok", message="x" * 200)
            finished.run_id, finished.seq = "run-1", seq
            journal(finished)  # fsynced one by one: the disk fills on the way
            if journal.failure:
                break
        assert journal.failure and "No space left on device" in journal.failure
        journal(finished)  # after a failure: quiet, and nothing raised
        with pytest.raises(Exception, match="No space left on device"):
            journal.check_room()
