"""SSH transport: one asyncssh connection per target, opened on first use, reused by every step.

Host keys are checked against the target's known_hosts file (never disabled): an unknown key is
refused unless the operator accepted that target, a changed key is always refused. Every failure
an operator can see is one sentence (a ``TransportError`` subclass).
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import os
import posixpath
import shlex
import socket
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runbook_tui.errors import (
    AuthError,
    ConnectionDropped,
    HostKeyError,
    StepTimeout,
    TransportError,
)
from runbook_tui.language.inventory import SSHTarget
from runbook_tui.transports.base import CommandResult, OutputCallback, TailBuffer

if TYPE_CHECKING:  # asyncssh is imported lazily at first use: it is slow to import
    import asyncssh

#: Read size per output chunk; lines are split out of these as they arrive.
_CHUNK = 64 * 1024
#: A "line" longer than this is passed on in pieces so one endless line cannot eat memory.
_MAX_LINE = 64 * 1024
#: After TERM, how long the remote process gets to exit before KILL and closing the channel.
_STOP_GRACE = 1.0
#: OpenSSH's default MaxSessions is 10 per connection; one is kept for SFTP.
_MAX_CHANNELS = 8
#: How long the helper that kills a process group over a second channel may take.
_KILL_TIMEOUT = 5.0
_KEEPALIVE = 15.0

#: OpenSSH refuses "signal" requests for sessions without privilege separation, which is every
#: root login (pfSense's admin is uid 0): "session signalling requires privilege separation".
#: There, the command first prints its process group (sshd makes each session a group leader,
#: so $$ is it) on stderr, and stopping it kills that group over a second channel.
_PGID_MARK = "\x1erunbook-pgid "
_PGID_PREFIX = "printf '\\036runbook-pgid %s\\n' \"$$\" >&2; "


@dataclass
class UploadResult:
    dest: str
    size: int
    sha256: str


@dataclass
class TargetStatus:
    """What the TUI shows for a target before anything runs."""

    name: str
    reachable: bool
    host_key_known: bool | None  # None: never got as far as seeing the key
    fingerprint: str | None  # "SHA256:..." of the key the server offered
    error: str | None  # one sentence, or None when the target is ready


class _Dropped(Exception):
    """Internal: the connection went away; ``started`` says whether the command may have run."""

    def __init__(self, started: bool):
        super().__init__()
        self.started = started


@dataclass
class _HostKeyCheck:
    """What happened to the host key during one connection attempt."""

    known: Any  # asyncssh.SSHKnownHosts
    accept: bool
    verdict: str | None = None  # None (trusted by known_hosts), "unknown", "changed", "accepted"
    offered: Any = None  # the asyncssh.SSHKey the server offered, when we were asked about it
    host: str = ""
    port: int = 22
    conn: Any = None  # the connection being made, to read its host key after a failed login

    def validate(self, host: str, addr: str, port: int, key: Any) -> bool:
        import asyncssh

        self.offered, self.host, self.port = key, host, port
        trusted, trusted_cas, *_ = asyncssh.match_known_hosts(
            self.known, host, addr, None if port == 22 else port
        )
        if trusted or trusted_cas:
            self.verdict = "changed"  # known_hosts vouches for other keys: never override
            return False
        self.verdict = "accepted" if self.accept else "unknown"
        return self.accept


def _known_hosts_pattern(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def _describe_key(key: Any) -> tuple[str, str]:
    return key.get_algorithm(), key.get_fingerprint("sha256")


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
                    return await self._run_once(target, conn, command, on_output, timeout, stdin)
            except _Dropped as dropped:
                self._forget(target, conn)
                if not dropped.started and not retried_stale:
                    retried_stale = True
                    continue
                if dropped.started and reconnect and not rerun:
                    rerun = True
                    continue
                raise ConnectionDropped(
                    f"The connection to {self._label(target)} dropped while {_quote_cmd(command)} "
                    "was running, so it may or may not have completed."
                ) from None

    async def upload(
        self, target: str, data: bytes, dest: str, *, mode: int | None = None
    ) -> UploadResult:
        """Write ``data`` to ``dest`` over SFTP (atomically where the server can rename over a
        file), set ``mode`` (else keep the old file's), then read it back to verify."""
        import asyncssh

        size, digest = len(data), hashlib.sha256(data).hexdigest()
        directory, base = posixpath.split(dest)
        tmp = posixpath.join(directory, f".{base}.runbook-upload")
        try:
            sftp = await self._sftp_client(target)
            if mode is None and await sftp.exists(dest):
                mode = (await sftp.stat(dest)).permissions
                mode = None if mode is None else mode & 0o7777
            try:
                await self._write(sftp, tmp, data)
                if mode is not None:
                    await sftp.chmod(tmp, mode)
                await sftp.posix_rename(tmp, dest)
            except asyncssh.SFTPOpUnsupported:  # no atomic rename: write in place instead
                await self._write(sftp, dest, data)
                if mode is not None:
                    await sftp.chmod(dest, mode)
            finally:
                await _remove_quietly(sftp, tmp)
            back = await self._read(sftp, dest)
        except asyncssh.SFTPError as exc:
            raise self._sftp_error(target, f"upload to {dest}", dest, exc) from None
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError):
            raise ConnectionDropped(
                f"The connection to {self._label(target)} dropped while uploading {dest}; "
                "check the file before retrying."
            ) from None
        assert back is not None
        if len(back) != size or hashlib.sha256(back).hexdigest() != digest:
            raise TransportError(
                f"Upload to {dest} on {target} did not verify: wrote {size} bytes "
                f"(SHA-256 {digest[:12]}...), read back {len(back)} bytes "
                f"(SHA-256 {hashlib.sha256(back).hexdigest()[:12]}...)."
            )
        return UploadResult(dest=dest, size=size, sha256=digest)

    async def read_file(self, target: str, path: str) -> bytes | None:
        """The file's bytes over SFTP, or None when it does not exist. Read-only, so a dropped
        connection is retried once."""
        import asyncssh

        for attempt in range(2):
            try:
                sftp = await self._sftp_client(target)
                return await self._read(sftp, path)
            except asyncssh.SFTPError as exc:
                if isinstance(exc, asyncssh.SFTPConnectionLost) and attempt == 0:
                    self._forget(target, self._conns.get(target))
                    continue
                raise self._sftp_error(target, f"read {path}", path, exc) from None
            except (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError):
                self._forget(target, self._conns.get(target))
                if attempt == 0:
                    continue
                raise ConnectionDropped(
                    f"The connection to {self._label(target)} dropped while reading {path}."
                ) from None
        raise AssertionError("unreachable")

    async def probe(self, target: str) -> TargetStatus:
        """Connect (or reuse the connection) and say whether the target is ready."""
        try:
            conn = await self._connection(target)
        except HostKeyError as exc:
            return TargetStatus(target, True, False, getattr(exc, "fingerprint", None), str(exc))
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
            except (asyncio.TimeoutError, OSError):
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

    def _forget(self, name: str, conn: Any) -> None:
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
            conn = await self._open(name, target)
            self._conns[name] = conn
            return conn

    def _channel_slot(self, name: str) -> asyncio.Semaphore:
        return self._channels.setdefault(name, asyncio.Semaphore(_MAX_CHANNELS))

    async def _open(self, name: str, target: SSHTarget) -> asyncssh.SSHClientConnection:
        import asyncssh

        label = self._label(name)
        known_hosts_path = target.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
        check = _HostKeyCheck(known=self._load_known_hosts(name, known_hosts_path),
                              accept=name in self._accept)
        if target.key and not os.path.isfile(target.key):
            raise TransportError(f"The key file {target.key} for {name} does not exist.")

        class _Client(asyncssh.SSHClient):
            def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
                check.conn = conn

            def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
                return check.validate(host, addr, port, key)

        try:
            conn = await asyncssh.connect(
                target.host,
                target.port,
                username=target.user if target.user else (),
                client_keys=[target.key] if target.key else (),  # () = agent and default keys
                known_hosts=check.known,
                client_factory=_Client,
                connect_timeout=self._connect_timeout,
                keepalive_interval=_KEEPALIVE,
                keepalive_count_max=3,
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            raise self._host_key_error(name, label, known_hosts_path, check, exc) from None
        except asyncssh.PermissionDenied:
            how = f"tried {target.key}" if target.key else "tried the SSH agent and default keys"
            err = AuthError(
                f"{name} refused our key (user {target.user or getpass.getuser()}); {how}, "
                f"so check that the matching public key is in authorized_keys on {target.host}."
            )
            key = check.conn.get_server_host_key() if check.conn is not None else None
            err.fingerprint = key.get_fingerprint("sha256") if key is not None else None
            raise err from None
        except asyncssh.KeyExchangeFailed as exc:
            raise await self._kex_error(name, label, target, known_hosts_path, check, exc) from None
        except asyncssh.KeyImportError as exc:
            raise TransportError(f"Cannot use the key {target.key} for {name}: {exc}.") from None
        except (asyncssh.DisconnectError, asyncssh.ConnectionLost) as exc:
            raise TransportError(
                f"{label} closed the connection during the SSH login: {exc.reason}."
            ) from None
        except asyncio.TimeoutError:
            raise TransportError(
                f"{label} did not complete the SSH login within {self._connect_timeout:g} s."
            ) from None
        except socket.gaierror as exc:
            raise TransportError(
                f"Cannot connect to {name}: the host name {target.host} does not resolve "
                f"({exc.strerror})."
            ) from None
        except ConnectionRefusedError:
            raise TransportError(
                f"Cannot connect to {label}: connection refused (nothing listens on port "
                f"{target.port})."
            ) from None
        except OSError as exc:
            raise TransportError(f"Cannot connect to {label}: {exc.strerror or exc}.") from None

        if check.verdict == "accepted" and check.offered is not None:
            self._remember_host_key(name, known_hosts_path, check)
        return conn

    def _load_known_hosts(self, name: str, path: str) -> Any:
        import asyncssh

        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            text = ""  # nothing is trusted yet
        except OSError as exc:
            raise TransportError(
                f"Cannot read the known_hosts file {path} for {name}: {exc.strerror}."
            ) from None
        try:
            # An object, not the path: asyncssh treats an empty value as "use the default file".
            return asyncssh.import_known_hosts(text)
        except ValueError as exc:
            raise TransportError(f"The known_hosts file {path} is invalid: {exc}.") from None

    def _remember_host_key(self, name: str, path: str, check: _HostKeyCheck) -> None:
        """Append an operator-accepted key so the next run trusts it."""
        algorithm, blob = check.offered.export_public_key("openssh").decode().split()[:2]
        line = f"{_known_hosts_pattern(check.host, check.port)} {algorithm} {blob}\n"
        try:
            os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
            with open(path, "a+", encoding="utf-8") as f:
                f.seek(0)
                text = f.read()
                if line in text:
                    return
                f.write(("" if not text or text.endswith("\n") else "\n") + line)
        except OSError as exc:
            raise TransportError(
                f"Accepted the host key of {name} but could not add it to {path}: {exc.strerror}."
            ) from None

    def _host_key_error(
        self, name: str, label: str, path: str, check: _HostKeyCheck, exc: Exception
    ) -> HostKeyError:
        if check.offered is None:  # e.g. a key marked @revoked: asyncssh refused before asking us
            err = HostKeyError(f"Host key for {label} was refused: {exc}.")
            err.fingerprint = None
            return err
        algorithm, fingerprint = _describe_key(check.offered)
        if check.verdict == "changed":
            err = _changed_key_error(label, path, check.host, check.port, algorithm, fingerprint)
        else:
            err = HostKeyError(
                f"Host key for {label} is not known: {algorithm} {fingerprint}. Check it, then "
                f"run with --accept-host-key {name} (or add it to {path})."
            )
        err.fingerprint = fingerprint
        err.changed = check.verdict == "changed"
        err.target = name
        return err

    async def _kex_error(
        self, name: str, label: str, target: SSHTarget, path: str, check: _HostKeyCheck,
        exc: Exception,
    ) -> TransportError:
        """Key exchange fails when known_hosts only lists key types the server no longer has:
        that is a changed host key, so fetch the new key to report its fingerprint."""
        import asyncssh

        trusted, *_ = asyncssh.match_known_hosts(
            check.known, target.host, target.host, None if target.port == 22 else target.port
        )
        if not trusted:
            return TransportError(f"SSH negotiation with {label} failed: {exc.reason}.")
        try:
            key = await asyncio.wait_for(
                asyncssh.get_server_host_key(target.host, target.port), self._connect_timeout
            )
        except (OSError, asyncio.TimeoutError, asyncssh.Error):
            key = None
        if key is None:
            algorithm, fingerprint = "a key of another type", "(fingerprint unavailable)"
        else:
            algorithm, fingerprint = _describe_key(key)
        err = _changed_key_error(label, path, target.host, target.port, algorithm, fingerprint)
        err.fingerprint = fingerprint if key is not None else None
        err.changed = True
        err.target = name
        return err

    # --- commands ----------------------------------------------------------------------------

    async def _run_once(
        self,
        name: str,
        conn: asyncssh.SSHClientConnection,
        command: str,
        on_output: OutputCallback | None,
        timeout: float | None,
        stdin: str | None,
    ) -> CommandResult:
        import asyncssh

        wrapped = _signals_need_process_group(conn)
        remote = _PGID_PREFIX + command if wrapped else command
        try:
            process = await conn.create_process(remote, encoding="utf-8", errors="replace")
        except asyncssh.ChannelOpenError as exc:
            if conn.is_closed():
                raise _Dropped(started=False) from None
            raise TransportError(
                f"{self._label(name)} refused to start {_quote_cmd(command)}: {exc.reason}."
            ) from None
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError):
            raise _Dropped(started=False) from None

        out, err = TailBuffer(), TailBuffer()
        group = _ProcessGroup() if wrapped else None
        try:
            async with asyncio.timeout(timeout):
                await _gather(
                    _feed(process, stdin),
                    _pump(process.stdout, "stdout", out, on_output),
                    _pump(process.stderr, "stderr", err, on_output, group and group.take_marker),
                )
                await process.wait_closed()
        except asyncio.TimeoutError:
            await _stop(conn, process, group)
            raise StepTimeout(
                f"{_quote_cmd(command)} on {name} did not finish within {timeout:g} s."
            ) from None
        except asyncio.CancelledError:
            await _stop(conn, process, group)  # the operator's Ctrl+C: leave nothing running
            raise
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError):
            process.close()
            raise _Dropped(started=True) from None
        except BaseException:
            process.close()
            raise

        exit_signal = process.exit_signal
        if process.exit_status is None and exit_signal is None and conn.is_closed():
            raise _Dropped(started=True)
        return CommandResult(
            exit_code=process.exit_status,
            stdout=out.text(),
            stderr=err.text(),
            truncated=out.truncated or err.truncated,
            signal=exit_signal[0] if exit_signal else None,
        )

    # --- SFTP --------------------------------------------------------------------------------

    async def _sftp_client(self, name: str) -> asyncssh.SFTPClient:
        import asyncssh

        for attempt in range(2):
            conn = await self._connection(name)
            cached = self._sftp.get(name)
            if cached and cached[0] is conn:
                return cached[1]
            async with self._sftp_locks.setdefault(name, asyncio.Lock()):
                cached = self._sftp.get(name)
                if cached and cached[0] is conn:
                    return cached[1]
                try:
                    sftp = await conn.start_sftp_client()
                except (asyncssh.Error, ConnectionError) as exc:
                    if not conn.is_closed():
                        reason = getattr(exc, "reason", "") or str(exc)
                        raise TransportError(
                            f"{self._label(name)} does not offer SFTP: {reason}."
                        ) from None
                    self._forget(name, conn)  # went stale since last use: nothing ran yet
                    continue
                self._sftp[name] = (conn, sftp)
                return sftp
        raise ConnectionDropped(f"The connection to {self._label(name)} keeps dropping.")

    @staticmethod
    async def _write(sftp: asyncssh.SFTPClient, path: str, data: bytes) -> None:
        async with sftp.open(path, "wb") as f:
            await f.write(data)

    @staticmethod
    async def _read(sftp: asyncssh.SFTPClient, path: str) -> bytes | None:
        import asyncssh

        try:
            async with sftp.open(path, "rb") as f:
                return await f.read()
        except asyncssh.SFTPNoSuchFile:
            return None

    def _sftp_error(self, name: str, what: str, path: str, exc: Any) -> TransportError:
        import asyncssh

        if isinstance(exc, asyncssh.SFTPConnectionLost):
            return ConnectionDropped(
                f"The connection to {self._label(name)} dropped during the {what}."
            )
        if isinstance(exc, (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath)):
            why = f"the directory {posixpath.dirname(path) or '.'} does not exist"
        elif isinstance(exc, asyncssh.SFTPPermissionDenied):
            why = "permission denied"
        else:
            why = exc.reason or type(exc).__name__
        return TransportError(f"Cannot {what} on {name}: {why}.")


