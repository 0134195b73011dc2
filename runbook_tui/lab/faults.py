"""Fault injection: ``--fault`` specs, checked up front, applied when the lab starts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from runbook_tui.errors import RunbookError
from runbook_tui.lab.state import NODES


class LabError(RunbookError):
    """The lab cannot start as asked (a bad --fault spec, an unusable folder...)."""

    title = "Lab error"


#: Fault name -> one-line help (shown by ``runbook-tui lab --help``).
FAULTS: dict[str, str] = {
    "node-down": "node-down=NAME: that node is NotReady; its HAProxy servers go DOWN (L4CON) "
    "and nc to it fails",
    "haproxy-stopped": "HAProxy is not running: no listeners, no /tmp/haproxy.socket; a restart "
    "brings it back",
    "probe-fails": "the email-roundtrip-monitor Job fails whatever the path",
    "ssh-drop-after": "ssh-drop-after=N: the pfSense SSH connection drops during the Nth command",
    "latency": "latency=SECONDS: delay before every SSH command and API request",
    "hostkey-changed": "pfSense presents a different host key than known_hosts holds: runs must "
    "refuse to connect",
    "api-forbidden": "api-forbidden=RESOURCE: the API answers 403 on that resource plural "
    "(e.g. services)",
}
_WITH_VALUE = {"node-down", "ssh-drop-after", "latency", "api-forbidden"}
API_RESOURCES = (
    "services", "pods", "pods/log", "pods/exec", "jobs", "cronjobs", "deployments", "nodes",
    "namespaces", "configmaps", "events", "ipaddresspools", "leases",
)


@dataclass
class Faults:
    nodes_down: set[str] = field(default_factory=set)
    haproxy_stopped: bool = False
    probe_fails: bool = False
    ssh_drop_after: int | None = None
    latency: float = 0.0
    hostkey_changed: bool = False
    api_forbidden: set[str] = field(default_factory=set)


def _valid() -> str:
    return ", ".join(f"{n}={FAULTS[n].split(':')[0].split('=')[1]}" if n in _WITH_VALUE else n
                     for n in FAULTS)


def parse_faults(specs: Sequence[str]) -> Faults:
    """``["node-down=k8s-node2", "latency=0.2"]`` -> Faults; LabError on anything else."""
    faults = Faults()
    for spec in specs:
        name, eq, value = spec.strip().partition("=")
        if name not in FAULTS:
            raise LabError(f"Unknown fault '{spec}'; valid faults are: {_valid()}.")
        if name in _WITH_VALUE and not value:
            raise LabError(f"Fault '{name}' needs a value ({FAULTS[name].split(':')[0]}).")
        if name not in _WITH_VALUE and eq:
            raise LabError(f"Fault '{name}' takes no value; write just '{name}'.")
        if name == "node-down":
            if value not in NODES:
                raise LabError(f"Fault node-down names an unknown node '{value}'; nodes are: "
                               f"{', '.join(NODES)}.")
            faults.nodes_down.add(value)
        elif name == "haproxy-stopped":
            faults.haproxy_stopped = True
        elif name == "probe-fails":
            faults.probe_fails = True
        elif name == "hostkey-changed":
            faults.hostkey_changed = True
        elif name == "ssh-drop-after":
            if not value.isdigit() or int(value) < 1:
                raise LabError(f"Fault ssh-drop-after needs a whole number of commands of at "
                               f"least 1, not '{value}'.")
            faults.ssh_drop_after = int(value)
        elif name == "latency":
            try:
                seconds = float(value)
            except ValueError:
                seconds = -1.0
            if not 0 <= seconds <= 60:
                raise LabError(f"Fault latency needs seconds between 0 and 60, not '{value}'.")
            faults.latency = seconds
        elif name == "api-forbidden":
            if value not in API_RESOURCES:
                raise LabError(f"Fault api-forbidden names an unknown resource '{value}'; use "
                               f"one of: {', '.join(API_RESOURCES)}.")
            faults.api_forbidden.add(value)
    return faults
