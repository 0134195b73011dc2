"""The team lock once it is held: a Lease lost mid-run stops the run before its next change, and
a holder whose clock is behind ours is never taken for dead while it renews.

Each operator is a real CLI process with its own HOME against one lab process; the Lease is
stolen, deleted or renewed by a skewed holder through the lab's API with stock kubectl and the
official client; the API is made unreachable by stopping the lab process (SIGSTOP).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kubeserver import kubectl_path
from support import lab_process, runbook, until_said, wait_until
from support import operator_env as support_operator_env

LEASE_SECONDS = 4  # renewed every 4/3 s, given up 8/3 s after the last renewal
TWO_CHANGES = """\
id: two-changes
title: Two changes
steps:
  - id: first
    local: echo first >> {log}; while ! test -e {go}; do sleep 0.05; done
  - id: second
    local: echo second >> {log}
"""
ONE_CHANGE = """\
id: one-change
title: One change
steps:
  - id: change
    local: echo {name} >> {log}
"""


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[subprocess.Popen]:
    """A lab in its own process (its folder is tmp_path/lab), so it can be stopped and resumed."""
    with lab_process(tmp_path / "lab") as proc:
        yield proc


def operator_env(tmp_path: Path, user: str) -> dict[str, str]:
    return support_operator_env(tmp_path, user, LEASE_SECONDS)


def start(tmp_path: Path, user: str, procedure: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runbook_tui", "run", str(procedure), "--inventory",
                             str(tmp_path / "lab" / "inventory.yaml"), "--yes", *extra], cwd=tmp_path,
                            env=operator_env(tmp_path, user), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def kubectl(tmp_path: Path, *args: str) -> str:
    lab = tmp_path / "lab"
    out = subprocess.run([kubectl_path(), "--kubeconfig", str(lab / "kubeconfig"), *args], capture_output=True,
                         text=True, timeout=30, env={**os.environ, "HOME": str(lab), "KUBECACHEDIR": str(lab / "kc")})
    assert out.returncode == 0, out.stderr
    return out.stdout


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def notices(tmp_path: Path, user: str) -> list[dict]:
    """The notices in USER's journal(s)."""
    found = []
    for path in (tmp_path / user / "state").rglob("*"):
        if path.is_file():
            for line in path.read_text(errors="replace").splitlines():
                if '"notice"' in line:
                    event = json.loads(line)
                    if event.get("event") == "notice":
                        found.append(event)
    return found


@pytest.mark.parametrize(("how", "said"), [
    ("stolen", "(taken by mallory@elsewhere (pid 7, run 20261130-reload-abcdef))"),
    ("deleted", "(it was deleted)"),
    ("unreachable", "(not renewed since "),
])
def test_a_lease_lost_mid_run_stops_it_before_its_next_change(lab: subprocess.Popen, tmp_path: Path,
                                                                how: str, said: str) -> None:
    log, go = tmp_path / "log", tmp_path / "go"
    procedure = tmp_path / "two.yaml"
    procedure.write_text(TWO_CHANGES.format(log=log, go=go))
    run = start(tmp_path, "alice", procedure)
    try:
        wait_until(lambda: lines(log) == ["first"], "the first change to start")
        if how == "stolen":
            kubectl(tmp_path, "patch", "lease", "runbook-tui", "--type", "merge", "-p",
                    json.dumps({"spec": {"holderIdentity": "mallory@elsewhere (pid 7, run 20261130-reload-abcdef)"}}))
        elif how == "deleted":
            kubectl(tmp_path, "delete", "lease", "runbook-tui")
        else:
            os.kill(lab.pid, signal.SIGSTOP)  # the API answers nothing: renewals hang, then time out
        time.sleep(LEASE_SECONDS)  # past the renewal deadline (8/3 s), and a renewal after the theft
    finally:
        go.touch()
    said_lost = until_said(run, "was lost at")
    os.kill(lab.pid, signal.SIGCONT)  # answered again: the run's hung requests end, it exits
    out, err = run.communicate(timeout=60)
    out = said_lost + out
    assert run.returncode == 4, out + err
    assert lines(log) == ["first"], "the second change ran without the lock"
    sentence = next(line for line in out.splitlines() if "was lost at" in line)
    assert sentence.startswith("! The team lock Lease mailserver/runbook-tui (target cluster, context lab) "
                               "was lost at "), sentence
    assert said in sentence, sentence
    assert sentence.endswith("; stopped before step second; the last change made was step first."), sentence
    assert "Traceback" not in err
    (lost,) = [n for n in notices(tmp_path, "alice") if "was lost at" in n["text"]]
    assert lost["level"] == "error" and lost["text"] == sentence.removeprefix("! ")
    if how == "stolen":  # the thief's Lease is left alone at the end
        assert "mallory@elsewhere" in kubectl(tmp_path, "get", "lease", "runbook-tui", "-o", "yaml")


