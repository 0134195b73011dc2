"""The lab's Kubernetes side: the mailserver objects on the KubeAPIServer, and the controllers
that make them behave (MetalLB, the Service type rules, Jobs and their pods).

Controllers run from the store's ``on_change`` hook and write only when something differs, so
their own writes settle after one round. What the pfSense side needs to know (Service type and
LoadBalancer IP, NodePorts, node readiness) is mirrored into the shared LabState.

The objects are in ``mailserver``, the Job controller in ``jobs``, the container that exec and
logs reach in ``container``; this module wires them to the server and runs the Service and
MetalLB controllers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runbook_tui.lab.kube.container import MailserverContainer, exec_is_mutating, not_found
from runbook_tui.lab.kube.jobs import JobController
from runbook_tui.lab.kube.mailserver import LB_ANNOTATION, METALLB_NS, POD_NAME, seed_objects
from runbook_tui.lab.state import NAMESPACE, OTHER_LB_IPS, POOL_NAME, POOL_RANGE, LabState

__all__ = ["Cluster", "exec_is_mutating"]


class Cluster:
    """Seeds the API server's store and keeps the lab state in step with it."""

    def __init__(self, api: Any, state: LabState, root: Path):
        self.api = api
        self.store = api.store
        self.state = state
        self.root = Path(root)  # the mailserver container's file tree
        self.jobs = JobController(self.store, state, self.root.parent / "job-pods")
        self.container = MailserverContainer(self.root, state)
        self._next_node_port = 31425

    # -- seeding -----------------------------------------------------------------------
    def seed(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "etc").mkdir(exist_ok=True)
        (self.root / "etc/hostname").write_text("mail\n", encoding="utf-8")
        for obj in seed_objects(self.state):
            self.store.put(obj)
        self.api.on_change(self.on_change)
        self.api.set_log_provider(self.logs)
        self.api.set_exec_handler(self.exec)

    # -- controllers -------------------------------------------------------------------
    def on_change(self, event: str, rtype: Any, obj: dict) -> Any:
        meta = obj.get("metadata", {})
        ns, name = meta.get("namespace"), meta.get("name")
        if rtype.kind == "Service" and ns == NAMESPACE:
            if name == "mailserver":
                self._service(event, obj)
            elif name == "mailserver-proxy":
                self._proxy(event, obj)
        elif rtype.kind == "Node":
            node = self.state.nodes.get(name)
            if node is not None:
                conds = obj.get("status", {}).get("conditions") or []
                node.ready = event != "DELETED" and any(
                    c.get("type") == "Ready" and c.get("status") == "True" for c in conds
                )
        elif rtype.kind == "Job" and event == "ADDED":
            return self.jobs.started(obj)
        elif rtype.kind == "IPAddressPool" and event != "DELETED" and name == POOL_NAME:
            self._sync_pool()
        return None

    def _service(self, event: str, obj: dict) -> None:
        if event == "DELETED":
            self.state.service_type, self.state.lb_ip = "", None
            self._sync_pool()
            return
        spec = obj.get("spec") or {}
        kind = spec.get("type", "ClusterIP")
        self.state.service_type = kind
        fix: dict[str, Any] = {}
        ports = spec.get("ports") or []
        if kind == "ClusterIP":
            # The API server drops type-dependent fields when the type no longer needs them.
            if any("nodePort" in p for p in ports):
                fix["ports"] = [{k: v for k, v in p.items() if k != "nodePort"} for p in ports]
            if "externalTrafficPolicy" in spec or "healthCheckNodePort" in spec:
                fix["externalTrafficPolicy"] = None
                fix["healthCheckNodePort"] = None
        elif kind in ("NodePort", "LoadBalancer"):
            if any("nodePort" not in p for p in ports):
                fix["ports"] = [p if "nodePort" in p else {**p, "nodePort": self._alloc_node_port()}
                                for p in ports]
            if kind == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local" \
                    and "healthCheckNodePort" not in spec:
                fix["healthCheckNodePort"] = 32117
            if "externalTrafficPolicy" not in spec:
                fix["externalTrafficPolicy"] = "Cluster"
        ip = self._metallb_ip(obj) if kind == "LoadBalancer" else None
        self.state.lb_ip = ip
        current = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        wanted = [{"ip": ip, "ipMode": "VIP"}] if ip else []
        patch: dict[str, Any] = {}
        if fix:
            patch["spec"] = fix
        if [i.get("ip") for i in current] != [i["ip"] for i in wanted]:
            patch["status"] = {"loadBalancer": {"ingress": wanted or None}}
        if patch:
            self.store.patch("v1", "Service", NAMESPACE, "mailserver", patch, "merge")
        self._sync_pool()

    def _metallb_ip(self, svc: dict) -> str | None:
        """MetalLB: the requested address if it is in the pool and free, else the next free."""
        import ipaddress

        lo, hi = (int(ipaddress.ip_address(a)) for a in POOL_RANGE)
        wanted = ((svc["metadata"].get("annotations") or {}).get(LB_ANNOTATION) or "").split(",")[0]
        wanted = wanted.strip() or (svc.get("spec") or {}).get("loadBalancerIP", "")
        if wanted:
            try:
                n = int(ipaddress.ip_address(wanted))
            except ValueError:
                return None
            return wanted if lo <= n <= hi and wanted not in OTHER_LB_IPS else None
        for n in range(lo, hi + 1):
            ip = str(ipaddress.ip_address(n))
            if ip not in OTHER_LB_IPS:
                return ip
        return None

    def _alloc_node_port(self) -> int:
        self._next_node_port += 1
        return self._next_node_port

    def _proxy(self, event: str, obj: dict) -> None:
        ports = [] if event == "DELETED" else (obj.get("spec") or {}).get("ports") or []
        self.state.proxy_nodeports = {
            int(p["targetPort"]): int(p["nodePort"])
            for p in ports
            if p.get("nodePort") and isinstance(p.get("targetPort"), int)
        }

    def _sync_pool(self) -> None:
        pool = self.store.get("metallb.io/v1beta1", "IPAddressPool", METALLB_NS, POOL_NAME)
        if pool is None:
            return
        assigned, available = self.state.pool_counts()
        status = pool.get("status") or {}
        if status.get("assignedIPv4") != assigned or status.get("availableIPv4") != available:
            self.store.patch("metallb.io/v1beta1", "IPAddressPool", METALLB_NS, POOL_NAME,
                             {"status": {"assignedIPv4": assigned, "availableIPv4": available}})

    # -- pod logs and exec -----------------------------------------------------------------
    def logs(self, ns: str, pod: str, container: str, tail: int | None, since: int | None) -> str:
        if pod in self.jobs.logs:
            return self.jobs.logs[pod]
        if pod != POD_NAME:
            return ""
        return self.container.log(since)

    async def exec(self, ns: str, pod: str, container: str, command: list[str]) -> tuple[str, str, int]:
        if pod != POD_NAME:
            return not_found(command)
        return self.container.exec(command)
