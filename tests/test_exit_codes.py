"""Exit codes that alerting can use: a failed check (1) is not a run that could not be carried
out (4), nor a refusal (3), nor bad input (2)."""

from __future__ import annotations

from pathlib import Path

from test_cli_flags import cli

from runbook_tui.lab import Lab


async def test_each_kind_of_ending_has_its_code(tmp_path: Path) -> None:
    async with Lab(tmp_path / "ok") as lab:
        inventory = str(lab.inventory_path)
        assert (await cli(tmp_path, "run", "backend-health", "--inventory", inventory, "--yes"))[0] == 0
    async with Lab(tmp_path / "down", faults=["node-down=k8s-node2"]) as lab:
        code, out, _ = await cli(tmp_path, "run", "backend-health", "--inventory", str(lab.inventory_path), "--yes")
        assert code == 1, out  # the check ran and found a DOWN server
    async with Lab(tmp_path / "key", faults=["hostkey-changed"]) as lab:
        code, out, _ = await cli(tmp_path, "run", "backend-health", "--inventory", str(lab.inventory_path), "--yes")
        assert code == 4, out  # nothing could be checked: the firewall was not reached
    code, _, err = await cli(tmp_path, "run", "backend-health", "--set", "nope=1", "--lab", "--yes")
    assert code == 2, err


async def test_run_help_lists_the_exit_codes(tmp_path: Path) -> None:
    code, out, _ = await cli(tmp_path, "run", "--help")
    assert code == 0
    assert "exit codes:" in out and "4  could not be carried out" in out and "1  a check or a step failed" in out