class SkewedHolder:
    """A holder whose clock is 40 s behind ours: every renewal it writes says renewTime = our
    now - 40 s, but it renews (each write a new resourceVersion)."""

    def __init__(self, tmp_path: Path, identity: str = "carol@behind (pid 9, run 20261130-reload-c10c4)"):
        from kubernetes import config
        from kubernetes.client import CoordinationV1Api

        self.identity = identity
        client = config.new_client_from_config(str(tmp_path / "lab" / "kubeconfig"), persist_config=False)
        self.api = CoordinationV1Api(client)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._renew, daemon=True)
        self.writes = 0

    def _body(self) -> dict:
        behind = (datetime.now(UTC) - timedelta(seconds=40)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "runbook-tui", "namespace": "mailserver"},
                "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": LEASE_SECONDS,
                         "acquireTime": behind, "renewTime": behind}}

    def __enter__(self) -> SkewedHolder:
        self.api.create_namespaced_lease("mailserver", self._body())
        self.thread.start()
        return self

    def _renew(self) -> None:
        while not self.stop.wait(LEASE_SECONDS / 4):
            lease = self.api.read_namespaced_lease("runbook-tui", "mailserver")
            body = self._body()
            body["metadata"]["resourceVersion"] = lease.metadata.resource_version
            self.api.replace_namespaced_lease("runbook-tui", "mailserver", body)
            self.writes += 1

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def test_a_holder_whose_clock_is_behind_is_not_taken_over_while_it_renews(lab: subprocess.Popen,
                                                                           tmp_path: Path) -> None:
    log = tmp_path / "log"
    procedure = tmp_path / "one.yaml"
    procedure.write_text(ONE_CHANGE.format(name="bob", log=log))
    with SkewedHolder(tmp_path) as carol:
        # Its renewTime reads as 40 s old: watched for its duration, seen renewed, refused.
        refused = runbook("run", str(procedure), "--inventory", str(tmp_path / "lab" / "inventory.yaml"), "--yes",
                          cwd=tmp_path, env=operator_env(tmp_path, "bob"))
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert f"watching it for {LEASE_SECONDS} s before taking it over" in refused.stdout
        assert f"is locked by {carol.identity} since" in refused.stdout
        assert lines(log) == []
        # A waiter polls, and takes nothing over while the record keeps changing.
        waiter = start(tmp_path, "bob", procedure, "--wait")
        time.sleep(3 * LEASE_SECONDS)
        assert waiter.poll() is None and lines(log) == [], "a renewing holder was taken over"
        assert carol.writes >= 8
    # The holder stops: the waiter takes over once the record stayed unchanged for 4 s of ours.
    stopped = time.monotonic()
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, out + err
    assert time.monotonic() - stopped >= LEASE_SECONDS - 2
    assert lines(log) == ["bob"]
    assert f"from {carol.identity} since" in out and "it was not renewed and expired at" in out
    assert f"(unchanged for {LEASE_SECONDS} s by this machine's clock)" in out


UNDO_AFTER = """\
id: undo-after-loss
title: A change, then a failure walked back
steps:
  - id: first
    local: echo first >> {log}
    undo:
      local: echo undo-first >> {log}
  - id: second
    local: while ! test -e {go}; do sleep 0.05; done; exit 1
"""


def test_a_lease_lost_before_the_walk_back_stops_the_undo_too(lab: subprocess.Popen, tmp_path: Path) -> None:
    log, go = tmp_path / "log", tmp_path / "go"
    procedure = tmp_path / "undo.yaml"
    procedure.write_text(UNDO_AFTER.format(log=log, go=go))
    run = start(tmp_path, "alice", procedure, "--undo-on-failure")
    try:
        wait_until(lambda: lines(log) == ["first"], "the first change")
        kubectl(tmp_path, "patch", "lease", "runbook-tui", "--type", "merge", "-p",
                json.dumps({"spec": {"holderIdentity": "mallory@elsewhere"}}))
        time.sleep(LEASE_SECONDS)
    finally:
        go.touch()
    out, err = run.communicate(timeout=60)
    assert run.returncode == 4, out + err
    assert lines(log) == ["first"], "undone without the lock"
    assert ("was lost at " in out and "(taken by mallory@elsewhere); stopped before undoing step first; "
            "the last change made was step first.") in out, out


def test_a_lease_lost_during_the_last_change_is_said_at_the_end(lab: subprocess.Popen, tmp_path: Path) -> None:
    log, go = tmp_path / "log", tmp_path / "go"
    procedure = tmp_path / "last.yaml"
    procedure.write_text(TWO_CHANGES.format(log=log, go=go).split("  - id: second")[0])
    run = start(tmp_path, "alice", procedure)
    try:
        wait_until(lambda: lines(log) == ["first"], "the change")
        kubectl(tmp_path, "delete", "lease", "runbook-tui")
        time.sleep(LEASE_SECONDS)
    finally:
        go.touch()
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, out + err  # nothing was stopped: the run did all it set out to
    (warning,) = [n for n in notices(tmp_path, "alice") if "was lost at" in n["text"]]
    assert warning["level"] == "warning"
    assert warning["text"].endswith("(it was deleted) before the run ended; the last change made was step first.")
