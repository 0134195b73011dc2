"""Listing runs reads a journal's first and last lines only, copes with a folder shared by a
team (others' files, broken ones), and exports a run as a bundle for a post-mortem."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest
from support import runbook

from runbook_tui.headless.journal import list_runs, read_events

OK = "id: fine\ntitle: Fine\nsteps:\n  - id: say\n    local: echo hello\n    mutates: false\n"
FAILS = "id: breaks\ntitle: Breaks\nsteps:\n  - id: say\n    local: exit 3\n    mutates: false\n"
SECRET = """\
id: secretive
title: Uses a secret
inputs:
  token: {prompt: "Token", secret: true}
steps:
  - id: use
    local: printf 'using %s\\n' {{ inputs.token }}
    mutates: false
"""


@pytest.fixture
def runs(tmp_path: Path, env) -> Path:
    for name, text in (("fine", OK), ("breaks", FAILS)):
        (tmp_path / f"{name}.yaml").write_text(text)
        runbook("run", str(tmp_path / f"{name}.yaml"), cwd=tmp_path, env=env)
    return tmp_path / "state" / "runs"


def _bytes_read() -> int:
    """What this process has read through read(2) so far (Linux)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def test_outcomes_come_from_the_first_and_last_lines(runs: Path):
    outcomes = {r.procedure: r.outcome for r in list_runs(runs)}
    assert outcomes == {"fine": "succeeded", "breaks": "failed"}
    # A resume appends a new run_started: until it finishes, the run is interrupted again.
    (fine,) = [r for r in list_runs(runs) if r.procedure == "fine"]
    start = next(read_events(fine.path))
    with fine.path.open("a") as f:
        f.write(json.dumps(start) + "\n")
    assert {r.procedure: r.outcome for r in list_runs(runs)}["fine"] == "interrupted"


def test_listing_does_not_read_a_whole_journal(runs: Path):
    (fine,) = [r for r in list_runs(runs) if r.procedure == "fine"]
    lines = fine.path.read_text().splitlines(keepends=True)
    # 40 MB of output between the start and the end, as a flood would leave.
    output = json.dumps({"event": "output", "run_id": fine.run_id, "seq": 3, "ts": 0.0, "step_id": "say",
                         "stream": "stdout", "text": "y" * 1000}) + "\n"
    with fine.path.open("w") as f:
        f.write(lines[0])
        f.write(output * 40_000)
        f.writelines(lines[1:])
    assert fine.path.stat().st_size > 40_000_000
    before = _bytes_read()
    listed = {r.procedure: r.outcome for r in list_runs(runs)}
    read = _bytes_read() - before
    assert listed == {"fine": "succeeded", "breaks": "failed"}
    assert read < 1_000_000, f"listing read {read} bytes"


def test_a_shared_folder_with_broken_and_foreign_files(runs: Path, tmp_path: Path, env):
    (runs / "truncated.jsonl").write_text('{"event": "run_sta')
    (runs / "garbage.jsonl").write_bytes(os.urandom(4096))
    (runs / "empty.jsonl").write_text("")
    (runs / "foreign.jsonl").write_text('{"some": "other tool"}\n[1, 2]\n')
    (runs / "list.jsonl").write_text("[1, 2]\n")
    (runs / "loop.jsonl").symlink_to(runs / "loop.jsonl")
    (runs / "dangling.jsonl").symlink_to(tmp_path / "gone")
    (runs / "folder.jsonl").mkdir()
    unreadable: list[Path] = []
    listed = list_runs(runs, unreadable=unreadable)
    assert sorted(r.procedure for r in listed) == ["breaks", "fine"]
    assert sorted(p.name for p in unreadable) == ["dangling.jsonl", "folder.jsonl", "loop.jsonl"]
    shared = runbook("runs", "--journal-dir", str(runs), cwd=tmp_path, env={**env, "RUNBOOK_TUI_STATE_DIR": "/nonexistent"})
    assert shared.returncode == 0
    assert "fine" in shared.stdout and "breaks" in shared.stdout
    assert "Traceback" not in shared.stderr
    assert "loop.jsonl: cannot be read" in shared.stderr
    (fine,) = [r for r in listed if r.procedure == "fine"]
    shown = runbook("runs", "--journal-dir", str(runs), "show", fine.run_id, cwd=tmp_path,
                    env={**env, "RUNBOOK_TUI_STATE_DIR": "/nonexistent"})
    assert shown.returncode == 0 and "hello" in shown.stdout, shown.stderr
    empty = runbook("runs", "--journal-dir", str(tmp_path / "nothing"), cwd=tmp_path, env=env)
    assert empty.returncode == 0 and "no runs in" in empty.stdout


