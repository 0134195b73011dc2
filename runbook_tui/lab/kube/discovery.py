"""Discovery: ``/version``, ``/api``, ``/apis``, ``/apis/GROUP`` and the resource lists, which
kubectl and the official client read before anything else to learn the served types."""

from __future__ import annotations

from typing import Any

from runbook_tui.lab.kube.errors import no_such_path
from runbook_tui.lab.kube.resources import ALL_VERBS, ResourceRegistry, ResourceType

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T00:00:00Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(address: str) -> dict:
    """``/api``: the core group's versions, and where clients reach the server."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def group_list(registry: ResourceRegistry) -> dict:
    groups = []
    for name, versions in registry.groups().items():
        entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        groups.append({"name": name, "versions": entries, "preferredVersion": dict(entries[0])})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: ResourceRegistry, name: str) -> dict:
    """``/apis/GROUP``, or NotFound for a group no type is served in."""
    groups = [g for g in group_list(registry)["groups"] if g["name"] == name]
    if not groups:
        raise no_such_path()
    return {"kind": "APIGroup", "apiVersion": "v1", **groups[0]}


def resource_list(group: str, version: str, types: list[ResourceType]) -> dict:
    resources = []
    for t in types:
        entry: dict[str, Any] = {
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": ALL_VERBS,
        }
        if t.short_names:
            entry["shortNames"] = list(t.short_names)
        if t.categories:
            entry["categories"] = list(t.categories)
        resources.append(entry)
        for sub in t.subresources:
            kind, verbs = {
                "status": (t.kind, ["get", "patch", "update"]),
                "log": ("Pod", ["get"]),
                "exec": ("PodExecOptions", ["create", "get"]),
            }.get(sub, (t.kind, ["get"]))
            resources.append(
                {"name": f"{t.plural}/{sub}", "singularName": "", "namespaced": t.namespaced, "kind": kind, "verbs": verbs}
            )
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
