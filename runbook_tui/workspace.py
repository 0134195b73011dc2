"""Everything a run stands on: the inventory, the procedures folder and, in a rehearsal, the lab.

The headless CLI and the TUI open one the same way, so both run procedures identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from runbook_tui.engine.gates import Gates
from runbook_tui.engine.runner import Engine, ResumeState, RunOptions
from runbook_tui.errors import RunbookError
from runbook_tui.inventory import Inventory
from runbook_tui.model import Procedure


class WorkspaceError(RunbookError):
    title = "Cannot start"


@dataclass
class Workspace:
    inventory: Inventory
    inventory_path: str | None
    catalog: Any
    lab: Any = None
    accept_host_keys: tuple[str, ...] = ()
    journal_dir: Path | None = None
    _closers: list = field(default_factory=list)

    @classmethod
    async def open(
        cls,
        *,
        inventory: str | None = None,
        procedures: str | None = None,
        lab: bool = False,
        faults: Sequence[str] = (),
        phase: int = 6,
        lab_dir: str | None = None,
        accept_host_keys: Sequence[str] = (),
    ) -> "Workspace":
        from runbook_tui.loader import Catalog, default_procedures_dir, find_inventory, load_inventory

        lab_obj = None
        if lab:
            from runbook_tui.lab import Lab

            lab_obj = Lab(Path(lab_dir) if lab_dir else None, faults=faults, phase=phase)
            await lab_obj.start()
            inventory_path: Path | None = lab_obj.inventory_path
        else:
            inventory_path = find_inventory(inventory)
        try:
            if inventory_path is None:
                inv = Inventory()
            else:
                inv = load_inventory(inventory_path)
            directory = Path(procedures) if procedures else default_procedures_dir()
            catalog = Catalog(directory, inventory=inv)
        except BaseException:
            if lab_obj is not None:
                await lab_obj.stop()
            raise
        return cls(inv, str(inventory_path) if inventory_path else None, catalog, lab_obj, tuple(accept_host_keys))

    @property
    def is_lab(self) -> bool:
        """A rehearsal: the lab we started, or a lab started elsewhere (``lab: true`` and every
        target on loopback). ``lab: true`` alone never relaxes the gates for a real host."""
        if self.lab is not None:
            return True
        return self.inventory.lab and bool(self.inventory.targets) and all(
            _loopback(t.ssh.host) if t.ssh else _loopback_kubeconfig(t.kubernetes.kubeconfig)
            for t in self.inventory.targets.values()
        )

    def procedure(self, ref: str) -> Procedure:
        return self.catalog.get(ref)

    def engine(
        self,
        procedure: Procedure,
        *,
        inputs: dict[str, Any],
        gates: Gates,
        subscribers: list,
        dry_run: bool = False,
        offline: bool = False,
        resume: ResumeState | None = None,
        journal: bool = True,
    ) -> Engine:
        from runbook_tui.journal import Journal

        subs = list(subscribers)
        if journal:
            subs.append(Journal(self.journal_dir))
        options = RunOptions(dry_run=dry_run or offline, offline=offline, lab=self.is_lab,
                             inventory_path=self.inventory_path, accept_host_keys=self.accept_host_keys)
        return Engine(procedure, self.inventory, inputs=inputs, gates=gates, subscribers=subs,
                      options=options, catalog=self.catalog, resume=resume)

    async def discover(self, procedure: Procedure) -> dict[str, Any]:
        """Defaults that come from the targets (e.g. the Ready workers), best effort."""
        from runbook_tui.engine.discover import discover_inputs

        return await discover_inputs(procedure, self.inventory)

    async def close(self) -> None:
        if self.lab is not None:
            await self.lab.stop()
            self.lab = None


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _loopback_kubeconfig(path: str | None) -> bool:
    """Whether every cluster in the kubeconfig is served on loopback (read without the client)."""
    import yaml
    from urllib.parse import urlparse

    if not path:
        return False
    try:
        with open(path, encoding="utf-8") as f:
            config = yaml.safe_load(f) or {}
        servers = [c["cluster"]["server"] for c in config.get("clusters", [])]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return False
    return bool(servers) and all(_loopback(urlparse(s).hostname or "") for s in servers)
