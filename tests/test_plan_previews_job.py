"""The plan gate of a run that creates a Job from a CronJob shows what the Job will run, read
from the CronJob while the change lock is taken; the Job created, once approved, is the one the
gate showed (a CronJob edited while the question was open does not slip in); and the CronJob is
read once a run, not once for the gate and again for the creation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lab_runs import PROCEDURES, inputs_for

from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import AutoGates, GateAnswer, GateRequest
from runbook_tui.workspace import Workspace

NS = "mailserver"
CRONJOB = "email-roundtrip-monitor"


class Timed(list):
    """The lab API server's request record, each with when it arrived."""

    def append(self, item: Any) -> None:
        super().append((*item, time.monotonic()))


class EditsTheCronJobBeforeSayingYes(AutoGates):
    """Answers yes, but first changes the CronJob's image, as someone could while the plan is read."""

    def __init__(self, ws: Workspace):
        super().__init__(yes=True, lab=True)
        self.ws = ws

    async def ask(self, request: GateRequest) -> GateAnswer:
        if request.kind == "plan":
            store = self.ws.lab.api.store
            cj = store.get("batch/v1", "CronJob", NS, CRONJOB)
            for c in cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]:
                c["image"] = "registry.example/edited-after-the-gate:1"
            store.put(cj)
        return await super().ask(request)


async def _validate(tmp_path: Path, gates_for: Any, latency: float = 0.0, runs: int = 1) -> tuple[Workspace, Any, list]:
    """validate RUNS times on one lab; the requests of the last run."""
    ws = await Workspace.open(lab=True, procedures=str(PROCEDURES), lab_dir=str(tmp_path / "lab"),
                              faults=[f"latency={latency}"] if latency else [])
    for _ in range(runs):
        ws.lab.api.requests = Timed()
        gates = gates_for(ws)
        events: list = []
        engine = ws.engine(ws.procedure("validate"), inputs=await inputs_for(ws, "validate"), gates=gates,
                           subscribers=[events.append], journal=False)
        report = await engine.run()
    return ws, (report, gates, events), ws.lab.api.requests


def _cronjob_reads(requests: list) -> list:
    return [r for r in requests if r[0] == "GET" and r[1].endswith(f"/cronjobs/{CRONJOB}")]


async def test_the_plan_shows_the_job_and_the_job_created_is_the_one_shown(tmp_path: Path) -> None:
    ws, (report, gates, events), requests = await _validate(tmp_path, EditsTheCronJobBeforeSayingYes)
    try:
        assert report.outcome == "succeeded", report.message
        plan = next(r for r in gates.asked if r.kind == "plan")
        shown = "\n".join(plan.details)
        # probe-delete's `when: probe is defined` reads what probe-create registers: it is listed
        # as a change to come, not called skipped because probe-create has not run yet.
        assert "Not listed" not in plan.text and any(d.startswith("probe-delete on cluster") for d in plan.details)
        assert f"from cronjob/{CRONJOB}:" in shown and "/scripts/roundtrip.py" in shown, shown
        (shown_image,) = {line.split(": ")[1] for line in shown.splitlines() if line.strip().startswith("container ")}
        assert "edited-after-the-gate" not in shown_image
        created = next(e for e in events if isinstance(e, ev.StepFinished) and e.step_id == "probe-create")
        images = [c["image"] for c in created.result["data"]["spec"]["template"]["spec"]["containers"]]
        assert images == [shown_image], (images, shown)
        edited = ws.lab.api.store.get("batch/v1", "CronJob", NS, CRONJOB)
        assert "edited-after-the-gate" in str(edited)  # the edit happened; the Job kept what was shown
        posts = [r for r in requests if r[0] == "POST" and r[1].endswith("/jobs")]
        assert len(posts) == 1 and len(_cronjob_reads(requests)) == 1, requests
    finally:
        await ws.close()


async def test_the_cronjob_is_read_while_the_lease_is_taken(tmp_path: Path) -> None:
    """With 0.3 s per API request, a read made only after the Lease is held would arrive at
    least 0.3 s after the Lease's write did. The second run on the lab: the first one learnt
    the API's kinds (kept 10 min, as kubectl keeps them) and left the Lease free."""
    ws, (report, _, _), requests = await _validate(tmp_path, lambda ws: AutoGates(yes=True, lab=True), latency=0.3,
                                                runs=2)
    try:
        assert report.outcome == "succeeded", report.message
        lease_write = next(r for r in requests if r[0] == "PUT" and r[1].endswith("/leases/runbook-tui"))
        (read,) = _cronjob_reads(requests)
        assert read[2] - lease_write[2] < 0.2, (read, lease_write)
    finally:
        await ws.close()
