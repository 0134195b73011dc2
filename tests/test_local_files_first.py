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
  - id: read-later
    needs: [first-change]
    local: echo later
    mutates: false
    register: later
  - id: upload-when-read
    needs: [read-later]
    when: "{{{{ later is defined }}}}"
    upload: {{target: pfsense, src: "{other}", dest: /tmp/other.php}}
"""


async def test_a_missing_upload_source_refuses_the_run_before_anything_changes(tmp_path: Path) -> None:
    marker, script, other = tmp_path / "changed", tmp_path / "infra" / "script.php", tmp_path / "infra" / "other.php"
    (tmp_path / "p.yaml").write_text(PROC.format(marker=marker, script=script, other=other))
    other.parent.mkdir()
    other.write_text("<?php echo 'also';\n")
    async with Lab(tmp_path / "lab") as lab:
        code, out, err = await cli(tmp_path, "run", "p.yaml", "--inventory", str(lab.inventory_path), "--yes")
        assert code == 3, out + err
        assert f"this run needs {script} (step upload-script), which does not exist on this machine" in out
        assert "nothing was changed" in out
        assert not marker.exists()
        assert not [e for e in lab.command_log.entries() if e["mutating"]]

        script.write_text("<?php echo 'ok';\n")
        other.unlink()
        # A step whose `when` reads what an earlier step has yet to register will run: its file too
        # is asked for before the first change, not found missing after it.
        code, out, err = await cli(tmp_path, "run", "p.yaml", "--inventory", str(lab.inventory_path), "--yes")
        assert code == 3, out + err
        assert f"this run needs {other} (step upload-when-read), which does not exist on this machine" in out
        assert not marker.exists()

        other.write_text("<?php echo 'also';\n")
        code, out, err = await cli(tmp_path, "run", "p.yaml", "--inventory", str(lab.inventory_path), "--yes")
        assert code == 0, out + err  # the file a false `when` skips is not asked for
        assert marker.exists()
