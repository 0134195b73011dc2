"""A rehearsal that could not reach a target did not pass: dry-run fails (exit 1) and says why on
the console, whichever step met the refusal, downstream of a would-run change or not."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import ROOT
from test_cli_flags import cli

from runbook_tui.lab import Lab

PROCEDURES = sorted(p.stem for p in (ROOT / "procedures").glob("*.yaml"))
INPUTS = {"node-change": ["--set", "nodes={k8s-node1: 10.0.20.101}", "--set",
                          "nodeports={smtp: 30125, smtps: 30126, submission: 30127, imaps: 30128}"]}


async def test_every_procedure_fails_its_dry_run_under_a_changed_host_key(tmp_path: Path) -> None:
    assert len(PROCEDURES) >= 9
    async with Lab(tmp_path / "lab", faults=["hostkey-changed"]) as lab:
        for proc in PROCEDURES:
            code, out, err = await cli(tmp_path, "run", proc, "--dry-run", "--inventory", str(lab.inventory_path),
                                       "--yes", *INPUTS.get(proc, []))
            assert code == 4, f"{proc}: exit {code}\n{out}{err}"  # could not be carried out
            assert "has CHANGED" in out and "SUCCEEDED" not in out, proc
            assert "Traceback" not in err, proc


@pytest.mark.parametrize("resource, proc", [("services", "decommission-metallb"), ("jobs", "validate")])
async def test_a_forbidden_api_fails_the_dry_run(tmp_path: Path, resource: str, proc: str) -> None:
    async with Lab(tmp_path / "lab", faults=[f"api-forbidden={resource}"]) as lab:
        code, out, err = await cli(tmp_path, "run", proc, "--dry-run", "--inventory", str(lab.inventory_path), "--yes")
    assert code == 4, out + err
    assert "403" in out or "forbidden" in out.lower(), out
    assert "SUCCEEDED" not in out
