"""The resource types the lab's Kubernetes API serves: one table, easy to extend."""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    """One REST resource, as discovery describes it (``kubectl api-resources``)."""

    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "log", "exec"
    categories: tuple[str, ...] = ()
    builtin: bool = True  # CRDs (builtin=False) refuse strategic merge patches, like the real API

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def matches(self, name: str) -> bool:
        """Whether ``name`` is a kubectl spelling of this type: kind, plural, singular, short."""
        n = name.lower()
        return n in (self.kind.lower(), self.plural, self.singular) or n in self.short_names


DEFAULT_RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", False, ("ns",), ("status",)),
    ResourceType("", "v1", "Node", "nodes", False, ("no",), ("status",)),
    ResourceType("", "v1", "Service", "services", True, ("svc",), ("status",), ("all",)),
    ResourceType("", "v1", "Pod", "pods", True, ("po",), ("status", "log", "exec"), ("all",)),
    ResourceType("", "v1", "Event", "events", True, ("ev",)),
    ResourceType("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    ResourceType("apps", "v1", "Deployment", "deployments", True, ("deploy",), ("status",), ("all",)),
    ResourceType("batch", "v1", "Job", "jobs", True, (), ("status",), ("all",)),
    ResourceType("batch", "v1", "CronJob", "cronjobs", True, ("cj",), ("status",), ("all",)),
    # What the team deployment (deploy/) and the runs' lock use (admission.py, leases.py).
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    ResourceType("", "v1", "Secret", "secrets", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True),
    ResourceType("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules", True, builtin=False),
    ResourceType(
        "metallb.io", "v1beta1", "IPAddressPool", "ipaddresspools", True, (), ("status",),
        builtin=False,
    ),
)


@dataclass
class ResourceRegistry:
    """Looks resource types up by URL parts or by kind; ``add`` extends it at run time."""

    types: list[ResourceType] = field(default_factory=lambda: list(DEFAULT_RESOURCES))

    def add(self, rtype: ResourceType) -> None:
        self.types = [t for t in self.types if not (t.api_version == rtype.api_version and t.plural == rtype.plural)]
        self.types.append(rtype)

    def by_plural(self, group: str, version: str, plural: str) -> ResourceType | None:
        for t in self.types:
            if t.group == group and t.version == version and t.plural == plural:
                return t
        return None

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        """``kind`` may be the Kind or any kubectl spelling; ``api_version`` like ``batch/v1``."""
        group, _, version = api_version.rpartition("/")
        exact = [t for t in self.types if t.group == group and t.version == version]
        for t in exact:
            if t.kind == kind:
                return t
        for t in exact:
            if t.matches(kind):
                return t
        return None

    def groups(self) -> dict[str, list[str]]:
        """Named groups (not core) and their versions, in registration order."""
        out: dict[str, list[str]] = {}
        for t in self.types:
            if t.group and t.version not in out.setdefault(t.group, []):
                out[t.group].append(t.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self.types if t.group == group and t.version == version]
