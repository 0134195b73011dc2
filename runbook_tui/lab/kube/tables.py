"""Server-side printing (``as=Table``) for ``kubectl get``: the columns the real API prints."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from runbook_tui.lab.kube.resources import ResourceType

Cell = Callable[[dict], Any]
# (column name, type, priority, cell function); priority 1 columns show with -o wide.
Column = tuple[str, str, int, Cell]


def _parse_time(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery ``duration.HumanDuration``: 45s, 3m20s, 5h, 2d3h..."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def since(ts: str | None) -> str:
    t = _parse_time(ts)
    if t is None:
        return "<unknown>"
    return human_duration((datetime.now(UTC) - t).total_seconds())


def _g(obj: Any, *path: str, default: Any = None) -> Any:
    for p in path:
        if not isinstance(obj, dict):
            return default
        obj = obj.get(p)
    return default if obj is None else obj


def _name(o: dict) -> str:
    return o["metadata"]["name"]


def _age(o: dict) -> str:
    return since(o["metadata"].get("creationTimestamp"))


def _svc_external_ip(o: dict) -> str:
    kind = _g(o, "spec", "type", default="ClusterIP")
    ips = list(_g(o, "spec", "externalIPs", default=[]))
    if kind == "LoadBalancer":
        ing = [i.get("ip") or i.get("hostname") for i in _g(o, "status", "loadBalancer", "ingress", default=[])]
        ips = [i for i in ing if i] + ips
        return ",".join(ips) if ips else "<pending>"
    if kind == "ExternalName":
        return _g(o, "spec", "externalName", default="<none>")
    return ",".join(ips) if ips else "<none>"


def _svc_ports(o: dict) -> str:
    out = []
    for p in _g(o, "spec", "ports", default=[]):
        proto = p.get("protocol", "TCP")
        node = p.get("nodePort")
        out.append(f"{p.get('port')}:{node}/{proto}" if node else f"{p.get('port')}/{proto}")
    return ",".join(out) if out else "<none>"


def _selector_text(sel: dict | None) -> str:
    if not sel:
        return "<none>"
    labels = sel.get("matchLabels", sel if "matchExpressions" not in sel else {})
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "<none>"


def _pod_status(o: dict) -> str:
    if o["metadata"].get("deletionTimestamp"):
        return "Terminating"
    reason = _g(o, "status", "reason") or _g(o, "status", "phase", default="Pending")
    for cs in _g(o, "status", "containerStatuses", default=[]):
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
    return reason


def _pod_ready(o: dict) -> str:
    statuses = _g(o, "status", "containerStatuses", default=[])
    total = len(_g(o, "spec", "containers", default=[]))
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def _pod_restarts(o: dict) -> str:
    return str(sum(c.get("restartCount", 0) for c in _g(o, "status", "containerStatuses", default=[])))


def _node_status(o: dict) -> str:
    ready = next((c for c in _g(o, "status", "conditions", default=[]) if c.get("type") == "Ready"), None)
    status = "Ready" if ready and ready.get("status") == "True" else ("NotReady" if ready else "Unknown")
    if _g(o, "spec", "unschedulable"):
        status += ",SchedulingDisabled"
    return status


def _node_roles(o: dict) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix):] for k in (o["metadata"].get("labels") or {}) if k.startswith(prefix))
    return ",".join(roles) or "<none>"


def _node_address(kind: str) -> Cell:
    def cell(o: dict) -> str:
        for a in _g(o, "status", "addresses", default=[]):
            if a.get("type") == kind:
                return a.get("address", "<none>")
        return "<none>"

    return cell


def _job_status(o: dict) -> str:
    conds = {c.get("type"): c.get("status") for c in _g(o, "status", "conditions", default=[])}
    for kind in ("Complete", "Failed", "FailureTarget", "SuccessCriteriaMet", "Suspended"):
        if conds.get(kind) == "True":
            return {"FailureTarget": "FailureTarget", "SuccessCriteriaMet": "SuccessCriteriaMet"}.get(kind, kind)
    return "Running"


def _job_duration(o: dict) -> str:
    start = _parse_time(_g(o, "status", "startTime"))
    if start is None:
        return ""
    end = _parse_time(_g(o, "status", "completionTime")) or datetime.now(UTC)
    return human_duration((end - start).total_seconds())


def _containers(o: dict, path: tuple[str, ...], field: str) -> str:
    return ",".join(c.get(field, "") for c in _g(o, *path, default=[]))


_POD_TEMPLATE = ("spec", "template", "spec", "containers")

TABLES: dict[str, list[Column]] = {
    "services": [
        ("Name", "string", 0, _name),
        ("Type", "string", 0, lambda o: _g(o, "spec", "type", default="ClusterIP")),
        ("Cluster-IP", "string", 0, lambda o: _g(o, "spec", "clusterIP", default="<none>")),
        ("External-IP", "string", 0, _svc_external_ip),
        ("Port(s)", "string", 0, _svc_ports),
        ("Age", "string", 0, _age),
        ("Selector", "string", 1, lambda o: ",".join(f"{k}={v}" for k, v in _g(o, "spec", "selector", default={}).items()) or "<none>"),
    ],
    "pods": [
        ("Name", "string", 0, _name),
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "string", 0, _pod_restarts),
        ("Age", "string", 0, _age),
        ("IP", "string", 1, lambda o: _g(o, "status", "podIP", default="<none>")),
        ("Node", "string", 1, lambda o: _g(o, "spec", "nodeName", default="<none>")),
        ("Nominated Node", "string", 1, lambda o: _g(o, "status", "nominatedNodeName", default="<none>")),
        ("Readiness Gates", "string", 1, lambda o: "<none>"),
    ],
    "nodes": [
        ("Name", "string", 0, _name),
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, _node_roles),
        ("Age", "string", 0, _age),
        ("Version", "string", 0, lambda o: _g(o, "status", "nodeInfo", "kubeletVersion", default="")),
        ("Internal-IP", "string", 1, _node_address("InternalIP")),
        ("External-IP", "string", 1, _node_address("ExternalIP")),
        ("OS-Image", "string", 1, lambda o: _g(o, "status", "nodeInfo", "osImage", default="<unknown>")),
        ("Kernel-Version", "string", 1, lambda o: _g(o, "status", "nodeInfo", "kernelVersion", default="<unknown>")),
        ("Container-Runtime", "string", 1, lambda o: _g(o, "status", "nodeInfo", "containerRuntimeVersion", default="<unknown>")),
    ],
    "jobs": [
        ("Name", "string", 0, _name),
        ("Status", "string", 0, _job_status),
        ("Completions", "string", 0, lambda o: f"{_g(o, 'status', 'succeeded', default=0)}/{_g(o, 'spec', 'completions', default=1)}"),
        ("Duration", "string", 0, _job_duration),
        ("Age", "string", 0, _age),
        ("Containers", "string", 1, lambda o: _containers(o, _POD_TEMPLATE, "name")),
        ("Images", "string", 1, lambda o: _containers(o, _POD_TEMPLATE, "image")),
        ("Selector", "string", 1, lambda o: _selector_text(_g(o, "spec", "selector"))),
    ],
    "deployments": [
        ("Name", "string", 0, _name),
        ("Ready", "string", 0, lambda o: f"{_g(o, 'status', 'readyReplicas', default=0)}/{_g(o, 'spec', 'replicas', default=1)}"),
        ("Up-to-date", "integer", 0, lambda o: _g(o, "status", "updatedReplicas", default=0)),
        ("Available", "integer", 0, lambda o: _g(o, "status", "availableReplicas", default=0)),
        ("Age", "string", 0, _age),
        ("Containers", "string", 1, lambda o: _containers(o, _POD_TEMPLATE, "name")),
        ("Images", "string", 1, lambda o: _containers(o, _POD_TEMPLATE, "image")),
        ("Selector", "string", 1, lambda o: _selector_text(_g(o, "spec", "selector"))),
    ],
    "cronjobs": [
        ("Name", "string", 0, _name),
        ("Schedule", "string", 0, lambda o: _g(o, "spec", "schedule", default="")),
        ("Timezone", "string", 0, lambda o: _g(o, "spec", "timeZone", default="<none>")),
        ("Suspend", "boolean", 0, lambda o: bool(_g(o, "spec", "suspend", default=False))),
        ("Active", "integer", 0, lambda o: len(_g(o, "status", "active", default=[]))),
        ("Last Schedule", "string", 0, lambda o: since(_g(o, "status", "lastScheduleTime")) if _g(o, "status", "lastScheduleTime") else "<none>"),
        ("Age", "string", 0, _age),
    ],
    "namespaces": [
        ("Name", "string", 0, _name),
        ("Status", "string", 0, lambda o: _g(o, "status", "phase", default="Active")),
        ("Age", "string", 0, _age),
    ],
    "configmaps": [
        ("Name", "string", 0, _name),
        ("Data", "integer", 0, lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        ("Age", "string", 0, _age),
    ],
    "events": [
        ("Last Seen", "string", 0, lambda o: since(o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp"))),
        ("Type", "string", 0, lambda o: o.get("type", "")),
        ("Reason", "string", 0, lambda o: o.get("reason", "")),
        ("Object", "string", 0, lambda o: f"{_g(o, 'involvedObject', 'kind', default='').lower()}/{_g(o, 'involvedObject', 'name', default='')}"),
        ("Message", "string", 0, lambda o: o.get("message", "")),
    ],
    "ipaddresspools": [
        ("Name", "string", 0, _name),
        ("Auto Assign", "boolean", 0, lambda o: _g(o, "spec", "autoAssign", default=True)),
        ("Avoid Buggy IPs", "boolean", 0, lambda o: _g(o, "spec", "avoidBuggyIPs", default=False)),
        ("Addresses", "string", 0, lambda o: str(_g(o, "spec", "addresses", default=[]))),
        ("Age", "string", 0, _age),
    ],
    "leases": [
        ("Name", "string", 0, _name),
        ("Holder", "string", 0, lambda o: _g(o, "spec", "holderIdentity", default="") or ""),
        ("Age", "string", 0, _age),
    ],
}

# What the real API prints for a type without its own printer.
DEFAULT_TABLE: list[Column] = [("Name", "string", 0, _name), ("Age", "string", 0, _age)]


def to_table(rtype: ResourceType, objects: list[dict], resource_version: str, include: str = "Metadata") -> dict:
    """A ``meta.k8s.io/v1`` Table; ``include`` is the includeObject parameter (None, Metadata, Object)."""
    columns = TABLES.get(rtype.plural, DEFAULT_TABLE)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [fn(obj) for _, _, _, fn in columns]}
        if include == "Object":
            row["object"] = copy.deepcopy(obj)
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": copy.deepcopy(obj["metadata"]),
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": name,
                "type": typ,
                "format": "name" if name == "Name" else "",
                "description": name,
                "priority": prio,
            }
            for name, typ, prio, _ in columns
        ],
        "rows": rows,
    }
