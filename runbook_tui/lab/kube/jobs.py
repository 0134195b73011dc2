"""Enough of the Job controller for the lab: a new Job gets a pod and a selector, and after a
moment it ends. A Job made from the probe CronJob runs the round trip against the lab state
(``probe``): it succeeds or fails as the mail would, and its pod's log says how it went. Any
other Job succeeds.
"""

from __future__ import annotations

import asyncio
import random
import string
import time
from datetime import UTC, datetime
from typing import Any

from runbook_tui.lab.kube.mailserver import CRONJOB, now
from runbook_tui.lab.kube.store import Store
from runbook_tui.lab.state import LabState

JOB_DELAY = 0.5  # seconds before a probe Job finishes
PROBE_SECONDS = 20.3


def _condition(kind: str, reason: str, message: str, stamp: str) -> dict:
    return {"type": kind, "status": "True", "reason": reason, "message": message,
            "lastProbeTime": stamp, "lastTransitionTime": stamp}


class JobController:
    """Runs every Job the store is given; ``logs`` holds each job pod's log by pod name."""

    def __init__(self, store: Store, state: LabState):
        self.store = store
        self.state = state
        self.logs: dict[str, str] = {}  # pod name -> log
        self._started: set[str] = set()

    def started(self, job: dict) -> Any:
        """A new Job: its pod, its selector, then (as a coroutine for the store to run) its end."""
        meta = job["metadata"]
        if meta["uid"] in self._started or job.get("status", {}).get("completionTime"):
            return None
        self._started.add(meta["uid"])
        ns, name = meta["namespace"], meta["name"]
        template = (job.get("spec") or {}).get("template") or {}
        suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        pod_name = f"{name}-{suffix}"
        labels = {**(template.get("metadata", {}).get("labels") or {}),
                  "batch.kubernetes.io/job-name": name, "job-name": name,
                  "batch.kubernetes.io/controller-uid": meta["uid"], "controller-uid": meta["uid"]}
        self.store.put({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": ns, "labels": labels,
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                                              "uid": meta["uid"], "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": {**(template.get("spec") or {}), "nodeName": "k8s-node3"},
            "status": {"phase": "Running", "startTime": now(), "podIP": "10.244.3.112",
                       "hostIP": "10.0.20.103",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": c.get("name", "main"), "ready": True,
                                              "restartCount": 0, "image": c.get("image", ""),
                                              "imageID": c.get("image", "") + "@sha256:9e4f1c",
                                              "state": {"running": {"startedAt": now()}}}
                                             for c in (template.get("spec") or {}).get("containers", [])]},
        })
        self.logs[pod_name] = ""
        # As the API server defaults it: the Job selects its pods by its own uid.
        uid_labels = {"batch.kubernetes.io/controller-uid": meta["uid"], "controller-uid": meta["uid"],
                      "batch.kubernetes.io/job-name": name, "job-name": name}
        spec_fix = {}
        if not (job.get("spec") or {}).get("selector"):
            spec_fix = {"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": meta["uid"]}},
                        "template": {"metadata": {"labels": uid_labels}}}
        self.store.patch("batch/v1", "Job", ns, name,
                         {"spec": spec_fix, "status": {"active": 1, "ready": 1, "startTime": now()}})
        return self._finish(ns, name, meta["uid"], pod_name)

    def _is_probe(self, job: dict) -> bool:
        refs = job["metadata"].get("ownerReferences") or []
        labels = job["metadata"].get("labels") or {}
        return labels.get("app") == CRONJOB or any(r.get("name") == CRONJOB for r in refs)

    async def _finish(self, ns: str, name: str, uid: str, pod_name: str) -> None:
        await asyncio.sleep(JOB_DELAY)
        job = self.store.get("batch/v1", "Job", ns, name)
        if job is None or job["metadata"]["uid"] != uid:
            return  # deleted meanwhile
        ok, log = (self.probe() if self._is_probe(job) else (True, ""))
        self.logs[pod_name] = log
        stamp = now()
        if self.store.get("v1", "Pod", ns, pod_name) is not None:
            self.store.patch("v1", "Pod", ns, pod_name, {"status": {
                "phase": "Succeeded" if ok else "Failed",
                "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted"}],
                "containerStatuses": [{"name": "roundtrip", "ready": False, "restartCount": 0,
                                       "image": "python:3.12-alpine",
                                       "imageID": "python:3.12-alpine@sha256:9e4f1c",
                                       "state": {"terminated": {"exitCode": 0 if ok else 1,
                                                                "reason": "Completed" if ok else "Error",
                                                                "finishedAt": stamp}}}],
            }})
        if ok:
            done = ("CompletionsReached", "Reached expected number of succeeded pods", stamp)
            status = {"active": None, "ready": 0, "succeeded": 1, "completionTime": stamp,
                      "conditions": [_condition("SuccessCriteriaMet", *done), _condition("Complete", *done)]}
        else:
            failed = ("BackoffLimitExceeded", "Job has reached the specified backoff limit", stamp)
            status = {"active": None, "ready": 0, "failed": 1,
                      "conditions": [_condition("FailureTarget", *failed), _condition("Failed", *failed)]}
        self.store.patch("batch/v1", "Job", ns, name, {"status": status})

    def probe(self) -> tuple[bool, str]:
        """The round trip: Brevo -> MX (WAN:25) -> ... -> mailserver, then an IMAP fetch."""
        t = time.time()
        stamp = lambda dt: datetime.fromtimestamp(t + dt, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
        rid = f"rt-{int(t)}"
        lines = [
            f"{stamp(0)} INFO sending {rid} via Brevo API to smoke-test@viktorbarzin.me",
            f"{stamp(0.4)} INFO Brevo accepted {rid} (messageId <{int(t)}.{rid}@smtp-relay.mailin.fr>)",
            f"{stamp(0.4)} INFO polling IMAP mailserver.mailserver.svc.cluster.local:993 for {rid}",
        ]
        ok, why = self.state.external_path()
        if self.state.probe_fails:
            ok, why = False, "test message never reached the INBOX"
        if ok:
            lines += [f"{stamp(PROBE_SECONDS)} INFO found {rid} in INBOX, deleting",
                      f"{stamp(PROBE_SECONDS)} Round-trip SUCCESS in {PROBE_SECONDS}s"]
        else:
            lines += [f"{stamp(60.4)} ERROR {rid} not found in INBOX after 60s",
                      f"{stamp(60.4)} Round-trip FAILED: no reply from MX within 60s ({why})"]
        return ok, "\n".join(lines) + "\n"
