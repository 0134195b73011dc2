"""Starting and stopping the lab: files, speed, leaks, the `lab` command and fault specs."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import asyncssh
import pytest
import yaml

from runbook_tui.lab import FAULTS, Lab, LabError
from runbook_tui.lab.cli import format_log
from runbook_tui.language.inventory import Inventory

PY = sys.executable


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


async def test_files_and_inventory_contract(tmp_path: Path) -> None:
    async with Lab(tmp_path) as lab:
        for name in ("inventory.yaml", "kubeconfig", "known_hosts", "id_ed25519", "id_ed25519.pub",
                     "commands.log"):
            assert (tmp_path / name).is_file(), name
        assert (tmp_path / "id_ed25519").stat().st_mode & 0o077 == 0
        inv = Inventory.model_validate(yaml.safe_load(lab.inventory_path.read_text()))
        assert inv.lab is True
        pf, bk, cl = inv.targets["pfsense"].ssh, inv.targets["backup-host"].ssh, inv.targets["cluster"].kubernetes
        assert (pf.host, pf.port, pf.user) == ("127.0.0.1", lab.pfsense_port, "admin")
        assert (bk.port, bk.user, bk.key) == (lab.backup_port, "backup", str(lab.key_path))
        assert (cl.kubeconfig, cl.context, cl.namespace) == (str(lab.kubeconfig_path), "lab", "mailserver")
        v = inv.vars
        assert v["nodes"] == {f"k8s-node{i}": f"10.0.20.10{i}" for i in range(1, 5)}
        assert v["nodeports"] == {"smtp": 30125, "smtps": 30126, "submission": 30127, "imaps": 30128}
        assert (v["pfsense_ip"], v["metallb_ip"], v["metallb_pool"]) == ("10.0.20.1", "10.0.20.202", "default")
        assert (v["backup_dir"], v["haproxy_socket"]) == ("/mnt/backup/pfsense", "/tmp/haproxy.socket")
        for var in ("bootstrap_script", "nat_flip_script", "nat_unflip_script", "alias_add_script",
                    "alias_delete_script"):
            assert Path(v[var]).is_file() and Path(v[var]).parent == tmp_path / "infra/scripts"
        boot = Path(v["bootstrap_script"]).read_text()
        assert "haproxy_check_and_run rc=" in boot and "send-proxy-v2" in boot
        assert all(str(p) in boot for p in (30125, 30126, 30127, 30128))
        known = lab.known_hosts_path.read_text().splitlines()
        assert known[0].startswith(f"[127.0.0.1]:{lab.pfsense_port} ssh-ed25519 ")
        async with asyncssh.connect("127.0.0.1", lab.pfsense_port, username="admin",
                                    client_keys=[str(lab.key_path)], known_hosts=str(lab.known_hosts_path)) as c:
            assert (await c.run("hostname")).stdout == "pfsense.viktorbarzin.lan\n"
        # Only the lab's client key gets in.
        with pytest.raises(asyncssh.PermissionDenied):
            await asyncssh.connect("127.0.0.1", lab.pfsense_port, username="admin",
                                   client_keys=[asyncssh.generate_private_key("ssh-ed25519")],
                                   known_hosts=str(lab.known_hosts_path))


async def test_starts_fast_and_stops_clean_twenty_times(tmp_path: Path) -> None:
    timings = []
    fds_before = 0
    for i in range(20):
        if i == 1:  # after the first run, whose imports and executor threads stay
            fds_before = len(os.listdir("/proc/self/fd"))
        started = time.perf_counter()
        lab = await Lab(tmp_path / f"run{i}").start()
        timings.append(time.perf_counter() - started)
        ports = (lab.pfsense_port, lab.backup_port, lab.api_port)
        async with asyncssh.connect("127.0.0.1", lab.pfsense_port, username="admin",
                                    client_keys=[str(lab.key_path)], known_hosts=str(lab.known_hosts_path)) as c:
            assert (await c.run("true")).exit_status == 0
        await lab.stop()
        await asyncio.sleep(0)
        assert all(port_is_free(p) for p in ports)
        assert asyncio.all_tasks() == {asyncio.current_task()}
    print(f"\nlab start: first {timings[0]:.3f}s, slowest {max(timings):.3f}s, "
          f"median {sorted(timings)[10]:.3f}s")
    assert max(timings) < 3.0
    # The only threads are the loop's bounded executor pool and the Kubernetes client's (each
    # grows lazily up to its cap; the client's may be warm from an earlier test in this process).
    from runbook_tui.transports.kube.threads import MAX_WORKERS

    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    assert all(t.name.startswith(("asyncio_", "kube_")) for t in others), others
    assert sum(t.name.startswith("asyncio_") for t in others) <= min(32, (os.cpu_count() or 1) + 4)
    assert sum(t.name.startswith("kube_") for t in others) <= MAX_WORKERS
    assert len(os.listdir("/proc/self/fd")) <= fds_before + 3


def test_fault_specs_are_checked() -> None:
    assert set(FAULTS) == {"node-down", "haproxy-stopped", "probe-fails", "ssh-drop-after",
                           "latency", "hostkey-changed", "api-forbidden"}
    with pytest.raises(LabError) as err:
        Lab(faults=["node-dwn=k8s-node1"])
    assert str(err.value).startswith("Unknown fault 'node-dwn=k8s-node1'; valid faults are: node-down=NAME")
    with pytest.raises(LabError, match="unknown node 'k8s-node9'.*k8s-node1"):
        Lab(faults=["node-down=k8s-node9"])
    with pytest.raises(LabError, match="ssh-drop-after needs a whole number"):
        Lab(faults=["ssh-drop-after=zero"])
    with pytest.raises(LabError, match="needs a value"):
        Lab(faults=["latency"])
    with pytest.raises(LabError, match="takes no value"):
        Lab(faults=["probe-fails=yes"])
    with pytest.raises(LabError, match="unknown resource 'svc'"):
        Lab(faults=["api-forbidden=svc"])
    with pytest.raises(LabError, match="phase 3, 5 or 6"):
        Lab(phase=4)
    assert "\n" not in str(LabError) and Lab(faults=["latency=0.5", "node-down=k8s-node1"]).faults.latency == 0.5


def test_format_log() -> None:
    text = format_log([
        {"time": 0, "target": "pfsense", "command": "sockstat -l", "mutating": False},
        {"time": 0, "target": "cluster", "command": "PATCH svc", "mutating": True, "note": "x"},
    ])
    lines = text.splitlines()
    assert lines[0].split()[1:] == ["pfsense", "read", "sockstat", "-l"]
    assert lines[1].split()[1:] == ["cluster", "MUTATING", "PATCH", "svc", "[x]"]


def test_cli_subprocess_ready_line_files_and_sigterm(tmp_path: Path) -> None:
    lab_dir = tmp_path / "d"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    spawned = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "runbook_tui", "lab", "--dir", str(lab_dir), "--fault", "probe-fails"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        to_ready = time.perf_counter() - spawned
        assert line.startswith("Lab ready (phase 6): pfsense ssh 127.0.0.1:"), line + proc.stderr.read()
        assert str(lab_dir) in line
        figure = float(line.split("[started in ")[1].split("s")[0])
        print(f"\nlab CLI: ready line after {to_ready:.2f}s (interpreter included), lab start {figure:.2f}s")
        assert figure < 3.0
        for name in ("inventory.yaml", "kubeconfig", "known_hosts", "id_ed25519", "id_ed25519.pub",
                     "commands.log", "infra/scripts/pfsense-haproxy-bootstrap.php",
                     "infra/scripts/pfsense-nat-mailserver-haproxy-flip.php",
                     "infra/scripts/pfsense-nat-mailserver-haproxy-unflip.php",
                     "infra/scripts/add-mailserver-alias.php", "infra/scripts/delete-mailserver-alias.php"):
            assert (lab_dir / name).is_file(), name
        port = int(line.split("pfsense ssh 127.0.0.1:")[1].split(",")[0])
        key, known = lab_dir / "id_ed25519", lab_dir / "known_hosts"

        async def touch() -> None:
            async with asyncssh.connect("127.0.0.1", port, username="admin", client_keys=[str(key)],
                                        known_hosts=str(known)) as c:
                await c.run("sockstat -l; pfSsh.php playback svc restart haproxy")

        asyncio.run(touch())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert port_is_free(port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = subprocess.run([PY, "-m", "runbook_tui", "lab", "log", str(lab_dir)], capture_output=True,
                         text=True, timeout=30, env=env)
    assert out.returncode == 0
    assert out.stdout.split()[1:4] == ["pfsense", "MUTATING", "sockstat"]
    bad = subprocess.run([PY, "-m", "runbook_tui", "lab", "log", str(tmp_path / "nope")],
                         capture_output=True, text=True, timeout=30, env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "no command log" in bad.stderr


def test_cli_bad_fault_and_help() -> None:
    bad = subprocess.run([PY, "-m", "runbook_tui", "lab", "--fault", "node-down=nope"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.count("\n") == 1 and "unknown node 'nope'" in bad.stderr
    helped = subprocess.run([PY, "-m", "runbook_tui", "lab", "--help"], capture_output=True,
                            text=True, timeout=30)
    assert helped.returncode == 0
    for name in FAULTS:
        assert f"  {name} " in helped.stdout


async def test_a_reused_folder_starts_fresh(tmp_path: Path) -> None:
    async with Lab(tmp_path) as lab:
        leftover = lab.dir / "hosts/pfsense/tmp/leftover.php"
        leftover.write_text("<?php\n")
        lab.command_log.record("pfsense", "true", False)
    async with Lab(tmp_path) as lab:
        assert not leftover.exists()
        assert lab.command_log.entries() == []
    (tmp_path / "other").mkdir()
    (tmp_path / "other/hosts").mkdir()
    (tmp_path / "other/hosts/mine.txt").write_text("keep")
    with pytest.raises(LabError, match="was not made by the lab"):
        await Lab(tmp_path / "other").start()
    assert (tmp_path / "other/hosts/mine.txt").read_text() == "keep"


async def test_stop_with_a_probe_job_in_flight_leaves_no_task(tmp_path: Path) -> None:
    lab = await Lab(tmp_path).start()
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "probe-inflight", "namespace": "mailserver", "labels": {"app": "email-roundtrip-monitor"}},
           "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "roundtrip", "image": "x"}]}}}}
    lab.api.store.put(job)
    pods = lab.api.store.list("v1", "Pod", "mailserver", label_selector="job-name=probe-inflight")
    assert len(pods) == 1 and pods[0]["status"]["phase"] == "Running"
    assert len(asyncio.all_tasks()) > 1  # the Job's completion is pending
    await lab.stop()
    assert asyncio.all_tasks() == {asyncio.current_task()}
