"""A driver shell: one long-lived remote /bin/sh on a channel of its own that runs command after
command, so that a command costs one write and one read instead of a session channel, a login
shell's start and a ``ps`` (as Ansible's pipelining and Mitogen avoid them too).

It is started like a one-channel command (the channel's command is the word /bin/sh, the same
under pfSense's rc.initial, 2.5+ or 2.4, under tcsh and sh) and sent ``PROGRAM`` once, then one
line per command. Each command runs in a fresh /bin/sh (its own ``$$``, ``exit`` and ``exec``,
as on a channel of its own) in a process group of its own, so that a stop kills exactly it and
its children: FreeBSD's sh (pfSense) has job control without a terminal under ``set -m``;
where sh refuses that (Debian's dash), setsid(1) makes the group. Its stdin is /dev/null or its
input as a here-document, never the driver's. Every frame line starts with a random marker
chosen per driver, which output cannot contain by chance: the command's first stdout line says
its process group, and after it ends the driver writes its exit status on stdout and a closing
line on stderr, so a command is over when both streams reached their closing lines.

What a driver cannot tell apart: output that a command's background child writes after the
command ended (it shares the driver's streams) is shown with the next command's output. A
command that wants to outlive its step should redirect its output, as it must under nohup.
"""

from __future__ import annotations

import asyncio
import secrets
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runbook_tui.errors import StepTimeout
from runbook_tui.transports.base import CommandResult, OutputCallback, TailBuffer
from runbook_tui.transports.ssh.process import (
    _CHUNK,
    LAUNCHER,
    Dropped,
    LineSplitter,
    kill_group,
    quote_cmd,
    track,
    untrack,
)

if TYPE_CHECKING:  # asyncssh is imported lazily at first use: it is slow to import
    import asyncssh

#: G: what puts a command in a group of its own; J runs one command (its first output line is
#: its process group), E reports how the last one ended. M, G, J, E are not exported. setsid's
#: -w (wait, should it fork) is util-linux's; where it is missing J fails and the start-up probe
#: refuses the driver.
PROGRAM = r"""M={token}
set -m 2>/dev/null
case $- in
*m*) G= ;;
*) if command -v setsid >/dev/null 2>&1; then G='setsid -w'; else G=none; fi ;;
esac
J() {{ $G /bin/sh -c 'printf "\036%s p %s\n" "$1" "$$"; exec /bin/sh -c "$2"' /bin/sh "$M" "$1"; }}
E() {{ s=$?; printf '\036%s e %s\n' "$M" "$s"; printf '\036%s e\n' "$M" >&2; }}
printf '\036%s ready %s\n' "$M" "${{G:-set -m}}"
"""
#: Asked of each new driver: it must answer its own process id, proving the group is the command's.
_PROBE = "ps -o pgid= -p $$"
#: A command is an argument of exec there, and Linux caps one argument at 128 KiB.
MAX_COMMAND = 32 * 1024
#: How long a new driver may take to say it is ready (a login shell's start included).
_START_TIMEOUT = 10.0
#: After TERM (then KILL), how long the command's group gets to end before the driver is given up.
_STOP_GRACE = 1.0


class CannotHost(Exception):
    """This login cannot run a driver shell (or not a trustworthy one): use a channel per command."""


class ShellEnded(Exception):
    """The driver shell went away; ``started`` says whether the command may have run."""

    def __init__(self, started: bool):
        super().__init__()
        self.started = started


def command_line(command: str, stdin: str | None) -> str:
    """What the driver reads to run ``command`` with ``stdin`` (or /dev/null) as its input."""
    if stdin:
        fence = f"RUNBOOK_STDIN_{secrets.token_hex(8)}"  # a line no input holds by chance
        body = stdin if stdin.endswith("\n") else stdin + "\n"
        return f"J {shlex.quote(command)} <<'{fence}'; E\n{body}{fence}\n"
    return f"J {shlex.quote(command)} </dev/null; E\n"


def fits(command: str) -> bool:
    return len(command) <= MAX_COMMAND and "\0" not in command


