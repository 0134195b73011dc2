"""``k8s: exec`` with a string command: input values reach ``sh -c`` as one quoted word each.

Run against the lab's cluster: its pods/exec answers with the lab shell over the mailserver
container's file tree and records every exec it receives in the command log.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import AutoGates
from runbook_tui.language.inputs import resolve
from runbook_tui.workspace import Workspace

PROCEDURE = """\
id: exec-echo
title: Echo a value inside the mailserver container
inputs:
  v:
    type: string
    required: true
steps:
  - id: echo
    title: Echo the value
    k8s: exec
    target: cluster
    namespace: "{{ vars.namespace }}"
    name: "deployment/{{ vars.deployment }}"
    container: "{{ vars.container }}"
    command: echo {{ inputs.v }}
    mutates: false
    why: Shows what the container received.
"""

HOSTILE = [
    "x; touch /tmp/pwned",
    "x && touch /tmp/pwned",
    "x | touch /tmp/pwned",
    "x' ; touch /tmp/pwned; echo '",
    "x\ntouch /tmp/pwned",
    "$(touch /tmp/pwned)",
    "`touch /tmp/pwned`",
]


async def _run(tmp_path: Path, value: str):
    procs = tmp_path / "procedures"
    procs.mkdir()
    (procs / "exec-echo.yaml").write_text(PROCEDURE, encoding="utf-8")
    ws = await Workspace.open(lab=True, procedures=str(procs), lab_dir=str(tmp_path / "lab"))
    try:
        procedure = ws.procedure("exec-echo")
        events: list[ev.Event] = []
        engine = ws.engine(procedure, inputs=resolve(procedure, {"v": value}, {}),
                           gates=AutoGates(yes=True, lab=True), subscribers=[events.append], journal=False)
        report = await engine.run()
        execs = [e for e in ws.lab.command_log.entries() if e["command"].startswith("EXEC ")]
        container_root = ws.lab.cluster.root
        return report, events, execs, container_root
    finally:
        await ws.close()


@pytest.mark.parametrize("value", HOSTILE)
async def test_a_string_command_quotes_the_value(tmp_path, value):
    report, events, execs, root = await _run(tmp_path, value)
    assert report.outcome == "succeeded", report.message
    # What runs (and what dry-run would show): the value is one shell word.
    (started,) = [e for e in events if isinstance(e, ev.StepStarted) and e.step_id == "echo"]
    assert started.rendered.endswith("-- sh -c echo " + shlex.quote(value)), started.rendered
    # What the cluster received: sh -c with the quoted value, nothing else run.
    (received,) = execs
    assert received["command"].endswith(" -- " + shlex.join(["sh", "-c", "echo " + shlex.quote(value)]))
    assert received["mutating"] is False  # the lab saw only an echo
    output = "\n".join(e.text for e in events if isinstance(e, ev.OutputLine) and e.step_id == "echo")
    assert output == value  # echoed back as one literal argument
    assert not (root / "tmp" / "pwned").exists()

