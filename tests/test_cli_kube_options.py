"""--context and --namespace on the command line set the inventory's Kubernetes target(s) before
anything runs, as kubectl's flags do. The lab is started for real; the CLI runs as a subprocess."""

from __future__ import annotations

from pathlib import Path

from test_cli_flags import cli

from runbook_tui.lab import Lab
from runbook_tui.workspace import Workspace


async def test_context_and_namespace_override_the_inventory(tmp_path: Path) -> None:
    async with Lab(tmp_path / "lab") as lab:
        inv = str(lab.inventory_path)
        code, out, err = await cli(tmp_path, "run", "backend-health", "--inventory", inv,
                                   "--context", "lab", "--namespace", "mailserver", "--yes")
        assert code == 0, out[-3000:] + err[-3000:]

        # Before the subcommand means the same; a context the kubeconfig lacks stops before any step.
        code, out, err = await cli(tmp_path, "--context", "nope", "run", "backend-health", "--inventory", inv, "--yes")
        assert code == 2, out[-3000:] + err[-3000:]
        assert err.strip().splitlines() == [
            f"Context 'nope' is not in the kubeconfig {lab.kubeconfig_path} (contexts: lab)."]
        assert "step" not in out.lower()

        # What the run stands on: every Kubernetes target of the inventory carries the two values.
        ws = await Workspace.open(inventory=inv, context="lab", namespace="metallb-system")
        try:
            kube = ws.inventory.targets["cluster"].kubernetes
            assert kube is not None and (kube.context, kube.namespace) == ("lab", "metallb-system")
            assert ws.inventory.targets["cluster"].kubernetes.kubeconfig == str(lab.kubeconfig_path)
        finally:
            await ws.close()


async def test_kube_options_need_a_kubernetes_target(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text("targets:\n  fw: {ssh: {host: 127.0.0.1}}\n")
    code, out, err = await cli(tmp_path, "run", "backend-health", "--inventory", str(inv), "--context", "x", "--yes")
    assert code == 2
    assert err.strip() == "--context and --namespace apply to Kubernetes targets, and the inventory has none."
