"""Every file on this machine that a run needs is checked before its first change: a missing one
refuses the run with nothing changed (not a Service patched and then an upload that fails)."""

from __future__ import annotations

from pathlib import Path

from test_cli_flags import cli

from runbook_tui.lab import Lab

PROC = """\
id: two-changes
title: A change, then an upload from this machine
steps:
  - id: first-change
    local: touch {marker}
  - id: upload-script
    upload: {{target: pfsense, src: "{script}", dest: /tmp/script.php}}
  - id: skipped-upload
    when: "{{{{ false }}}}"
    upload: {{target: pfsense, src: /nonexistent/never-needed.php, dest: /tmp/never.php}}
"""


async def test_a_missing_upload_source_refuses_the_run_before_anything_changes(tmp_path: Path) -> None:
    marker, script = tmp_path / "changed", tmp_path / "infra" / "script.php"
    (tmp_path / "p.yaml").write_text(PROC.format(marker=marker, script=script))
    async with Lab(tmp_path / "lab") as lab:
        code, out, err = await cli(tmp_path, "run", "p.yaml", "--inventory", str(lab.inventory_path), "--yes")
        assert code == 3, out + err
        assert f"this run needs {script} (step upload-script), which does not exist on this machine" in out
        assert "nothing was changed" in out
        assert not marker.exists()
        assert not [e for e in lab.command_log.entries() if e["mutating"]]

        script.parent.mkdir()
        script.write_text("<?php echo 'ok';\n")
        code, out, err = await cli(tmp_path, "run", "p.yaml", "--inventory", str(lab.inventory_path), "--yes")
        assert code == 0, out + err  # the file a false `when` skips is not asked for
        assert marker.exists()
