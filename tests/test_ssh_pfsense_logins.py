"""The SSH transport against pfSense's own login shells, on Debian's real OpenSSH sshd.

pfSense gives admin and root (uid 0) the login shell /etc/rc.initial, which for ``-c`` runs the
command under /bin/sh: quoted since 2.5.0 (``/bin/sh -c "$@"``), word-split in 2.4.5 and older
(``/bin/sh -c $1``); other shell users get /bin/tcsh (pfsense/pfsense src/etc/rc.initial and
src/etc/inc/auth.inc; REFERENCE.md "pfSense logins"). The fixture adds three users on this
machine with login shells that reproduce those semantics (the rc.initial ones written here from
that description, tcsh the real one), a fourth whose driver shell has job control without a
terminal (bash as sh, standing in for FreeBSD's sh) and a fifth without setsid; the tests check
that commands run, stream and stop on each: after a timeout, a cancel and the last-resort stop of
a second Ctrl+C, nothing of the command is left running (by /proc here and by ps over the pool).

On OpenSSH, commands go to driver shells (transports/ssh/driver.py): long-lived /bin/sh processes
that run each command in a process group of its own and frame its end with a random marker. The
tests below the first ones check what that must not change: output cannot end a command early,
parallel commands keep their own output and exit codes, a stop kills one command and leaves its
driver and the other commands alone, a driver that dies is replaced, and a login whose sh can
give no process group (no setsid, no job control) gets a channel per command instead.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sshhosts import SSHD, OpenSSHServer

from runbook_tui.errors import ConnectionDropped, StepTimeout
from runbook_tui.transports.ssh import SSHPool
from runbook_tui.transports.ssh.driver import Framer
from runbook_tui.transports.ssh.process import stop_all

RC_INITIAL = {
    # 2.5.0 and later: the command reaches /bin/sh whole.
    "rc25": '#!/bin/sh\ntrap : 2\ntrap : 3\ntrap : 4\nwhile [ $# -gt 0 ]; do\n  case $1 in\n'
            '    -c ) shift; /bin/sh -c "$@"; exit ;;\n  esac\n  shift\ndone\nexec /bin/sh\n',
    # 2.4.5 and older: unquoted, so the command is split into words and only the first is run.
    "rc24": '#!/bin/sh\ntrap : 2\ntrap : 3\ntrap : 4\nwhile [ $# -gt 0 ]; do\n  case $1 in\n'
            '    -c ) shift; /bin/sh -c $1; exit ;;\n  esac\n  shift\ndone\nexec /bin/sh\n',
}
#: rc.initial 2.5's -c, except that the channel's /bin/sh (a driver shell) is bash named sh: a sh
#: with job control without a terminal (``set -m``), as FreeBSD's has and Debian's dash lacks, so
#: that the drivers' ``set -m`` way is tested on a real sshd too, not only their setsid way.
JOB_CONTROL_LOGIN = ('#!/bin/bash\nif [ "$1" = -c ]; then shift\n'
                     '  if [ "$1" = /bin/sh ]; then exec -a /bin/sh /bin/bash; fi\n'
                     '  exec /bin/sh -c "$@"\nfi\nexec /bin/sh\n')
USERS = {"rc25": "pfadmin25", "rc24": "pfadmin24", "tcsh": "pftcsh", "setm": "pfsetm"}
#: A login whose PATH has no setsid, so that Debian's dash (no job control without a terminal)
#: cannot put a command in a process group of its own: no driver shell there.
NO_GROUPS_USER = "pfnogroups"
NO_GROUPS_TOOLS = ("ps", "tr", "sleep", "cat")


def _ensure_user(name: str, shell: str) -> None:
    # uid 0 like pfSense's admin (socat to the HAProxy socket and pfctl need root there); the
    # password '*' matches nothing but, unlike useradd's '!', does not lock the key login.
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-o", "-u", "0", "-g", "0", "-M", "-d", "/root", "-p", "*", "-s", shell, name],
                       check=True, capture_output=True)
    subprocess.run(["usermod", "-p", "*", "-s", shell, name], check=True, capture_output=True)


@pytest.fixture(scope="module")
def logins(tmp_path_factory):
    missing = [p for p in (SSHD, shutil.which("tcsh") or "/usr/bin/tcsh") if not os.path.exists(p)]
    if missing or os.geteuid() != 0:
        why = f"needs root and {', '.join(missing) or 'nothing else'} (Debian: openssh-server, tcsh)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide this: {why}")
        pytest.skip(why)
    shells = Path("/usr/local/libexec/runbook-tui-test")  # outside tmp: every user must reach it
    shells.mkdir(parents=True, exist_ok=True)
    for flavour, text in RC_INITIAL.items():
        path = shells / f"rc.initial-{flavour}"
        path.write_text(text)
        path.chmod(0o755)
        _ensure_user(USERS[flavour], str(path))
    _ensure_user(USERS["tcsh"], shutil.which("tcsh") or "/usr/bin/tcsh")
    job_control = shells / "login-with-job-control"
    job_control.write_text(JOB_CONTROL_LOGIN)
    job_control.chmod(0o755)
    _ensure_user(USERS["setm"], str(job_control))
    tools = shells / "path-without-setsid"
    tools.mkdir(exist_ok=True)
    for tool in NO_GROUPS_TOOLS:
        link = tools / tool
        if not link.exists():
            link.symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    no_groups = shells / "login-without-setsid"
    no_groups.write_text(f'#!/bin/sh\nPATH={tools}; export PATH\n'
                         'if [ "$1" = -c ]; then shift; exec /bin/sh -c "$@"; fi\nexec /bin/sh\n')
    no_groups.chmod(0o755)
    _ensure_user(NO_GROUPS_USER, str(no_groups))
    users = (*USERS.values(), NO_GROUPS_USER)
    server = OpenSSHServer(tmp_path_factory.mktemp("sshd"), users=users).start()
    yield server
    server.stop()


@pytest.fixture(params=sorted(USERS))
async def pool(request, logins):
    user = USERS[request.param]
    p = SSHPool({"fw": logins.target(user=user)})
    yield p
    await p.close()


def _pids_of(marker: str) -> list[int]:
    """Processes on this machine (sshd is local) whose command line holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline:
                found.append(int(entry))
    return found


