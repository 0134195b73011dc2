"""Two operators on two machines: the Lease ``runbook-tui`` in the cluster keeps them apart.

Each operator is a real CLI process with its own HOME and state folder (so this machine's file
locks cannot exclude them: only the Lease does), against one lab started with ``runbook-tui
lab`` in its own process; a crashed holder is a process killed with SIGKILL; what the cluster
holds is read with stock kubectl.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubeserver import kubectl_path
from lab_runs import open_lab
from support import lab_process, runbook, until_said, wait_until
from support import operator_env as support_operator_env

from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import AutoGates
from runbook_tui.engine.locks import Holder

SLOW_CHANGE = """\
id: slow-change-{name}
title: A slow change
steps:
  - id: change
    local: echo {name} >> {log}; while ! test -e {release}; do sleep 0.05; done
"""
LEASE_SECONDS = "4"  # renewed every 4/3 s: a loaded machine still renews in time


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One lab for the module, in its own process: its folder (inventory, kubeconfig)."""
    folder = tmp_path_factory.mktemp("lab")
    with lab_process(folder):
        yield folder


def operator_env(tmp_path: Path, user: str) -> dict[str, str]:
    return support_operator_env(tmp_path, user, LEASE_SECONDS)


def procedures(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    log, release = tmp_path / "log", tmp_path / "release"
    files = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(SLOW_CHANGE.format(name=name, log=log, release=release))
        files.append(path)
    return files[0], files[1], log, release


def start(tmp_path: Path, env: dict[str, str], proc: Path, lab: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runbook_tui", "run", str(proc), "--inventory",
                             str(lab / "inventory.yaml"), "--yes", *extra], cwd=tmp_path, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def lease(lab: Path) -> dict:
    out = subprocess.run([kubectl_path(), "--kubeconfig", str(lab / "kubeconfig"), "get", "lease", "runbook-tui",
                          "-o", "yaml"], capture_output=True, text=True, timeout=20,
                         env={**os.environ, "HOME": str(lab), "KUBECACHEDIR": str(lab / "kubecache")})
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


def started(log: Path, name: str) -> bool:
    return log.exists() and name in log.read_text().split()


def test_a_second_operator_elsewhere_is_refused_naming_the_holder(lab: Path, tmp_path: Path) -> None:
    a, b, log, release = procedures(tmp_path)
    first = start(tmp_path, operator_env(tmp_path, "alice"), a, lab)
    try:
        wait_until(lambda: started(log, "a"), "the first change to start")
        # Stock kubectl sees the holder: user@host, pid and run id.
        held = lease(lab)["spec"]
        identity = held["holderIdentity"]
        assert re.fullmatch(rf"alice@\S+ \(pid {first.pid}, run \S+\)", identity), identity
        assert held["leaseDurationSeconds"] == int(LEASE_SECONDS)
        time.sleep(float(LEASE_SECONDS) + 0.5)  # longer than the lease: it lives on by renewal
        renewed = lease(lab)["spec"]
        assert renewed["holderIdentity"] == identity and renewed["renewTime"] != held["renewTime"]

        second = runbook("run", str(b), "--inventory", str(lab / "inventory.yaml"), "--yes", cwd=tmp_path,
                         env=operator_env(tmp_path, "bob"))
        assert second.returncode == 3, second.stdout + second.stderr
        (sentence,) = [line for line in second.stdout.splitlines() if "is locked by" in line]
        assert f"Lease mailserver/runbook-tui (target cluster, context lab) is locked by {identity} since 20" in sentence
        assert "--wait" in sentence and "Traceback" not in second.stderr
        assert log.read_text().split() == ["a"], "the second operator changed something"
        # A dry run excludes nobody and is excluded by nobody.
        dry = runbook("--dry-run", "run", str(b), "--inventory", str(lab / "inventory.yaml"), "--yes",
                      cwd=tmp_path, env=operator_env(tmp_path, "bob"))
        assert dry.returncode == 0, dry.stdout + dry.stderr
    finally:
        release.touch()
        assert first.wait(30) == 0, first.communicate()
    after = lease(lab)["spec"]
    assert not after.get("holderIdentity"), after  # released at the end


def test_wait_runs_the_second_after_the_first(lab: Path, tmp_path: Path) -> None:
    a, b, log, release = procedures(tmp_path)
    first = start(tmp_path, operator_env(tmp_path, "alice"), a, lab)
    try:
        wait_until(lambda: started(log, "a"), "the first change to start")
        second = start(tmp_path, {**operator_env(tmp_path, "bob"), "PYTHONUNBUFFERED": "1"}, b, lab, "--wait")
        said = until_said(second, "Waiting for it to finish")
        assert "is locked by alice@" in said
        time.sleep(1.0)
        assert second.poll() is None and not started(log, "b"), "the second did not wait"
        assert lease(lab)["spec"]["holderIdentity"].startswith("alice@")
    finally:
        release.touch()
    assert first.wait(30) == 0, first.communicate()
    out, err = second.communicate(timeout=30)
    assert second.returncode == 0, said + out + err
    assert log.read_text().split() == ["a", "b"]


def test_a_crashed_holders_lease_is_taken_over_when_it_expires(lab: Path, tmp_path: Path) -> None:
    a, b, log, release = procedures(tmp_path)
    first = start(tmp_path, operator_env(tmp_path, "alice"), a, lab)
    wait_until(lambda: started(log, "a"), "the first change to start")
    identity = lease(lab)["spec"]["holderIdentity"]
    transitions = lease(lab)["spec"].get("leaseTransitions", 0)
    os.killpg(first.pid, signal.SIGKILL)  # no release: only expiry frees it
    first.wait(10)
    release.touch()  # the dead run's step would have ended; the second's ends at once
    bob = operator_env(tmp_path, "bob")
    second = runbook("run", str(b), "--inventory", str(lab / "inventory.yaml"), "--yes", cwd=tmp_path, env=bob)
    if second.returncode == 3:  # still within its lease: refused, naming the dead holder
        assert f"is locked by {identity}" in second.stdout
        time.sleep(float(LEASE_SECONDS))
        second = runbook("run", str(b), "--inventory", str(lab / "inventory.yaml"), "--yes", cwd=tmp_path, env=bob)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"took over the Lease mailserver/runbook-tui (target cluster, context lab) from {identity} since 20" \
        in second.stdout
    assert "it was not renewed and expired at" in second.stdout
    taken = lease(lab)["spec"]
    assert taken["leaseTransitions"] == transitions + 1 and not taken.get("holderIdentity")


async def test_a_cluster_refusing_leases_leaves_the_local_lock_and_says_so(tmp_path: Path) -> None:
    ws = await open_lab(tmp_path, faults=("api-forbidden=leases",))
    ws.journal_dir = tmp_path / "journal"
    try:
        events: list[ev.Event] = []
        engine = ws.engine(ws.procedure("reload"), inputs={"reason": "test"}, subscribers=[events.append],
                           gates=AutoGates(yes=True, lab=True), journal=False)
        report = await engine.run()
        assert report.outcome == "succeeded", report.message
        notes = [e.text for e in events if isinstance(e, ev.Notice)]
        assert any("Forbidden" in n and "Only this machine's lock keeps other runs out of target cluster." in n
                   for n in notes), notes
    finally:
        await ws.close()


async def test_home_names_the_holder(tmp_path: Path) -> None:
    """``Workspace.change_lock_holder``: the sentence the home screen shows, or None."""
    from runbook_tui.transports.kube.lease import ClusterLease

    ws = await open_lab(tmp_path)
    ws.journal_dir = tmp_path / "journal"
    try:
        assert await ws.change_lock_holder() is None
        cluster = ws.inventory.targets["cluster"].kubernetes
        assert cluster is not None
        holder = Holder("carol@elsewhere", 4242, time.time(), "20261130-reload-1234")
        other = ClusterLease("cluster", cluster)
        assert await asyncio.to_thread(other.acquire, holder.identity()) is None
        sentence = await ws.change_lock_holder()
        assert sentence is not None and sentence.startswith("carol@elsewhere (pid 4242, run 20261130-reload-1234) since 20")
        assert sentence.endswith("holds the Lease mailserver/runbook-tui (target cluster, context lab): "
                                 "changes wait until it is done.")
        await asyncio.to_thread(other.release, holder.identity())
        assert await ws.change_lock_holder() is None
    finally:
        await ws.close()


def test_without_a_cluster_the_run_says_only_this_machines_lock_applies(tmp_path: Path) -> None:
    a, _b, log, release = procedures(tmp_path)
    release.touch()
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("targets:\n  pfsense: {ssh: {host: 192.0.2.1, user: admin}}\n")
    out = runbook("run", str(a), "--inventory", str(inventory), "--yes", cwd=tmp_path,
                  env=operator_env(tmp_path, "alice"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert ("! The inventory has no Kubernetes target to hold a team-wide Lease in: only this machine's lock "
            "keeps other runs out.") in out.stdout
    assert log.read_text().split() == ["a"]