class Framer:
    """Finds the frame lines (marker, kind, value) in one stream's text, passing the rest on.

    ``feed`` stops after an end frame, keeping what follows for the next command."""

    def __init__(self, token: str):
        self.prefix = f"\x1e{token} "
        self.buf = ""

    def feed(self, chunk: str) -> list[tuple[str, str]]:
        """("text", text) pieces and (kind, value) frames, in stream order."""
        buf, events = self.buf + chunk, []
        while True:
            at = buf.find(self.prefix)
            if at < 0:
                keep = self._maybe_marker(buf)
                if len(buf) > keep:
                    events.append(("text", buf[: len(buf) - keep]))
                self.buf = buf[len(buf) - keep :]
                return events
            if at:
                events.append(("text", buf[:at]))
            end = buf.find("\n", at)
            if end < 0:  # the frame line is still on its way
                self.buf = buf[at:]
                return events
            kind, _, value = buf[at + len(self.prefix) : end].partition(" ")
            events.append((kind, value))
            buf = buf[end + 1 :]
            if kind == "e":
                self.buf = buf
                return events

    def _maybe_marker(self, buf: str) -> int:
        """How many trailing characters could be the start of a marker cut by the chunking."""
        start = buf.rfind("\x1e", max(0, len(buf) - len(self.prefix) + 1))
        return len(buf) - start if start >= 0 and self.prefix.startswith(buf[start:]) else 0


