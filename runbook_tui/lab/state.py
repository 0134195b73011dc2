"""The lab's one model of the mail edge, shared by the pfSense, backup-host and cluster sides.

pfSense's persistent truth is ``/cf/conf/config.xml`` in its file tree (see
``pfsense.config_xml``); ``LabState.running`` is what pf and HAProxy last loaded from it. The
Kubernetes side mirrors the objects the checks depend on (Service type, NodePorts, node
readiness) into this state from its controllers, so both sides answer from the same facts.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field

PFSENSE_IP = "10.0.20.1"
METALLB_IP = "10.0.20.202"
CLUSTER_IP = "10.103.108.217"
WAN_IF = "igb0"
WAN_IP = "203.0.113.10"
NAMESPACE = "mailserver"
ALIAS_NAME = "mailserver"

#: Stock mail ports by service name, as pfctl prints them.
MAIL_PORTS = {"smtp": 25, "smtps": 465, "submission": 587, "imaps": 993}
#: The container's PROXY-speaking alternates and the NodePorts that reach them.
ALT_PORTS = {"smtp": 2525, "smtps": 4465, "submission": 5587, "imaps": 10993}
NODEPORTS = {"smtp": 30125, "smtps": 30126, "submission": 30127, "imaps": 30128}
TEST_PORT = 2525  # HAProxy's test frontend on pfSense, into the smtp pool

NODES = {
    "k8s-master": "10.0.20.100",
    "k8s-node1": "10.0.20.101",
    "k8s-node2": "10.0.20.102",
    "k8s-node3": "10.0.20.103",
    "k8s-node4": "10.0.20.104",
}
WORKERS = [n for n in NODES if n != "k8s-master"]

POOL_NAME = "default"
POOL_RANGE = ("10.0.20.200", "10.0.20.220")
#: Other LoadBalancer Services on the site hold these pool addresses whatever the phase.
OTHER_LB_IPS = ("10.0.20.200", "10.0.20.201")

CHECK_INTER = 120000


@dataclass
class HAServer:
    name: str
    address: str
    port: int
    advanced: str = "send-proxy-v2"
    status: str = "active"
    weight: int = 1
    id: int | None = None  # <id>: the package writes `id N` only when the config has one


@dataclass
class HAPool:
    """pfSense's ``ha_pools`` item: an HAProxy backend."""

    name: str
    servers: list[HAServer] = field(default_factory=list)
    check_type: str = "Basic"
    checkinter: int = CHECK_INTER
    id: int | None = None

    @property
    def backend(self) -> str:
        # pfSense-pkg-haproxy suffixes the address family to every generated backend name.
        return f"{self.name}_ipvANY"


@dataclass
class HAFrontend:
    """pfSense's ``ha_backends`` item: an HAProxy frontend."""

    name: str
    port: int
    pool: str
    status: str = "active"
    extaddr: str = PFSENSE_IP
    descr: str = ""


@dataclass
class NatRule:
    """A port forward: WAN ``port`` to ``target`` (an address or a host alias name)."""

    port: int
    target: str
    local_port: int
    interface: str = "wan"
    protocol: str = "tcp"
    descr: str = ""


@dataclass
class Alias:
    name: str
    addresses: list[str]
    type: str = "host"
    descr: str = ""


@dataclass
class PfConfig:
    """The parts of pfSense's config.xml the lab acts on."""

    frontends: list[HAFrontend] = field(default_factory=list)
    pools: list[HAPool] = field(default_factory=list)
    nat: list[NatRule] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)
    haproxy_section: bool = True
    haproxy_enabled: bool = True  # <enable> in the section: haproxy_check_run starts it only then

    def pool(self, name: str) -> HAPool | None:
        return next((p for p in self.pools if p.name == name), None)

    def alias(self, name: str) -> Alias | None:
        return next((a for a in self.aliases if a.name == name), None)


def mail_pools(nodes: dict[str, str]) -> list[HAPool]:
    return [
        HAPool(
            f"mailserver_{svc}",
            [HAServer(name, ip, NODEPORTS[svc]) for name, ip in nodes.items()],
        )
        for svc in MAIL_PORTS
    ]


def mail_frontends() -> list[HAFrontend]:
    fronts = [
        HAFrontend(f"mailserver_{svc}", port, f"mailserver_{svc}", descr=f"Mail {svc} (PROXY v2)")
        for svc, port in MAIL_PORTS.items()
    ]
    fronts.append(
        HAFrontend("mailserver_test_2525", TEST_PORT, "mailserver_smtp", descr="Test port for smtp")
    )
    return fronts


def phase_config(phase: int, nodes: dict[str, str] | None = None) -> PfConfig:
    """pfSense's config at the end of ``phase`` (3, 5 or 6)."""
    nodes = nodes if nodes is not None else {n: NODES[n] for n in WORKERS}
    target = PFSENSE_IP if phase >= 4 else ALIAS_NAME
    nat = [
        NatRule(port, target, port, descr=f"Mail {svc} to {'HAProxy' if phase >= 4 else 'MetalLB'}")
        for svc, port in MAIL_PORTS.items()
    ]
    aliases = [Alias("k8s_workers", list(nodes.values()), descr="Kubernetes worker nodes")]
    if phase < 6:
        aliases.append(Alias(ALIAS_NAME, [METALLB_IP], descr="Mailserver MetalLB LoadBalancer IP"))
    return PfConfig(mail_frontends(), mail_pools(nodes), nat, aliases)


@dataclass
class NodeState:
    ip: str
    ready: bool = True
    worker: bool = True