# --- helpers ---------------------------------------------------------------------------------


async def _remove_quietly(sftp: Any, path: str) -> None:
    try:
        if await sftp.exists(path):
            await sftp.remove(path)
    except Exception:  # best effort: a stray temp file must not hide the real error
        pass


def _quote_cmd(command: str, limit: int = 80) -> str:
    one_line = " ".join(command.split())
    return f"`{one_line if len(one_line) <= limit else one_line[: limit - 3] + '...'}`"


def _changed_key_error(
    label: str, path: str, host: str, port: int, algorithm: str, fingerprint: str
) -> HostKeyError:
    pattern = _known_hosts_pattern(host, port)
    return HostKeyError(
        f"Host key for {label} has CHANGED: the server now offers {algorithm} {fingerprint}, "
        f"which does not match {path}; if the change is expected, remove the old key with "
        f"ssh-keygen -R {shlex.quote(pattern)} -f {shlex.quote(path)} and connect again."
    )


async def _gather(*coros: Any) -> None:
    """Run the coroutines together; the first failure cancels the rest and is raised as is."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _feed(process: Any, stdin: str | None) -> None:
    """Send ``stdin`` then EOF; without input, EOF at once so nothing waits on the terminal."""
    try:
        if stdin:
            process.stdin.write(stdin)
            await process.stdin.drain()
        process.stdin.write_eof()
    except (BrokenPipeError, ConnectionError, OSError):
        pass  # the command exited or the connection dropped; the readers will tell which


async def _pump(
    reader: Any,
    stream: str,
    tail: TailBuffer,
    on_output: OutputCallback | None,
    first_line: Callable[[str], bool] | None = None,
) -> None:
    """Split a stream into lines as chunks arrive, keeping only a bounded tail. ``first_line``
    may consume the stream's first line (returning True) so it is not shown."""

    def emit(line: str) -> None:
        nonlocal first_line
        line = line[:-1] if line.endswith("\r") else line
        if first_line is not None:
            hook, first_line = first_line, None
            if hook(line):
                return
        tail.append(line)
        if on_output is not None:
            on_output(stream, line)

    partial = ""
    while True:
        chunk = await reader.read(_CHUNK)
        if not chunk:
            break
        *lines, partial = (partial + chunk).split("\n")
        for line in lines:
            emit(line)
        while len(partial) > _MAX_LINE:
            emit(partial[:_MAX_LINE])
            partial = partial[_MAX_LINE:]
    if partial:
        emit(partial)


