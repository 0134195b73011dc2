"""What the API server adds to a Job it is given, whichever client sent it, so stock kubectl
finds a Job's pods (``kubectl logs job/X``, ``kubectl get pods -l job-name=X``) as it does on a
real cluster.

Following kubernetes ``pkg/registry/batch/job/strategy.go`` (``generateSelector``, run on
create unless ``spec.manualSelector`` is true) and ``pkg/apis/batch/v1/defaults.go``
(``SetDefaults_Job``):

- the pod template gets ``job-name`` and ``batch.kubernetes.io/job-name`` (the Job's name) and
  ``controller-uid`` and ``batch.kubernetes.io/controller-uid`` (its uid), unless already set;
- ``spec.selector.matchLabels`` gets ``batch.kubernetes.io/controller-uid``; a selector of the
  client's own without ``manualSelector: true`` is refused (422, "`selector` not
  auto-generated"), as the API server's validation does;
- a Job without labels takes its template's (the defaulting shares that map with the template,
  so they include the generated ones); ``completions`` and ``parallelism`` default to 1,
  ``backoffLimit`` to 6, ``completionMode`` to NonIndexed, ``suspend`` to false.

It runs on updates too, where it changes nothing: the stored Job already has all of it.
"""

from __future__ import annotations

from runbook_tui.lab.kube.errors import invalid
from runbook_tui.lab.kube.resources import ResourceType

JOB_NAME = "batch.kubernetes.io/job-name"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
LEGACY_JOB_NAME = "job-name"
LEGACY_CONTROLLER_UID = "controller-uid"


def admit_job(rtype: ResourceType, obj: dict) -> None:
    meta = obj.setdefault("metadata", {})
    name, uid = meta.get("name", ""), meta.get("uid", "")
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    template = spec.setdefault("template", {})
    if not isinstance(template, dict):
        return
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"], spec["parallelism"] = 1, 1
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    if spec.get("manualSelector") is not True:
        for key, value in ((LEGACY_JOB_NAME, name), (JOB_NAME, name),
                           (LEGACY_CONTROLLER_UID, uid), (CONTROLLER_UID, uid)):
            labels.setdefault(key, value)
        selector = spec.setdefault("selector", {})
        match = selector.setdefault("matchLabels", {}) if isinstance(selector, dict) else None
        if isinstance(match, dict):
            match.setdefault(CONTROLLER_UID, uid)
        if selector != {"matchLabels": {CONTROLLER_UID: uid}}:
            raise invalid(rtype, name, "spec.selector", f"Invalid value: {selector}: `selector` not auto-generated")
    if not meta.get("labels"):
        meta["labels"] = dict(labels)