class LabState:
    """Everything both sides of the lab answer from. Mutated only on the event loop thread."""

    def __init__(self, phase: int = 6):
        if phase not in (3, 5, 6):
            raise ValueError(f"phase must be 3, 5 or 6, not {phase}")
        self.phase = phase
        self.nodes = {n: NodeState(ip, worker=n != "k8s-master") for n, ip in NODES.items()}
        self.running = phase_config(phase)  # what pf and HAProxy last loaded
        self.haproxy_running = True
        self.haproxy_pid = 81234
        self.haproxy_since = time.time()
        self.server_admin: dict[tuple[str, str], int] = {}  # runtime drain/maint bits
        # Mirrored from the cluster side.
        self.service_type = "ClusterIP" if phase == 6 else "LoadBalancer"
        self.lb_ip: str | None = None if phase == 6 else METALLB_IP
        self.proxy_nodeports: dict[int, int] = {  # targetPort -> nodePort of mailserver-proxy
            ALT_PORTS[svc]: NODEPORTS[svc] for svc in MAIL_PORTS
        }
        self.container_ports = set(MAIL_PORTS.values()) | set(ALT_PORTS.values())
        self.probe_fails = False
        # Lines other clients left in docker-mailserver's log (epoch seconds, the text after
        # the host name), e.g. a test connection from the LAN through HAProxy's test port.
        self.extra_mail_log: list[tuple[float, str]] = []

    # -- HAProxy -----------------------------------------------------------------------
    def restart_haproxy(self) -> None:
        self.haproxy_running = True
        self.haproxy_pid += 17
        self.haproxy_since = time.time()
        self.server_admin.clear()

    def stop_haproxy(self) -> None:
        self.haproxy_running = False

    def node_by_ip(self, ip: str) -> tuple[str, NodeState] | None:
        return next(((n, s) for n, s in self.nodes.items() if s.ip == ip), None)

    def server_healthy(self, server: HAServer) -> bool:
        """A backend server passes its TCP check: node Ready and its NodePort exists."""
        found = self.node_by_ip(server.address)
        return bool(found and found[1].ready and server.port in self.proxy_nodeports.values())

    def server_up(self, pool: HAPool, server: HAServer) -> bool:
        admin = self.server_admin.get((pool.backend, server.name), 0)
        return self.server_healthy(server) and not admin & 0x01 and server.status == "active"

    def tcp_open(self, ip: str, port: int) -> bool:
        """What ``nc -z`` from pfSense sees."""
        if ip == PFSENSE_IP:
            return self.haproxy_running and any(f.port == port for f in self.running.frontends)
        found = self.node_by_ip(ip)
        if found:
            return found[1].ready and port in self.proxy_nodeports.values()
        if ip == self.lb_ip:
            return port in MAIL_PORTS.values() and port in self.container_ports
        return False

    # -- addresses ---------------------------------------------------------------------
    def ip_answers_ping(self, ip: str) -> bool:
        if ip in (PFSENSE_IP, *OTHER_LB_IPS):
            return True
        found = self.node_by_ip(ip)
        if found:
            return found[1].ready
        return ip == self.lb_ip

    def resolve(self, target: str) -> str | None:
        """A NAT target: an address, or a host alias's first address (None if undefined)."""
        try:
            ipaddress.ip_address(target)
            return target
        except ValueError:
            alias = self.running.alias(target)
            return alias.addresses[0] if alias and alias.addresses else None

    def pool_counts(self) -> tuple[int, int]:
        """MetalLB ``IPAddressPool`` status: (assignedIPv4, availableIPv4)."""
        lo, hi = (int(ipaddress.ip_address(a)) for a in POOL_RANGE)
        assigned = len(OTHER_LB_IPS) + (1 if self.lb_ip else 0)
        return assigned, hi - lo + 1 - assigned

    # -- the external path -------------------------------------------------------------
    def external_path(self) -> tuple[bool, str]:
        """Whether mail from the Internet to WAN:25 reaches the mailserver; else why not."""
        rule = next((r for r in self.running.nat if r.port == 25), None)
        if rule is None:
            return False, "no port forward for WAN:25 on pfSense"
        ip = self.resolve(rule.target)
        if ip is None:
            return False, f"NAT target <{rule.target}> is not a defined alias"
        if ip == PFSENSE_IP:
            return self._haproxy_path(rule.local_port)
        if ip == self.lb_ip:
            if rule.local_port in self.container_ports:
                return True, f"via MetalLB {ip}"
            return False, f"connection refused at {ip}:{rule.local_port}"
        return False, f"no route to host {ip}"

    def _haproxy_path(self, port: int) -> tuple[bool, str]:
        if not self.haproxy_running:
            return False, f"connection refused at pfSense:{port}"
        front = next((f for f in self.running.frontends if f.port == port), None)
        if front is None:
            return False, f"connection refused at pfSense:{port}"
        pool = self.running.pool(front.pool)
        if pool is None:
            return False, f"HAProxy frontend {front.name} has no backend"
        up = [s for s in pool.servers if self.server_up(pool, s)]
        if not up:
            return False, f"no server available in HAProxy backend {pool.backend}"
        by_nodeport = {np: tp for tp, np in self.proxy_nodeports.items()}
        target_port = by_nodeport.get(up[0].port)
        if target_port not in self.container_ports:
            return False, f"connection reset: nothing listens on :{target_port} in the mailserver pod"
        return True, f"via HAProxy {front.name} -> {up[0].name}"
