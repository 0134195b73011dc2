"""Terminal control sequences in output and values are shown, not obeyed, by the headless face.

``runbook-tui run`` as a real process: a local step prints an OSC window title, a clear-screen,
bare carriage returns and DEL (as a remote command could), and an input value carries SGR and
OSC sequences into the rendered commands and a gate's text. Neither the live console, nor the
gates asked at a terminal, nor the JSON stream may pass a raw control character on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support import HOSTILE_VALUE, raw_controls

PROCEDURE = r"""id: noisy
title: Terminal controls on the console
inputs:
  v:
    prompt: A value
    required: true
steps:
  - id: shout
    title: Print terminal controls
    local: |-
      printf 'a\033]0;pwned\007b\n\033[2Jcleared\r\nhidden\rshown\ndel\177\n'; echo {{ inputs.v }}; printf 'err\033[31m\n' >&2
    mutates: false
    why: Remote output may carry escape sequences.
  - id: change
    title: Change it
    local: echo changed {{ inputs.v }}
    confirm: "Change it to {{ inputs.v }}?"
    why: A value the operator typed reaches the gate and the command.
"""


def cli(tmp_path: Path, *args: str, stdin=None) -> subprocess.CompletedProcess:
    proc = tmp_path / "noisy.yaml"
    proc.write_text(PROCEDURE, encoding="utf-8")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("CI", None)
    return subprocess.run(
        [sys.executable, "-m", "runbook_tui", "run", str(proc), "--lab", "--set", f"v={HOSTILE_VALUE}", *args],
        capture_output=True, text=True, timeout=90, cwd=tmp_path, env=env, stdin=stdin,
    )


def test_console_and_json_show_controls_as_text(tmp_path):
    proc = cli(tmp_path, "--yes")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert not raw_controls(proc.stdout), raw_controls(proc.stdout)
    assert not raw_controls(proc.stderr), raw_controls(proc.stderr)
    out = proc.stdout
    assert "a\\x1b]0;pwned\\x07b" in out and "\\x1b[2Jcleared\\r" in out and "hidden\\rshown" in out
    assert "del\\x7f" in out and "err\\x1b[31m" in out
    assert "echo changed '\\x1b[31mred\\x1b]0;owned\\x07'" in out  # the rendered command, visibly

    proc = cli(tmp_path, "--yes", "--json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert not raw_controls(proc.stdout) and not raw_controls(proc.stderr)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    lines = [e["text"] for e in events if e["event"] == "output" and e["step_id"] == "shout"]
    assert lines[:2] == ["a\x1b]0;pwned\x07b", "\x1b[2Jcleared\r"]  # the data itself is kept
    assert "del\x7f" in lines


def test_gates_at_a_terminal_show_controls_as_text(tmp_path):
    master, slave = os.openpty()  # a terminal on stdin: the gates are asked, not auto-answered
    try:
        os.write(master, b"y\ny\n")  # approve the plan, then the confirmation
        proc = cli(tmp_path, stdin=slave)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Change it to" in proc.stderr  # the gate was asked here
    assert not raw_controls(proc.stderr), raw_controls(proc.stderr)
    assert not raw_controls(proc.stdout), raw_controls(proc.stdout)
    assert "Change it to \\x1b[31mred\\x1b]0;owned\\x07?" in proc.stderr
    assert "echo changed '\\x1b[31mred\\x1b]0;owned\\x07'" in proc.stderr  # what will run


def test_error_sentences_show_controls_as_text(tmp_path: Path) -> None:
    """A value that ends up in an error (here an unknown procedure's name) is escaped too."""
    env = dict(os.environ, RUNBOOK_TUI_STATE_DIR=str(tmp_path / "state"))
    done = subprocess.run([sys.executable, "-m", "runbook_tui", "run", "nope\x1b]0;pwned\x07", "--procedures",
                           str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "\x1b" not in done.stderr and "\x07" not in done.stderr
    assert "\\x1b]0;pwned\\x07" in done.stderr