class _Job:
    """One command on a driver: its process group once known, its exit status once over."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.pgid: int | None = None
        self.started = asyncio.Event()
        self.status: int | None = None

    async def kill_now(self) -> None:
        """A second Ctrl+C: KILL the group (waiting a moment to learn it), give the driver up."""
        try:
            await asyncio.wait_for(self.started.wait(), 0.5)
        except TimeoutError:
            pass
        if self.pgid is not None:
            await kill_group(self.driver.conn, self.pgid, "KILL")
        self.driver.close()


class Driver:
    """One driver shell; runs one command at a time (the pool keeps a few per connection)."""

    def __init__(self, conn: Any, process: Any, token: str):
        self.conn, self.process = conn, process
        self.out, self.err = Framer(token), Framer(token)
        self.broken = False  # given up: the pool closes it instead of reusing it
        self.last_pgid: int | None = None  # the last command's process group (for the probe)

    @classmethod
    async def start(cls, conn: asyncssh.SSHClientConnection) -> Driver:
        """A ready driver on a new channel; raises ``CannotHost`` when this login cannot have
        one, ``Dropped`` when the connection is gone, asyncssh's ChannelOpenError when refused."""
        import asyncssh

        token = secrets.token_hex(12)
        try:
            process = await conn.create_process(LAUNCHER, encoding="utf-8", errors="replace")
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError):
            raise Dropped(started=False) from None
        driver = cls(conn, process, token)
        try:
            async with asyncio.timeout(_START_TIMEOUT):
                process.stdin.write(PROGRAM.format(token=token))
                how = await driver._ready()
                probe = await driver.run(_PROBE, None, name="", label="", on_output=None, timeout=None)
        except (TimeoutError, ShellEnded):
            driver.close()
            if conn.is_closed():
                raise Dropped(started=False) from None
            raise CannotHost("the login shell did not start /bin/sh reading commands") from None
        except BaseException:
            driver.close()
            raise
        if how == "none" or probe.stdout.strip() != str(driver.last_pgid):
            driver.close()
            raise CannotHost("commands there get no process group of their own")
        return driver

    async def _ready(self) -> str:
        """Read up to the ready frame (a login shell may print first); say how groups are made."""
        while True:
            chunk = await self.process.stdout.read(_CHUNK)
            if not chunk:
                raise ShellEnded(started=False)
            for kind, value in self.out.feed(chunk):
                if kind == "ready":
                    return value

    @property
    def usable(self) -> bool:
        return not self.broken and not self.process.is_closing()

    def close(self) -> None:
        """Close the channel: the driver reads its end and exits."""
        self.broken = True
        self.process.close()

    async def run(
        self,
        command: str,
        stdin: str | None,
        *,
        name: str,
        label: str,
        on_output: OutputCallback | None,
        timeout: float | None,
    ) -> CommandResult:
        """Run ``command`` on this driver. Raises ``ShellEnded`` when the driver goes away (the
        pool says so in a sentence), ``Dropped`` when the whole connection did."""
        import asyncssh

        out, err = TailBuffer(), TailBuffer()
        lines = LineSplitter("stdout", out, on_output), LineSplitter("stderr", err, on_output)
        job = _Job(self)
        try:
            self.process.stdin.write(command_line(command, stdin))
        except (BrokenPipeError, ConnectionError, OSError):
            self.close()
            raise (Dropped if self.conn.is_closed() else ShellEnded)(started=False) from None
        tasks = [
            asyncio.ensure_future(self._send()),
            asyncio.ensure_future(self._read(self.process.stdout, self.out, lines[0], job)),
            asyncio.ensure_future(self._read(self.process.stderr, self.err, lines[1], None)),
        ]
        track(job)
        try:
            async with asyncio.timeout(timeout):
                await _all(tasks)
        except TimeoutError:
            await self._stop(tasks, job, lines)
            raise StepTimeout(
                f"{quote_cmd(command)} on {name} did not finish within {timeout:g} s."
            ) from None
        except asyncio.CancelledError:
            await self._stop(tasks, job, lines)  # the operator's Ctrl+C: leave nothing running
            raise
        except (ShellEnded, asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError) as exc:
            self.close()
            if self.conn.is_closed():  # what was on its way is lost: the command may have run
                raise Dropped(started=True) from None
            raise ShellEnded(started=exc.started if isinstance(exc, ShellEnded) else True) from None
        except BaseException:
            self.close()
            raise
        finally:
            untrack(job)
            for task in tasks:
                task.cancel()
        self.last_pgid = job.pgid
        return CommandResult(
            exit_code=job.status, stdout=out.text(), stderr=err.text(),
            truncated=out.truncated or err.truncated,
        )

    async def _send(self) -> None:
        try:
            await self.process.stdin.drain()  # a long input waits on the channel's window
        except (BrokenPipeError, ConnectionError, OSError):
            pass  # the readers will tell what happened

    async def _read(self, stream: Any, framer: Framer, lines: LineSplitter, job: _Job | None) -> None:
        """Pass one stream's output on up to its closing frame; on stdout, note the job's
        process group and exit status from theirs."""
        events = framer.feed("")  # what came after the last command's end, if anything
        while True:
            for kind, value in events:
                if kind == "text":
                    lines.feed(value)
                elif kind == "p" and job is not None and value.isdigit():
                    job.pgid = int(value)
                    job.started.set()
                elif kind == "e":
                    lines.flush()
                    if job is not None:
                        job.status = int(value) if value.isdigit() else None
                    return
            chunk = await stream.read(_CHUNK)
            if not chunk:
                if job is None:  # stderr: stdout's end (read to the last byte) says the rest
                    lines.flush()
                    self.broken = True
                    return
                # Every byte before the end was read: without the job's first frame, the
                # command never started (the pool then gives it a channel of its own).
                raise ShellEnded(started=job.started.is_set())
            events = framer.feed(chunk)

    async def _stop(self, tasks: Sequence[asyncio.Future[None]], job: _Job, lines: tuple[LineSplitter, ...]) -> None:
        """TERM the command's group, then KILL it, each time giving it a moment to end; the
        driver is kept only when the command's end was seen on both streams."""
        for splitter in lines:
            splitter.on_output = None  # stopped means nothing more is shown
        ended = False
        try:
            if not job.started.is_set():
                try:
                    await asyncio.wait_for(job.started.wait(), _STOP_GRACE)
                except TimeoutError:
                    pass
            if job.pgid is not None:
                for signal in ("TERM", "KILL"):
                    if all(t.done() for t in tasks[1:]):
                        break
                    await kill_group(self.conn, job.pgid, signal)
                    await asyncio.wait(tasks[1:], timeout=_STOP_GRACE)
            ended = all(t.done() and not t.cancelled() and t.exception() is None for t in tasks[1:])
        finally:
            if not ended:  # also when a second cancel cut this short
                self.close()


async def _all(tasks: Sequence[asyncio.Future[None]]) -> None:
    """Wait for every task, raising the first failure; the tasks are not cancelled on a timeout
    or cancel (a stop still reads them to the command's end)."""
    pending = set(tasks)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            exc = task.exception()
            if exc is not None:
                raise exc
