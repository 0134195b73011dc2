"""A Job made from a CronJob, as ``kubectl create job NAME --from=cronjob/CRONJOB`` makes it
(kubectl ``pkg/cmd/create/create_job.go``): the template's spec, labels and annotations, the
``instantiate: manual`` annotation, and the CronJob as its controlling owner."""

from __future__ import annotations

from typing import Any


def job_from_cronjob(cronjob: dict, job_name: str, namespace: str) -> dict:
    template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    annotations = {"cronjob.kubernetes.io/instantiate": "manual", **(tmeta.get("annotations") or {})}
    metadata: dict[str, Any] = {
        "name": job_name,
        "namespace": namespace,
        "annotations": annotations,
        "ownerReferences": [
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "name": cronjob["metadata"]["name"],
                "uid": cronjob["metadata"]["uid"],
                "controller": True,
            }
        ],
    }
    if tmeta.get("labels"):
        metadata["labels"] = tmeta["labels"]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": template.get("spec") or {}}


def made_from(job: dict) -> str | None:
    """The name of the CronJob that JOB (as ``job_from_cronjob`` makes it) is made from."""
    owners = (job.get("metadata") or {}).get("ownerReferences") or []
    return next((o.get("name") for o in owners if o.get("kind") == "CronJob"), None)


def describe(job: dict) -> str:
    """What a Job made from a CronJob will run, a line per container, for a gate."""
    containers = (((job.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    lines = [f"job/{job['metadata']['name']} from cronjob/{made_from(job)}:"]
    for c in containers:
        command = " ".join(str(part) for part in (c.get("command") or []) + (c.get("args") or []))
        lines.append(f"  container {c.get('name', '?')}: {c.get('image', '?')}" + (f": {command}" if command else ""))
    return "\n".join(lines)
