"""The procedure search path: the shipped procedures, then the operator's folder
($XDG_CONFIG_HOME/runbook-tui/procedures), then each --procedures DIR. An operator's procedure
can call a shipped one; one id in two files is an error naming both files, in list, validate
and run alike; the TUI's home shows the operator's procedures too."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import ROOT, cli_env, runbook
from test_tui_support import home_ready, make_app
from textual.widgets import DataTable

from runbook_tui.language.search_path import procedure_folders

SHIPPED = ROOT / "runbook_tui" / "procedures"
MINE = """\
id: morning-check
title: My morning check
steps:
  - id: validate
    call: validate
    with: {path: haproxy}
"""
EXTRA = "id: extra-{n}\ntitle: Extra {n}\nsteps:\n  - {{id: look, local: 'true', mutates: false}}\n"


def user_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "config" / "runbook-tui" / "procedures"  # XDG_CONFIG_HOME is tmp_path/config
    folder.mkdir(parents=True)
    return folder


def test_the_operators_procedure_calls_a_shipped_one(tmp_path: Path) -> None:
    (user_folder(tmp_path) / "morning-check.yaml").write_text(MINE)
    env = cli_env(tmp_path)
    listed = runbook("list", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    ids = [line.split()[0] for line in listed.stdout.splitlines()[1:]]
    assert "morning-check" in ids and "validate" in ids
    checked = runbook("validate", cwd=tmp_path, env=env)
    shipped = len(list(SHIPPED.glob("*.yaml")))
    assert (checked.returncode, checked.stdout) == (0, f"{shipped + 1} file(s) checked: all valid\n"), checked.stderr
    rehearsed = runbook("run", "morning-check", "--lab", "--yes", cwd=tmp_path, env=env, timeout=180)
    assert rehearsed.returncode == 0, rehearsed.stdout[-2000:] + rehearsed.stderr
    assert "SUCCEEDED" in rehearsed.stdout


def test_procedures_is_repeatable_on_either_side(tmp_path: Path) -> None:
    for n in (1, 2, 3):
        (tmp_path / f"d{n}").mkdir()
        (tmp_path / f"d{n}" / f"extra-{n}.yaml").write_text(EXTRA.format(n=n))
    listed = runbook("--procedures", "d1", "--procedures", "d2", "list", "--procedures", "d3",
                     cwd=tmp_path, env=cli_env(tmp_path))
    assert listed.returncode == 0, listed.stderr
    ids = {line.split()[0] for line in listed.stdout.splitlines()[1:]}
    assert {"extra-1", "extra-2", "extra-3", "validate"} <= ids


def test_one_id_in_two_files_is_an_error_naming_both(tmp_path: Path) -> None:
    mine = user_folder(tmp_path) / "my-validate.yaml"
    mine.write_text("# my own\n" + MINE.replace("morning-check", "validate"))
    env = cli_env(tmp_path)
    clash = f"{mine}:2:5: procedure id 'validate' is also used by {SHIPPED / 'validate.yaml'}:1"
    listed = runbook("list", cwd=tmp_path, env=env)
    # The shipped procedures that call validate are invalid too: their call names both files.
    assert listed.returncode == 2
    assert f"procedure file(s) in the shipped procedures or {mine.parent} are invalid" in listed.stderr
    checked = runbook("validate", cwd=tmp_path, env=env)
    assert checked.returncode == 2
    assert clash in checked.stderr.splitlines()
    # Neither file silently wins a run; nothing runs.
    ran = runbook("run", "validate", "--lab", "--yes", cwd=tmp_path, env=env, timeout=120)
    assert ran.returncode == 2 and clash in ran.stderr.splitlines(), ran.stderr
    assert "Traceback" not in ran.stderr + checked.stderr + listed.stderr
    # A call to the id is refused at the call, naming both files.
    (tmp_path / "caller.yaml").write_text(MINE)
    called = runbook("validate", "caller.yaml", cwd=tmp_path, env=env)
    assert called.returncode == 2
    assert (f"caller.yaml:5:11: step 'validate' calls 'validate', which is the id of two procedures: "
            f"{SHIPPED / 'validate.yaml'}:1 and {mine}:2") in called.stderr.splitlines()


def test_the_search_path_is_shipped_then_the_operators_then_given(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert procedure_folders([tmp_path / "a", SHIPPED, tmp_path / "a"]) == [
        SHIPPED, tmp_path / "runbook-tui" / "procedures", tmp_path / "a"]


@pytest.mark.usefixtures("at_root")
async def test_the_tui_home_shows_the_operators_procedures(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    (user_folder(tmp_path) / "morning-check.yaml").write_text(MINE)
    # The default search path; the example inventory defines what the shipped procedures use.
    app = make_app(tmp_path / "runs", procedures=None, inventory="inventory.example.yaml")
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        table = app.screen.query_one("#procedures", DataTable)
        keys = [str(k.value) for k in table.rows]
        assert "morning-check" in keys and "validate" in keys
        assert "My morning check" in [str(c) for c in table.get_row("morning-check")]
