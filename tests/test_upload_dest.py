"""``upload`` refuses a destination that a value steers out of its folder.

Against the lab's pfSense over SSH/SFTP: ``dest: "/tmp/{{ inputs.v }}"`` with a hostile ``v``
must not overwrite ``/cf/conf/config.xml``; an ordinary ``v`` still uploads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import AutoGates
from runbook_tui.language.inputs import resolve
from runbook_tui.workspace import Workspace

PROCEDURE = """\
id: upload-note
title: Upload a note to pfSense
inputs:
  v:
    type: string
    required: true
steps:
  - id: put
    title: Upload the note
    upload:
      target: pfsense
      content: "hostile bytes\\n"
      dest: "/tmp/{{ inputs.v }}"
    why: Puts a note where the operator named it.
"""


async def _run(tmp_path: Path, value: str, *, dry_run: bool = False):
    tmp_path = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    procs = tmp_path / "procedures"
    procs.mkdir(parents=True)
    (procs / "upload-note.yaml").write_text(PROCEDURE, encoding="utf-8")
    ws = await Workspace.open(lab=True, procedures=str(procs), lab_dir=str(tmp_path / "lab"))
    try:
        config = ws.lab.pfsense.path("/cf/conf/config.xml")
        before = config.read_bytes()
        procedure = ws.procedure("upload-note")
        events: list[ev.Event] = []
        engine = ws.engine(procedure, inputs=resolve(procedure, {"v": value}, {}), dry_run=dry_run,
                           gates=AutoGates(yes=True, lab=True), subscribers=[events.append], journal=False)
        report = await engine.run()
        (finished,) = [e for e in events if isinstance(e, ev.StepFinished) and e.step_id == "put"]
        writes = [e for e in ws.lab.command_log.entries() if e["mutating"]]
        return report, finished, before, config.read_bytes(), writes, ws.lab.pfsense
    finally:
        await ws.close()


@pytest.mark.parametrize("value", [
    "../cf/conf/config.xml",
    "notes/../../cf/conf/config.xml",
    "/../cf/conf/config.xml",
    "..",
])
async def test_a_value_cannot_climb_out_of_the_folder(tmp_path, value):
    report, finished, before, after, writes, pfsense = await _run(tmp_path, value)
    assert report.outcome != "succeeded"
    assert finished.status == "failed"
    assert after == before  # config.xml untouched
    assert writes == []  # nothing written anywhere on pfSense
    message = finished.message
    assert repr("/tmp/" + value) in message  # names the destination
    assert "input 'v'" in message and repr(value) in message  # and where it came from
    assert "'..'" in message


@pytest.mark.parametrize("value", ["note\n.txt", "note\x00.txt", "note\r.txt"])
async def test_a_line_break_or_nul_in_the_destination_is_refused(tmp_path, value):
    report, finished, before, after, writes, pfsense = await _run(tmp_path, value)
    assert finished.status == "failed" and report.outcome != "succeeded"
    assert writes == [] and after == before
    assert repr("/tmp/" + value) in finished.message and "input 'v'" in finished.message


async def test_dry_run_shows_the_refusal(tmp_path):
    report, finished, before, after, writes, pfsense = await _run(tmp_path, "../cf/conf/config.xml", dry_run=True)
    assert finished.status == "would-run"
    assert "Refusing to upload" in finished.rendered and "input 'v'" in finished.rendered
    assert after == before and writes == []


async def test_the_same_template_uploads_an_ordinary_value_only(tmp_path):
    report, finished, before, after, writes, pfsense = await _run(tmp_path, "note.txt")
    assert report.outcome == "succeeded", report.message
    assert finished.status == "ok"
    assert pfsense.path("/tmp/note.txt").read_bytes() == b"hostile bytes\n"
    assert after == before
    report, finished, before, after, writes, pfsense = await _run(tmp_path, "../cf/conf/config.xml")
    assert finished.status == "failed" and after == before
    assert not pfsense.path("/cf/conf/config.xml").read_bytes().startswith(b"hostile")
