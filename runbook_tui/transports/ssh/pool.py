"""The SSH pool: one connection per target, opened on first use and reused by every step.

It ties the parts together: ``connect`` logs in (checking host keys), ``process`` runs a command
on a channel of the shared connection, ``sftp`` moves files. Here live the decisions about
connections: when a dead one is replaced, when a command may be rerun, how many channels a
target gets.
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
from runbook_tui.transports.ssh.process import Dropped, quote_cmd, run_command
from runbook_tui.transports.ssh.sftp import UploadResult

if TYPE_CHECKING:  # asyncssh is imported lazily at first use: it is slow to import
    import asyncssh

#: OpenSSH's default MaxSessions is 10 per connection; one is kept for SFTP.
_MAX_CHANNELS = 8


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
    ):
        self._targets = dict(targets)
        self._accept = frozenset(accept_host_keys)
        self._connect_timeout = connect_timeout
        self._conns: dict[str, asyncssh.SSHClientConnection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._channels: dict[str, asyncio.Semaphore] = {}
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
        the connection dropped mid-command. A connection found dead before the command started
        is always replaced, since nothing ran.
        """
        retried_stale = False
        rerun = False
        while True:
            conn = await self._connection(target)
            try:
                async with self._channel_slot(target):
                    return await run_command(
                        conn, command, name=target, label=self._label(target),
                        on_output=on_output, timeout=timeout, stdin=stdin,
                    )
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
        t = self._target(name)
        return f"{name} ({t.host}:{t.port})"

    def _forget(self, name: str, conn: asyncssh.SSHClientConnection | None) -> None:
        """Drop ``conn`` from the pool unless it was already replaced by a newer one."""
        if conn is not None and self._conns.get(name) is conn:
            del self._conns[name]
            self._sftp.pop(name, None)
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
                name, target, label=self._label(name), accept_host_key=name in self._accept,
                connect_timeout=self._connect_timeout,
            )
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
