"""The SSH pool: one connection per target, opened on first use and reused by every step.

It ties the parts together: ``connect`` logs in (checking host keys), ``driver`` keeps a few
long-lived shells per connection that run command after command, ``process`` runs a command on a
channel of its own, ``sftp`` moves files. Here live the decisions about connections: when a dead
one is replaced, when a command may be rerun, how many channels a target gets, and when a command
goes to a driver shell (OpenSSH, an idle or new driver, a command that fits) or gets a channel of
its own (the lab's asyncssh server, a login that cannot host a driver, every driver busy).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runbook_tui.errors import (
    AuthError,
    ConnectionDropped,
    HostKeyError,
    TransportError,
)
from runbook_tui.language.inventory import SSHTarget
from runbook_tui.transports.base import CommandResult, OutputCallback
from runbook_tui.transports.ssh import sftp
from runbook_tui.transports.ssh.connect import open_connection
from runbook_tui.transports.ssh.driver import CannotHost, Driver, ShellEnded, fits
from runbook_tui.transports.ssh.process import Dropped, is_openssh, quote_cmd, run_command
from runbook_tui.transports.ssh.sftp import UploadResult
from runbook_tui.transports.ssh.ssh_config import target_label

if TYPE_CHECKING:  # asyncssh is imported lazily at first use: it is slow to import
    import asyncssh

#: OpenSSH's default MaxSessions is 10 per connection; one is kept for SFTP, one for a stop.
_MAX_CHANNELS = 8
#: Driver shells per connection, started as concurrent commands need them, as many as commands
#: may run at once: once started, 10 commands at once took 23 ms on 8 drivers, 0.9 s on 4 (the
#: rest on channels of their own), 1.9 s with a channel each (bench/ssh_roundtrip.py).
MAX_DRIVERS = _MAX_CHANNELS


@dataclass
class TargetStatus:
    """What the TUI shows for a target before anything runs."""

    name: str
    reachable: bool
    host_key_known: bool | None  # None: never got as far as seeing the key
    fingerprint: str | None  # "SHA256:..." of the key the server offered
    error: str | None  # one sentence, or None when the target is ready


class SSHPool:
    """One lazily opened, shared asyncssh connection per SSH target."""

    def __init__(
        self,
        targets: Mapping[str, SSHTarget],
        *,
        accept_host_keys: Collection[str] = (),
        connect_timeout: float = 10.0,
        max_drivers: int = MAX_DRIVERS,
    ):
        """``max_drivers`` caps the driver shells per connection; 0 gives every command a
        channel of its own, as before driver shells (the benchmark compares the two)."""
        self._targets = dict(targets)
        self._max_drivers = max_drivers
        self._accept = frozenset(accept_host_keys)
        self._connect_timeout = connect_timeout
        self._conns: dict[str, asyncssh.SSHClientConnection] = {}
        self._labels: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._channels: dict[str, asyncio.Semaphore] = {}
        self._shells: dict[str, _Shells] = {}
        self._sftp: dict[str, tuple[asyncssh.SSHClientConnection, asyncssh.SFTPClient]] = {}
        self._sftp_locks: dict[str, asyncio.Lock] = {}

    # --- public API --------------------------------------------------------------------------

    async def run(
        self,
        target: str,
        command: str,
        *,
        on_output: OutputCallback | None = None,
        timeout: float | None = None,
        reconnect: bool = False,
        stdin: str | None = None,
    ) -> CommandResult:
        """Run ``command`` on ``target``, streaming lines to ``on_output`` as they arrive.

        ``reconnect`` (read-only steps only) reruns the command once on a fresh connection when
        the connection dropped mid-command, or on another shell when its driver shell ended
        mid-command. A connection or driver found dead before the command started is always
        replaced, since nothing ran.
        """
        retried_stale = False
        rerun = False
        while True:
            conn = await self._connection(target)
            try:
                async with self._channel_slot(target):
                    return await self._run_once(target, conn, command, on_output, timeout, stdin)
            except ShellEnded:
                if reconnect and not rerun:
                    rerun = True
                    continue
                raise ConnectionDropped(
                    f"The shell running commands on {self._label(target)} ended while "
                    f"{quote_cmd(command)} was running, so it may or may not have completed; "
                    "the next command starts a new one."
                ) from None
            except Dropped as dropped:
                self._forget(target, conn)
                if not dropped.started and not retried_stale:
                    retried_stale = True
                    continue
                if dropped.started and reconnect and not rerun:
                    rerun = True
                    continue
                raise ConnectionDropped(
                    f"The connection to {self._label(target)} dropped while {quote_cmd(command)} "
                    "was running, so it may or may not have completed."
                ) from None

    async def _run_once(
        self, target: str, conn: asyncssh.SSHClientConnection, command: str,
        on_output: OutputCallback | None, timeout: float | None, stdin: str | None,
    ) -> CommandResult:
        """On an idle (or new) driver shell when there is one for this command, else on a
        channel of its own; a driver that cannot take the command at all hands it over."""
        label = self._label(target)
        shells = self._shells_of(target, conn)
        driver = await shells.acquire() if fits(command) else None
        if driver is not None:
            try:
                return await driver.run(
                    command, stdin, name=target, label=label, on_output=on_output, timeout=timeout,
                )
            except ShellEnded as ended:
                if ended.started:
                    raise
            finally:
                shells.release(driver)
        shells.drop_idle()  # this command's channel must not take the one a stop will need
        return await run_command(
            conn, command, name=target, label=label, on_output=on_output, timeout=timeout, stdin=stdin,
        )

    def _shells_of(self, name: str, conn: asyncssh.SSHClientConnection) -> _Shells:
        shells = self._shells.get(name)
        if shells is None or shells.conn is not conn:
            shells = self._shells[name] = _Shells(conn, self._max_drivers)
        return shells

    async def upload(
        self, target: str, data: bytes, dest: str, *, mode: int | None = None
    ) -> UploadResult:
        """Write ``data`` to ``dest`` over SFTP (atomically where the server can rename over a
        file), set ``mode`` (else keep the old file's), then read it back to verify."""
        label = self._label(target)
        return await sftp.upload(lambda: self._sftp_client(target), target, label, data, dest, mode)

    async def read_file(self, target: str, path: str) -> bytes | None:
        """The file's bytes over SFTP, or None when it does not exist. Read-only, so a dropped
        connection is retried once."""
        label = self._label(target)
        return await sftp.read_file(
            lambda: self._sftp_client(target),
            lambda: self._forget(target, self._conns.get(target)),
            target, label, path,
        )

    async def probe(self, target: str) -> TargetStatus:
        """Connect (or reuse the connection) and say whether the target is ready."""
        try:
            conn = await self._connection(target)
        except HostKeyError as exc:
            return TargetStatus(target, True, False, exc.fingerprint, str(exc))
        except AuthError as exc:
            # Auth runs after the host key was verified, so the key is known.
            return TargetStatus(target, True, True, getattr(exc, "fingerprint", None), str(exc))
        except TransportError as exc:
            return TargetStatus(target, False, None, None, str(exc))
        key = conn.get_server_host_key()
        fingerprint = key.get_fingerprint("sha256") if key else None
        return TargetStatus(target, True, True, fingerprint, None)

    async def close(self) -> None:
        """Close every connection; the pool opens new ones if used again."""
        conns = list(self._conns.values())
        self._conns.clear()
        self._sftp.clear()
        self._shells.clear()
        for conn in conns:
            conn.close()
        for conn in conns:
            try:
                await asyncio.wait_for(conn.wait_closed(), 5)
            except (TimeoutError, OSError):
                conn.abort()

    # --- connections -------------------------------------------------------------------------

    def _target(self, name: str) -> SSHTarget:
        try:
            return self._targets[name]
        except KeyError:
            raise TransportError(f"There is no SSH target named {name} in the inventory.") from None

    def _label(self, name: str) -> str:
        """``name (host:port)`` as ~/.ssh/config gives them; worked out once a run, not per command."""
        if name not in self._labels:
            self._labels[name] = target_label(name, self._target(name))
        return self._labels[name]

    def _forget(self, name: str, conn: asyncssh.SSHClientConnection | None) -> None:
        """Drop ``conn`` from the pool unless it was already replaced by a newer one."""
        if conn is not None and self._conns.get(name) is conn:
            del self._conns[name]
            self._sftp.pop(name, None)
            self._shells.pop(name, None)
            conn.abort()

    async def _connection(self, name: str) -> asyncssh.SSHClientConnection:
        target = self._target(name)
        conn = self._conns.get(name)
        if conn is not None and not conn.is_closed():
            return conn
        # Concurrent first uses of a target share one connect.
        async with self._locks.setdefault(name, asyncio.Lock()):
            conn = self._conns.get(name)
            if conn is not None and not conn.is_closed():
                return conn
            self._forget(name, conn)
            conn = await open_connection(
                name, target, accept_host_key=name in self._accept, connect_timeout=self._connect_timeout,
            )
            # Connecting includes the first driver shell's start, so that every command after
            # it costs a round trip, not a channel and a login shell.
            try:
                await self._shells_of(name, conn).warm()
            except BaseException:
                self._shells.pop(name, None)
                conn.abort()  # and its jump hosts' connections with it
                raise
            self._conns[name] = conn
            return conn

    def _channel_slot(self, name: str) -> asyncio.Semaphore:
        return self._channels.setdefault(name, asyncio.Semaphore(_MAX_CHANNELS))

    async def _sftp_client(self, name: str) -> asyncssh.SFTPClient:
        """The target's SFTP session, shared like its connection and opened on first use."""
        for _attempt in range(2):
            conn = await self._connection(name)
            cached = self._sftp.get(name)
            if cached and cached[0] is conn:
                return cached[1]
            async with self._sftp_locks.setdefault(name, asyncio.Lock()):
                cached = self._sftp.get(name)
                if cached and cached[0] is conn:
                    return cached[1]
                client = await sftp.start_sftp(conn, self._label(name))
                if client is None:
                    self._forget(name, conn)  # went stale since last use: nothing ran yet
                    continue
                self._sftp[name] = (conn, client)
                return client
        raise ConnectionDropped(f"The connection to {self._label(name)} keeps dropping.")


class _Shells:
    """The driver shells of one connection: idle ones, how many there are, and whether this
    login can have them at all (decided once, by the first start)."""

    def __init__(self, conn: asyncssh.SSHClientConnection, most: int):
        self.conn, self.most = conn, most
        self.idle: list[Driver] = []
        self.count = 0
        self.unusable = most < 1 or not is_openssh(conn)  # the lab's shell is no /bin/sh to drive

    async def acquire(self) -> Driver | None:
        """An idle driver, a new one while there are fewer than the most allowed, else None."""
        import asyncssh

        while self.idle:
            driver = self.idle.pop()
            if driver.usable:
                return driver
            self.count -= 1
        if self.unusable or self.count >= self.most:
            return None
        self.count += 1
        try:
            return await Driver.start(self.conn)
        except CannotHost:
            self.unusable = True
        except asyncssh.ChannelOpenError:
            pass  # e.g. MaxSessions reached: this command gets a channel when one is free
        except BaseException:
            self.count -= 1
            raise
        self.count -= 1
        return None

    def release(self, driver: Driver) -> None:
        if driver.usable:
            self.idle.append(driver)
        else:
            driver.close()
            self.count -= 1

    def drop_idle(self) -> None:
        """Close one idle driver, if any, so that the connection's sessions stay within
        _MAX_CHANNELS: idle drivers hold sessions that no channel slot counts."""
        if self.idle:
            self.idle.pop().close()
            self.count -= 1

    async def warm(self) -> None:
        try:
            driver = await self.acquire()
        except Dropped:
            return  # the first command will find the connection gone and replace it
        except Exception:  # whatever went wrong, a channel per command still works
            self.unusable = True
            return
        if driver is not None:
            self.release(driver)