async def _none_left(marker: str, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _pids_of(marker):
            return True
        await asyncio.sleep(0.05)
    return False


async def _remote_ps_shows(pool: SSHPool, marker: str) -> list[str]:
    """The firewall's own view, over the same pool (a driver's command, or a channel's)."""
    listing = await pool.run("fw", "ps -eo pid,pgid,args")
    return [line for line in listing.stdout.splitlines() if marker in line]


SCRIPT = """\
printf '%s\\n' 'a "quoted" line' >&2
for word in one two; do echo "$word"; done
test -n "$$" && echo pid-known
read -r first && echo "got: $first"
false || echo 'or works' && exit 7
"""


async def test_a_shell_script_runs_the_same_on_every_login(pool) -> None:
    began = time.time() - 1
    result = await pool.run("fw", SCRIPT, stdin="hello there\n")
    assert result.exit_code == 7, result
    assert result.stdout.splitlines() == ["one", "two", "pid-known", "got: hello there", "or works"]
    assert result.stderr == 'a "quoted" line\n'
    stray = Path("/root/2")  # the users' home: tcsh reads >&2 as "both streams to the file 2"
    assert not (stray.exists() and stray.stat().st_mtime >= began), "a >&2 became a file named 2"


async def test_output_streams_line_by_line(pool) -> None:
    seen: list[tuple[float, str]] = []
    started = time.monotonic()
    await pool.run("fw", "echo first; sleep 0.6; echo second",
                   on_output=lambda stream, line: seen.append((time.monotonic() - started, line)))
    assert [line for _, line in seen] == ["first", "second"]
    assert seen[0][0] < 0.5 < seen[1][0]  # the first line arrived before the command ended


async def test_a_timeout_leaves_nothing_running(pool) -> None:
    marker = f"sleep 31{os.getpid() % 10}.{time.monotonic_ns() % 1000}"
    with pytest.raises(StepTimeout):
        await pool.run("fw", f"echo started; {marker}; echo never", timeout=1.0)
    assert await _none_left(marker), f"still running: {_pids_of(marker)}"
    assert await _remote_ps_shows(pool, marker) == []


async def test_a_cancel_leaves_nothing_running(pool) -> None:
    marker = f"sleep 32{os.getpid() % 10}.{time.monotonic_ns() % 1000}"
    task = asyncio.create_task(pool.run("fw", f"{marker} & {marker}; wait"))
    deadline = time.monotonic() + 10
    while len(_pids_of(marker)) < 2:
        assert time.monotonic() < deadline, "the command never started"
        await asyncio.sleep(0.05)
    assert len(await _remote_ps_shows(pool, marker)) >= 2  # the remote view sees them running
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _none_left(marker), f"still running: {_pids_of(marker)}"
    assert await _remote_ps_shows(pool, marker) == []


async def test_the_last_resort_stop_leaves_nothing_running(pool) -> None:
    """What a second Ctrl+C does before the process exits: every remote command still running
    is killed, whatever the first cancellation was waiting for."""
    marker = f"sleep 33{os.getpid() % 10}.{time.monotonic_ns() % 1000}"
    task = asyncio.create_task(pool.run("fw", f"trap '' TERM; {marker}"))
    deadline = time.monotonic() + 10
    while not _pids_of(marker):
        assert time.monotonic() < deadline, "the command never started"
        await asyncio.sleep(0.05)
    await stop_all(timeout=3.0)
    assert await _none_left(marker), f"still running: {_pids_of(marker)}"
    assert await _remote_ps_shows(pool, marker) == []
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# --- driver shells ------------------------------------------------------------------------------


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


async def test_commands_reuse_one_long_lived_shell_each_in_a_fresh_sh(pool) -> None:
    first = await pool.run("fw", "echo $PPID $$")
    second = await pool.run("fw", "echo $PPID $$")
    (parent, pid1), (parent2, pid2) = first.stdout.split(), second.stdout.split()
    assert parent == parent2 and pid1 != pid2
    assert _cmdline(int(parent)) == "/bin/sh"  # the driver, still there between commands


async def test_each_command_leads_a_process_group_of_its_own(pool, request) -> None:
    pid, pgid, sid = (await pool.run("fw", "ps -o pid=,pgid=,sid= -p $$")).stdout.split()
    assert pgid == pid
    # set -m (bash standing in for FreeBSD's sh) keeps the session; setsid (dash) makes one.
    assert (sid == pid) == (request.node.callspec.params["pool"] != "setm")


async def test_output_cannot_fake_the_end_of_a_command(pool) -> None:
    fake = "0123456789abcdef01234567"  # a marker of the real shape, but not this driver's
    result = await pool.run(
        "fw",
        f"printf '\\036%s e 0\\n' {fake}; printf '\\036%s e\\n' {fake} >&2; "
        "printf '\\036'; sleep 0.3; echo after; echo late >&2; exit 3",
    )
    assert result.exit_code == 3
    assert result.stdout == f"\x1e{fake} e 0\n\x1eafter\n"
    assert result.stderr == f"\x1e{fake} e\nlate\n"


def test_frames_are_found_across_any_chunking() -> None:
    token = "feedc0de" * 3
    stream = f"out\x1e{token} p 42\nline one\npartial\x1e\x1e{token} e 7\nnext"
    for size in (1, 2, 3, 5, 8, 13, len(stream)):
        framer, events, at = Framer(token), [], 0
        while not any(kind == "e" for kind, _ in events):  # as a reader does: up to the end
            events += framer.feed(stream[at : at + size])
            at += size
        text = "".join(v for k, v in events if k == "text")
        assert text == "outline one\npartial\x1e"
        assert [(k, v) for k, v in events if k != "text"] == [("p", "42"), ("e", "7")]
        assert framer.buf + stream[at:] == "next"  # kept for the next command, not lost


async def test_parallel_commands_keep_their_own_output_and_exit_codes(pool) -> None:
    slow, quick = await asyncio.gather(
        pool.run("fw", "echo $PPID; echo slow-1; sleep 0.5; echo slow-2; echo slow-err >&2; exit 3"),
        pool.run("fw", "echo $PPID; read -r x; echo \"quick $x\"; echo quick-err >&2; exit 5",
                 stdin="input\n"),
    )
    assert (slow.exit_code, slow.stdout.splitlines()[1:], slow.stderr) == (3, ["slow-1", "slow-2"], "slow-err\n")
    assert (quick.exit_code, quick.stdout.splitlines()[1:], quick.stderr) == (5, ["quick input"], "quick-err\n")
    drivers = {slow.stdout.split()[0], quick.stdout.split()[0]}
    assert len(drivers) == 2  # two driver shells at once, not one command waiting on the other
    assert (await pool.run("fw", "echo $PPID")).stdout.strip() in drivers


async def test_cancelling_one_of_two_parallel_commands_leaves_the_other_to_finish(pool) -> None:
    marker = f"sleep 34{os.getpid() % 10}.{time.monotonic_ns() % 1000}"
    victim = asyncio.create_task(pool.run("fw", f"{marker} & {marker}; wait"))
    other = asyncio.create_task(pool.run("fw", "sleep 2; echo done; exit 4"))
    deadline = time.monotonic() + 10
    while len(_pids_of(marker)) < 2:
        assert time.monotonic() < deadline, "the command never started"
        await asyncio.sleep(0.05)
    victim.cancel()
    with pytest.raises(asyncio.CancelledError):
        await victim
    assert await _none_left(marker), f"still running: {_pids_of(marker)}"
    assert await _remote_ps_shows(pool, marker) == []
    assert not other.done()
    result = await other
    assert (result.exit_code, result.stdout) == (4, "done\n")


async def test_a_timeout_stops_the_command_and_keeps_its_driver(pool) -> None:
    before = await pool.run("fw", "echo $PPID")
    marker = f"sleep 35{os.getpid() % 10}.{time.monotonic_ns() % 1000}"
    with pytest.raises(StepTimeout):
        await pool.run("fw", marker, timeout=0.5)
    assert await _none_left(marker), f"still running: {_pids_of(marker)}"
    assert await _remote_ps_shows(pool, marker) == []
    after = await pool.run("fw", "echo $PPID")
    assert after.stdout == before.stdout  # only the command's group was killed


async def test_a_driver_that_dies_mid_command_says_so_and_the_next_command_works(pool) -> None:
    driver = int((await pool.run("fw", "echo $PPID")).stdout)
    with pytest.raises(ConnectionDropped, match=(
        r"^The shell running commands on fw \(127\.0\.0\.1:\d+\) ended while `echo before; kill "
        r".*` was running, so it may or may not have completed; the next command starts a new one\.$"
    )):
        await pool.run("fw", "echo before; kill -KILL $PPID; sleep 0.2; echo after")
    assert not os.path.exists(f"/proc/{driver}")
    again = await pool.run("fw", "echo $PPID; echo ok")
    assert again.stdout.split()[1] == "ok" and int(again.stdout.split()[0]) != driver


async def test_a_driver_gone_while_idle_costs_no_command(pool) -> None:
    driver = int((await pool.run("fw", "echo $PPID")).stdout)
    os.kill(driver, signal.SIGKILL)  # before the pool can have heard: the command is written to it
    result = await pool.run("fw", "echo $PPID; echo ran")
    assert result.exit_code == 0 and result.stdout.split()[1] == "ran"
    assert int(result.stdout.split()[0]) != driver


@pytest.fixture
async def no_groups_pool(logins):
    p = SSHPool({"fw": logins.target(user=NO_GROUPS_USER)})
    yield p
    await p.close()


async def test_a_login_that_cannot_group_commands_gets_a_channel_per_command(no_groups_pool) -> None:
    probe = await no_groups_pool.run("fw", "command -v setsid; echo $PPID")
    second = await no_groups_pool.run("fw", "echo $PPID")
    assert len(probe.stdout.split()) == 1  # `command -v setsid` found nothing
    assert probe.stdout != second.stdout  # a session (and a login shell) each: no driver
    marker = f"sleep 36{os.getpid() % 10}.{time.monotonic_ns() % 1000}"
    with pytest.raises(StepTimeout):
        await no_groups_pool.run("fw", f"{marker} & {marker}; wait", timeout=1.0)
    assert await _none_left(marker), f"still running: {_pids_of(marker)}"
    assert await _remote_ps_shows(no_groups_pool, marker) == []
