"""The SSH transport against pfSense's own login shells, on Debian's real OpenSSH sshd.

pfSense gives admin and root (uid 0) the login shell /etc/rc.initial, which for ``-c`` runs the
command under /bin/sh: quoted since 2.5.0 (``/bin/sh -c "$@"``), word-split in 2.4.5 and older
(``/bin/sh -c $1``); other shell users get /bin/tcsh (pfsense/pfsense src/etc/rc.initial and
src/etc/inc/auth.inc; REFERENCE.md "pfSense logins"). The fixture adds three users on this
machine with login shells that reproduce those semantics (the rc.initial ones written here from
that description, tcsh the real one), and the tests check that commands run, stream and stop on
each: after a timeout, a cancel and the last-resort stop of a second Ctrl+C, nothing of the
command is left running.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sshhosts import SSHD, OpenSSHServer

from runbook_tui.errors import StepTimeout
from runbook_tui.transports.ssh import SSHPool
from runbook_tui.transports.ssh.process import stop_all

RC_INITIAL = {
    # 2.5.0 and later: the command reaches /bin/sh whole.
    "rc25": '#!/bin/sh\ntrap : 2\ntrap : 3\ntrap : 4\nwhile [ $# -gt 0 ]; do\n  case $1 in\n'
            '    -c ) shift; /bin/sh -c "$@"; exit ;;\n  esac\n  shift\ndone\nexec /bin/sh\n',
    # 2.4.5 and older: unquoted, so the command is split into words and only the first is run.
    "rc24": '#!/bin/sh\ntrap : 2\ntrap : 3\ntrap : 4\nwhile [ $# -gt 0 ]; do\n  case $1 in\n'
            '    -c ) shift; /bin/sh -c $1; exit ;;\n  esac\n  shift\ndone\nexec /bin/sh\n',
}
USERS = {"rc25": "pfadmin25", "rc24": "pfadmin24", "tcsh": "pftcsh"}


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
    server = OpenSSHServer(tmp_path_factory.mktemp("sshd"), users=tuple(USERS.values())).start()
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


async def test_a_cancel_leaves_nothing_running(pool) -> None:
    marker = f"sleep 32{os.getpid() % 10}.{time.monotonic_ns() % 1000}"
    task = asyncio.create_task(pool.run("fw", f"{marker} & {marker}; wait"))
    deadline = time.monotonic() + 10
    while len(_pids_of(marker)) < 2:
        assert time.monotonic() < deadline, "the command never started"
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _none_left(marker), f"still running: {_pids_of(marker)}"


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
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
