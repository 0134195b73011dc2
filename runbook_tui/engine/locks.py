"""Locks between operators on one machine: one per run's journal, one per target for changes.

A lock is a file held with ``flock``: the kernel drops it when its process dies, however it
dies, so a lock can never outlive its holder. The file also says who holds it (user@host, pid,
run, since when); a file that still names a holder when we get the lock means that holder died
without letting go, and taking it over is said out loud.

``ChangeLock`` is what the engine asks for before the plan gate of a mutating run, and asks
again before each change whether it still holds: ``TargetLocks`` (files in the state folder) for
one machine, and ``TeamLock``, which adds a Kubernetes Lease in each cluster namespace the
inventory names (transports/kube/lease.py), so operators on different machines exclude each
other too. A Lease, unlike a flock, can be lost while the run lives.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from runbook_tui.errors import RunbookError

if TYPE_CHECKING:
    from datetime import datetime

    from runbook_tui.language.inventory import Inventory
    from runbook_tui.transports.kube.lease import Claim, ClusterLease, LeaseBusy, LeaseState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Holder:
    operator: str  # user@host
    pid: int
    since: float
    run_id: str = ""

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"{self.identity()} since {when}"

    def identity(self) -> str:
        """user@host with pid and run: a Lease's holderIdentity (``from_identity`` reads it)."""
        about = ([f"pid {self.pid}"] if self.pid else []) + ([f"run {self.run_id}"] if self.run_id else [])
        return f"{self.operator} ({', '.join(about)})" if about else self.operator

    @classmethod
    def from_identity(cls, identity: str, since: float) -> "Holder":
        """A holder from a Lease; an identity some other tool wrote is kept whole as the operator."""
        m = re.fullmatch(r"(.+?) \((?:pid (\d+))?(?:, )?(?:run ([^)]*))?\)", identity)
        if not m:
            return cls(identity, 0, since)
        return cls(m.group(1), int(m.group(2) or 0), since, m.group(3) or "")


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

    def peek(self) -> Holder | None:
        """Who holds the lock now, without taking it (None when free)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        finally:
            os.close(fd)  # closing also drops a shared lock we got
        return None

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


Say = Callable[[str], None]  # tells the operator something while acquire is still at work


class ChangeLock(Protocol):
    """Held by a mutating run from before its plan gate to its end."""

    async def acquire(self, holder: Holder, *, wait: bool, say: Say | None = None) -> list[str]:
        """Take the lock (or raise LockHeld); what to tell the operator (e.g. a takeover)."""
        ...

    def start(self, holder: Holder) -> None:
        """Begin taking the lock in the background while the run's first steps only read;
        ``acquire`` then finishes it (or raises what it met). Released by ``release``."""
        ...

    def still_held(self) -> str | None:
        """None while the lock is ours; else one sentence saying what was lost, when and how.
        Cheap (no I/O): the engine asks before each change."""
        ...

    def release(self) -> None: ...


class TargetLocks:
    """One FileLock per target of the inventory (by address, so two inventories naming the same
    firewall exclude each other), taken in a fixed order so two runs cannot deadlock."""

    POLL = 1.0

    def __init__(self, directory: Path, inventory: "Inventory"):
        self.locks = [FileLock(directory / f"{_slug(key)}.lock", what) for key, what in sorted(_target_keys(inventory))]

    async def acquire(self, holder: Holder, *, wait: bool, say: Say | None = None) -> list[str]:
        while True:
            try:
                return self._acquire_all(holder)
            except LockHeld:
                if not wait:
                    raise
                await asyncio.sleep(self.POLL)

    def start(self, holder: Holder) -> None:
        pass  # a flock is taken at once: nothing to win by starting early

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

    def still_held(self) -> str | None:
        return None  # the kernel keeps a flock for as long as this process lives

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


class TeamLock:
    """This machine's ``TargetLocks``, then the Lease of each cluster namespace the inventory's
    Kubernetes targets name, so operators on other machines are kept out too. The Leases are
    renewed in the background while the run lives and cleared at its end. Where the inventory
    has no cluster, or the cluster refuses us Leases (403, 404) or cannot be reached, the local
    locks alone apply and the run is told so: a rollback during a cluster outage must still run.

    A Lease held can be lost: taken over by another run, cleared or deleted, or not renewed
    within two thirds of its duration (as client-go's RenewDeadline: given up before anyone else
    may see it expired, so two runs never both believe they hold it). ``still_held`` then says
    so, and the engine stops before its next change.
    """

    POLL = 1.0
    RENEW_DEADLINE = 2 / 3  # of the lease's duration

    def __init__(self, local: TargetLocks, leases: list["ClusterLease"]):
        self.local = local
        self.leases = leases
        self._held: list[ClusterLease] = []
        self._gone: list[ClusterLease] = []  # lost mid-run: still cleared at the end if ours
        # When each held Lease was last written by us: (time.monotonic, time.time) at the start
        # of the request, so the deadline counts from no later than the write itself.
        self._renewed: dict[ClusterLease, tuple[float, float]] = {}
        self._failure: dict[ClusterLease, str] = {}  # the last renewal's error
        self._lost: str | None = None
        self._identity = ""
        self._renewer: asyncio.Task[None] | None = None
        # Taken early (``start``): the task, and what it said before ``acquire`` gave a ``say``.
        self._early: asyncio.Task[list[str]] | None = None
        self._early_said: list[str] = []
        self._say: Say | None = None

    @classmethod
    def for_inventory(cls, directory: Path, inventory: "Inventory") -> "TeamLock":
        from runbook_tui.transports.kube.lease import ClusterLease

        leases: dict[tuple[str, str], ClusterLease] = {}
        for name, target in sorted(inventory.targets.items()):
            if target.kubernetes is not None:
                lease = ClusterLease(name, target.kubernetes)
                leases.setdefault(lease.key, lease)  # two targets in one namespace: one Lease
        return cls(TargetLocks(directory, inventory), [leases[key] for key in sorted(leases)])

    def start(self, holder: Holder) -> None:
        """The Lease costs a round trip or two: begun at the run's start, they overlap its
        read-only steps instead of delaying its first change."""
        if self._early is None and not self._held:
            self._early_said, self._say = [], None
            self._early = asyncio.get_running_loop().create_task(self._acquire_all(holder, False, self._say_early))

    def _say_early(self, text: str) -> None:
        (self._say or self._early_said.append)(text)

    async def acquire(self, holder: Holder, *, wait: bool, say: Say | None = None) -> list[str]:
        """With WAIT, a held Lease is polled (each look keeps watching its record) and taken
        once free or seen unchanged for its duration."""
        early, self._early = self._early, None
        if early is not None:
            self._say = say or (lambda text: None)
            for text in self._early_said:
                self._say(text)
            try:
                return await early
            except LockHeld:
                if not wait:
                    raise
                await asyncio.sleep(self.POLL)
        while True:
            try:
                return await self._acquire_all(holder, wait, say)
            except LockHeld:
                if not wait:
                    raise
                await asyncio.sleep(self.POLL)

    async def _acquire_all(self, holder: Holder, wait: bool, say: Say | None) -> list[str]:
        from runbook_tui.transports.kube.lease import LETTING_GO, Claim, LeaseBusy, LeaseUnavailable, now

        for letting_go in list(LETTING_GO):  # an earlier run of this process, still clearing its Lease
            await asyncio.to_thread(letting_go.join)
        notes = self.local._acquire_all(holder)
        identity, held = holder.identity(), []
        claim = Claim(identity)
        try:
            for lease in self.leases:
                started = (time.monotonic(), time.time())
                try:
                    try:
                        taken = await asyncio.to_thread(claim.take, lease)
                    except LeaseBusy as busy:
                        # A renewTime that looks fresh even by our clock: held, say so at once.
                        if wait or not busy.state.looks_expired(now()):
                            raise LockHeld(lease.what, _lease_holder(busy.state)) from None
                        taken, started = await self._watch(lease, claim, busy, say)
                except LeaseUnavailable as err:
                    notes.append(f"{err} Only this machine's lock keeps other runs out of target {lease.target_name}.")
                    continue
                held.append(lease)
                self._renewed[lease] = started
                if taken is not None:
                    expired = time.time() - lease.unchanged_for() + taken.seconds
                    notes.append(f"took over {lease.what} from {_lease_holder(taken).describe()}: "
                                 f"it was not renewed and expired at {_clock(expired)} "
                                 f"(unchanged for {taken.seconds} s by this machine's clock).")
        except BaseException:
            claim.give_up()  # every Lease taken, also by a thread still at work
            self.local.release()
            raise
        if not self.leases:  # the usual case on a laptop: information, not a warning
            (say or notes.append)("The inventory has no Kubernetes target to hold a team-wide Lease in: "
                                  "only this machine's lock keeps other runs out.")
        self._held, self._identity = held, identity
        if held:
            self._renewer = asyncio.get_running_loop().create_task(self._renew())
        return notes

    async def _watch(self, lease: "ClusterLease", claim: "Claim", busy: "LeaseBusy",
                     say: Say | None) -> tuple["LeaseState | None", tuple[float, float]]:
        """Without --wait, a Lease whose renewTime looks expired by our clock: its holder has
        stopped, or its clock is behind ours. Watched for its duration: taken over if its record
        stays unchanged, refused (LockHeld) as soon as it changes. Returns what ``acquire``
        does, and when the request that took it started."""
        from runbook_tui.transports.kube.lease import LeaseBusy

        state = busy.state
        if say is not None:
            say(f"{lease.what} is held by {state.holder}, last renewed at {_clock(state.renewed)} by its "
                f"clock, more than {state.seconds} s ago by ours: watching it for {state.seconds} s "
                "before taking it over, in case its holder's clock is only behind.")
        while True:
            await asyncio.sleep(min(self.POLL, state.seconds / 4))
            started = (time.monotonic(), time.time())
            try:
                return await asyncio.to_thread(claim.take, lease), started
            except LeaseBusy as again:
                if again.watched_since != busy.watched_since:  # renewed (or taken): its holder lives
                    raise LockHeld(lease.what, _lease_holder(again.state)) from None

    async def _renew(self) -> None:
        from runbook_tui.errors import KubeError

        interval = max(0.2, min(lease.seconds for lease in self._held) / 3)
        while self._held:
            await asyncio.sleep(interval if not self._failure else max(0.2, interval / 5))
            for lease in list(self._held):
                if lease not in self._held:
                    continue  # found lost while another was renewed
                started = (time.monotonic(), time.time())
                try:
                    found = await asyncio.to_thread(lease.renew, self._identity)
                except KubeError as err:
                    self._failure[lease] = str(err)  # retried soon; lost past the deadline
                    self.still_held()
                    continue
                self._failure.pop(lease, None)
                if found is None:
                    self._renewed[lease] = started
                elif not found.resource_version:
                    self._lose(lease, time.time(), "it was deleted")
                elif found.holder:
                    self._lose(lease, time.time(), f"taken by {_lease_holder(found).identity()}")
                else:
                    self._lose(lease, time.time(), "its holder was cleared by someone else")

    def still_held(self) -> str | None:
        for lease in list(self._held):
            at, wall = self._renewed[lease]
            deadline = lease.seconds * self.RENEW_DEADLINE
            if time.monotonic() - at > deadline:
                why = self._failure.get(lease)
                self._lose(lease, wall + deadline, f"not renewed since {_clock(wall)}" + (f": {why}" if why else ""))
        return self._lost

    def _lose(self, lease: "ClusterLease", when: float, how: str) -> None:
        if lease not in self._held:
            return  # already found lost (the renewer and the engine both look)
        self._held.remove(lease)
        self._gone.append(lease)
        if self._lost is None:
            self._lost = f"the team lock {lease.what.removeprefix('the ')} was lost at {_clock(when)} ({how})"
            logger.warning(self._lost)

    def release(self) -> None:
        from runbook_tui.transports.kube.lease import let_go_later

        early, self._early = self._early, None
        if early is not None and not early.done():
            early.cancel()  # its cleanup lets go of what it took (and of what its thread takes)
        elif early is not None and not early.cancelled():
            early.exception()  # seen: a lock the run never came to need
        if self._renewer is not None:
            self._renewer.cancel()
            self._renewer = None
        let_go_later(self._held + self._gone, self._identity)
        self._held, self._gone = [], []
        self.local.release()

    def holder_sentence(self) -> str | None:
        """Who changes these targets now, in one sentence, or None. Blocking: call from a thread."""
        from runbook_tui.errors import KubeError
        from runbook_tui.transports.kube.lease import now

        for lease in self.leases:
            try:
                state = lease.read()
            except KubeError:
                continue
            finally:
                lease.close()
            # Held until cleared or taken over: one look cannot tell a stopped holder from one
            # whose clock is behind ours, so an old renewTime is said, not taken as free.
            if state is not None and state.holder:
                old = (f" (last renewed at {_clock(state.renewed)} by its clock: it may have stopped)"
                       if state.looks_expired(now()) else "")
                return f"{_lease_holder(state).describe()} holds {lease.what}{old}: changes wait until it is done."
        for lock in self.local.locks:
            holder = lock.peek()
            if holder is not None:
                return f"{holder.describe()} holds the lock on {lock.what}: changes wait until it is done."
        return None


def _lease_holder(state: "LeaseState") -> Holder:
    since = state.acquired.timestamp() if state.acquired else time.time()
    return Holder.from_identity(state.holder, since)


def _clock(when: "datetime | float | None") -> str:
    """HH:MM:SS in this machine's zone, of a datetime or a time.time()."""
    if when is None:
        return "an unknown time"
    return time.strftime("%H:%M:%S", time.localtime(when if isinstance(when, float) else when.timestamp()))
