"""A run's start-up holds the cyclic garbage collector (it would only walk the modules and
classes being built) until the engine starts and the background imports are in; then what the
start-up made is frozen and collection resumes for the run, whatever else happens."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

PARTS = """
import gc, sys, threading, time
sys.path.insert(0, sys.argv[1])
from runbook_tui import importing

importing.hold_collection("run")
assert not gc.isenabled()
importing.load_soon([("slow_client",)])          # a part of its own: "clients"
importing.started("run")
held_after_run = not gc.isenabled()              # the clients are still being imported
for t in threading.enumerate():
    if t.name == "load-soon":
        t.join(10)
print(held_after_run, gc.isenabled(), gc.get_freeze_count() > 0)
importing.started("run")                         # once more: nothing changes
importing.hold_collection("again")               # a second start-up in one process
importing.started("again")
print(gc.isenabled())
"""


def test_collection_resumes_once_every_part_has_started(tmp_path: Path) -> None:
    (tmp_path / "slow_client.py").write_text("import time\ntime.sleep(0.3)\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", PARTS, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "True", "True"], done.stdout


RUN = """
import gc, sys, threading, time
from runbook_tui.cli import main

seen = []
def watch():
    while True:
        seen.append((gc.isenabled(), gc.get_freeze_count() > 0))
        time.sleep(0.005)
threading.Thread(target=watch, daemon=True).start()
code = main(sys.argv[1:])
held = any(not enabled for enabled, _ in seen)
print(code, held, any(enabled and frozen for enabled, frozen in seen), gc.isenabled())
"""

PROCEDURE = """\
id: pause
title: A step long enough to be seen running
steps:
  - id: pause
    title: Wait a moment
    local: sleep 0.5
    mutates: false
"""


def test_a_run_from_the_command_line_collects_again_while_its_steps_run(tmp_path: Path) -> None:
    (tmp_path / "procedures").mkdir()
    (tmp_path / "procedures" / "pause.yaml").write_text(PROCEDURE, encoding="utf-8")
    (tmp_path / "inventory.yaml").write_text("targets: {}\n", encoding="utf-8")
    argv = ["--procedures", str(tmp_path / "procedures"), "--inventory", str(tmp_path / "inventory.yaml"),
            "run", "pause", "--yes", "--quiet"]
    env = {"RUNBOOK_TUI_STATE_DIR": str(tmp_path / "state"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(RUN), *argv], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    code, held_in_start_up, collected_during_run, enabled_at_end = done.stdout.split()[-4:]
    assert code == "0" and held_in_start_up == "True", done.stdout
    assert collected_during_run == "True" and enabled_at_end == "True", done.stdout


def test_a_resume_from_the_command_line_collects_again_while_its_steps_run(tmp_path: Path, env) -> None:
    """The same hold through ``resume``: a run killed mid-step (kill -9) is continued."""
    from test_resume import crash_mid_run, journal

    _, release = crash_mid_run(tmp_path, env)
    release.touch()
    run_id = json.loads(journal(tmp_path).read_text().splitlines()[0])["run_id"]
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(RUN), "resume", run_id, "--yes", "--quiet"],
                          capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    code, held_in_start_up, collected_during_run, enabled_at_end = done.stdout.split()[-4:]
    assert code == "0" and held_in_start_up == "True", done.stdout
    assert collected_during_run == "True" and enabled_at_end == "True", done.stdout
