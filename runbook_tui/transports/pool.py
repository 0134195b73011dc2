"""The run's connections: one SSH pool and one Kubernetes pool, created on first use."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from runbook_tui.errors import TransportError
from runbook_tui.language.inventory import Inventory

if TYPE_CHECKING:
    from runbook_tui.transports.kube import KubePool
    from runbook_tui.transports.ssh import SSHPool


class Transports:
    def __init__(self, inventory: Inventory, *, accept_host_keys: Collection[str] = ()):
        self.inventory = inventory
        self.accept_host_keys = tuple(accept_host_keys)
        self._ssh: SSHPool | None = None
        self._kube: KubePool | None = None

    def _targets(self, kind: str) -> dict[str, Any]:
        return {
            name: getattr(t, "ssh" if kind == "ssh" else "kubernetes")
            for name, t in self.inventory.targets.items()
            if t.kind == kind
        }

    def check(self, name: str | None, kind: str) -> None:
        target = self.inventory.targets.get(name) if name is not None else None
        if target is None:
            known = ", ".join(sorted(self.inventory.targets)) or "none"
            raise TransportError(f"target {name!r} is not in the inventory (targets: {known}).")
        if target.kind != kind:
            raise TransportError(f"target {name!r} is a {target.kind} target, not {kind}.")

    @property
    def ssh(self) -> "SSHPool":
        if self._ssh is None:
            from runbook_tui.transports.ssh import SSHPool

            self._ssh = SSHPool(self._targets("ssh"), accept_host_keys=self.accept_host_keys)
        return self._ssh

    @property
    def kube(self) -> "KubePool":
        if self._kube is None:
            from runbook_tui.transports.kube import KubePool

            self._kube = KubePool(self._targets("kubernetes"))
        return self._kube

    async def close(self) -> None:
        if self._ssh is not None:
            await self._ssh.close()
        if self._kube is not None:
            await self._kube.close()
