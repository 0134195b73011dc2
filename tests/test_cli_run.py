"""The headless `run` command as an operator meets it: exit codes, quoting, JSON, gates without a TTY."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support import runbook

from runbook_tui.engine import events as ev
from runbook_tui.headless.journal import Journal, list_runs, read_events, resume_state

PROC = """\
id: echo-it
title: Echo a value
inputs:
  v: {prompt: "A value", default: "plain"}
steps:
  - id: say
    why: Shows the value exactly as given.
    local: printf '%s\\n' {{ inputs.v }}
    mutates: false
  - id: change
    local: touch changed
    confirm: {text: "Change?", typed: "do it"}
"""


def run(tmp_path: Path, env, *args: str) -> subprocess.CompletedProcess:
    return runbook("run", *args, cwd=tmp_path, env=env)


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    path = tmp_path / "echo-it.yaml"
    path.write_text(PROC)
    return path


def test_hostile_set_value_cannot_change_the_command(tmp_path, env, proc):
    hostile = "$(touch pwned1); `touch pwned2`; touch pwned3 #'\""
    done = run(tmp_path, env, str(proc), "--set", f"v={hostile}", "--yes", "--confirm", "do it")
    assert done.returncode == 0, done.stderr
    assert hostile in done.stdout
    assert not any((tmp_path / f"pwned{i}").exists() for i in (1, 2, 3))
    assert (tmp_path / "changed").exists()


def test_exit_codes(tmp_path, env, proc):
    refused = run(tmp_path, env, str(proc))  # no TTY, no --yes: every gate fails closed
    assert refused.returncode == 3 and not (tmp_path / "changed").exists()
    typed_missing = run(tmp_path, env, str(proc), "--yes")  # a typed gate needs --confirm off the lab
    assert typed_missing.returncode == 3 and not (tmp_path / "changed").exists()
    invalid = run(tmp_path, env, str(proc), "--set", "nope=1", "--yes")
    assert invalid.returncode == 2 and "has no input nope" in invalid.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\ntitle: Bad\nsteps:\n  - id: x\n    local: exit 4\n    mutates: false\n")
    failed = run(tmp_path, env, str(bad))
    assert failed.returncode == 1 and "exit code 4" in failed.stdout
    missing = run(tmp_path, env, "no-such-procedure", "--procedures", str(tmp_path))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_json_event_stream(tmp_path, env, proc):
    done = run(tmp_path, env, str(proc), "--json", "--dry-run")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["event"] == "run_started" and events[0]["mode"] == "dry-run"
    assert events[-1] == {**events[-1], "event": "run_finished", "outcome": "succeeded"}
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    would = [e for e in events if e["event"] == "step_finished" and e["status"] == "would-run"]
    assert [e["step_id"] for e in would] == ["change"] and would[0]["rendered"] == "touch changed"
    assert all(e["loc"].startswith(str(proc)) for e in events if e.get("step_id"))
    assert not (tmp_path / "changed").exists()


def test_runs_list_show_report(tmp_path, env, proc):
    run(tmp_path, env, str(proc), "--yes", "--confirm", "do it")
    runs = runbook("runs", cwd=tmp_path, env=env)
    line = runs.stdout.splitlines()[1]
    run_id = line.split()[0]
    assert "echo-it" in line and "succeeded" in line
    shown = runbook("runs", "show", run_id, cwd=tmp_path, env=env)
    assert "SUCCEEDED" in shown.stdout and "gate typed answered yes" in shown.stdout
    report = tmp_path / "pm.md"
    runbook("runs", "report", run_id, "-o", str(report), cwd=tmp_path, env=env, check=True)
    text = report.read_text()
    assert "# Echo a value — succeeded" in text and "touch changed" in text and "answered **yes**" in text


# ------------------------------------------------------------------ the journal itself
def _events(n_lines: int, text: str = "x" * 99) -> list[ev.Event]:
    out: list[ev.Event] = [ev.RunStarted(procedure="p", title="P", path="p.yaml", mode="live", operator="me",
                                         inputs={}, targets={})]
    out.append(ev.StepStarted(step_id="s", title="S", action="local", mutating=True))
    out += [ev.OutputLine(step_id="s", stream="stdout", text=text) for _ in range(n_lines)]
    out.append(ev.StepFinished(step_id="s", status="ok"))
    out.append(ev.RunFinished(outcome="succeeded"))
    for i, e in enumerate(out, 1):
        e.run_id, e.seq = "run-1", i
    return out


def test_journal_caps_output_by_bytes_written_per_step_and_per_run(tmp_path: Path):
    journal = Journal(tmp_path, step_cap=20_000, run_cap=1_000_000)
    for e in _events(500):
        journal(e)
    events = list(read_events(tmp_path / "run-1.jsonl"))
    outputs = [e for e in events if e["event"] == "output"]
    (marker,) = [e for e in events if e["event"] == "output_truncated"]
    written = sum(len(line) + 1 for line in (tmp_path / "run-1.jsonl").read_text().splitlines()
                  if '"event":"output"' in line)
    assert written <= 20_000 and written == marker["kept_bytes"]  # bytes written, not text length
    assert marker["dropped_lines"] == 500 - len(outputs) > 0
    # The marker comes before the step's end, which still lands: the story is whole.
    assert [e["event"] for e in events[-3:]] == ["output_truncated", "step_finished", "run_finished"]

    whole_run = Journal(tmp_path / "b", step_cap=10**9, run_cap=30_000)
    for e in _events(500):
        whole_run(e)
    events = list(read_events(tmp_path / "b" / "run-1.jsonl"))
    assert sum(1 for e in events if e["event"] == "output") < 500
    assert (tmp_path / "b" / "run-1.jsonl").stat().st_size < 40_000


def test_a_flood_writes_a_bounded_journal(tmp_path, env):
    flood = tmp_path / "flood.yaml"
    flood.write_text("id: flood\ntitle: Flood\nsteps:\n  - id: flood\n    local: yes | head -n 300000\n"
                     "    mutates: false\n")
    done = run(tmp_path, env, str(flood))
    assert done.returncode == 0, done.stderr
    (path,) = (tmp_path / "state" / "runs").glob("*.jsonl")
    from runbook_tui.headless.journal import STEP_CAP

    # The step cap plus the bounded result a resume needs (64 KiB of output tail); unbounded: ~40 MB.
    assert path.stat().st_size < STEP_CAP + 256 * 1024
    (marker,) = [e for e in read_events(path) if e["event"] == "output_truncated"]
    kept = sum(1 for e in read_events(path) if e["event"] == "output")
    assert marker["dropped_lines"] + kept == 300000
    shown = runbook("runs", "show", path.stem, cwd=tmp_path, env=env)
    assert f"{marker['dropped_lines']} more output lines" in shown.stdout
    # Private: the journal holds what targets printed.
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == oct((tmp_path / "state").stat().st_mode & 0o777) == "0o700"


def test_a_torn_last_line_is_tolerated(tmp_path: Path):
    journal = Journal(tmp_path)
    for e in _events(3)[:-2]:
        journal(e)
    journal.close()
    with (tmp_path / "run-1.jsonl").open("a") as f:
        f.write('{"event": "step_fin')  # the crash came mid-write
    assert [r.outcome for r in list_runs(tmp_path)] == ["interrupted"]
    start, state = resume_state(tmp_path / "run-1.jsonl")
    assert state.inflight == ["s"] and state.statuses == {}


def test_lab_flag_in_an_inventory_does_not_relax_gates_for_real_hosts(tmp_path, env, proc):
    inv = tmp_path / "inventory.yaml"
    inv.write_text("lab: true\ntargets:\n  pfsense: {ssh: {host: 10.0.20.1, user: admin}}\n")
    done = run(tmp_path, env, str(proc), "--inventory", str(inv), "--yes")
    assert done.returncode == 3 and "[LIVE]" in done.stdout and not (tmp_path / "changed").exists()




def test_no_inventory_is_one_sentence_that_says_where_it_looked(tmp_path, env):
    done = run(tmp_path, env, "validate", "--yes")
    assert done.returncode == 2
    assert done.stderr.startswith(f"no inventory found in ./inventory.yaml or {tmp_path / 'config'}/runbook-tui/"
                                  "inventory.yaml: give --inventory FILE")
    assert "vars." not in done.stderr  # not every undefined variable, one by one
