"""A flag means the same wherever it stands on the line: before the subcommand or after it.

Run as an operator would (the CLI in a subprocess) against a lab this test starts, so that what
a flag did is read off the lab itself: whether HAProxy really restarted.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from support import cli_env

from runbook_tui.headless.journal import list_runs
from runbook_tui.lab import Lab


async def cli(tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runbook_tui", *argv, cwd=tmp_path, env=cli_env(tmp_path),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("argv", [
    ["--dry-run", "--inventory", "{inv}", "run", "reload", "--set", "reason=t", "--yes"],
    ["--inventory", "{inv}", "run", "reload", "--set", "reason=t", "--yes", "--dry-run"],
    ["--offline", "run", "reload", "--inventory", "{inv}", "--set", "reason=t", "--yes"],
    ["--inventory", "{inv}", "--dry-run", "run", "--dry-run", "reload", "--set", "reason=t", "--yes"],
], ids=["dry-run-before", "dry-run-after", "offline-before", "dry-run-both"])
async def test_dry_run_anywhere_never_restarts_haproxy(tmp_path: Path, argv: list[str]) -> None:
    async with Lab(tmp_path / "lab") as lab:
        pid = lab.state.haproxy_pid
        code, out, err = await cli(tmp_path, *(a.format(inv=lab.inventory_path) for a in argv))
        assert code == 0, err
        assert lab.state.haproxy_pid == pid, "HAProxy restarted in a dry run"
        assert not [e for e in lab.command_log.entries() if e["mutating"]]
    (run,) = list_runs(tmp_path / "state" / "runs")
    assert run.mode in ("dry-run", "offline")


async def test_lab_before_the_subcommand_runs_on_a_lab(tmp_path: Path) -> None:
    # No inventory anywhere: a dropped --lab would end in "no target pfsense", exit 1.
    code, out, err = await cli(tmp_path, "--lab", "--fault", "latency=0", "run", "backend-health", "--yes")
    assert code == 0, err
    (run,) = list_runs(tmp_path / "state" / "runs")
    assert run.mode == "lab"


@pytest.mark.parametrize("argv, flag", [
    (["--phase", "3", "run", "validate", "--phase", "5"], "--phase"),
    (["--inventory", "a.yaml", "run", "validate", "--inventory", "b.yaml"], "--inventory"),
])
async def test_a_flag_given_twice_with_different_values_is_an_error(tmp_path: Path, argv, flag) -> None:
    code, out, err = await cli(tmp_path, *argv)
    assert code == 2
    assert f"{flag} was given twice with different values" in err
    assert "Traceback" not in err