def test_export_bundles_journal_report_and_manifest_without_secrets(tmp_path: Path, env):
    (tmp_path / "secretive.yaml").write_text(SECRET)
    token = "hunter2-very-secret"
    done = runbook("run", str(tmp_path / "secretive.yaml"), "--set", f"token={token}", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    (run,) = list_runs(tmp_path / "state" / "runs")
    out = tmp_path / "bundle.tar.gz"
    exported = runbook("runs", "export", run.run_id, "-o", str(out), cwd=tmp_path, env=env)
    assert exported.returncode == 0, exported.stderr
    with tarfile.open(out) as tar:
        names = sorted(tar.getnames())
        assert names == [f"{run.run_id}/{n}" for n in ("journal.jsonl", "manifest.json", "report.md")]
        body = {n.split("/")[1]: tar.extractfile(n).read() for n in names}  # type: ignore[union-attr]
    assert body["journal.jsonl"] == run.path.read_bytes()
    manifest = json.loads(body["manifest.json"])
    assert manifest["outcome"] == "succeeded" and manifest["procedure"] == "secretive"
    assert b"# Uses a secret" in body["report.md"]
    assert all(token.encode() not in b for b in body.values())
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    again = runbook("runs", "export", run.run_id, "-o", str(out), cwd=tmp_path, env=env)
    assert again.returncode != 0 and "exists already" in again.stderr


def test_odd_files_in_a_shared_folder_neither_hang_nor_flood(runs: Path, tmp_path: Path, env):
    os.mkfifo(runs / "pipe.jsonl")  # opened the ordinary way, reading it would wait forever
    (runs / "zero.jsonl").symlink_to("/dev/zero")  # read to its end, it never ends
    unreadable: list[Path] = []
    assert sorted(r.procedure for r in list_runs(runs, unreadable=unreadable)) == ["breaks", "fine"]
    assert sorted(p.name for p in unreadable) == ["pipe.jsonl", "zero.jsonl"]
    listed = runbook("runs", "--journal-dir", str(runs), cwd=tmp_path, env=env, timeout=30)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr


def test_what_others_wrote_is_shown_not_obeyed(runs: Path, tmp_path: Path, env):
    (fine,) = [r for r in list_runs(runs) if r.procedure == "fine"]
    lines = fine.path.read_text().splitlines(keepends=True)
    start = json.loads(lines[0])
    start.update(run_id="../../home/op/.bashrc.d", operator="\x1b]0;pwned\x07\x1b[2J")
    forged = runs / "forged.jsonl"
    forged.write_text(json.dumps(start) + "\n" + "".join(lines[1:]))
    listed = runbook("runs", "--journal-dir", str(runs), cwd=tmp_path, env=env)
    assert "\x1b" not in listed.stdout and "\x07" not in listed.stdout
    assert "\\x1b]0;pwned" in listed.stdout
    out = tmp_path / "forged.tar.gz"
    exported = runbook("runs", "--journal-dir", str(runs), "export", "forged", "-o", str(out), cwd=tmp_path, env=env)
    assert exported.returncode == 0, exported.stderr
    with tarfile.open(out) as tar:
        assert sorted(tar.getnames()) == ["forged/journal.jsonl", "forged/manifest.json", "forged/report.md"]
    # A journal the listing accepts but the report cannot read: a sentence, not a traceback.
    del start["path"]
    (runs / "partial.jsonl").write_text(json.dumps(start) + "\n")
    report = runbook("runs", "--journal-dir", str(runs), "report", "partial", cwd=tmp_path, env=env)
    assert report.returncode != 0 and "Traceback" not in report.stderr
    assert "is not a journal this version can report on" in report.stderr
