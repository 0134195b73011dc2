"""OpenSSH's conventions, against Debian's real sshd on 127.0.0.1 with a temporary HOME holding
~/.ssh/config: HostName, Port, User, IdentityFile and UserKnownHostsFile are honoured, the
inventory's port and user win only when given, messages name the user and port actually used,
ProxyJump goes through a real jump host whose key problems name it, and an accepted key is
written hashed under HashKnownHosts, where the real ssh-keygen -F finds it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sshhosts import SSHD, OpenSSHServer

from runbook_tui.errors import AuthError, HostKeyError, TransportError
from runbook_tui.language.inventory import SSHTarget
from runbook_tui.transports.ssh import SSHPool


def _start(root: Path) -> OpenSSHServer:
    if not os.path.exists(SSHD):
        if os.environ.get("CI"):
            pytest.fail(f"{SSHD} is missing: CI must apt-get install openssh-server.")
        pytest.skip(f"{SSHD} is missing (apt-get install openssh-server); skipped outside CI.")
    return OpenSSHServer(root).start()


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
