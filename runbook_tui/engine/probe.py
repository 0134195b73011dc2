"""What each inventory target looks like right now, before anything runs (the TUI's home screen).

Read-only: an SSH connection is opened and closed (host keys checked as for a run, never
accepted here), a Kubernetes API's version is asked for. Targets are probed concurrently and
each answer is bounded in time, so one dead host does not hold up the rest.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from runbook_tui.language.inventory import Inventory
from runbook_tui.transports.pool import Transports

PROBE_TIMEOUT = 10.0


@dataclass
class TargetState:
    name: str
    kind: str  # ssh | kubernetes
    address: str  # "admin@10.0.20.1:22" or "lab/mailserver"
    reachable: bool | None = None  # None: not probed (yet)
    host_key_known: bool | None = None  # ssh only
    fingerprint: str | None = None
    context: str | None = None  # kubernetes only
    namespace: str | None = None
    version: str | None = None
    error: str | None = None


def describe(inventory: Inventory) -> list[TargetState]:
    """The targets as the inventory names them, not yet probed."""
    out = []
    for name, target in inventory.targets.items():
        if target.ssh:
            s = target.ssh
            out.append(TargetState(name, "ssh", f"{s.user + '@' if s.user else ''}{s.host}:{s.port}"))
        else:
            k = target.kubernetes
            assert k is not None  # a target is exactly one of ssh and kubernetes
            out.append(TargetState(name, "kubernetes", f"{k.context or '(current)'}/{k.namespace or 'default'}",
                                   context=k.context, namespace=k.namespace))
    return out


async def probe_targets(inventory: Inventory, *, timeout: float = PROBE_TIMEOUT) -> list[TargetState]:
    """Probe every target concurrently; never raises for a target that is down.

    No host key is accepted here (a probe only looks): keys are accepted when a run connects.
    """
    states = describe(inventory)
    transports = Transports(inventory)

    async def one(state: TargetState) -> None:
        try:
            async with asyncio.timeout(timeout):
                if state.kind == "ssh":
                    status = await transports.ssh.probe(state.name)
                    state.reachable = status.reachable
                    state.host_key_known = status.host_key_known
                    state.fingerprint = status.fingerprint
                    state.error = status.error
                else:
                    kube_status = await transports.kube.client(state.name).probe()
                    state.reachable = kube_status.reachable and not kube_status.error
                    state.context, state.namespace = kube_status.context or state.context, kube_status.namespace
                    state.version = kube_status.version
                    state.error = kube_status.error
                    state.address = f"{state.context or '(current)'}/{state.namespace or 'default'}"
        except TimeoutError:
            state.reachable, state.error = False, f"no answer within {timeout:g} s."
        except Exception as exc:  # a probe must never take the screen down; say what happened
            state.reachable, state.error = False, str(exc) or type(exc).__name__

    try:
        await asyncio.gather(*(one(s) for s in states))
    finally:
        await transports.close()
    return states
