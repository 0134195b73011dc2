"""The lab's HAProxy numbers its backends and servers as a real HAProxy does on the haproxy.cfg
the lab generated: a real ``haproxy`` runs that file and both answer ``show servers state``."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from lab_runs import pfsense_run
from lab_runs import pfsense_upload as upload

from runbook_tui.lab import Lab

SERVERS_STATE = "echo 'show servers state' | socat /tmp/haproxy.socket stdio"


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} is missing: scripts/install-test-deps installs it.")
    return path


async def run(lab: Lab, cmd: str) -> str:
    r = await pfsense_run(lab, cmd)
    assert r.exit_status == 0, r.stderr
    return str(r.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def runnable_here(cfg: str, sock: Path) -> str:
    """The generated file with only what ties it to the firewall changed: the socket path, the
    listening addresses, and no chroot, user or daemon. Sections, their order and ids stay."""
    out = []
    for line in cfg.splitlines():
        word = line.split()[0] if line.split() else ""
        if word in ("uid", "gid", "chroot", "daemon", "server-state-file"):
            continue
        if word == "stats":
            line = f"\tstats socket {sock} level admin"
        elif word == "bind":
            port = free_port()
            line = f"\tbind\t\t\t127.0.0.1:{port} name 127.0.0.1:{port}"
        out.append(line)
    return "\n".join(out) + "\n"


def ask(sock: Path, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def ids(out: str) -> list[tuple[str, ...]]:
    """be_id be_name srv_id srv_name ... bk_f_forced_id srv_f_forced_id of each server line."""
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    return [(r[0], r[1], r[2], r[3], r[15], r[16]) for r in rows]


def real_servers_state(haproxy: str, cfg: str, tmp: Path) -> str:
    sock = tmp / "haproxy.sock"
    path = tmp / "haproxy.cfg"
    path.write_text(runnable_here(cfg, sock))
    check = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    proc = subprocess.Popen([haproxy, "-db", "-f", str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"HAProxy did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.02)
        return ask(sock, "show servers state")
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.fixture
async def lab(tmp_path: Path):
    async with Lab(tmp_path / "lab") as lab:
        yield lab


# assumption: HAProxy 2.9 (pfSense) numbers proxies and servers as the 2.6.12 installed here does.
async def test_ids_match_a_real_haproxy_on_the_generated_config(lab: Lab, tmp_path: Path) -> None:
    haproxy = need("haproxy")
    lab_cfg = await run(lab, "cat /var/etc/haproxy/haproxy.cfg")
    lab_ids = ids(await run(lab, SERVERS_STATE))
    assert len(lab_ids) == 16
    assert ids(real_servers_state(haproxy, lab_cfg, tmp_path)) == lab_ids


async def test_ids_from_the_config_and_pool_order_match_too(lab: Lab, tmp_path: Path) -> None:
    """Pools with <id> (as the WebUI's config_id() gives them), a server with one, an inactive
    server, pools in another order than the frontends use them, and a pool no frontend uses."""
    need("php")
    haproxy = need("haproxy")
    script = (lab.dir / "infra/scripts/pfsense-haproxy-bootstrap.php").read_text()
    script = script.replace(
        "$pools = [\n    build_pool('mailserver_smtp', 30125, $NODES, $CHECK_INTER),",
        "$pools = [\n    build_pool('mailserver_unused', 30199, $NODES, $CHECK_INTER),\n"
        "    build_pool('mailserver_smtp', 30125, $NODES, $CHECK_INTER),")
    script = re.sub(r"(\$haproxy\['enable'\] = 'yes';)", r"""\1
$pools[2]['id'] = 100;
$pools[2]['ha_servers']['item'][1]['id'] = 1;
$pools[3]['ha_servers']['item'][0]['status'] = 'inactive';
$pools = [$pools[4], $pools[3], $pools[0], $pools[2], $pools[1]];""", script)
    await upload(lab, script, "/tmp/b.php")
    assert await run(lab, "php /tmp/b.php") == "haproxy_check_and_run rc=OK\n"
    lab_cfg = await run(lab, "cat /var/etc/haproxy/haproxy.cfg")
    assert "mailserver_unused" not in lab_cfg and "\tid\t\t\t100\n" in lab_cfg
    lab_ids = ids(await run(lab, SERVERS_STATE))
    assert ("100", "mailserver_smtps_ipvANY", "1", "k8s-node2", "1", "1") in lab_ids
    assert len(lab_ids) == 15
    assert ids(real_servers_state(haproxy, lab_cfg, tmp_path)) == lab_ids
