"""SSH servers for tests and benchmarks, on 127.0.0.1 with ports chosen by the OS.

``SSHTestServer`` is the lab's own SSH harness (``runbook_tui.lab.sshd``) answering from a table
of coroutines instead of a lab shell; ``OpenSSHServer`` runs Debian's real sshd.

The table (``SSHTestServer.handlers``) streams, sleeps, ignores TERM, cuts the connection and
records every signal and the end of every command in ``events``. The harness counts connections
and keeps every command it received (``commands``, ``command_connections``), serves SFTP inside
``sftp_root`` and can corrupt uploads, so tests can assert what reached the far side.

    server = SSHTestServer(tmp_path)
    await server.start()
    target = server.target()          # an SSHTarget with a trusted known_hosts and client key
    ...
    await server.stop()
"""

from __future__ import annotations

import asyncio
import getpass
import os
import shlex
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncssh

from runbook_tui.lab.sshd import LabSSHServer, generate_key
from runbook_tui.language.inventory import SSHTarget

Proc = asyncssh.SSHServerProcess
Handler = Callable[["SSHTestServer", Proc, list[str]], Awaitable[None]]

#: How often a waiting command checks for signals once its stdin reached EOF.
_POLL = 0.01


def _target(server: SSHTestServer | OpenSSHServer, overrides: dict[str, object]) -> SSHTarget:
    fields: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.port,
        "user": server.user,
        "key": str(server.key_path),
        "known_hosts": str(server.known_hosts_path),
    }
    fields.update(overrides)
    return SSHTarget(**fields)


class SSHTestServer(LabSSHServer):
    """The lab's SSH harness with commands that are Python coroutines; files live in ``root``."""

    def __init__(self, root: Path, *, user: str = "admin", host_key: asyncssh.SSHKey | None = None):
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        client_key = generate_key()
        super().__init__("test", root / "sftp", client_key, host_key or generate_key(), handler=self._dispatch)
        self.user = user
        self.sftp_root = self.root
        self.key_path = root / "id_ed25519"
        self.client_key.write_private_key(str(self.key_path))
        self.known_hosts_path = root / "known_hosts"
        self.events: list[str] = []  # "signal TERM: sleep 30", "ended: sleep 30", ...
        self.drop_once_done: set[str] = set()
        self.handlers: dict[str, Handler] = {
            "echo": _echo,
            "hostname": _hostname,
            "fail": _fail,
            "mixed": _mixed,
            "lines": _lines,
            "sleep": _sleep,
            "stubborn": _stubborn,
            "cat": _cat,
            "drop": _drop,
            "drop-once": _drop_once,
        }
        self._changed = asyncio.Event()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen, then trust this server in ``known_hosts_path``."""
        port = await super().start(host, port)
        self.write_known_hosts()
        return port

    # --- what a client needs ---------------------------------------------------------------

    def write_known_hosts(
        self, path: Path | None = None, key: asyncssh.SSHKey | None = None
    ) -> Path:
        path = path or self.known_hosts_path
        path.write_text(self.known_hosts_line(key))
        return path

    def target(self, **overrides: object) -> SSHTarget:
        return _target(self, overrides)

    async def wait_for_event(self, text: str, timeout: float = 5.0) -> None:
        """Wait until an event containing ``text`` was recorded."""

        async def seen() -> None:
            while not any(text in e for e in self.events):
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(seen(), timeout)

    def record(self, event: str) -> None:
        self.events.append(event)
        self._changed.set()

    # --- command dispatch ------------------------------------------------------------------

    async def _dispatch(self, process: asyncssh.SSHServerProcess) -> None:
        command = process.command or ""
        try:
            argv = shlex.split(command)
        except ValueError:
            argv = [command]
        handler = self.handlers.get(argv[0] if argv else "")
        try:
            if handler is None:
                process.stderr.write(f"sh: {argv[0] if argv else ''}: not found\n")
                process.exit(127)
            else:
                await handler(self, process, argv[1:])
        except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged):
            process.exit(1)
        except (BrokenPipeError, ConnectionError, asyncssh.DisconnectError):
            pass  # the client went away; ``ended`` below records it
        finally:
            self.record(f"ended: {command}")


async def _wait_for_signal(process: asyncssh.SSHServerProcess, seconds: float) -> str | None:
    """Wait up to ``seconds`` for a signal; None on timeout or when the channel closed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if process.channel.is_closing():
            return None
        try:
            data = await asyncio.wait_for(process.stdin.read(4096), _POLL)
        except asyncssh.SignalReceived as exc:
            return exc.signal
        except TimeoutError:
            continue
        if not data and process.stdin.at_eof():
            await asyncio.sleep(_POLL)  # signals still queue after EOF; look again shortly
    return None


async def _echo(server: SSHTestServer, process: Proc, args: list[str]) -> None:
    process.stdout.write(" ".join(args) + "\n")
    process.exit(0)


async def _hostname(server: SSHTestServer, process: Proc, args: list[str]) -> None:
    process.stdout.write("lab-ssh\n")
    process.exit(0)


async def _fail(server: SSHTestServer, process: Proc, args: list[str]) -> None:
    code = int(args[0]) if args else 1
    process.stderr.write(f"failing with {code}\n")
    process.exit(code)


