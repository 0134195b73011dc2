"""Running the shipped procedures on an in-process lab, for the procedure test files, and the
lab's pfSense as an SSH client meets it.

(No tests here; the procedure and lab test files share these.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support import ROOT

from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import AutoGates
from runbook_tui.language.inputs import resolve
from runbook_tui.workspace import Workspace

PROCEDURES = ROOT / "procedures"


class Run:
    """One procedure run: its report, every event, and what each step finished with."""

    def __init__(self, report: Any, events: list[ev.Event]):
        self.report = report
        self.events = events
        self.finished = {e.step_id: e for e in events if isinstance(e, ev.StepFinished) and e.phase == "do"}

    @property
    def ok(self) -> bool:
        return self.report.outcome == "succeeded"

    def status(self, step: str) -> str | None:
        event = self.finished.get(step)
        return event.status if event else None

    def stopped(self) -> dict[str, str]:
        return {sid: e.message for sid, e in self.finished.items() if e.status in ("failed", "blocked")}

    def started(self, step: str) -> list[ev.StepStarted]:
        return [e for e in self.events if isinstance(e, ev.StepStarted) and e.step_id == step]

    def output(self, step: str) -> str:
        return "\n".join(e.text for e in self.events if isinstance(e, ev.OutputLine) and e.step_id == step)

    def gate_text(self, step: str, kind: str | None = None) -> str:
        texts = [e.text for e in self.events if isinstance(e, ev.GateRequested) and e.step_id == step
                 and (kind is None or e.gate == kind)]
        assert texts, f"no gate was asked at {step}"
        return texts[-1]

    def explain(self) -> str:
        return f"{self.report.outcome}: {self.report.message}; stopped at {self.stopped()}"


async def open_lab(tmp_path: Path, phase: int = 6, faults: tuple[str, ...] = ()) -> Workspace:
    return await Workspace.open(lab=True, phase=phase, faults=list(faults), procedures=str(PROCEDURES),
                                lab_dir=str(tmp_path / "lab"))


async def inputs_for(ws: Workspace, pid: str, **given: Any) -> dict[str, Any]:
    procedure = ws.procedure(pid)
    return resolve(procedure, given, await ws.discover(procedure))


async def run(ws: Workspace, pid: str, *, undo_on_failure: bool = False, dry_run: bool = False,
              **given: Any) -> Run:
    """PID on the lab with every gate answered yes (a rehearsal), no journal."""
    procedure = ws.procedure(pid)
    inputs = await inputs_for(ws, pid, **given)
    events: list[ev.Event] = []
    gates = AutoGates(yes=True, lab=True, undo_on_failure=undo_on_failure)
    engine = ws.engine(procedure, inputs=inputs, gates=gates, subscribers=[events.append],
                       dry_run=dry_run, journal=False)
    return Run(await engine.run(), events)


def nat_targets(ws: Workspace) -> set[str]:
    return {rule.target for rule in ws.lab.state.running.nat}


def pfsense_login(lab: Any) -> Any:
    """An asyncssh connection to the lab's pfSense as admin (an async context manager)."""
    import asyncssh

    return asyncssh.connect("127.0.0.1", lab.pfsense_port, username="admin", client_keys=[str(lab.key_path)],
                            known_hosts=str(lab.known_hosts_path))


async def pfsense_run(lab: Any, cmd: str) -> Any:
    """CMD on the lab's pfSense: asyncssh's completed process, whatever its exit status."""
    async with pfsense_login(lab) as conn:
        return await conn.run(cmd, check=False)


async def pfsense_upload(lab: Any, text: str, remote: str) -> None:
    async with pfsense_login(lab) as conn, conn.start_sftp_client() as sftp, sftp.open(remote, "w") as f:
        await f.write(text)
