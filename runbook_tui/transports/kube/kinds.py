"""Which API resource a kind names, found as kubectl finds it: by kind, plural, singular or short
name, in the core group first, then each group's preferred version, then the other versions.

The groups are read one at a time and only until the name is found. With nothing kept from an
earlier run (discovery_cache.py), a Pod or a Deployment costs one or two requests, not one per
API group of the cluster (dozens on a real one, each a round trip before the first call). The
official client's lazy discoverer holds what was read, as its own iteration would.
"""

from __future__ import annotations

from typing import Any

from runbook_tui.transports.kube.threads import load_client

Place = tuple[str, str, str]  # (prefix "api" or "apis", group, version)


def _places(discoverer: Any) -> list[Place]:
    tree = discoverer.parse_api_groups(request_resources=False)
    places = [(prefix, group, version, rg.preferred)
              for prefix, groups in tree.items() for group, versions in groups.items()
              for version, rg in versions.items()]
    # Core first, then the preferred version of each group: kubectl's order (a stable sort keeps
    # the server's order within each).
    places.sort(key=lambda p: (p[1] != "", not p[3]))
    return [p[:3] for p in places]


def _resources_of(discoverer: Any, place: Place) -> list[Any]:
    load_client()
    from kubernetes.dynamic.resource import Resource

    prefix, group, version = place
    rg = discoverer.parse_api_groups(request_resources=False)[prefix][group][version]
    if not rg.resources:
        rg.resources = discoverer.get_resources_for_api_version(prefix, group, version, rg.preferred)
        discoverer._write_cache()  # the private copy the client keeps between runs
    return [res for found in rg.resources.values() for res in found if isinstance(res, Resource)]


def _names(res: Any) -> set[str]:
    load_client()
    from kubernetes.dynamic.resource import ResourceList

    if isinstance(res, ResourceList):
        # Its other names are its base kind's, looked up across every group when first read.
        return {res.kind.lower()}
    names = {res.kind.lower(), (res.name or "").lower(), (res.singular_name or "").lower()}
    names.update(s.lower() for s in res.short_names or [])
    return names


def find(discoverer: Any, kind: str, api_version: str | None) -> Any | None:
    """The resource ``kind`` names (in ``api_version`` when given), or None."""
    wanted = kind.lower()
    for place in _places(discoverer):
        if api_version and "/".join(p for p in place[1:] if p) != api_version:
            continue
        for res in _resources_of(discoverer, place):
            if wanted in _names(res) and (not api_version or res.group_version == api_version):
                return res
    return None
