"""The lab's pfSense and backup host, driven over real SSH (asyncssh and OpenSSH's ssh)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import asyncssh
import pytest

from runbook_tui.lab import Lab
from runbook_tui.lab.backup_host import backup_name

SSH = "/usr/bin/ssh"


def need_ssh() -> str:
    if Path(SSH).exists():
        return SSH
    if os.environ.get("CI"):
        pytest.fail(f"{SSH} is missing: CI must apt-get install openssh-client.")
    pytest.skip(f"{SSH} is missing (apt-get install openssh-client); skipped outside CI.")
    raise AssertionError


def connect(lab: Lab, host: str = "pfsense") -> "asyncssh.connect":
    port, user = (lab.pfsense_port, "admin") if host == "pfsense" else (lab.backup_port, "backup")
    return asyncssh.connect(
        "127.0.0.1", port, username=user, client_keys=[str(lab.key_path)],
        known_hosts=str(lab.known_hosts_path),
    )


async def run(lab: Lab, cmd: str, host: str = "pfsense") -> asyncssh.SSHCompletedProcess:
    async with connect(lab, host) as conn:
        return await conn.run(cmd, check=False)


async def upload(lab: Lab, local: Path, remote: str) -> None:
    async with connect(lab) as conn:
        async with conn.start_sftp_client() as sftp:
            await sftp.put(str(local), remote)


SERVERS_STATE = "echo 'show servers state' | socat /tmp/haproxy.socket stdio"


def servers(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


@pytest.fixture
async def lab(tmp_path: Path):
    async with Lab(tmp_path / "lab") as lab:
        yield lab


async def test_openssh_client_runs_sockstat_and_socat(lab: Lab) -> None:
    ssh = need_ssh()
    base = [ssh, "-i", str(lab.key_path), "-o", f"UserKnownHostsFile={lab.known_hosts_path}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-p", str(lab.pfsense_port),
            "admin@127.0.0.1"]

    async def ossh(cmd: str) -> tuple[int, str, str]:
        p = await asyncio.create_subprocess_exec(*base, cmd, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE)
        out, err = await p.communicate()
        return p.returncode or 0, out.decode(), err.decode()

    rc, out, _ = await ossh("sockstat -l | grep haproxy")
    assert rc == 0
    ports = sorted(int(line.split()[5].split(":")[1]) for line in out.splitlines() if "tcp4" in line)
    assert ports == [25, 465, 587, 993, 2525]
    assert out.splitlines()[1].startswith("www      haproxy    ")
    rc, out, _ = await ossh(SERVERS_STATE)
    assert rc == 0 and out.startswith("1\n# be_id be_name srv_id") and out.endswith("\n\n")
    rows = servers(out)
    assert len(rows) == 16 and {r[5] for r in rows} == {"2"}
    assert {r[18] for r in rows} == {"30125", "30126", "30127", "30128"}
    # The runbook's bootstrap: scp the script, then run it with php.
    script = lab.dir / "infra/scripts/pfsense-haproxy-bootstrap.php"
    p = await asyncio.create_subprocess_exec(
        str(Path(ssh).with_name("scp")), *base[1:-3], "-P", str(lab.pfsense_port), str(script),
        "admin@127.0.0.1:/tmp/", stderr=asyncio.subprocess.PIPE)
    _, err = await p.communicate()
    assert p.returncode == 0, err
    assert await ossh("php /tmp/pfsense-haproxy-bootstrap.php") == (0, "haproxy_check_and_run rc=OK\n", "")


async def test_sftp_upload_then_bootstrap_with_three_nodes(lab: Lab, tmp_path: Path) -> None:
    script = (lab.dir / "infra/scripts/pfsense-haproxy-bootstrap.php").read_text()
    assert "$NODES" in script and "build_pool(" in script and "send-proxy-v2" in script
    edited = tmp_path / "pfsense-haproxy-bootstrap.php"
    edited.write_text(script.replace("    'k8s-node4' => '10.0.20.104',\n", ""))
    await upload(lab, edited, "/tmp/pfsense-haproxy-bootstrap.php")
    r = await run(lab, "php /tmp/pfsense-haproxy-bootstrap.php")
    assert (r.exit_status, r.stdout) == (0, "haproxy_check_and_run rc=OK\n")
    rows = servers((await run(lab, SERVERS_STATE)).stdout)
    per_backend: dict[str, int] = {}
    for row in rows:
        per_backend[row[1]] = per_backend.get(row[1], 0) + 1
    assert per_backend == {f"mailserver_{s}_ipvANY": 3 for s in ("smtp", "smtps", "submission", "imaps")}
    cfg = (await run(lab, "cat /var/etc/haproxy/haproxy.cfg")).stdout
    assert "10.0.20.104" not in cfg and "server\t\t\tk8s-node3 10.0.20.103:30128" in cfg
    assert (await run(lab, "grep -c '<address>10.0.20.104</address>' /cf/conf/config.xml")).stdout == "0\n"
    log = lab.command_log.entries()
    assert {"target": "pfsense", "command": "sftp put /tmp/pfsense-haproxy-bootstrap.php",
            "mutating": True}.items() <= log[0].items()
    assert [e["mutating"] for e in log if e["command"].startswith("php ")] == [True]


async def test_malformed_and_missing_bootstrap(lab: Lab, tmp_path: Path) -> None:
    script = (lab.dir / "infra/scripts/pfsense-haproxy-bootstrap.php").read_text()
    bad = tmp_path / "bad.php"
    bad.write_text(script.replace("'10.0.20.102',", "'10.0.20.102'"))
    await upload(lab, bad, "/tmp/bad.php")
    r = await run(lab, "php /tmp/bad.php")
    # Real php with pfSense's php.ini: the error is displayed on stdout.
    assert (r.exit_status, r.stdout, r.stderr) == (
        255, '\nParse error: syntax error, unexpected single-quoted string "k8s-node3", expecting "]"'
        " in /tmp/bad.php on line 27\n", "")
    assert len(servers((await run(lab, SERVERS_STATE)).stdout)) == 16  # nothing applied
    r = await run(lab, "php /tmp/nope.php")
    assert (r.exit_status, r.stdout) == (1, "Could not open input file: /tmp/nope.php\n")


async def test_pfctl_ping_and_nc_follow_the_state(lab: Lab) -> None:
    out = (await run(lab, "pfctl -sn")).stdout
    assert "rdr on igb0 inet proto tcp from any to 203.0.113.10 port = smtp -> 10.0.20.1 port 25" in out
    # assumption: FreeBSD ping(8)'s summary lines and exit 2 (the seed shows the loss line).
    r = await run(lab, "ping -c 2 -t 2 10.0.20.202")
    assert r.exit_status == 2
    assert "2 packets transmitted, 0 packets received, 100.0% packet loss" in r.stdout
    r = await run(lab, "ping -c 2 -t 2 10.0.20.101")
    assert r.exit_status == 0 and "2 packets received, 0.0% packet loss" in r.stdout
    assert (await run(lab, "nc -z -w 2 10.0.20.103 30127")).exit_status == 0
    assert (await run(lab, "nc -z -w 2 10.0.20.103 30999")).exit_status == 1


async def test_runtime_api_set_server_state(lab: Lab) -> None:
    r = await run(lab, "echo 'set server mailserver_smtp_ipvANY/k8s-node2 state maint' | socat /tmp/haproxy.socket stdio")
    assert (r.exit_status, r.stdout) == (0, "\n")
    row = next(s for s in servers((await run(lab, SERVERS_STATE)).stdout) if s[1:4:2] == ["mailserver_smtp_ipvANY", "k8s-node2"])
    assert (row[5], row[6]) == ("0", "1")
    r = await run(lab, "echo 'set server nope/k8s-node2 state ready' | socat /tmp/haproxy.socket stdio")
    assert r.stdout == "Can't find backend.\n\n"
    stat = (await run(lab, "echo 'show stat' | socat /tmp/haproxy.socket stdio")).stdout
    header = stat.splitlines()[0].lstrip("# ").split(",")
    rows = [dict(zip(header, line.split(","))) for line in stat.splitlines()[1:] if line]
    assert next(r for r in rows if r["pxname"] == "mailserver_smtp_ipvANY" and r["svname"] == "k8s-node2")["status"] == "MAINT"
    info = (await run(lab, "echo 'show info' | socat /tmp/haproxy.socket stdio")).stdout
    assert info.startswith("Name: HAProxy\nVersion: 2.9-dev6")
    assert [e["mutating"] for e in lab.command_log.entries()][:2] == [True, False]


async def test_restore_needs_the_cache_removed(lab: Lab) -> None:
    older = "/mnt/backup/pfsense/" + backup_name(3)
    r = await run(lab, "ls -1 /mnt/backup/pfsense", host="backup-host")
    names = r.stdout.split()
    assert names[-1] == backup_name(0) and len(names) == 5
    assert (await run(lab, f"test -f {older} && sha256sum {older}", host="backup-host")).stdout.endswith(f"  {older}\n")
    text = (await run(lab, f"cat {older}", host="backup-host")).stdout
    assert "<address>10.0.20.104</address>" not in text
    local = lab.dir / "restore.xml"
    local.write_text(text)
    await upload(lab, local, "/tmp/config-restore.xml")
    assert (await run(lab, "cp /tmp/config-restore.xml /cf/conf/config.xml && /etc/rc.reload_all")).exit_status == 0
    assert len(servers((await run(lab, SERVERS_STATE)).stdout)) == 16  # the stale cache won
    r = await run(lab, "rm -f /tmp/config.cache && /etc/rc.reload_all && pfSsh.php playback svc restart haproxy")
    assert r.stdout.endswith("haproxy has been restarted.\n")
    assert len(servers((await run(lab, SERVERS_STATE)).stdout)) == 12


async def test_broken_backup_fails_xmllint_on_the_backup_host(lab: Lab) -> None:
    broken = "/mnt/backup/pfsense/" + backup_name(2)
    r = await run(lab, f"xmllint --noout {broken}", host="backup-host")
    assert r.exit_status == 1 and "parser error" in r.stderr
    r = await run(lab, "grep -c '<haproxy>' /mnt/backup/pfsense/" + backup_name(9), host="backup-host")
    assert r.stdout == "0\n"
    r = await run(lab, "nosuchcmd", host="backup-host")
    assert (r.exit_status, r.stderr.splitlines()[0]) == (127, "sh: 1: nosuchcmd: not found")
    # pfSense's lab shell names the commands it fakes, its own among them.
    r = await run(lab, "sysctl -n kern.hostname")
    assert r.exit_status == 127 and r.stderr.splitlines()[0] == "sh: sysctl: not found"
    faked = r.stderr.splitlines()[1].split("this lab's shell fakes: ", 1)[1].split(", ")
    assert {"pfctl", "socat", "sockstat", "php", "pfSsh.php", "/etc/rc.reload_all"} <= set(faked)


async def test_sftp_stays_inside_the_host_folder(lab: Lab, tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("x")
    await upload(lab, f, "/../../../escape.txt")
    assert (lab.dir / "hosts/pfsense/escape.txt").exists()
    assert not (lab.dir / "escape.txt").exists() and not (lab.dir.parent / "escape.txt").exists()


# -- faults -----------------------------------------------------------------------------


async def test_fault_node_down(tmp_path: Path) -> None:
    async with Lab(tmp_path, faults=["node-down=k8s-node2"]) as lab:
        rows = servers((await run(lab, SERVERS_STATE)).stdout)
        down = [r for r in rows if r[3] == "k8s-node2"]
        assert len(down) == 4 and {(r[5], r[10], r[11]) for r in down} == {("0", "8", "2")}
        assert {r[5] for r in rows if r[3] != "k8s-node2"} == {"2"}
        r = await run(lab, "nc -z -v -w 2 10.0.20.102 30125")
        assert r.exit_status == 1 and "failed: Operation timed out" in r.stderr
        assert (await run(lab, "ping -c 1 -t 1 10.0.20.102")).exit_status == 2


def real_socat_to_a_stale_socket(path: Path) -> subprocess.CompletedProcess:
    """Debian's socat against a unix socket file whose listener has gone."""
    if shutil.which("socat") is None:
        if os.environ.get("CI"):
            pytest.fail("socat is missing: install the Debian package socat")
        pytest.skip("socat is not installed")
    path.parent.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.close()  # the file stays, nobody listens: a stopped HAProxy's socket
    return subprocess.run(["socat", str(path), "stdio"], input="show servers state\n", capture_output=True,
                          text=True, timeout=10)


