"""Secrets stay secret: secret inputs are masked wherever they are shown or stored, file contents
are journaled as a digest, and only the target receives the real value.

The CLI runs as a subprocess; the restore reads the lab's real config.xml over SSH.
"""

from __future__ import annotations

import json
from pathlib import Path

from support import runbook
from test_cli_flags import cli

from runbook_tui.lab import Lab
from runbook_tui.lab.pfsense.config_xml import LAB_ADMIN_HASH

TOKEN = "s3cr3t-'token with spaces'"

PROCEDURE = """\
id: uses-a-token
title: Uses a token
inputs:
  token: {{prompt: "API token", secret: true, required: true}}
  where: {{prompt: "Where", default: "{out}"}}
steps:
  - id: hand-over
    title: Hand the token to the target
    local: printf '%s' {{{{ inputs.token }}}} > {{{{ inputs.where }}}}
    confirm: "Write {{{{ inputs.token }}}} to {{{{ inputs.where }}}}?"
  - id: echo
    title: A target that echoes it back
    local: printf 'token=%s\\n' {{{{ inputs.token }}}}
    mutates: false
"""


def test_a_secret_input_reaches_the_target_and_nothing_else(tmp_path: Path, env) -> None:
    out = tmp_path / "received"
    (tmp_path / "p.yaml").write_text(PROCEDURE.format(out=out))
    shown = runbook("run", "p.yaml", "--set", f"token={TOKEN}", "--yes", cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert out.read_text() == TOKEN  # the target got the real value, quoted intact
    as_json = runbook("run", "p.yaml", "--set", f"token={TOKEN}", "--yes", "--json", cwd=tmp_path, env=env)
    assert as_json.returncode == 0

    journals = list((tmp_path / "state" / "runs").glob("*.jsonl"))
    assert len(journals) == 2
    report = runbook("runs", "report", journals[0].stem, cwd=tmp_path, env=env)
    replay = runbook("runs", "show", journals[0].stem, cwd=tmp_path, env=env)
    places = {"console": shown.stdout + shown.stderr, "json": as_json.stdout, "report": report.stdout,
              "replay": replay.stdout, **{f"journal {p.name}": p.read_text() for p in journals}}
    for where, text in places.items():
        for piece in ("s3cr3t", "token with spaces"):
            assert piece not in text, f"the secret leaked into the {where}"
    assert "token=***" in shown.stdout  # what the target echoed, masked on screen
    started = json.loads(journals[0].read_text().splitlines()[0])
    assert started["inputs"]["token"] == "***"
    gates = [json.loads(line) for line in as_json.stdout.splitlines() if '"gate_requested"' in line]
    plan, confirm = gates
    assert confirm["text"] == f"Write *** to {out}?"
    assert any("printf '%s' *** > " in d for d in plan["details"]), plan["details"]


def test_resuming_a_run_with_a_secret_asks_for_it_again(tmp_path: Path, env) -> None:
    out = tmp_path / "received"
    (tmp_path / "p.yaml").write_text(PROCEDURE.format(out=out).replace("printf 'token=%s\\n'", "exit 3; printf"))
    failed = runbook("run", "p.yaml", "--set", f"token={TOKEN}", "--yes", cwd=tmp_path, env=env)
    assert failed.returncode == 1
    (journal,) = (tmp_path / "state" / "runs").glob("*.jsonl")
    refused = runbook("resume", journal.stem, "--yes", cwd=tmp_path, env=env)
    assert refused.returncode == 2
    assert "input token is secret and was not journaled: give it again" in refused.stderr
    out.unlink()
    (tmp_path / "p.yaml").write_text(PROCEDURE.format(out=out))
    resumed = runbook("resume", journal.stem, "--yes", "--set", "token=another", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "token=***" in resumed.stdout and "another" not in journal.read_text()


async def test_a_restore_rehearsal_journals_the_config_as_a_digest(tmp_path: Path) -> None:
    async with Lab(tmp_path / "lab") as lab:
        code, out, err = await cli(tmp_path, "--inventory", str(lab.inventory_path), "run", "restore-backup",
                                   "--dry-run", "--yes")
    assert code == 0, out + err
    (journal,) = (tmp_path / "state" / "runs").glob("*.jsonl")
    text = journal.read_text()
    assert LAB_ADMIN_HASH not in text and LAB_ADMIN_HASH not in out
    assert "<?xml" not in text and "<pfsense>" not in text
    events = [json.loads(line) for line in text.splitlines()]
    read = {e["step_id"]: e for e in events if e["event"] == "step_finished"}
    for step in ("backup-xml", "running-config"):
        assert read[step]["status"] == "ok"
        assert "sha256" in read[step]["result"]["stdout"] and read[step]["result"]["redacted"]
        assert read[step]["result"]["data"]["backends"], "what the parser extracted is kept"
    # What the operator saw before the choice: the comparison, made from the real files.
    assert any(e["event"] == "output" and e["step_id"] == "compare" and "backend" in e["text"] for e in events)


async def test_the_tui_never_shows_a_secret(tmp_path: Path, env, monkeypatch) -> None:
    from test_tui_support import gate_of, home_ready, make_app, run_finished, screen_is
    from textual.widgets import Input

    out = tmp_path / "received"
    procs = tmp_path / "procs"
    procs.mkdir()
    (procs / "p.yaml").write_text(PROCEDURE.format(out=out).replace("id: uses-a-token", "id: p"))
    app = make_app(tmp_path / "runs", procedures=str(procs))
    async with app.run_test(size=(160, 48)) as pilot:
        await home_ready(pilot)
        app.start_procedure("p")
        form = await screen_is(pilot, "InputsScreen")
        field = form.query_one("#in-token", Input)
        assert field.password  # typed as dots
        field.value = TOKEN
        await pilot.pause()
        assert "s3cr3t" not in app.export_screenshot()
        form.action_start()
        run_screen = await screen_is(pilot, "RunScreen")
        for kind in ("plan", "confirm"):
            await gate_of(pilot, kind)
            assert "s3cr3t" not in app.export_screenshot(), f"the {kind} gate shows the secret"
            await pilot.press("y")
        await run_finished(pilot)
        screen_text = app.export_screenshot()
        assert "token=***" in screen_text and "s3cr3t" not in screen_text
        assert "s3cr3t" not in str(run_screen.state.__dict__)
    assert out.read_text() == TOKEN
