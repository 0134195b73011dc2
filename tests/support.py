"""Helpers shared by test files that are not fixtures (those are in conftest.py): where the
checkout is, the CLI as a subprocess with its own state folders, and what counts as a raw
terminal control character.

(No tests here.)
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
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


@contextlib.contextmanager
def lab_process(folder: Path) -> Iterator[subprocess.Popen]:
    """`runbook-tui lab --dir FOLDER` in a process of its own (so two CLI processes can share it,
    and a test can pause it), up until it says it is ready; stopped (even if paused) at the end."""
    proc = subprocess.Popen([sys.executable, "-m", "runbook_tui", "lab", "--dir", str(folder)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("Lab ready"), line + (proc.stderr.read() if proc.stderr else "")
        yield proc
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def operator_env(tmp_path: Path, user: str, lease_seconds: int | str) -> dict[str, str]:
    """Another person on another machine: their own HOME, state folder and login name, and a
    short team Lease so a crashed holder's is taken over within a test."""
    home = tmp_path / user
    home.mkdir(exist_ok=True)
    return {**os.environ, "HOME": str(home), "USER": user, "LOGNAME": user, "PYTHONUNBUFFERED": "1",
            "RUNBOOK_TUI_STATE_DIR": str(home / "state"), "XDG_CONFIG_HOME": str(home / "config"),
            "RUNBOOK_TUI_LEASE_SECONDS": str(lease_seconds)}
