"""The console in pipes and cron: a closed pipe is not an error of the run, colour only where
wanted, and --quiet prints only what cron should mail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROC = """\
id: chatty
title: Chatty
steps:
  - id: talk
    local: for i in $(seq 1 20000); do echo "line $i"; done
    mutates: false
  - id: change
    local: touch {out}
  - id: check
    local: "test -e {out} && echo ok"
    mutates: false
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ, RUNBOOK_TUI_STATE_DIR=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "c"))
    e.pop("NO_COLOR", None)
    return e


def piped_into_head(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    """``runbook-tui ARGS | head -n 1``, for real: the reader closes the pipe after one line."""
    shell = f"{sys.executable} -m runbook_tui {' '.join(args)} | head -n 1; exit ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", shell], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90,
                          stdin=subprocess.DEVNULL)
    return done.returncode, done.stderr


@pytest.mark.parametrize("fmt", ["", "--json"])
def test_a_run_piped_into_head_finishes_and_says_nothing_of_the_pipe(tmp_path: Path, env, fmt: str) -> None:
    out = tmp_path / "changed"
    (tmp_path / "p.yaml").write_text(PROC.format(out=out))
    code, err = piped_into_head(tmp_path, env, "run", "p.yaml", "--yes", fmt)
    assert code == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert out.exists(), "the run stopped when its reader went away"
    (journal,) = (tmp_path / "state" / "runs").glob("*.jsonl")
    assert '"outcome": "succeeded"' in journal.read_text()


@pytest.mark.parametrize("command", [["list"], ["runs"]])
def test_listings_piped_into_head_leave_quietly(tmp_path: Path, env, command: list[str]) -> None:
    (tmp_path / "p.yaml").write_text(PROC.format(out=tmp_path / "x"))
    subprocess.run([sys.executable, "-m", "runbook_tui", "run", "p.yaml", "--yes"], cwd=tmp_path, env=env,
                   capture_output=True, timeout=90, stdin=subprocess.DEVNULL)
    code, err = piped_into_head(tmp_path, env, *command)
    assert code in (0, 141) and "Traceback" not in err, err


def _on_a_terminal(tmp_path: Path, env: dict[str, str], *args: str) -> str:
    """The run with stdout on a pseudo-terminal, as an operator's shell has it."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "runbook_tui", *args], cwd=tmp_path, env=env, stdout=slave,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(60)
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


def test_colour_only_when_wanted(tmp_path: Path, env) -> None:
    (tmp_path / "p.yaml").write_text(PROC.format(out=tmp_path / "x"))
    assert "\x1b[" in _on_a_terminal(tmp_path, env, "run", "p.yaml", "--yes")
    for extra_env, flags in (({"NO_COLOR": "1"}, []), ({"TERM": "dumb"}, []), ({}, ["--no-color"])):
        text = _on_a_terminal(tmp_path, {**env, **extra_env}, "run", "p.yaml", "--yes", *flags)
        assert "SUCCEEDED" in text and "\x1b[" not in text, (extra_env, flags)


def test_quiet_prints_only_failures_and_the_outcome(tmp_path: Path, env) -> None:
    (tmp_path / "p.yaml").write_text(PROC.format(out=tmp_path / "x"))
    ok = subprocess.run([sys.executable, "-m", "runbook_tui", "run", "p.yaml", "--yes", "--quiet"], cwd=tmp_path,
                        env=env, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert ok.returncode == 0 and ok.stdout == "SUCCEEDED\n" and ok.stderr == ""
    (tmp_path / "p.yaml").write_text(PROC.format(out=tmp_path / "x").replace("test -e", "test ! -e"))
    failed = subprocess.run([sys.executable, "-m", "runbook_tui", "run", "p.yaml", "--yes", "--quiet"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90,
                            stdin=subprocess.DEVNULL)
    assert failed.returncode == 1
    assert failed.stdout.splitlines() == ["check failed: exit code 1", "FAILED: step check failed"]
