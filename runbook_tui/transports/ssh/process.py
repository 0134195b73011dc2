"""One remote command's life on a channel of its own: start it, stream its output as lines, and
stop it (TERM, then KILL, on pfSense's root logins by killing its whole process group) when it
times out or the operator cancels. On OpenSSH most commands go to a driver shell instead
(driver.py); this is the way for the lab's server, logins that cannot host a driver, and
commands no driver can take. The line splitting, the group kill and ``stop_all`` serve both.

On OpenSSH (a real firewall) the command does not go through the login shell's parser at all.
pfSense's admin logs in to /etc/rc.initial, which runs ``-c`` commands under /bin/sh whole
(2.5.0 and later) or split into words, only the first of which runs (2.4.5 and older); other
shell users get tcsh, where ``>&2`` writes a file named 2 and ``kill -s`` is no syntax. So the
channel's command is the one word ``/bin/sh``, which means the same to all three, and the
command is its script on stdin: first a line reporting the session's process group (read with
``ps``, because ``$$`` is our sh, not the group leader rc.initial), then the command as one brace
group whose stdin is the step's input as a here-document, or /dev/null. sh may read a script on
a pipe ahead (dash and FreeBSD's sh do), so nothing may follow the script unread.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from runbook_tui.errors import StepTimeout, TransportError
from runbook_tui.transports.base import CommandResult, OutputCallback, TailBuffer

if TYPE_CHECKING:  # asyncssh is imported lazily at first use: it is slow to import
    import asyncssh

#: Read size per output chunk; lines are split out of these as they arrive.
_CHUNK = 64 * 1024
#: A "line" longer than this is passed on in pieces so one endless line cannot eat memory.
_MAX_LINE = 64 * 1024
#: After TERM, how long the remote process gets to exit before KILL and closing the channel.
_STOP_GRACE = 1.0
#: How long the helper that kills a process group over a second channel may take.
_KILL_TIMEOUT = 5.0

#: OpenSSH refuses "signal" requests for sessions without privilege separation, which is every
#: root login (pfSense's admin is uid 0): "session signalling requires privilege separation".
#: There, the command first prints its process group (sshd makes each session a group leader,
#: so $$ is it) on stderr, and stopping it kills that group over a second channel.
_PGID_MARK = "\x1erunbook-pgid "
_PGID_LINE = "printf '\\036runbook-pgid %s\\n' \"$(ps -o pgid= -p $$ | tr -d ' ')\" >&2\n"
#: The channel's command on OpenSSH: one word, the same under rc.initial (either), tcsh and sh.
LAUNCHER = "/bin/sh"


def launcher_script(command: str, stdin: str | None = None) -> str:
    """What LAUNCHER reads: the process-group line, then COMMAND with STDIN as its input."""
    if stdin:
        fence = f"RUNBOOK_STDIN_{secrets.token_hex(8)}"  # a line no input holds by chance
        body = stdin if stdin.endswith("\n") else stdin + "\n"
        redirect = f"<<'{fence}'\n{body}{fence}"
    else:
        redirect = "</dev/null"
    return f"{_PGID_LINE}{{\n{command}\n}} {redirect}\n"


class Killable(Protocol):
    """A running command as a second Ctrl+C sees it: something to kill at once."""

    async def kill_now(self) -> None: ...


#: Commands running now, for the last-resort stop of a second Ctrl+C (``stop_all``).
_RUNNING: set[Killable] = set()


class Dropped(Exception):
    """The connection went away; ``started`` says whether the command may have run."""

    def __init__(self, started: bool):
        super().__init__()
        self.started = started


async def run_command(
    conn: asyncssh.SSHClientConnection,
    command: str,
    *,
    name: str,
    label: str,
    on_output: OutputCallback | None,
    timeout: float | None,
    stdin: str | None,
) -> CommandResult:
    """Run ``command`` once on ``conn``; raises ``Dropped`` when the connection goes away."""
    import asyncssh

    wrapped = is_openssh(conn)
    if wrapped:
        remote, stdin = LAUNCHER, launcher_script(command, stdin)
    else:
        remote = command
    try:
        process = await conn.create_process(remote, encoding="utf-8", errors="replace")
    except asyncssh.ChannelOpenError as exc:
        if conn.is_closed():
            raise Dropped(started=False) from None
        raise TransportError(
            f"{label} refused to start {quote_cmd(command)}: {exc.reason}."
        ) from None
    except (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError):
        raise Dropped(started=False) from None

    out, err = TailBuffer(), TailBuffer()
    group = _ProcessGroup() if wrapped else None
    running = _Running(conn, process, group)
    _RUNNING.add(running)
    try:
        async with asyncio.timeout(timeout):
            await _gather(
                _feed(process, stdin),
                _pump(process.stdout, LineSplitter("stdout", out, on_output)),
                _pump(process.stderr, LineSplitter("stderr", err, on_output, group.take_marker if group else None)),
            )
            await process.wait_closed()
    except TimeoutError:
        await _stop(conn, process, group)
        raise StepTimeout(
            f"{quote_cmd(command)} on {name} did not finish within {timeout:g} s."
        ) from None
    except asyncio.CancelledError:
        await _stop(conn, process, group)  # the operator's Ctrl+C: leave nothing running
        raise
    except (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError):
        process.close()
        raise Dropped(started=True) from None
    except BaseException:
        process.close()
        raise
    finally:
        _RUNNING.discard(running)

    exit_signal = process.exit_signal
    if process.exit_status is None and exit_signal is None and conn.is_closed():
        raise Dropped(started=True)
    return CommandResult(
        exit_code=process.exit_status,
        stdout=out.text(),
        stderr=err.text(),
        truncated=out.truncated or err.truncated,
        signal=exit_signal[0] if exit_signal else None,
    )


def quote_cmd(command: str, limit: int = 80) -> str:
    one_line = " ".join(command.split())
    return f"`{one_line if len(one_line) <= limit else one_line[: limit - 3] + '...'}`"


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


async def _pump(reader: Any, lines: LineSplitter) -> None:
    """Pass a stream on as lines as its chunks arrive, up to its end."""
    while True:
        chunk = await reader.read(_CHUNK)
        if not chunk:
            break
        lines.feed(chunk)
    lines.flush()


class LineSplitter:
    """Cuts a stream into lines as text arrives, keeping a bounded tail and passing each line
    to ``on_output``; ``first_line`` may consume the stream's first line (returning True) so it
    is not shown. A "line" longer than _MAX_LINE is passed on in pieces."""

    def __init__(
        self,
        stream: str,
        tail: TailBuffer,
        on_output: OutputCallback | None,
        first_line: Callable[[str], bool] | None = None,
    ):
        self.stream, self.tail, self.on_output, self.first_line = stream, tail, on_output, first_line
        self.partial = ""

    def feed(self, text: str) -> None:
        if not text:
            return
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            self._emit(line)
        while len(self.partial) > _MAX_LINE:
            self._emit(self.partial[:_MAX_LINE])
            self.partial = self.partial[_MAX_LINE:]

    def flush(self) -> None:
        """The stream ended: a last line without its newline is still a line."""
        if self.partial:
            self._emit(self.partial)
            self.partial = ""

    def _emit(self, line: str) -> None:
        line = line[:-1] if line.endswith("\r") else line
        if self.first_line is not None:
            hook, self.first_line = self.first_line, None
            if hook(line):
                return
        self.tail.append(line)
        if self.on_output is not None:
            self.on_output(self.stream, line)


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
                await kill_group(conn, pgid, signal)
            try:
                await asyncio.wait_for(process.wait_closed(), _STOP_GRACE)
                return
            except TimeoutError:
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


async def kill_group(conn: Any, pgid: int, signal: str) -> None:
    """Signal the remote process group ``pgid`` from a channel of its own (best effort). A
    channel refused (sshd's MaxSessions, when a second Ctrl+C stops many commands at once) is
    asked for again as the other stops free theirs."""
    import asyncssh

    async def kill() -> None:
        while True:
            try:  # through LAUNCHER too: tcsh's kill knows no -s, nor "--"
                await conn.run(LAUNCHER, input=f"kill -s {signal} -- -{pgid}\n")
                return
            except asyncssh.ChannelOpenError:
                if conn.is_closed():
                    return
                await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(kill(), _KILL_TIMEOUT)
    except Exception:  # best effort; the channel is closed regardless
        pass


class _Running:
    """A command on a channel of its own, as ``stop_all`` sees it."""

    def __init__(self, conn: Any, process: Any, group: _ProcessGroup | None):
        self.conn, self.process, self.group = conn, process, group

    async def kill_now(self) -> None:
        pgid = self.group.pgid if self.group is not None else None
        try:
            self.process.send_signal("KILL")
        except Exception:
            pass
        if pgid is not None:
            await kill_group(self.conn, pgid, "KILL")
        self.process.close()


def track(running: Killable) -> None:
    """Count ``running`` among the commands a second Ctrl+C kills, until ``untrack``."""
    _RUNNING.add(running)


def untrack(running: Killable) -> None:
    _RUNNING.discard(running)


async def stop_all(timeout: float = 3.0) -> None:
    """Kill every remote command still running, at once and with KILL: what a second Ctrl+C
    does before the program exits, so that leaving never leaves a command behind."""
    if _RUNNING:
        kills = (r.kill_now() for r in list(_RUNNING))
        await asyncio.wait_for(asyncio.gather(*kills, return_exceptions=True), timeout)


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


def is_openssh(conn: Any) -> bool:
    """OpenSSH (a real firewall) rather than asyncssh's server (the lab): only there is the
    command a script for /bin/sh, and only there may a driver shell run commands."""
    return "OpenSSH" in (conn.get_extra_info("server_version") or "")
