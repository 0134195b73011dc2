"""The shipped procedures load cleanly and read well as a graph.

`runbook-tui validate procedures/` is what CI and an operator run; the text graph is what an
operator reads before a run, so it must name every step.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT

from runbook_tui.cli import main
from runbook_tui.language.catalog import Catalog

PROCEDURES = ROOT / "procedures"
SHIPPED = (
    "validate", "backend-health", "bootstrap", "node-change", "reload", "rollback",
    "rollback-nat", "restore-backup", "decommission-metallb",
)


def test_validate_command_passes_on_the_shipped_folder():
    proc = subprocess.run(
        [sys.executable, "-m", "runbook_tui", "validate", str(PROCEDURES)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(SHIPPED)} file(s) checked: all valid" in proc.stdout + proc.stderr


def test_every_issue_procedure_is_shipped_and_listed_in_the_readme():
    catalog = Catalog(PROCEDURES)
    assert sorted(catalog.ids()) == sorted(SHIPPED)
    readme = (PROCEDURES / "README.md").read_text(encoding="utf-8")
    for pid in SHIPPED:
        assert f"`{pid}`" in readme, f"procedures/README.md does not describe {pid}"


@pytest.mark.parametrize("pid", SHIPPED)
def test_graph_names_every_step(pid: str, capsys):
    procedure = Catalog(PROCEDURES).get(pid)
    assert main(["--procedures", str(PROCEDURES), "graph", pid]) == 0
    text = capsys.readouterr().out
    assert procedure.title in text
    for step in procedure.steps:
        assert step.id in text, f"graph of {pid} does not name step {step.id}"
        assert step.label in text
    for step in procedure.steps:
        if step.is_mutating and step.action != "call":
            # The operator must see what changes things before running.
            line = next(ln for ln in text.splitlines() if f" {step.id} " in ln or ln.rstrip().endswith(step.id))
            assert "MUTATES" in line, f"{pid}: {step.id} is not marked MUTATES in the graph"


@pytest.mark.parametrize("pid", SHIPPED)
def test_every_step_says_what_it_is(pid: str):
    """A title and a why on every step (the walkthrough shows them), a gate on every step that
    changes a target by itself, and every mutating step's undo in the same action family."""
    procedure = Catalog(PROCEDURES).get(pid)
    assert procedure.summary
    for step in procedure.steps:
        assert step.title, f"{pid}: step {step.id} has no title"
        assert step.why and len(step.why) > 20, f"{pid}: step {step.id} has no why"
        changes_target = step.is_mutating and step.action in ("ssh", "k8s", "local")
        if changes_target and (pid, step.id) not in UNGATED:
            assert step.confirm is not None, f"{pid}: {step.id} changes something without a gate"


# Mutating steps that need no gate of their own (the run's plan gate still lists them).
UNGATED = {
    ("validate", "probe-create"),  # a one-off probe Job, deleted by the same run
    ("validate", "probe-delete"),
    ("restore-backup", "save-running"),  # a copy beside config.xml, for the undo
    ("restore-backup", "apply"),  # applies what the typed gate just approved
}

