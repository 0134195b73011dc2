"""What the real API server does to an object of the team deployment's kinds before it stores
it (defaulting and validation), so ``kubectl apply -f deploy/`` meets the same answers here:
a Secret's ``stringData`` folded into base64 ``data``, RBAC rules and role references required,
a Lease's spec checked (leases.py), a Job's selector and pod labels generated (job_defaults.py).
Other kinds pass untouched.

``admit`` is the store's admission hook (``Store.admission``); it raises ``ApiError`` (422).
"""

from __future__ import annotations

import base64
import binascii
import json

from runbook_tui.lab.kube.errors import invalid
from runbook_tui.lab.kube.job_defaults import admit_job
from runbook_tui.lab.kube.leases import admit_lease
from runbook_tui.lab.kube.resources import ResourceType

RBAC = "rbac.authorization.k8s.io"


def admit(rtype: ResourceType, obj: dict) -> None:
    check = _CHECKS.get((rtype.group, rtype.kind))
    if check is not None:
        check(rtype, obj)


def _secret(rtype: ResourceType, obj: dict) -> None:
    name = obj.get("metadata", {}).get("name", "")
    obj.setdefault("type", "Opaque")
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        raise invalid(rtype, name, "data", "Invalid value: must be a map of strings")
    for key, value in data.items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise invalid(rtype, name, f"data[{key}]", "Invalid value: illegal base64 data") from None
    # stringData is write-only: the API merges it into data, base64 encoded, and drops it.
    for key, value in (obj.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    if data:
        obj["data"] = data


def _role(rtype: ResourceType, obj: dict) -> None:
    name = obj.get("metadata", {}).get("name", "")
    for i, rule in enumerate(obj.get("rules") or []):
        if not isinstance(rule, dict) or not rule.get("verbs"):
            raise invalid(rtype, name, f"rules[{i}].verbs", "Required value: verbs must contain at least one value")
        if not rule.get("resources") and not rule.get("nonResourceURLs"):
            raise invalid(rtype, name, f"rules[{i}].resources", "Required value: resource rules must supply at least one resource")


def _role_binding(rtype: ResourceType, obj: dict) -> None:
    name = obj.get("metadata", {}).get("name", "")
    ref = obj.get("roleRef")
    if not isinstance(ref, dict) or not ref.get("name"):
        raise invalid(rtype, name, "roleRef.name", "Required value")
    if ref.get("kind") not in ("Role", "ClusterRole"):
        raise invalid(rtype, name, "roleRef.kind", f"Unsupported value: {json.dumps(ref.get('kind'))}: supported values: \"ClusterRole\", \"Role\"")
    for i, subject in enumerate(obj.get("subjects") or []):
        if not isinstance(subject, dict) or not subject.get("name") or not subject.get("kind"):
            raise invalid(rtype, name, f"subjects[{i}]", "Required value: kind and name")


_CHECKS = {
    ("", "Secret"): _secret,
    (RBAC, "Role"): _role,
    (RBAC, "RoleBinding"): _role_binding,
    ("coordination.k8s.io", "Lease"): admit_lease,
    ("batch", "Job"): admit_job,
}
