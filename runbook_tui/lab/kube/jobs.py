"""Enough of the Job controller for the lab: a new Job gets a pod from its template (the API
server has already given it its selector and labels, ``job_defaults``), and after a moment it
ends. What the pod does follows its template, not the Job's name or annotations: a container
that runs the probe CronJob's script (``/scripts/roundtrip.py``) runs the round trip against
the lab state (``probe``) and succeeds or fails as the mail would; any other container's
command runs in the lab's tiny shell over an empty folder (``echo hi`` logs ``hi``; a command
the lab does not fake fails the Job with exit 127). A container without a command (the image's
own entrypoint) succeeds with an empty log: the lab has no images.
"""

from __future__ import annotations

import asyncio
import random
import shlex
import string
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_tui.lab.kube.mailserver import now
from runbook_tui.lab.kube.store import Store
from runbook_tui.lab.shell import Shell
from runbook_tui.lab.state import LabState

JOB_DELAY = 0.5  # seconds before a probe Job finishes
PROBE_SECONDS = 20.3
PROBE_SCRIPT = "/scripts/roundtrip.py"  # what the probe CronJob's container runs


def _condition(kind: str, reason: str, message: str, stamp: str) -> dict:
    return {"type": kind, "status": "True", "reason": reason, "message": message,
            "lastProbeTime": stamp, "lastTransitionTime": stamp}


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _argv(container: dict) -> list[str]:
    return [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]


def _is_probe(container: dict) -> bool:
    """A container running the probe CronJob's script."""
    return any(a.endswith(PROBE_SCRIPT) for a in _argv(container))


class JobController:
    """Runs every Job the store is given; ``logs`` holds each job pod's log by pod name."""

    def __init__(self, store: Store, state: LabState, root: Path):
        self.store = store
        self.state = state
        self.root = Path(root)  # the folder a job pod's shell sees as /
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
        labels = dict(template.get("metadata", {}).get("labels") or {})
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
        # assumption: the probe logs its send line as it starts (its lines are stamped in that
        # order); the rest of its log, and any other container's, comes when it ends.
        # ``logs -f`` sees that order.
        started_at = time.time()
        probes = any(_is_probe(c) for c in (template.get("spec") or {}).get("containers") or [])
        self.logs[pod_name] = self.probe_start(started_at) if probes else ""
        self.store.patch("batch/v1", "Job", ns, name, {"status": {"active": 1, "ready": 1, "startTime": now()}})
        return self._finish(ns, name, meta["uid"], pod_name, started_at)

    def _run(self, job: dict, started_at: float) -> tuple[bool, str]:
        """What the pod's containers do, in order; the first that fails fails the pod."""
        containers = ((job.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
        log = ""
        for c in containers:
            argv = _argv(c)
            if _is_probe(c):
                ok, out = self.probe(started_at)
            elif not argv:
                ok, out = True, ""
            else:
                if len(argv) >= 3 and argv[0] in ("sh", "/bin/sh", "bash", "/bin/bash") and argv[1] == "-c":
                    line = argv[2]
                else:
                    line = shlex.join(argv)
                self.root.mkdir(parents=True, exist_ok=True)
                res = Shell(self.root, {}, flavor="linux", home="/").run(line)
                ok, out = res.code == 0, res.stdout + res.stderr
            log += out
            if not ok:
                return False, log
        return True, log

    async def _finish(self, ns: str, name: str, uid: str, pod_name: str, started_at: float) -> None:
        await asyncio.sleep(JOB_DELAY)
        job = self.store.get("batch/v1", "Job", ns, name)
        if job is None or job["metadata"]["uid"] != uid:
            return  # deleted meanwhile
        ok, log = self._run(job, started_at)
        self.logs[pod_name] = log
        containers = ((job.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
        stamp = now()
        if self.store.get("v1", "Pod", ns, pod_name) is not None:
            self.store.patch("v1", "Pod", ns, pod_name, {"status": {
                "phase": "Succeeded" if ok else "Failed",
                "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted"}],
                "containerStatuses": [{"name": c.get("name", "main"), "ready": False, "restartCount": 0,
                                       "image": c.get("image", ""),
                                       "imageID": c.get("image", "") + "@sha256:9e4f1c",
                                       "state": {"terminated": {"exitCode": 0 if ok else 1,
                                                                "reason": "Completed" if ok else "Error",
                                                                "finishedAt": stamp}}}
                                      for c in containers],
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

    @staticmethod
    def probe_start(t: float) -> str:
        """The probe's first line, written as it starts at ``t``: the send it is about to make."""
        return f"{_stamp(t)} INFO sending rt-{int(t)} via Brevo API to smoke-test@viktorbarzin.me\n"

    def probe(self, t: float) -> tuple[bool, str]:
        """The round trip started at ``t``: Brevo -> MX (WAN:25) -> ... -> mailserver, then an
        IMAP fetch. The whole log, beginning with ``probe_start``'s line."""
        stamp = lambda dt: _stamp(t + dt)  # noqa: E731
        rid = f"rt-{int(t)}"
        lines = [
            self.probe_start(t).rstrip("\n"),
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
