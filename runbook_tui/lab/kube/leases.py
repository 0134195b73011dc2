"""Leases (``coordination.k8s.io/v1``): the lock runs take before changing the mail edge.

The generic server stores and serves them like any type (create, get, update with
resourceVersion conflicts answered 409, patch); this module adds what the real API checks of a
Lease's spec, and says which requests are lock bookkeeping rather than changes to the mail edge
(the lab's command log records them as reads, so a run's changes read the same with or without
its lock).
"""

from __future__ import annotations

import re

from runbook_tui.lab.kube.errors import invalid
from runbook_tui.lab.kube.resources import ResourceType

GROUP = "coordination.k8s.io"
# metav1.MicroTime as the API writes it; the official client sends an offset instead of Z.
_MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")


def is_lease_request(command: str) -> bool:
    """Whether a logged request (``PUT /apis/...``) writes a Lease."""
    return f"/apis/{GROUP}/" in command and "/leases" in command


def admit_lease(rtype: ResourceType, obj: dict) -> None:
    """The real API's ValidateLeaseSpec: a positive duration, no negative transitions, times in
    MicroTime format; 422 Invalid otherwise."""
    name = obj.get("metadata", {}).get("name", "")
    spec = obj.get("spec")
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise invalid(rtype, name, "spec", "Invalid value: must be an object")
    holder = spec.get("holderIdentity")
    if holder is not None and not isinstance(holder, str):
        raise invalid(rtype, name, "spec.holderIdentity", "Invalid value: must be a string")
    for field, minimum in (("leaseDurationSeconds", 1), ("leaseTransitions", 0)):
        value = spec.get(field)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            must = "greater than 0" if minimum else "greater than or equal to 0"
            raise invalid(rtype, name, f"spec.{field}", f"Invalid value: {value!r}: must be {must}")
    for field in ("acquireTime", "renewTime"):
        value = spec.get(field)
        if value is not None and not (isinstance(value, str) and _MICRO_TIME.match(value)):
            raise invalid(rtype, name, f"spec.{field}", f"Invalid value: {value!r}: not a MicroTime (RFC 3339)")
