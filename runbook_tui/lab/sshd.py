"""The lab's SSH server harness: exec requests into a tiny shell, SFTP into a root folder.

Only the given client key may log in. Every command and every SFTP write goes to the command
log. Faults live here because they are about the connection, not the host: ``latency`` before
each command, ``drop_after`` (the Nth command received kills the connection without a word),
a presented host key that differs from the one known_hosts holds, and ``corrupt_uploads``
(SFTP writes lose their last byte).

A lab host hands the harness a ``shell`` factory; the tests' SSH server hands it a ``handler``
instead, a coroutine that gets the asyncssh process itself (to stream, wait for signals, cut the
connection). Either way the harness counts connections and keeps every command it received
(``commands``, and the 1-based connection that ran each in ``command_connections``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_tui.lab.command_log import CommandLog
from runbook_tui.lab.proof import lab_version
from runbook_tui.lab.shell import Shell

if TYPE_CHECKING:
    import asyncssh

#: handler(process) answers one exec request: writes output, then exits the process.
CommandHandler = Callable[["asyncssh.SSHServerProcess"], Awaitable[None]]


def generate_key() -> "asyncssh.SSHKey":
    import asyncssh

    return asyncssh.generate_private_key("ssh-ed25519")


class LabSSHServer:
    """One SSH host on 127.0.0.1: ``await start()`` returns the port."""

    def __init__(
        self,
        name: str,
        root: Path,
        client_key: "asyncssh.SSHKey",
        host_key: "asyncssh.SSHKey",
        *,
        shell: Callable[[], Shell] | None = None,
        handler: CommandHandler | None = None,
        command_log: CommandLog | None = None,
        presented_key: "asyncssh.SSHKey | None" = None,
        latency: float = 0.0,
        drop_after: int | None = None,
        proof: str | None = None,
    ):
        if (shell is None) == (handler is None):
            raise ValueError("an SSH host runs commands with a shell or a handler: give one")
        self.name = name
        self.root = Path(root)  # SFTP's chroot
        self.shell_factory = shell
        self.handler = handler
        self.command_log = command_log
        self.client_key = client_key
        self.host_key = host_key  # what known_hosts says
        self.presented_key = presented_key or host_key  # what the server shows
        self.latency = latency
        self.drop_after = drop_after
        self.corrupt_uploads = False
        self.proof = proof  # presented in the SSH version line (see workspace.lab_proven)
        self.connections = 0  # connections that reached the SSH layer
        self.commands: list[str] = []  # every exec request, in order
        self.command_connections: list[int] = []  # which connection ran each command
        self.host = "127.0.0.1"
        self.port = 0
        self._acceptor: Any = None
        self._conns: set[Any] = set()

    # -- what a client needs ----------------------------------------------------------------
    def known_hosts_line(self, key: "asyncssh.SSHKey | None" = None) -> str:
        """The known_hosts line for this server and ``key`` (by default the one it should have)."""
        public = (key or self.host_key).export_public_key().decode().split()
        return f"[{self.host}]:{self.port} {public[0]} {public[1]}\n"

    def fingerprint(self) -> str:
        """SHA256 fingerprint of the host key the server presents."""
        return self.presented_key.get_fingerprint("sha256")

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        import asyncssh

        self.root.mkdir(parents=True, exist_ok=True)
        authorized = asyncssh.import_authorized_keys(
            self.client_key.export_public_key().decode()
        )
        harness = self

        class _Server(asyncssh.SSHServer):
            def connection_made(self, conn: Any) -> None:
                harness.connections += 1
                harness._conns.add(conn)
                conn.set_extra_info(number=harness.connections)
                self._conn = conn

            def connection_lost(self, exc: Exception | None) -> None:
                harness._conns.discard(self._conn)

        self._acceptor = await asyncssh.listen(
            host,
            port,
            server_factory=_Server,
            server_host_keys=[self.presented_key],
            **({"server_version": lab_version(self.proof)} if self.proof else {}),
            authorized_client_keys=authorized,
            process_factory=self._handle,
            sftp_factory=self._sftp_factory(),
            allow_scp=True,
            # A lab host answers commands only; no port forwarding, no agent.
            allow_pty=False,
            agent_forwarding=False,
            x11_forwarding=False,
        )
        self.host = host
        self.port = self._acceptor.sockets[0].getsockname()[1]
        return self.port

    def drop_connections(self) -> None:
        """Cut every open connection from the server side, like a firewall reboot."""
        for conn in list(self._conns):
            conn.abort()

    async def stop(self) -> None:
        if self._acceptor is None:
            return
        self._acceptor.close()
        self.drop_connections()
        await self._acceptor.wait_closed()
        self._acceptor = None
        self._conns.clear()

    # -- commands -----------------------------------------------------------------------------
    def _log(self, command: str, mutated: bool, note: str | None = None) -> None:
        if self.command_log is not None:
            self.command_log.record(self.name, command, mutated, note=note)

    async def _handle(self, process: "asyncssh.SSHServerProcess") -> None:
        command = process.command
        if command is None:
            process.stderr.write("This lab host runs commands only: ssh HOST 'command'.\n")
            process.exit(1)
            return
        self.commands.append(command)
        self.command_connections.append(process.get_extra_info("connection").get_extra_info("number"))
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.drop_after and len(self.commands) == self.drop_after:
            self._log(command, False, note="connection dropped")
            process.channel.get_connection().abort()
            return
        if self.handler is not None:
            await self.handler(process)
            return
        assert self.shell_factory is not None
        shell = self.shell_factory()
        try:
            result = shell.run(command)
        except Exception as err:  # a lab bug must not look like a network failure
            self._log(command, shell.mutated, note=f"lab error: {err!r}")
            process.stderr.write(f"sh: internal lab error: {err}\n")
            process.exit(70)
            return
        self._log(command, shell.mutated)
        process.stdout.write(result.stdout)
        process.stderr.write(result.stderr)
        process.exit(result.code)

    def _sftp_factory(self) -> Callable[[Any], Any]:
        import asyncssh

        harness = self
        chroot = str(self.root.resolve()).encode()

        class _SFTP(asyncssh.SFTPServer):
            def __init__(self, chan: Any):
                super().__init__(chan, chroot=chroot)

            def _record(self, what: str, path: bytes) -> None:
                harness._log(f"sftp {what} {path.decode(errors='replace')}", True)

            def open(self, path: bytes, pflags: int, attrs: Any) -> Any:
                if pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC):
                    self._record("put", path)
                return super().open(path, pflags, attrs)

            def write(self, file_obj: Any, offset: int, data: bytes) -> Any:
                if harness.corrupt_uploads:
                    data = data[:-1]
                return super().write(file_obj, offset, data)

            def remove(self, path: bytes) -> Any:
                self._record("rm", path)
                return super().remove(path)

            def rename(self, oldpath: bytes, newpath: bytes) -> Any:
                self._record("rename", oldpath + b" " + newpath)
                return super().rename(oldpath, newpath)

            def posix_rename(self, oldpath: bytes, newpath: bytes) -> Any:
                self._record("rename", oldpath + b" " + newpath)
                return super().posix_rename(oldpath, newpath)

            def mkdir(self, path: bytes, attrs: Any) -> Any:
                self._record("mkdir", path)
                return super().mkdir(path, attrs)

            def exit(self) -> None:
                # sshd's sftp-server exits 0; without an exit status OpenSSH's scp reports failure.
                try:
                    self.channel.exit(0)
                except (OSError, asyncssh.Error):
                    pass

            def symlink(self, oldpath: bytes, newpath: bytes) -> Any:
                # A link could point outside the root folder; lab hosts refuse them.
                raise asyncssh.SFTPPermissionDenied("Symbolic links are not allowed here")

            def link(self, oldpath: bytes, newpath: bytes) -> Any:
                raise asyncssh.SFTPPermissionDenied("Links are not allowed here")

        return _SFTP
