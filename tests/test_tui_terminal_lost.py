"""The TUI on a real terminal whose other end goes away without a hangup signal reaching it
(the TUI started through make, whose session leader keeps the signal): it quits within a few
seconds instead of reading the closed terminal in a loop at a core's worth of CPU."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_the_tui_quits_when_its_terminal_goes_away(tmp_path: Path) -> None:
    main, child = pty.openpty()
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), RUNBOOK_TUI_STATE_DIR=str(tmp_path / "state"),
               TERM="xterm-256color", COLUMNS="120", LINES="35")
    # setsid without a controlling terminal of its own first: closing our end then reaches the
    # TUI only as end-of-input, not as SIGHUP (what a session leader such as make leaves it with).
    proc = subprocess.Popen([sys.executable, "-m", "runbook_tui", "--lab"],
                            stdin=child, stdout=child, stderr=child, env=env, cwd=tmp_path,
                            start_new_session=True)
    os.close(child)
    try:
        screen = _read_until(main, b"Procedures", 30)
        assert b"Procedures" in screen, screen[-2000:]
        os.close(main)  # the window closes; no signal is sent
        deadline = time.monotonic() + 15
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if proc.poll() is None:
            before = _cpu_seconds(proc.pid)
            time.sleep(1.0)
            spent = _cpu_seconds(proc.pid) - before
            raise AssertionError(f"still running 15 s after its terminal went away, at {spent:.0%} of a core")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
