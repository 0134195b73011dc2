"""Waiting between looks by watching (KubeClient.changed, the k8s action's ``settle``): a step with
``until`` sees a change when it happens, not a poll's delay later; a refused watch falls back to
sleeping out the delay. Against the lab's API server with the official client."""

from __future__ import annotations

import time

import pytest

from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import AutoGates
from runbook_tui.errors import KubeError
from runbook_tui.transports.kube import KubeClient
from runbook_tui.workspace import Workspace


async def _job(kube: KubeClient, name: str, outcome: str = "complete") -> dict:
    return await kube.apply({"apiVersion": "batch/v1", "kind": "Job",
                             "metadata": {"name": name, "labels": {"outcome": outcome}},
                             "spec": {"template": {"spec": {"containers": [{"name": "probe", "image": "p"}]}}}})


async def test_changed_answers_at_the_change_and_times_out_without_one(kube, cluster):
    job = await _job(kube, "probe-w")  # the job controller completes it 0.3 s later
    start = time.monotonic()
    assert await kube.changed("Job", "probe-w", resource_version=job["metadata"]["resourceVersion"], timeout=5)
    assert time.monotonic() - start < 2
    # The look that follows is answered with what the watch delivered, without asking again.
    cluster.server.forbidden.add("jobs")
    seen = await kube.get("Job", "probe-w")
    assert seen["metadata"]["resourceVersion"] != job["metadata"]["resourceVersion"]
    with pytest.raises(KubeError, match="(?i)forbidden"):
        await kube.get("Job", "probe-w")  # once only
    cluster.server.forbidden.discard("jobs")

    hang = await _job(kube, "probe-h", "hang")
    await kube.changed("Job", "probe-h", resource_version=hang["metadata"]["resourceVersion"], timeout=2)
    settled = await kube.get("Job", "probe-h")  # the controller's own changes are done
    start = time.monotonic()
    changed = await kube.changed("Job", "probe-h", resource_version=settled["metadata"]["resourceVersion"],
                                 timeout=1)
    assert not changed and 0.9 < time.monotonic() - start < 3


async def test_a_refused_watch_sleeps_out_the_delay(kube, cluster):
    job = await _job(kube, "probe-r", "hang")
    cluster.server.forbidden.add("jobs")  # 403 on the watch, as RBAC without the verb answers
    start = time.monotonic()
    assert not await kube.changed("Job", "probe-r", resource_version=job["metadata"]["resourceVersion"], timeout=1)
    assert 0.9 < time.monotonic() - start < 3
    cluster.server.forbidden.discard("jobs")
    # Refused once, the rest of the run polls: no second watch is tried.
    start = time.monotonic()
    assert not await kube.changed("Job", "probe-r", resource_version=job["metadata"]["resourceVersion"], timeout=1)
    assert 0.9 < time.monotonic() - start < 3


PROCEDURE = """\
id: wait-job
title: A Job waited for with get + until
steps:
  - id: create
    k8s: job-from-cronjob
    target: cluster
    namespace: "{{ vars.namespace }}"
    cronjob: "{{ vars.probe_cronjob }}"
    name: probe-until
  - id: wait
    needs: [create]
    k8s: get
    target: cluster
    namespace: "{{ vars.namespace }}"
    kind: Job
    api_version: batch/v1
    name: probe-until
    until: >-
      {{ ((result.data.get('status') or {}).get('conditions') or [])
         | selectattr('status', 'eq', 'True') | list | length > 0 }}
    retry: {attempts: 3, delay: 5s}
"""


async def test_get_until_sees_the_job_finish_at_once(tmp_path):
    """The lab's probe Job ends 0.5 s after it starts: with a 5 s delay between looks, polling
    would take 5 s; watching between looks takes about the Job's own time."""
    folder = tmp_path / "procedures"
    folder.mkdir()
    (folder / "wait-job.yaml").write_text(PROCEDURE)
    ws = await Workspace.open(lab=True, procedures=str(folder), lab_dir=str(tmp_path / "lab"))
    try:
        events: list[ev.Event] = []
        engine = ws.engine(ws.procedure("wait-job"), inputs={}, gates=AutoGates(yes=True, lab=True),
                           subscribers=[events.append], journal=False)
        report = await engine.run()
    finally:
        await ws.close()
    assert report.outcome == "succeeded", report.message
    started = [e for e in events if isinstance(e, ev.StepStarted) and e.step_id == "wait"]
    finished = [e for e in events if isinstance(e, ev.StepFinished) and e.step_id == "wait"]
    assert finished[-1].ts - started[0].ts < 3, [e.attempt for e in started]
    assert len(started) >= 2  # it looked, waited for the change, and looked again
