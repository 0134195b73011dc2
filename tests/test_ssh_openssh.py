"""SSHPool against Debian's real OpenSSH sshd on 127.0.0.1 (package openssh-server)."""

from __future__ import annotations

import asyncio
import os
import stat
import time

import asyncssh
import pytest
from sshhosts import SSHD, OpenSSHServer

from runbook_tui.errors import AuthError, HostKeyError, StepTimeout, TransportError
from runbook_tui.transports.ssh import SSHPool


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    if not os.path.exists(SSHD):
        if os.environ.get("CI"):
            pytest.fail(f"{SSHD} is missing: CI must apt-get install openssh-server.")
        pytest.skip(f"{SSHD} is missing (apt-get install openssh-server); skipped outside CI.")
    server = OpenSSHServer(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _no_agent(monkeypatch):
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


@pytest.fixture
async def pool(sshd):
    p = SSHPool({"host": sshd.target()})
    yield p
    await p.close()


async def _gone(pid: int, within: float = 10.0) -> bool:
    """sshd runs on this machine, so the remote process is visible in /proc."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not os.path.exists(f"/proc/{pid}"):
            return True
        await asyncio.sleep(0.02)
    return False


async def test_commands_exit_codes_and_stderr_on_one_connection(pool, sshd):
    ok = await pool.run("host", "echo $SSH_CONNECTION; id -un")
    assert ok.exit_code == 0
    connection, user = ok.stdout.splitlines()
    assert user == sshd.user
    failed = await pool.run("host", "echo oops >&2; echo $SSH_CONNECTION; exit 4")
    assert (failed.exit_code, failed.stderr) == (4, "oops\n")
    assert failed.stdout == connection + "\n"  # same client port: the connection was reused


async def test_ten_concurrent_commands_share_the_connection(pool):
    results = await asyncio.gather(*(pool.run("host", "echo $SSH_CONNECTION") for _ in range(10)))
    assert all(r.exit_code == 0 for r in results)
    assert len({r.stdout for r in results}) == 1


async def test_output_streams_as_it_is_printed(pool):
    arrivals: list[float] = []
    result = await pool.run(
        "host",
        "for i in 1 2 3; do echo line $i; sleep 0.2; done",
        on_output=lambda s, l: arrivals.append(time.monotonic()),
    )
    assert result.stdout == "line 1\nline 2\nline 3\n"
    assert arrivals[2] - arrivals[0] >= 0.3  # not all delivered at the end


async def test_many_lines(pool):
    count = 0

    def on_output(stream: str, line: str) -> None:
        nonlocal count
        count += 1

    result = await pool.run("host", "seq 1 200000", on_output=on_output)
    assert count == 200000
    assert result.truncated and result.stdout.endswith("199999\n200000\n")


async def test_timeout_terminates_the_remote_process(pool):
    pids: list[int] = []
    with pytest.raises(StepTimeout, match="did not finish within 1.5 s"):
        await pool.run(
            "host", "echo $$; exec sleep 30", timeout=1.5,
            on_output=lambda s, l: pids.append(int(l)),
        )
    assert pids and await _gone(pids[0])


async def test_cancellation_terminates_the_remote_process(pool):
    pids: list[int] = []
    task = asyncio.create_task(
        pool.run("host", "echo $$; exec sleep 30", on_output=lambda s, l: pids.append(int(l)))
    )
    while not pids:
        await asyncio.sleep(0.01)
    assert os.path.exists(f"/proc/{pids[0]}")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _gone(pids[0])


async def test_a_process_ignoring_term_is_killed(pool):
    pids: list[int] = []
    with pytest.raises(StepTimeout):
        await pool.run(
            "host", "trap '' TERM; echo $$; sleep 30", timeout=1.5,
            on_output=lambda s, l: pids.append(int(l)),
        )
    assert pids and await _gone(pids[0])


async def test_upload_and_read_back(pool, sshd):
    dest = sshd.root / "uploaded.cfg"
    data = b"frontend mail\n" * 500
    result = await pool.upload("host", data, str(dest), mode=0o640)
    assert dest.read_bytes() == data and result.size == len(data)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert await pool.read_file("host", str(dest)) == data
    assert await pool.read_file("host", str(sshd.root / "absent")) is None
    with pytest.raises(TransportError, match="does not exist"):
        await pool.upload("host", b"x", str(sshd.root / "no" / "such" / "dir"))


async def test_unknown_host_key_is_refused(sshd, tmp_path):
    pool = SSHPool({"host": sshd.target(known_hosts=str(tmp_path / "known_hosts"))})
    with pytest.raises(HostKeyError) as err:
        await pool.run("host", "true")
    assert f"is not known: ssh-ed25519 {sshd.fingerprint()}" in str(err.value)
    assert "--accept-host-key host" in str(err.value)


async def test_changed_host_key_is_refused(sshd, tmp_path):
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {other[0]} {other[1]}\n")
    pool = SSHPool({"host": sshd.target(known_hosts=str(known_hosts))}, accept_host_keys=["host"])
    with pytest.raises(HostKeyError, match="has CHANGED") as err:
        await pool.run("host", "true")
    assert sshd.fingerprint() in str(err.value)


async def test_wrong_key_is_refused(sshd, tmp_path):
    wrong = tmp_path / "wrong"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(wrong))
    pool = SSHPool({"host": sshd.target(key=str(wrong))})
    with pytest.raises(AuthError, match=f"host refused our key \\(user {sshd.user}\\)"):
        await pool.run("host", "true")


async def test_the_last_resort_stop_kills_every_command_of_a_busy_connection(pool):
    """A second Ctrl+C with as many commands running as a connection allows: each stop needs
    a channel beyond sshd's MaxSessions (10), so those refused are asked for again."""
    from runbook_tui.transports.ssh.process import stop_all

    pids: list[int] = []
    tasks = [
        asyncio.create_task(pool.run(
            "host", "trap '' TERM; echo $$; exec sleep 30", on_output=lambda s, l: pids.append(int(l)),
        ))
        for _ in range(8)
    ]
    deadline = time.monotonic() + 20
    while len(pids) < 8:
        assert time.monotonic() < deadline, f"only {len(pids)} of 8 commands started"
        await asyncio.sleep(0.05)
    await stop_all(timeout=5.0)
    assert all([await _gone(pid) for pid in pids])
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_long_commands_and_long_inputs(pool):
    """A command longer than a driver takes as an argument gets a channel of its own; a long
    input goes to a driver as a here-document. Both arrive whole."""
    long_word = "x" * 40000
    long_cmd = await pool.run("host", f"echo {long_word}; echo $PPID")
    short_cmd = await pool.run("host", "echo $PPID")
    assert long_cmd.stdout.splitlines()[0] == long_word
    assert long_cmd.stdout.splitlines()[1] != short_cmd.stdout.strip()  # not the driver's child
    data = "".join(f"line {i} 'quoted' \"and\" $HOME `date`\n" for i in range(30000))
    result = await pool.run("host", "wc -c; echo $PPID", stdin=data)
    assert result.stdout.split()[0] == str(len(data.encode()))
    assert result.stdout.split()[1] == short_cmd.stdout.strip()  # the driver took it


async def test_a_read_only_command_whose_driver_died_is_rerun_once(pool, tmp_path):
    once = tmp_path / "killed-once"
    result = await pool.run(
        "host", f"if [ ! -e {once} ]; then touch {once}; kill -KILL $PPID; sleep 0.2; fi; echo ok",
        reconnect=True,
    )
    assert once.exists() and result.stdout.endswith("ok\n") and result.exit_code == 0
