"""validate reports the local paths an inventory's vars name that are not there: the infra
repo, the scripts a run uploads, the Terraform stack (file:line:col of the key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_tui.lab.inventory_file import inventory
from runbook_tui.language.inventory_loader import check_inventory_files


def test_missing_scripts_repo_and_stack_are_problems_at_their_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "repo" / "scripts").mkdir(parents=True)
    (tmp_path / "repo" / "scripts" / "flip.php").write_text("<?php\n")
    path = tmp_path / "inventory.yaml"
    path.write_text(
        "vars:\n"
        f"  infra_repo: {tmp_path}/repo\n"
        f"  terraform_stack: {tmp_path}/repo/stacks/mailserver\n"
        f"  nat_flip_script: {tmp_path}/repo/scripts/flip.php\n"
        "  bootstrap_script: repo/scripts/bootstrap.php\n"
        f"  alias_add_script: {tmp_path}/repo/scripts\n"
        "  backup_dir: /mnt/backup/pfsense\n"  # a path on the backup host, not here
        "  remote_tmp: /tmp\n",
        encoding="utf-8",
    )
    got = [str(p) for p in check_inventory_files(path)]
    assert got == [
        f"{path}:3:20: 'vars.terraform_stack' in the inventory names the Terraform stack"
        f" {tmp_path}/repo/stacks/mailserver, which does not exist: a Terraform change of the Service cannot run",
        f"{path}:5:21: 'vars.bootstrap_script' in the inventory names the script repo/scripts/bootstrap.php"
        f" (relative to the current folder, {tmp_path}), which does not exist: a run that uploads it stops"
        " before its first change",
        f"{path}:6:21: 'vars.alias_add_script' in the inventory names the script {tmp_path}/repo/scripts,"
        " which is a folder, not a file: a run that uploads it stops before its first change",
    ]


def test_the_labs_inventory_names_only_paths_that_exist(tmp_path: Path) -> None:
    import yaml

    scripts = tmp_path / "infra" / "scripts"
    scripts.mkdir(parents=True)
    data = inventory(tmp_path, 1, 2)
    for var in data["vars"]:
        if var.endswith("_script"):
            Path(data["vars"][var]).write_text("<?php\n")
    for name in ("id_ed25519", "known_hosts", "kubeconfig"):
        (tmp_path / name).write_text("")
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert check_inventory_files(path) == []
    Path(data["vars"]["nat_unflip_script"]).unlink()
    assert [p.message.split(" names ")[0] for p in check_inventory_files(path)] == [
        "'vars.nat_unflip_script' in the inventory"]