def test_example_inventory_matches_the_lab_contract(tmp_path: Path):
    """A real site's inventory names the same variables as the lab's, and the procedures
    validate against it (so every `vars.X` they use exists)."""
    import yaml

    from runbook_tui.lab.inventory_file import SCRIPTS, inventory
    from runbook_tui.language.inventory_loader import load_inventory

    example = load_inventory(ROOT / "inventory.example.yaml")
    assert set(example.targets) == {"pfsense", "backup-host", "cluster"}
    assert example.targets["pfsense"].ssh.host == "10.0.20.1" and example.targets["pfsense"].ssh.user == "admin"
    lab_vars = inventory(Path("/lab"), 1, 2)["vars"]
    assert set(lab_vars) <= set(example.vars)
    assert example.vars["metallb_ip"] == "10.0.20.202"
    assert example.vars["nodeports"] == {"smtp": 30125, "smtps": 30126, "submission": 30127, "imaps": 30128}
    text = (ROOT / "inventory.example.yaml").read_text(encoding="utf-8")
    assert "password" not in text.lower() and "BEGIN" not in text  # no secrets
    assert yaml.safe_load(text)["vars"]["backup_dir"] == "/mnt/backup/pfsense"
    # Validated on a machine with the infra checkout it names (its scripts are local paths).
    repo = tmp_path / "infra"
    for var in SCRIPTS:
        script = Path(example.vars[var].replace("/home/viktor/code/infra", str(repo)))
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text("<?php\n")
    here = tmp_path / "inventory.yaml"
    here.write_text(text.replace("/home/viktor/code/infra", str(repo)), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "runbook_tui", "--inventory", str(here), "validate", str(PROCEDURES)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # As shipped, it names the author's checkout: validate says which paths are missing, and where.
    proc = subprocess.run(
        [sys.executable, "-m", "runbook_tui", "--inventory", str(ROOT / "inventory.example.yaml"),
         "validate", str(PROCEDURES)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 2
    named = re.findall(r"inventory\.example\.yaml:\d+:\d+: 'vars\.(\w+)' in the inventory names", proc.stderr)
    assert sorted(named) == sorted(["infra_repo", *SCRIPTS])


def test_the_probe_job_is_cleaned_up_once():
    """probe-delete (always) is the probe Job's only cleanup: an undo on probe-create would
    delete the same Job again and fail with 404."""
    steps = {s.id: s for s in Catalog(PROCEDURES).get("validate").steps}
    assert steps["probe-create"].undo is None
    assert steps["probe-delete"].always and steps["probe-delete"].k8s == "delete"


@pytest.mark.parametrize("pid,plan,apply", [
    ("decommission-metallb", "downgrade-terraform-plan", "downgrade-terraform"),
    ("rollback", "terraform-plan", "terraform-apply"),
])
def test_terraform_applies_the_plan_that_was_shown(pid: str, plan: str, apply: str):
    """The gated apply runs the saved plan file (unique per run), never a fresh plan."""
    import re

    from runbook_tui.language.templating import render_command

    steps = {s.id: s for s in Catalog(PROCEDURES).get(pid).steps}
    files = []
    for short_id in ("run1", "run2"):
        shown = render_command(steps[plan].local, {"run": {"short_id": short_id}})
        applied = render_command(steps[apply].local, {"run": {"short_id": short_id}})
        out = re.search(r"-out=(\S+)", shown)
        assert out and short_id in out.group(1), shown
        assert "-auto-approve" not in applied
        assert applied.split()[:2] == ["terraform", "apply"] and applied.split()[-1] == out.group(1)
        files.append(out.group(1))
    assert files[0] != files[1]
    assert steps[apply].confirm is not None


def test_alias_gone_fails_when_the_listing_fails():
    """A failing `php -r` (no output, exit 255) must not read as "the alias is gone"."""
    from runbook_tui.language.templating import evaluate

    step = next(s for s in Catalog(PROCEDURES).get("decommission-metallb").steps if s.id == "alias-gone")
    assert "|" not in step.run  # a pipeline's exit code would be the last command's

    def passes(exit_code: int, stdout: str) -> bool:
        result = {"exit_code": exit_code, "stdout": stdout, "stderr": "", "ok": exit_code == 0}
        return bool(evaluate(step.expect, {"vars": {"alias_name": "mailserver"}, "result": result}))

    assert passes(0, "") and passes(0, "lan_hosts 10.0.10.0/24\nmailserver_old 10.0.20.9\n")
    assert not passes(0, "lan_hosts 10.0.10.0/24\nmailserver 10.0.20.202\n")
    assert not passes(0, "mailserver 10.0.20.202\n")
    assert not passes(255, "PHP Fatal error:  Uncaught Error: Call to undefined function config_get_path()\n")
    assert not passes(255, "")
