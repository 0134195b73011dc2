"""Everything a run stands on: the inventory, the procedures folder and, in a rehearsal, the lab.

The headless CLI and the TUI open one the same way, so both run procedures identically.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_tui.engine.gates import Gates
from runbook_tui.engine.options import ResumeState, RunOptions
from runbook_tui.engine.runner import Engine
from runbook_tui.errors import RunbookError
from runbook_tui.language.inventory import Inventory
from runbook_tui.language.model import Procedure, Step


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
    lab_proven: bool = False
    _closers: list = field(default_factory=list)

    @classmethod
    async def open(
        cls,
        *,
        inventory: str | None = None,
        procedures: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        lab: bool = False,
        faults: Sequence[str] = (),
        phase: int = 6,
        lab_dir: str | None = None,
        accept_host_keys: Sequence[str] = (),
        context: str | None = None,
        namespace: str | None = None,
        warm: bool = False,
    ) -> "Workspace":
        """WARM (a run about to start): the clients the inventory's targets need are imported
        in the background from the moment it is read."""
        from runbook_tui.language.catalog import Catalog
        from runbook_tui.language.inventory_loader import find_inventory, load_inventory
        from runbook_tui.language.search_path import procedure_folders

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
            if warm:
                _load_clients_soon(inv)
            if context or namespace:
                _override_kube(inv, context, namespace)
            # PROCEDURES: the folder(s) to use (the command line gives its whole search path);
            # by default the shipped procedures, then the operator's own (search_path.py).
            catalog = Catalog(procedure_folders() if procedures is None else procedures, inventory=inv)
        except BaseException:
            if lab_obj is not None:
                await lab_obj.stop()
            raise
        proven = False
        if lab_obj is None and inv.lab:
            from runbook_tui.lab.proof import proven as lab_proven

            proven = await lab_proven(inv)
        return cls(inv, str(inventory_path) if inventory_path else None, catalog, lab_obj, tuple(accept_host_keys),
                   lab_proven=proven)

    @property
    def is_lab(self) -> bool:
        """A rehearsal: the lab we started, or a lab started elsewhere whose every server
        presented the proof its inventory holds (lab/proof.py). ``lab: true`` on loopback alone
        never relaxes the gates: an ssh -L tunnel to the real firewall looks the same."""
        return self.lab is not None or self.lab_proven

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
        resume: "Resumption | None" = None,
        journal: bool = True,
        wait_for_lock: bool = False,
        run_id: str | None = None,
        concurrency: int | None = None,
        before_step: Callable[[Step], Awaitable[None]] | None = None,
    ) -> Engine:
        from runbook_tui.engine.locks import TeamLock
        from runbook_tui.headless.journal import Journal

        if resume is not None:
            dry_run, offline = resume.dry_run, resume.offline
        subs = list(subscribers)
        if journal:
            subs.append(Journal(self.journal_dir, lock=resume.lock if resume else None))
        dry = dry_run or offline
        options = RunOptions(
            dry_run=dry, offline=offline, lab=self.is_lab, run_id=run_id,
            inventory_path=self.inventory_path, accept_host_keys=self.accept_host_keys,
            # A dry run changes nothing, so it excludes nobody (read-only runs never ask).
            change_lock=None if dry else TeamLock.for_inventory(self._locks_dir(), self.inventory),
            wait_for_lock=wait_for_lock, before_step=before_step,
        )
        if concurrency is not None:
            options.concurrency = concurrency
        return Engine(procedure, self.inventory, inputs=inputs, gates=gates, subscribers=subs,
                      options=options, catalog=self.catalog, resume=resume.state if resume else None)

    async def change_lock_holder(self) -> str | None:
        """Who is changing these targets now (the cluster's Lease, else this machine's locks),
        in one sentence for the home screen, or None."""
        import asyncio

        from runbook_tui.engine.locks import TeamLock

        lock = TeamLock.for_inventory(self._locks_dir(), self.inventory)
        return await asyncio.to_thread(lock.holder_sentence)

    def _locks_dir(self) -> Path:
        from runbook_tui.headless.journal import state_dir

        # Beside the journal: a workspace given its own journal folder (a test) keeps to it.
        return self.journal_dir.parent / "locks" if self.journal_dir else state_dir() / "locks"

    def resume(self, run: str, *, dry_run: bool | None = None, offline: bool | None = None,
               given: dict[str, str] | None = None) -> "Resumption":
        """Everything a face needs to continue run RUN (an id, part of one, or a journal path),
        decided here once for the CLI and the TUI alike:
        - a lab rehearsal never continues against real targets, nor a live run on a lab;
        - a dry run stays a dry run and a live run live; asking for another mode is refused;
        - one process at a time: the run's lock is taken here and held by its journal until
          the resumed run ends (a second resume names who holds it);
        - secret inputs were never journaled: they must be GIVEN again.
        Raises WorkspaceError, JournalError, InputError or LockHeld with one sentence."""
        from runbook_tui.engine.gates import operator
        from runbook_tui.engine.locks import Holder
        from runbook_tui.engine.redact import MASK
        from runbook_tui.headless.journal import lock_for, resume_state, run_path
        from runbook_tui.language.inputs import InputError, coerce

        path = Path(run) if run.endswith(".jsonl") and Path(run).exists() else run_path(run, self.journal_dir)
        lock = lock_for(path)
        lock.acquire(Holder(operator(), os.getpid(), time.time(), path.stem))
        try:
            start, state = resume_state(path)
            mode = start["mode"]
            if (mode == "lab") != self.is_lab:
                was, now = ("a lab rehearsal", "real targets") if mode == "lab" else ("against real targets", "a lab")
                raise WorkspaceError(f"run {start['run_id']} was {was}; it cannot be resumed against {now}.")
            was_dry, was_offline = mode in ("dry-run", "offline"), mode == "offline"
            if (dry_run and not was_dry) or (offline and not was_offline):
                asked = "offline" if offline else "dry-run"
                raise WorkspaceError(f"run {start['run_id']} was {mode}; it cannot be resumed as {asked}. "
                                     "Start a new run for that.")
            procedure = self.procedure(start["path"])
            inputs = dict(start["inputs"])
            for name, value in (given or {}).items():
                if name not in procedure.inputs:
                    raise InputError(f"{procedure.id} has no input {name}.")
                inputs[name] = coerce(name, procedure.inputs[name], value)
            for name, spec in procedure.inputs.items():
                if spec.secret and inputs.get(name) == MASK:
                    raise InputError(f"input {name} is secret and was not journaled: give it again "
                                     f"(runbook-tui resume {start['run_id']} --set {name}=...).")
        except BaseException:
            lock.release()
            raise
        return Resumption(procedure, inputs, state, was_dry, was_offline, lock)

    async def discover(self, procedure: Procedure) -> dict[str, Any]:
        """Defaults that come from the targets (e.g. the Ready workers), best effort."""
        from runbook_tui.engine.discover import discover_inputs

        return await discover_inputs(procedure, self.inventory)

    async def close(self) -> None:
        if self.lab is not None:
            await self.lab.stop()
            self.lab = None


def _load_clients_soon(inv: Inventory) -> None:
    from runbook_tui.importing import load_soon
    from runbook_tui.transports.kube.threads import CLIENT_MODULES, CORE_MODULES

    targets = inv.targets.values()
    # The Kubernetes client first: a run that changes things asks the cluster for its Lease
    # before anything else.
    kube, ssh = any(t.kubernetes for t in targets), any(t.ssh for t in targets)
    load_soon([names for names, needed in ((CORE_MODULES, kube), (CLIENT_MODULES, kube), (("asyncssh",), ssh))
               if needed])


def _override_kube(inv: Inventory, context: str | None, namespace: str | None) -> None:
    """``--context``/``--namespace``: set on every Kubernetes target before anything runs; a
    context its kubeconfig lacks is refused here, in one sentence, not at the first step."""
    from runbook_tui.language.inputs import InputError
    from runbook_tui.transports.kube.config import kubeconfig_path, read_kubeconfig

    names = [name for name, target in inv.targets.items() if target.kubernetes is not None]
    if not names:
        raise InputError("--context and --namespace apply to Kubernetes targets, and the inventory has none.")
    for name in names:
        target = inv.targets[name]
        assert target.kubernetes is not None
        update = {k: v for k, v in (("context", context), ("namespace", namespace)) if v}
        kube = target.kubernetes.model_copy(update=update)
        if context:
            choice = read_kubeconfig(name, kube, kubeconfig_path(kube))
            if choice.error:
                raise InputError(choice.error)
        inv.targets[name] = target.model_copy(update={"kubernetes": kube})


@dataclass
class Resumption:
    """A run to continue, as ``Workspace.resume`` decided it; pass it to ``Workspace.engine``."""

    procedure: Procedure
    inputs: dict[str, Any]
    state: ResumeState
    dry_run: bool
    offline: bool
    lock: Any  # the run's FileLock, held; the journal releases it when the run ends

    def release(self) -> None:
        """When the run is not started after all."""
        self.lock.release()
