"""Locks between operators on one machine: one per run's journal, one per target for changes.

A lock is a file held with ``flock``: the kernel drops it when its process dies, however it
dies, so a lock can never outlive its holder. The file also says who holds it (user@host, pid,
run, since when); a file that still names a holder when we get the lock means that holder died
without letting go, and taking it over is said out loud.

``ChangeLock`` is what the engine asks for before the plan gate of a mutating run. Today it
is ``TargetLocks`` (files in the state folder); a team-wide lock (a Kubernetes Lease) plugs in
behind the same two methods.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from runbook_tui.errors import RunbookError

if TYPE_CHECKING:
    from runbook_tui.language.inventory import Inventory


@dataclass(frozen=True)
class Holder:
    operator: str  # user@host
    pid: int
    since: float
    run_id: str = ""

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        run = f", run {self.run_id}" if self.run_id else ""
        return f"{self.operator} (pid {self.pid}{run}) since {when}"


class LockHeld(RunbookError):
    title = "Locked"

    def __init__(self, what: str, holder: Holder | None):
        self.what, self.holder = what, holder
        who = holder.describe() if holder else "another process"
        super().__init__(f"{what} is locked by {who}.")


class FileLock:
    """An exclusive, non-blocking ``flock`` on PATH, naming its holder inside (mode 0600)."""

    def __init__(self, path: Path, what: str):
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, holder: Holder) -> Holder | None:
        """Take the lock or raise LockHeld. Returns the dead holder it took over, if any."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            current = _read_holder(fd)
            os.close(fd)
            raise LockHeld(self.what, current) from None
        stale = _read_holder(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(holder)).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return stale

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # an empty file: released cleanly, nothing to take over
        finally:
            os.close(fd)  # closing drops the flock


def _read_holder(fd: int) -> Holder | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"null")
        return Holder(**data) if isinstance(data, dict) else None
    except (ValueError, TypeError, OSError):
        return None


class ChangeLock(Protocol):
    """Held by a mutating run from before its plan gate to its end."""

    async def acquire(self, holder: Holder, *, wait: bool) -> list[str]:
        """Take the lock (or raise LockHeld); what to tell the operator (e.g. a takeover)."""
        ...

    def release(self) -> None: ...


class TargetLocks:
    """One FileLock per target of the inventory (by address, so two inventories naming the same
    firewall exclude each other), taken in a fixed order so two runs cannot deadlock."""

    POLL = 1.0

    def __init__(self, directory: Path, inventory: "Inventory"):
        self.locks = [FileLock(directory / f"{_slug(key)}.lock", what) for key, what in sorted(_target_keys(inventory))]

    async def acquire(self, holder: Holder, *, wait: bool) -> list[str]:
        while True:
            try:
                return self._acquire_all(holder)
            except LockHeld:
                if not wait:
                    raise
                await asyncio.sleep(self.POLL)

    def _acquire_all(self, holder: Holder) -> list[str]:
        notes = []
        try:
            for lock in self.locks:
                stale = lock.acquire(holder)
                if stale is not None:
                    notes.append(f"took over the lock on {lock.what} from {stale.describe()}: that process is gone.")
        except LockHeld:
            self.release()
            raise
        return notes

    def release(self) -> None:
        for lock in reversed(self.locks):
            lock.release()


def _target_keys(inventory: "Inventory") -> set[tuple[str, str]]:
    keys = set()
    for name, target in inventory.targets.items():
        if target.ssh:
            keys.add((f"ssh-{target.ssh.host}-{target.ssh.port}", f"target {name} ({target.ssh.host}:{target.ssh.port})"))
        else:
            k = target.kubernetes
            assert k is not None  # a target is exactly one of ssh and kubernetes
            where = f"{k.context or 'current context'}/{k.namespace or 'default'}"
            keys.add((f"kube-{k.kubeconfig or ''}-{where}", f"target {name} (kubernetes {where})"))
    return keys


def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key)[:150]