async def _stop(conn: Any, process: Any, group: _ProcessGroup | None) -> None:
    """TERM the remote process, give it a moment, KILL it if it lingers, close the channel."""
    try:
        pgid = await _learn_pgid(process, group)
        for signal in ("TERM", "KILL"):
            try:
                process.send_signal(signal)
            except Exception:  # the channel is gone already
                return
            if pgid is not None:  # the signal request may have been ignored: kill the group
                await _kill_group(conn, pgid, signal)
            try:
                await asyncio.wait_for(process.wait_closed(), _STOP_GRACE)
                return
            except asyncio.TimeoutError:
                continue
    finally:
        process.close()


async def _learn_pgid(process: Any, group: _ProcessGroup | None) -> int | None:
    if group is not None and group.pgid is None:  # stopped before the marker line was read
        try:
            group.take_marker(await asyncio.wait_for(process.stderr.readline(), _STOP_GRACE))
        except Exception:
            pass
    return group.pgid if group is not None else None


async def _kill_group(conn: Any, pgid: int, signal: str) -> None:
    try:
        await asyncio.wait_for(conn.run(f"kill -s {signal} -- -{pgid}"), _KILL_TIMEOUT)
    except Exception:  # best effort; the channel is closed regardless
        pass


class _ProcessGroup:
    """Learns the remote process group from the marker line the wrapper prints first."""

    def __init__(self) -> None:
        self.pgid: int | None = None

    def take_marker(self, line: str) -> bool:
        if line.startswith(_PGID_MARK):
            tail = line[len(_PGID_MARK) :].strip()
            self.pgid = int(tail) if tail.isdigit() else None
            return True
        return False


def _signals_need_process_group(conn: Any) -> bool:
    return "OpenSSH" in (conn.get_extra_info("server_version") or "")
