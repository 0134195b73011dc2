"""SSHPool against a real asyncssh server on 127.0.0.1: the lab's SSH harness (tests/sshhosts.py)."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import stat
import time

import asyncssh
import pytest
from sshhosts import SSHTestServer

from runbook_tui.errors import (
    AuthError,
    ConnectionDropped,
    HostKeyError,
    StepTimeout,
    TransportError,
)
from runbook_tui.transports.base import RESULT_CAP
from runbook_tui.transports.ssh import SSHPool


@pytest.fixture(autouse=True)
def _no_agent(monkeypatch, tmp_path):
    # Only the keys a test names may authenticate, and no real ~/.ssh is consulted.
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
async def server(tmp_path):
    srv = SSHTestServer(tmp_path / "srv")
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def pool(server):
    p = SSHPool({"fw": server.target()})
    yield p
    await p.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- commands ----------------------------------------------------------------------------------


async def test_run_streams_lines_and_keeps_stdout_stderr_apart(pool, server):
    seen: list[tuple[str, str]] = []
    result = await pool.run("fw", "mixed", on_output=lambda s, l: seen.append((s, l)))
    assert result.exit_code == 3
    assert result.stdout == "out 1\nout 2\nno newline at end\n"
    assert result.stderr == "err 1\n"
    assert [l for s, l in seen if s == "stdout"] == ["out 1", "out 2", "no newline at end"]
    assert [l for s, l in seen if s == "stderr"] == ["err 1"]
    assert server.commands == ["mixed"]


async def test_exit_codes_and_unknown_command(pool):
    assert (await pool.run("fw", "echo hi there")).exit_code == 0
    failed = await pool.run("fw", "fail 7")
    assert (failed.exit_code, failed.stderr) == (7, "failing with 7\n")
    missing = await pool.run("fw", "nosuchcmd")
    assert missing.exit_code == 127 and "nosuchcmd: not found" in missing.stderr


async def test_output_arrives_before_the_command_ends(pool, server):
    first_line = asyncio.Event()
    task = asyncio.create_task(
        pool.run("fw", "sleep 0.5", on_output=lambda s, l: first_line.set())
    )
    await asyncio.wait_for(first_line.wait(), 0.4)  # "sleeping" shows while it still sleeps
    assert not task.done()
    assert (await task).exit_code == 0


async def test_stdin_is_written_then_closed(pool):
    result = await pool.run("fw", "cat", stdin="hello\nworld\n")
    assert result.stdout == "hello\nworld\n"
    # Without stdin the command sees EOF at once instead of waiting forever.
    assert (await pool.run("fw", "cat", timeout=5)).stdout == ""


async def test_one_connection_for_many_commands(pool, server):
    for i in range(5):
        assert (await pool.run("fw", f"echo {i}")).stdout == f"{i}\n"
    assert server.connections == 1
    assert server.command_connections == [1] * 5


async def test_concurrent_first_uses_share_one_connect(pool, server):
    results = await asyncio.gather(*(pool.run("fw", f"echo {i}") for i in range(10)))
    assert sorted(r.stdout for r in results) == sorted(f"{i}\n" for i in range(10))
    assert server.connections == 1
    assert len(server.commands) == 10


async def test_200k_lines_stream_with_a_bounded_tail(pool):
    count = 0
    last = ""

    def on_output(stream: str, line: str) -> None:
        nonlocal count, last
        count += 1
        last = line

    result = await pool.run("fw", "lines 200000", on_output=on_output)
    assert result.exit_code == 0
    assert count == 200000 and last == "line 200000"
    assert result.truncated
    assert len(result.stdout) <= RESULT_CAP
    assert result.stdout.endswith("line 199999\nline 200000\n")
    assert not result.stdout.startswith("line 1\n")


# --- timeouts, cancellation, drops --------------------------------------------------------------


async def test_timeout_signals_the_remote_process(pool, server):
    started = time.monotonic()
    with pytest.raises(StepTimeout) as err:
        await pool.run("fw", "sleep 30", timeout=0.3)
    assert str(err.value) == "`sleep 30` on fw did not finish within 0.3 s."
    assert time.monotonic() - started < 3
    await server.wait_for_event("ended: sleep 30")
    assert "signal TERM: sleep 30" in server.events
    assert (await pool.run("fw", "echo still usable")).exit_code == 0
    assert server.connections == 1


async def test_a_process_ignoring_term_is_still_ended(pool, server):
    with pytest.raises(StepTimeout):
        await pool.run("fw", "stubborn", timeout=0.2)
    await server.wait_for_event("ended: stubborn")
    assert "signal TERM: stubborn" in server.events


async def test_cancellation_signals_the_remote_process(pool, server):
    task = asyncio.create_task(pool.run("fw", "sleep 30"))
    while "sleep 30" not in server.commands:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await server.wait_for_event("ended: sleep 30")
    assert "signal TERM: sleep 30" in server.events


async def test_connection_dropped_mid_command(pool, server):
    seen: list[str] = []
    with pytest.raises(ConnectionDropped) as err:
        await pool.run("fw", "drop", on_output=lambda s, l: seen.append(l))
    assert "dropped while `drop` was running" in str(err.value)
    assert seen == ["partial"]
    assert server.commands == ["drop"]  # not rerun without reconnect=True
    # The next step gets a fresh connection.
    assert (await pool.run("fw", "hostname")).stdout == "lab-ssh\n"
    assert server.connections == 2


async def test_reconnect_reruns_once(pool, server):
    result = await pool.run("fw", "drop-once a", reconnect=True)
    assert result.stdout == "ok a\n"
    assert server.commands == ["drop-once a", "drop-once a"]
    assert server.command_connections == [1, 2]


async def test_reconnect_gives_up_after_one_rerun(pool, server):
    with pytest.raises(ConnectionDropped):
        await pool.run("fw", "drop", reconnect=True)
    assert server.commands == ["drop", "drop"]


async def test_a_connection_that_died_between_steps_is_replaced(pool, server):
    await pool.run("fw", "hostname")
    server.drop_connections()
    await asyncio.sleep(0.1)
    assert (await pool.run("fw", "echo again")).stdout == "again\n"  # nothing ran: safe
    assert server.connections == 2


# --- host keys ----------------------------------------------------------------------------------


async def test_unknown_host_key_is_refused_with_fingerprint(server, tmp_path):
    known_hosts = tmp_path / "empty_known_hosts"
    pool = SSHPool({"fw": server.target(known_hosts=str(known_hosts))})
    with pytest.raises(HostKeyError) as err:
        await pool.run("fw", "hostname")
    assert str(err.value) == (
        f"Host key for fw (127.0.0.1:{server.port}) is not known: ssh-ed25519 "
        f"{server.fingerprint()}. Check it, then run with --accept-host-key fw "
        f"(or add it to {known_hosts})."
    )
    assert err.value.fingerprint == server.fingerprint()
    assert server.commands == []
    assert not known_hosts.exists()


async def test_accepted_host_key_is_written_to_known_hosts(server, tmp_path):
    known_hosts = tmp_path / "kh"
    known_hosts.write_text("# mine\n")
    pool = SSHPool({"fw": server.target(known_hosts=str(known_hosts))}, accept_host_keys=["fw"])
    assert (await pool.run("fw", "hostname")).exit_code == 0
    await pool.close()
    assert known_hosts.read_text() == "# mine\n" + server.known_hosts_line()
    # The next run trusts it without being told.
    pool = SSHPool({"fw": server.target(known_hosts=str(known_hosts))})
    assert (await pool.run("fw", "hostname")).exit_code == 0
    await pool.close()
    assert known_hosts.read_text().count("ssh-ed25519") == 1


async def test_default_known_hosts_is_the_users(server, tmp_path):
    pool = SSHPool({"fw": server.target(known_hosts=None)}, accept_host_keys=["fw"])
    await pool.run("fw", "hostname")
    await pool.close()
    written = (tmp_path / "home" / ".ssh" / "known_hosts").read_text()
    assert written == server.known_hosts_line()


async def test_changed_host_key_is_refused_even_when_accepting(server, tmp_path):
    known_hosts = server.write_known_hosts(
        tmp_path / "kh", key=asyncssh.generate_private_key("ssh-ed25519")
    )
    before = known_hosts.read_text()
    pool = SSHPool({"fw": server.target(known_hosts=str(known_hosts))}, accept_host_keys=["fw"])
    with pytest.raises(HostKeyError) as err:
        await pool.run("fw", "hostname")
    message = str(err.value)
    assert "has CHANGED" in message
    assert server.fingerprint() in message
    assert f"ssh-keygen -R '[127.0.0.1]:{server.port}' -f {known_hosts}" in message
    assert err.value.changed
    assert known_hosts.read_text() == before
    assert server.commands == []


async def test_changed_host_key_of_another_type_is_refused(server, tmp_path):
    # known_hosts only has an ECDSA key; the server only has ed25519 now.
    known_hosts = server.write_known_hosts(
        tmp_path / "kh", key=asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    )
    pool = SSHPool({"fw": server.target(known_hosts=str(known_hosts))}, accept_host_keys=["fw"])
    with pytest.raises(HostKeyError) as err:
        await pool.run("fw", "hostname")
    assert "has CHANGED" in str(err.value) and server.fingerprint() in str(err.value)
    assert server.commands == []


# --- login and network failures -----------------------------------------------------------------


async def test_auth_refused_names_target_and_user(server, tmp_path):
    wrong = tmp_path / "wrong_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(wrong))
    pool = SSHPool({"fw": server.target(key=str(wrong))})
    with pytest.raises(AuthError) as err:
        await pool.run("fw", "hostname")
    assert str(err.value).startswith("fw refused our key (user admin); tried ")
    assert str(wrong) in str(err.value)
    assert server.commands == []


async def test_missing_key_file(server, tmp_path):
    pool = SSHPool({"fw": server.target(key=str(tmp_path / "nope"))})
    with pytest.raises(TransportError, match="key file .*nope for fw does not exist"):
        await pool.run("fw", "hostname")


async def test_connection_refused(server):
    port = _closed_port()
    pool = SSHPool({"fw": server.target(port=port)})
    with pytest.raises(TransportError) as err:
        await pool.run("fw", "hostname")
    assert str(err.value) == (
        f"Cannot connect to fw (127.0.0.1:{port}): connection refused "
        f"(nothing listens on port {port})."
    )


async def test_connect_timeout_on_a_silent_listener(server):
    with socket.socket() as silent:  # accepts TCP (kernel backlog) but never speaks SSH
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        pool = SSHPool({"fw": server.target(port=port)}, connect_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(TransportError) as err:
            await pool.run("fw", "hostname")
    assert time.monotonic() - started < 3
    assert str(err.value) == (
        f"fw (127.0.0.1:{port}) did not complete the SSH login within 0.3 s."
    )


async def test_unknown_target():
    with pytest.raises(TransportError, match="no SSH target named nope"):
        await SSHPool({}).run("nope", "true")


# --- files --------------------------------------------------------------------------------------


async def test_upload_verifies_and_sets_mode(pool, server):
    data = b"<pfsense>\n" * 1000
    result = await pool.upload("fw", data, "/conf.xml", mode=0o600)
    written = server.sftp_root / "conf.xml"
    assert written.read_bytes() == data
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert (result.dest, result.size) == ("/conf.xml", len(data))
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert [p.name for p in server.sftp_root.iterdir()] == ["conf.xml"]  # no temp file left


async def test_upload_over_a_file_keeps_its_mode(pool, server):
    target = server.sftp_root / "script.sh"
    target.write_text("old\n")
    target.chmod(0o750)
    await pool.upload("fw", b"new\n", "/script.sh")
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o750


async def test_upload_creates_no_directories(pool, server):
    with pytest.raises(TransportError) as err:
        await pool.upload("fw", b"x", "/missing/dir/file")
    assert str(err.value) == (
        "Cannot upload to /missing/dir/file on fw: the directory /missing/dir does not exist."
    )
    assert not (server.sftp_root / "missing").exists()


async def test_upload_mismatch_is_refused(pool, server):
    server.corrupt_uploads = True
    with pytest.raises(TransportError, match="did not verify: wrote 5 bytes .* read back 4 bytes"):
        await pool.upload("fw", b"hello", "/f.txt")


async def test_read_file(pool, server):
    (server.sftp_root / "present").write_bytes(b"\x00bin\xff")
    assert await pool.read_file("fw", "/present") == b"\x00bin\xff"
    assert await pool.read_file("fw", "/absent") is None
    assert server.connections == 1


# --- probe --------------------------------------------------------------------------------------


async def test_probe_ready(pool, server):
    status = await pool.probe("fw")
    assert (status.name, status.reachable, status.host_key_known, status.error) == (
        "fw", True, True, None
    )
    assert status.fingerprint == server.fingerprint()
    await pool.run("fw", "hostname")
    assert server.connections == 1  # the probe's connection is the one steps use


async def test_probe_unknown_key_and_unreachable(server, tmp_path):
    pool = SSHPool(
        {
            "fw": server.target(known_hosts=str(tmp_path / "none")),
            "gone": server.target(port=_closed_port()),
        }
    )
    unknown = await pool.probe("fw")
    assert (unknown.reachable, unknown.host_key_known) == (True, False)
    assert unknown.fingerprint == server.fingerprint()
    assert "--accept-host-key fw" in unknown.error
    gone = await pool.probe("gone")
    assert (gone.reachable, gone.host_key_known, gone.fingerprint) == (False, None, None)
    assert "connection refused" in gone.error
    await pool.close()


async def test_probe_auth_refused(server, tmp_path):
    wrong = tmp_path / "wrong_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(wrong))
    pool = SSHPool({"fw": server.target(key=str(wrong))})
    status = await pool.probe("fw")
    assert (status.reachable, status.host_key_known) == (True, True)
    assert status.fingerprint == server.fingerprint()
    assert status.error.startswith("fw refused our key (user admin)")
