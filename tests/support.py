"""Helpers shared by test files that are not fixtures (those are in conftest.py): where the
checkout is, the CLI as a subprocess with its own state folders, and what counts as a raw
terminal control character.

(No tests here.)
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment with the run journals and the configuration kept under ``tmp_path``."""
    env = dict(os.environ)
    env.update(RUNBOOK_TUI_STATE_DIR=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    return env


def runbook(*args: str, cwd: Path, env: dict[str, str], timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """``runbook-tui ARGS`` as an operator runs it, with no terminal on stdin (so gates need --yes)."""
    return subprocess.run([sys.executable, "-m", "runbook_tui", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=timeout, **kw)


# Every C0 and C1 control and DEL, but newline and tab: what a terminal would obey.
CONTROLS = {chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]} - {"\n", "\t"}
# An input value carrying SGR and OSC sequences (a red colour, a window title).
HOSTILE_VALUE = "\x1b[31mred\x1b]0;owned\x07"


def raw_controls(text: str) -> set[str]:
    return {c for c in text if c in CONTROLS}


def wait_until(predicate, what: str, timeout: float = 30) -> None:
    """Poll PREDICATE until it holds (or fail after TIMEOUT seconds, naming WHAT)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def until_said(proc: subprocess.Popen, text: str, timeout: float = 30) -> str:
    """PROC's output up to the line that says TEXT."""
    assert proc.stdout is not None
    seen, deadline = "", time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < deadline and proc.poll() is None, f"never said {text!r}: {seen}"
        if select.select([proc.stdout], [], [], 0.1)[0]:
            seen += proc.stdout.readline()
    return seen