async def _mixed(server: SSHTestServer, process: Proc, args: list[str]) -> None:
    process.stdout.write("out 1\n")
    process.stderr.write("err 1\n")
    process.stdout.write("out 2\nno newline at end")
    process.exit(3)


async def _lines(server: SSHTestServer, process: Proc, args: list[str]) -> None:
    """``lines N``: print ``line 1`` .. ``line N`` as fast as flow control allows."""
    count = int(args[0])
    chunk = 2000
    for start in range(1, count + 1, chunk):
        end = min(start + chunk, count + 1)
        process.stdout.write("".join(f"line {i}\n" for i in range(start, end)))
        await process.stdout.drain()
    process.exit(0)


async def _sleep(server: SSHTestServer, process: Proc, args: list[str]) -> None:
    """``sleep S``: like sleep(1); dies on TERM/INT/KILL, recording the signal."""
    command = process.command
    process.stdout.write("sleeping\n")
    signal = await _wait_for_signal(process, float(args[0]) if args else 3600)
    if signal is None:
        if not process.channel.is_closing():
            process.exit(0)
        return
    server.record(f"signal {signal}: {command}")
    process.exit_with_signal(signal)


async def _stubborn(server: SSHTestServer, process: Proc, args: list[str]) -> None:
    """``stubborn``: ignores TERM (recording it) and only dies on KILL or a closed channel."""
    command = process.command
    process.stdout.write("ignoring TERM\n")
    while True:
        signal = await _wait_for_signal(process, 3600)
        if signal is None:
            return
        server.record(f"signal {signal}: {command}")
        if signal == "KILL":
            process.exit_with_signal("KILL")
            return


async def _cat(server: SSHTestServer, process: Proc, args: list[str]) -> None:
    async for data in process.stdin:
        process.stdout.write(data)
    process.exit(0)


async def _drop(server: SSHTestServer, process: Proc, args: list[str]) -> None:
    """``drop``: print a line, then cut the whole connection mid-command."""
    process.stdout.write("partial\n")
    await process.stdout.drain()
    await asyncio.sleep(0.05)
    process.get_extra_info("connection").abort()


async def _drop_once(server: SSHTestServer, process: Proc, args: list[str]) -> None:
    """``drop-once KEY``: the first run per KEY drops the connection, later runs succeed."""
    key = args[0] if args else ""
    if key not in server.drop_once_done:
        server.drop_once_done.add(key)
        await _drop(server, process, args)
        return
    process.stdout.write(f"ok {key}\n")
    process.exit(0)


# --- a real OpenSSH sshd ------------------------------------------------------------------------

SSHD = "/usr/sbin/sshd"  # sshd re-executes itself, so it must be started by absolute path

_SSHD_CONFIG = """\
{listen}
HostKey {root}/ssh_host_ed25519_key
AuthorizedKeysFile {root}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
PermitRootLogin yes
AllowUsers {users}
Subsystem sftp internal-sftp
LogLevel INFO
"""


class OpenSSHServer:
    """``sshd -D -e`` as a child process: generated host key, one authorized client key; it
    listens on 127.0.0.1 and any other ``listen`` addresses (``::1``), on the same port."""

    def __init__(self, root: Path, users: tuple[str, ...] = (), listen: tuple[str, ...] = ()):
        self.root = Path(root)
        self.listen = ("127.0.0.1", *listen)
        self.root.mkdir(parents=True, exist_ok=True)
        self.user = getpass.getuser()
        self.users = (self.user, *users)  # who may log in (with the one client key)
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.key_path = self.root / "id_ed25519"
        self.known_hosts_path = self.root / "known_hosts"
        self.log_path = self.root / "sshd.log"
        self.port = 0
        self._proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> OpenSSHServer:
        host_key_path = self.root / "ssh_host_ed25519_key"
        self.host_key.write_private_key(str(host_key_path))
        host_key_path.chmod(0o600)
        self.client_key.write_private_key(str(self.key_path))
        self.key_path.chmod(0o600)
        (self.root / "authorized_keys").write_bytes(self.client_key.export_public_key())
        config = self.root / "sshd_config"
        listen = "\n".join(f"ListenAddress {address}" for address in self.listen)
        config.write_text(_SSHD_CONFIG.format(listen=listen, root=self.root, users=" ".join(self.users)))
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
        # sshd takes a port number, so let the OS pick a free one and retry on the rare race.
        for _ in range(5):
            self.port = _free_port()
            log = self.log_path.open("ab")
            self._proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config), "-p", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
            log.close()
            if self._wait_ready(timeout):
                self.known_hosts_path.write_text(self.known_hosts_line())
                return self
            self.stop()
            if "Address already in use" not in self.log():
                break
        raise RuntimeError(f"sshd did not start; its log says:\n{self.log()}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(64).startswith(b"SSH-2.0-"):
                        return True
            except OSError:
                time.sleep(0.02)
        return False

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def known_hosts_line(self) -> str:
        public = self.host_key.export_public_key().decode().split()
        return f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n"

    def fingerprint(self) -> str:
        return self.host_key.get_fingerprint("sha256")

    def target(self, **overrides: object) -> SSHTarget:
        return _target(self, overrides)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
