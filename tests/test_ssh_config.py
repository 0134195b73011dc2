"""OpenSSH's conventions, against Debian's real sshd on 127.0.0.1 with a temporary HOME holding
~/.ssh/config: HostName, Port, User, IdentityFile and UserKnownHostsFile are honoured, the
inventory's port and user win only when given, messages name the user and port actually used,
ProxyJump goes through real jump hosts (IPv6 ones too) whose key problems name them and which
close with the target's connection, and an accepted key is written hashed under HashKnownHosts,
where the real ssh-keygen -F finds it. ProxyJump is read as the real ssh -G reads it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import asyncssh
import pytest
from sshhosts import SSHD, OpenSSHServer
from test_cli_flags import cli

from runbook_tui.errors import AuthError, HostKeyError, TransportError
from runbook_tui.language.inventory import SSHTarget
from runbook_tui.transports.ssh import SSHPool


def _start(root: Path, listen: tuple[str, ...] = ()) -> OpenSSHServer:
    if not os.path.exists(SSHD):
        if os.environ.get("CI"):
            pytest.fail(f"{SSHD} is missing: CI must apt-get install openssh-server.")
        pytest.skip(f"{SSHD} is missing (apt-get install openssh-server); skipped outside CI.")
    return OpenSSHServer(root, listen=listen).start()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    server = _start(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def jump(tmp_path_factory):
    server = _start(tmp_path_factory.mktemp("jump"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def jump2(tmp_path_factory):
    server = _start(tmp_path_factory.mktemp("jump2"), listen=("::1",))  # reached over IPv6 too
    yield server
    server.stop()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A HOME of its own: ~/.ssh/config and ~/.ssh/known_hosts are the test's."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    (tmp_path / ".ssh").mkdir(mode=0o700)
    return tmp_path


def write_config(home: Path, text: str) -> None:
    (home / ".ssh" / "config").write_text(text)


async def run(target: SSHTarget, command: str = "id -un", **pool_options) -> str:
    pool = SSHPool({"fw": target}, connect_timeout=5, **pool_options)
    try:
        result = await pool.run("fw", command)
        assert result.exit_code == 0, result.stderr
        return result.stdout
    finally:
        await pool.close()


async def test_hostname_port_user_identity_and_known_hosts_come_from_the_config(home, sshd) -> None:
    write_config(home, f"Host fw\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User {sshd.user}\n"
                       f"  IdentityFile {sshd.key_path}\n  UserKnownHostsFile {sshd.known_hosts_path}\n")
    # The inventory names only the alias, as `ssh fw` would.
    assert await run(SSHTarget(host="fw")) == f"{sshd.user}\n"


async def test_the_inventorys_port_and_user_win_only_when_given(home, sshd) -> None:
    write_config(home, f"Host fw\n  HostName 127.0.0.1\n  Port 1\n  User nobody-here\n"
                       f"  IdentityFile {sshd.key_path}\n  UserKnownHostsFile {sshd.known_hosts_path}\n")
    # Port 1 from the config, and the message names it (not the inventory's default 22).
    with pytest.raises(TransportError) as refused:
        await run(SSHTarget(host="fw"))
    assert str(refused.value) == ("Cannot connect to fw (127.0.0.1:1): connection refused "
                                  "(nothing listens on port 1).")
    # The inventory's port wins; the config's user is the one named when the key is refused.
    with pytest.raises(AuthError) as denied:
        await run(SSHTarget(host="fw", port=sshd.port))
    assert str(denied.value).startswith("fw refused our key (user nobody-here); tried ")
    assert str(denied.value).endswith(f"on 127.0.0.1 (port {sshd.port}).")
    # And the inventory's user, when given, wins over the config's.
    assert await run(SSHTarget(host="fw", port=sshd.port, user=sshd.user)) == f"{sshd.user}\n"


async def test_an_accepted_key_is_hashed_under_hash_known_hosts(home, sshd) -> None:
    known = home / ".ssh" / "known_hosts"  # the default file: the config names none
    write_config(home, f"HashKnownHosts yes\nHost fw\n  HostName 127.0.0.1\n  Port {sshd.port}\n"
                       f"  IdentityFile {sshd.key_path}\n")
    with pytest.raises(HostKeyError) as unknown:
        await run(SSHTarget(host="fw"))
    assert f"--accept-host-key fw (or add it to {known})" in str(unknown.value)
    assert await run(SSHTarget(host="fw"), accept_host_keys=["fw"]) == f"{sshd.user}\n"
    (line,) = known.read_text().splitlines()
    assert line.startswith("|1|") and "127.0.0.1" not in line
    found = subprocess.run(["ssh-keygen", "-F", f"[127.0.0.1]:{sshd.port}", "-f", str(known)],
                           capture_output=True, text=True, timeout=30)
    assert found.returncode == 0 and sshd.host_key.export_public_key().decode().split()[1] in found.stdout
    # The next run trusts the hashed entry without being told to.
    assert await run(SSHTarget(host="fw")) == f"{sshd.user}\n"


async def test_proxy_jump_goes_through_the_jump_host_and_names_it(home, sshd, jump) -> None:
    known = home / "known"
    known.write_text(sshd.known_hosts_line())  # the target is known, the jump host not yet
    write_config(home, f"Host fw\n  HostName 127.0.0.1\n  Port {sshd.port}\n  ProxyJump bastion\n"
                       f"Host bastion\n  HostName 127.0.0.1\n  Port {jump.port}\n"
                       f"Host *\n  IdentityFile {sshd.key_path}\n  IdentityFile {jump.key_path}\n"
                       f"  UserKnownHostsFile {known}\n")
    with pytest.raises(HostKeyError) as unknown:
        await run(SSHTarget(host="fw"))
    message = str(unknown.value)
    assert message.startswith(f"Host key for the jump host bastion (127.0.0.1:{jump.port}) of fw is not known: ")
    assert jump.fingerprint() in message and "--accept-host-key fw" in message
    # Accepting the target accepts its jump host's unknown key too, recorded like any other.
    assert await run(SSHTarget(host="fw"), accept_host_keys=["fw"]) == f"{sshd.user}\n"
    assert known.read_text() == sshd.known_hosts_line() + jump.known_hosts_line()
    connection = await run(SSHTarget(host="fw"), "echo $SSH_CONNECTION")
    # The target saw the connection come from the jump host's side: sshd's own direct-tcpip.
    assert connection.split()[2:] == ["127.0.0.1", str(sshd.port)]
    assert "Accepted publickey" in jump.log()


def established(port: int) -> int:
    """TCP connections the sshd on ``port`` holds, as the kernel sees them (ss, iproute2)."""
    out = subprocess.run(["ss", "-tnH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return len(out.splitlines())


async def wait_for_no_connections(*servers: OpenSSHServer) -> None:
    deadline = time.monotonic() + 10
    while counts := {s.port: established(s.port) for s in servers if established(s.port)}:
        assert time.monotonic() < deadline, f"connections left open (port: count): {counts}"
        await asyncio.sleep(0.1)


def two_jumps_config(home: Path, known: Path, sshd, jump, jump2) -> None:
    write_config(home, f"Host fw\n  HostName 127.0.0.1\n  Port {sshd.port}\n  ProxyJump bastion1,bastion2\n"
                       f"Host bastion1\n  HostName 127.0.0.1\n  Port {jump.port}\n"
                       f"Host bastion2\n  HostName 127.0.0.1\n  Port {jump2.port}\n"
                       f"Host *\n  IdentityFile {sshd.key_path}\n  IdentityFile {jump.key_path}\n"
                       f"  IdentityFile {jump2.key_path}\n  UserKnownHostsFile {known}\n")


async def test_every_jump_host_closes_with_the_target(home, sshd, jump, jump2) -> None:
    known = home / "known"
    known.write_text(sshd.known_hosts_line() + jump.known_hosts_line() + jump2.known_hosts_line())
    two_jumps_config(home, known, sshd, jump, jump2)
    pool = SSHPool({"fw": SSHTarget(host="fw")}, connect_timeout=5)
    try:
        assert (await pool.run("fw", "id -un")).stdout == f"{sshd.user}\n"
        # One connection into each sshd: ours to bastion1, bastion1's to bastion2, bastion2's to fw.
        assert [established(s.port) for s in (jump, jump2, sshd)] == [1, 1, 1]
    finally:
        await pool.close()
    await wait_for_no_connections(jump, jump2, sshd)


async def test_a_failed_login_closes_the_jump_hosts_already_open(home, sshd, jump, jump2) -> None:
    known = home / "known"
    known.write_text(jump.known_hosts_line() + jump2.known_hosts_line())  # the target's key is not known
    two_jumps_config(home, known, sshd, jump, jump2)
    with pytest.raises(HostKeyError, match=f"^Host key for fw \\(127.0.0.1:{sshd.port}\\) is not known"):
        await run(SSHTarget(host="fw"))
    await wait_for_no_connections(jump, jump2, sshd)
    # And a jump host failing after the first: bastion2's key is not known either.
    known.write_text(jump.known_hosts_line())
    with pytest.raises(HostKeyError, match="^Host key for the jump host bastion2 "):
        await run(SSHTarget(host="fw"))
    await wait_for_no_connections(jump, jump2, sshd)


class _Relay(asyncssh.SSHServer):
    """A jump host that alone knows the name fw.invalid (an inside name): it forwards it to sshd."""

    def __init__(self, port: int) -> None:
        self.port = port

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn

    def begin_auth(self, username: str) -> bool:
        return False  # no authentication needed

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int):
        return dest_host == "fw.invalid" and self.conn.forward_connection("127.0.0.1", self.port)


async def test_a_changed_key_behind_a_jump_host_is_fetched_through_it(home, sshd) -> None:
    relay_key = asyncssh.generate_private_key("ssh-ed25519")
    relay = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[relay_key],
                                  server_factory=lambda: _Relay(sshd.port))
    relay_port = relay.sockets[0].getsockname()[1]
    try:
        # known_hosts has only an ECDSA key for the target, which now offers only ed25519: the
        # key exchange fails, and the new key must be fetched the way the login went.
        old = asyncssh.generate_private_key("ecdsa-sha2-nistp256").export_public_key().decode().split()
        new = relay_key.export_public_key().decode().split()
        known = home / "known"
        known.write_text(f"[fw.invalid]:{sshd.port} {old[0]} {old[1]}\n"
                         f"[127.0.0.1]:{relay_port} {new[0]} {new[1]}\n")
        write_config(home, f"Host fw\n  HostName fw.invalid\n  Port {sshd.port}\n  ProxyJump bastion\n"
                           f"Host bastion\n  HostName 127.0.0.1\n  Port {relay_port}\n"
                           f"Host *\n  IdentityFile {sshd.key_path}\n  UserKnownHostsFile {known}\n")
        with pytest.raises(HostKeyError) as changed:
            await run(SSHTarget(host="fw"))
        assert str(changed.value).startswith(
            f"Host key for fw (fw.invalid:{sshd.port}) has CHANGED: the server now offers "
            f"ssh-ed25519 {sshd.fingerprint()}, which does not match {known}; ")
    finally:
        relay.close()
        await relay.wait_closed()


async def test_real_sshd_hanging_up_on_a_key_type_it_lacks_is_a_changed_key(home, sshd) -> None:
    # sshd closes without a word when it has none of the key types offered (asyncssh offers only
    # those known_hosts lists): that is not a dropped connection but a changed host key.
    old = asyncssh.generate_private_key("ecdsa-sha2-nistp256").export_public_key().decode().split()
    known = home / "known"
    known.write_text(f"[127.0.0.1]:{sshd.port} {old[0]} {old[1]}\n")
    target = sshd.target(known_hosts=str(known))
    with pytest.raises(HostKeyError) as changed:
        await run(target)
    assert str(changed.value).startswith(f"Host key for fw (127.0.0.1:{sshd.port}) has CHANGED: the server "
                                         f"now offers ssh-ed25519 {sshd.fingerprint()}, which does not match ")
    assert "no matching host key type found" in sshd.log()


async def test_a_bad_proxy_jump_port_is_one_sentence_and_exit_4(home, tmp_path) -> None:
    write_config(home, "Host fw\n  HostName 127.0.0.1\n  ProxyJump bastion:22x\n")
    sentence = (f"Cannot use {home}/.ssh/config for fw: its ProxyJump bastion:22x has the port 22x, "
                "which is not a number from 1 to 65535.")
    with pytest.raises(TransportError) as bad:
        await run(SSHTarget(host="fw"))
    assert str(bad.value) == sentence
    procedures = tmp_path / "procedures"
    procedures.mkdir()
    (procedures / "fw-uptime.yaml").write_text(
        "id: fw-uptime\ntitle: Firewall uptime\nsteps:\n"
        "  - id: uptime\n    title: Uptime\n    ssh: fw\n    run: uptime\n    mutates: false\n")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("targets:\n  fw:\n    ssh:\n      host: fw\n")
    code, out, err = await cli(tmp_path, "run", "fw-uptime", "--procedures", str(procedures),
                               "--inventory", str(inventory), "--yes", "--no-color")
    assert code == 4, out + err  # could not be carried out
    assert sentence in " ".join(out.split()) and "Traceback" not in out + err


# What the real ssh -G accepts in ProxyJump, we accept, and what it refuses, we refuse, each
# refusal as one sentence; the one leniency is a bare IPv6 address, which ssh wants in brackets.
PROXY_JUMPS = ["bastion", "admin@bastion:2222", "[fe80::1]:2222", "admin@[::1]", "a@h1:23,b@h2,h3",
               "ssh://admin@bastion:2222", "bastion:", "admin@x@bastion", "bastion:22x", "bastion:0",
               "bastion:70000", "@bastion", "admin@", "[::1]x", "a,,b", "h:22:33"]


@pytest.mark.parametrize("value", PROXY_JUMPS)
def test_proxy_jump_is_read_as_openssh_reads_it(home, value) -> None:
    from runbook_tui.transports.ssh.ssh_config import resolve

    write_config(home, f"Host fw\n  ProxyJump {value}\n")
    openssh = subprocess.run(["ssh", "-G", "-F", str(home / ".ssh" / "config"), "fw"],
                             capture_output=True, text=True, timeout=30)
    try:
        resolve("fw", SSHTarget(host="fw"))
    except TransportError as exc:
        assert openssh.returncode != 0 and f'Invalid ProxyJump "{value}"' in openssh.stderr
        assert str(exc).startswith(f"Cannot use {home}/.ssh/config for fw: its ProxyJump {value}")
    else:
        assert openssh.returncode == 0, openssh.stderr


async def test_proxy_jump_over_ipv6(home, sshd, jump2) -> None:
    known = home / "known"
    known.write_text(sshd.known_hosts_line() + jump2.known_hosts_line().replace("127.0.0.1", "::1", 1)
                     + jump2.known_hosts_line().replace(f"[127.0.0.1]:{jump2.port}", "::1", 1))
    common = (f"Host *\n  IdentityFile {sshd.key_path}\n  IdentityFile {jump2.key_path}\n"
              f"  UserKnownHostsFile {known}\n")
    for spec, extra in [(f"[::1]:{jump2.port}", ""), (f"{jump2.user}@[::1]:{jump2.port}", ""),
                        ("::1", f"Host ::1\n  Port {jump2.port}\n")]:
        write_config(home, f"Host fw\n  HostName 127.0.0.1\n  Port {sshd.port}\n  ProxyJump {spec}\n"
                           f"{extra}{common}")
        logins = jump2.log().count(f"Accepted publickey for {jump2.user} from ::1 ")
        assert await run(SSHTarget(host="fw")) == f"{sshd.user}\n", spec
        assert jump2.log().count(f"Accepted publickey for {jump2.user} from ::1 ") == logins + 1, spec


def test_the_target_label_names_the_host_and_port_the_config_gives(home) -> None:
    from runbook_tui.transports.ssh.ssh_config import target_label

    write_config(home, "Host fw\n  HostName 10.0.20.1\n  Port 2222\n")
    assert target_label("fw", SSHTarget(host="fw")) == "fw (10.0.20.1:2222)"
    assert target_label("fw", SSHTarget(host="fw", port=22)) == "fw (10.0.20.1:22)"  # the inventory's, given
    write_config(home, "Host fw\n  HostName fe80::1\n  ProxyJump bastion:22x\n")  # edited: read again
    assert target_label("fw", SSHTarget(host="fw")) == "fw (fw:22)"  # unreadable: the inventory's
    (home / ".ssh" / "config").unlink()
    assert target_label("fw", SSHTarget(host="fe80::1", port=2222)) == "fw ([fe80::1]:2222)"