def _socat_message(stderr: str) -> str:
    """socat's error line without its timestamp and pid: ``E UNIX-CLIENT:...: Connection refused``."""
    return re.sub(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d socat\[\d+\] ", "", stderr.strip())


async def test_a_missing_socket_path_is_a_file_to_socat(tmp_path: Path) -> None:
    """Real socat opens an address that does not exist as a file: it creates it, writes what it
    was given, exits 0 and answers nothing. A procedure must not read that as "no server DOWN"."""
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed")
    real_path = tmp_path / "missing.socket"
    real = subprocess.run(["socat", str(real_path), "stdio"], input="show servers state\n", capture_output=True,
                          text=True, timeout=10)
    async with Lab(tmp_path / "lab") as lab:
        r = await run(lab, "echo 'show servers state' | socat /tmp/other.socket stdio")
        made = (await run(lab, "cat /tmp/other.socket")).stdout
    assert (r.exit_status, r.stdout, r.stderr) == (real.returncode, real.stdout, real.stderr) == (0, "", "")
    assert made == real_path.read_text() == "show servers state\n"


async def test_fault_haproxy_stopped_then_restart(tmp_path: Path) -> None:
    async with Lab(tmp_path, faults=["haproxy-stopped"]) as lab:
        assert "haproxy" not in (await run(lab, "sockstat -l")).stdout
        r = await run(lab, SERVERS_STATE)
        # What real socat says to a socket file nobody listens on (HAProxy's, left behind).
        real = real_socat_to_a_stale_socket(tmp_path / "stale" / "haproxy.socket")
        assert (r.exit_status, _socat_message(r.stderr)) == (real.returncode, _socat_message(real.stderr).replace(
            str(tmp_path / "stale" / "haproxy.socket"), "/tmp/haproxy.socket"))
        assert r.stdout == real.stdout == ""
        assert (await run(lab, "pfSsh.php playback svc status haproxy")).stdout == "Service haproxy is stopped.\n"
        r = await run(lab, "pfSsh.php playback svc restart haproxy")
        assert r.stdout == "Attempting to issue restart to haproxy service...\n\nhaproxy has been restarted.\n"
        assert len(servers((await run(lab, SERVERS_STATE)).stdout)) == 16


async def test_fault_ssh_drop_after(tmp_path: Path) -> None:
    async with Lab(tmp_path, faults=["ssh-drop-after=2"]) as lab:
        async with connect(lab) as conn:
            assert (await conn.run("echo one", check=False)).stdout == "one\n"
            # An abrupt close: no exit status, no output, and the connection is gone.
            r = await asyncio.wait_for(conn.run("echo two", check=False), 5)
            assert (r.exit_status, r.stdout) == (None, "")
            await asyncio.wait_for(conn.wait_closed(), 5)
            with pytest.raises((asyncssh.ChannelOpenError, asyncssh.ConnectionLost, OSError)):
                await conn.run("echo again")
        assert (await run(lab, "echo three")).stdout == "three\n"  # a new connection works
        notes = [(e["command"], e.get("note")) for e in lab.command_log.entries()]
        assert notes == [("echo one", None), ("echo two", "connection dropped"), ("echo three", None)]


async def test_fault_latency(tmp_path: Path) -> None:
    async with Lab(tmp_path, faults=["latency=0.3"]) as lab:
        async with connect(lab) as conn:
            started = time.perf_counter()
            await conn.run("true")
            assert time.perf_counter() - started >= 0.3


async def test_fault_hostkey_changed(tmp_path: Path) -> None:
    async with Lab(tmp_path, faults=["hostkey-changed"]) as lab:
        with pytest.raises(asyncssh.HostKeyNotVerifiable):
            await run(lab, "true")
        assert (await run(lab, "echo ok", host="backup-host")).stdout == "ok\n"
        if shutil.which("ssh"):
            p = await asyncio.create_subprocess_exec(
                need_ssh(), "-i", str(lab.key_path), "-o", f"UserKnownHostsFile={lab.known_hosts_path}",
                "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-p", str(lab.pfsense_port),
                "admin@127.0.0.1", "true", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            _, err = await p.communicate()
            assert p.returncode == 255 and b"REMOTE HOST IDENTIFICATION HAS CHANGED" in err
        assert lab.command_log.entries()[-1]["target"] == "backup-host"


async def test_haproxy_check_is_the_real_haproxys(lab: Lab) -> None:
    """`haproxy -c` in the lab is the installed haproxy's verdict on the file, not the lab's."""
    if shutil.which("haproxy") is None:
        pytest.fail("haproxy is missing: scripts/install-test-deps installs it.")
    r = await run(lab, "haproxy -c -f /var/etc/haproxy/haproxy.cfg")
    assert (r.exit_status, r.stdout.splitlines()[-1]) == (0, "Configuration file is valid")
    r = await run(lab, "printf 'frontend x\\n  bind :25 send-proxy-v3\\n' > /tmp/bad.cfg && haproxy -c -f /tmp/bad.cfg")
    assert r.exit_status == 1
    assert "config : parsing [/tmp/bad.cfg:2] : 'bind :25' in section 'frontend': unknown keyword 'send-proxy-v3'" in r.stderr
    assert r.stderr.rstrip().endswith("Fatal errors found in configuration.")
