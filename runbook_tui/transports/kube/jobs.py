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
