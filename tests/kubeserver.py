"""Helpers for tests against the lab's Kubernetes API server: a seeded cluster, a tiny job
controller, an exec handler and kubectl as a subprocess."""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from runbook_tui.lab.command_log import CommandLog
from runbook_tui.lab.kube.kubeconfig import write_kubeconfig
from runbook_tui.lab.kube.server import KubeAPIServer

NS = "mailserver"
TOKEN = "lab-token"


def kubectl_path() -> str:
    """kubectl, or skip locally / fail in CI (where it must be installed)."""
    path = shutil.which("kubectl")
    if path:
        return path
    if os.environ.get("CI") is None:
        pytest.skip("kubectl is not installed (Debian package kubernetes-client)")
    pytest.fail("kubectl is required in CI: install the Debian package kubernetes-client")
    raise AssertionError  # unreachable


async def lab_kubectl(lab, *args: str, namespace: str | None = NS, stdin: str | None = None,
                      timeout: float = 60) -> tuple[int, str, str]:
    """Stock kubectl against a running ``Lab`` (its kubeconfig; its own HOME and discovery cache,
    so nothing of the user's is read or written): (exit code, stdout, stderr)."""
    ns = ("-n", namespace) if namespace else ()
    proc = await asyncio.create_subprocess_exec(
        kubectl_path(), "--kubeconfig", str(lab.kubeconfig_path), *ns, *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else None, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "HOME": str(lab.dir), "KUBECACHEDIR": str(lab.dir / "kc")})
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin is not None else None), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


@dataclass
class Cluster:
    server: KubeAPIServer
    kubeconfig: Path
    log: CommandLog

    @property
    def url(self) -> str:
        return self.server.url

    async def kubectl(self, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
        """Run kubectl against the server without blocking the loop the server runs in."""
        proc = await asyncio.create_subprocess_exec(
            kubectl_path(), "--kubeconfig", str(self.kubeconfig), *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "KUBECACHEDIR": str(self.kubeconfig.parent / "kubecache"), "HOME": str(self.kubeconfig.parent)},
        )
        out, err = await asyncio.wait_for(proc.communicate(stdin), 20)
        return proc.returncode or 0, out.decode(), err.decode()


def _pod(name: str, labels: dict, *, ready: bool = True, ready_since: str = "2025-01-01T00:00:00Z",
         restarts: int = 0, phase: str = "Running", containers: tuple[str, ...] = ("docker-mailserver",),
         owner: dict | None = None) -> dict:
    meta: dict = {"name": name, "namespace": NS, "labels": labels}
    if owner:
        meta["ownerReferences"] = [owner]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": "k8s-node1", "containers": [{"name": c, "image": "mailserver:1"} for c in containers]},
        "status": {
            "phase": phase,
            "podIP": "10.244.1.5",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": ready_since}],
            "containerStatuses": [{"name": c, "ready": ready, "restartCount": restarts} for c in containers],
        },
    }


def seed(server: KubeAPIServer) -> None:
    """The mail-edge objects the procedures touch, in a small cluster."""
    put = server.store.put
    put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "metallb-system"}})
    put({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "k8s-node1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.20.101"}],
            "nodeInfo": {"kubeletVersion": "v1.32.4"},
        },
    })
    put({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "mailserver", "namespace": NS, "labels": {"app": "mailserver"}},
        "spec": {
            "type": "ClusterIP", "clusterIP": "10.103.108.217", "selector": {"app": "mailserver"},
            "ports": [{"name": n, "port": p, "protocol": "TCP", "targetPort": p}
                      for n, p in (("smtp", 25), ("smtps", 465), ("submission", 587), ("imaps", 993))],
        },
    })
    put({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "mailserver-proxy", "namespace": NS, "labels": {"app": "mailserver", "tier": "edge"}},
        "spec": {
            "type": "NodePort", "clusterIP": "10.96.7.7", "selector": {"app": "mailserver"},
            "ports": [{"name": "smtp", "port": 25, "targetPort": 2525, "nodePort": 30125, "protocol": "TCP"}],
        },
    })
    put({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "mailserver", "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "mailserver"}},
            "template": {"metadata": {"labels": {"app": "mailserver"}},
                         "spec": {"containers": [{"name": "docker-mailserver", "image": "mailserver:1"}]}},
        },
    })
    # Three candidates for deployment/mailserver: kubectl picks the ready one for exec.
    put(_pod("mailserver-aaa", {"app": "mailserver"}, ready=False, restarts=4))
    put(_pod("mailserver-bbb", {"app": "mailserver"}, ready=True, ready_since="2025-01-02T00:00:00Z"))
    put(_pod("mailserver-ccc", {"app": "mailserver"}, ready=True, ready_since="2025-01-01T00:00:00Z"))
    put(_pod("roundcube-0", {"app": "roundcube"}, containers=("roundcube", "sidecar")))
    put({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "email-roundtrip-monitor", "namespace": NS},
        "spec": {
            "schedule": "*/20 * * * *",
            "jobTemplate": {
                "metadata": {"labels": {"app": "email-roundtrip-monitor"}, "annotations": {"team": "mail"}},
                "spec": {
                    "backoffLimit": 0,
                    "template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "probe", "image": "probe:1"}]}},
                },
            },
        },
    })
    put({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "default", "namespace": "metallb-system"},
        "spec": {"addresses": ["10.0.20.200-10.0.20.220"], "autoAssign": True},
        "status": {"assignedIPv4": 2, "availableIPv4": 19},
    })


def install_job_controller(server: KubeAPIServer, delay: float = 0.3) -> None:
    """Enough of the job controller for the tests: a new Job gets a selector and one pod; after
    ``delay`` it completes, fails, or (label outcome=hang) runs forever."""
    store = server.store

    async def run(job: dict) -> None:
        meta = job["metadata"]
        uid = meta["uid"]
        labels = {"batch.kubernetes.io/controller-uid": uid, "job-name": meta["name"]}
        store.patch("batch/v1", "Job", meta["namespace"], meta["name"],
                    {"spec": {"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}},
                     "status": {"startTime": meta["creationTimestamp"], "active": 1}})
        owner = {"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"], "uid": uid, "controller": True}
        store.put(_pod(f"{meta['name']}-x1", labels, containers=("probe",), owner=owner))
        outcome = (meta.get("labels") or {}).get("outcome", "complete")
        if outcome == "hang":
            return
        await asyncio.sleep(delay)
        if outcome == "fail":
            cond = {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit"}
            status = {"failed": 1, "active": None, "conditions": [cond]}
        else:
            cond = {"type": "Complete", "status": "True", "reason": "Completed"}
            status = {"succeeded": 1, "active": None, "conditions": [cond]}
        if store.get("batch/v1", "Job", meta["namespace"], meta["name"]) is not None:
            store.patch("batch/v1", "Job", meta["namespace"], meta["name"], {"status": status})

    def hook(event_type: str, resource, obj: dict):
        if event_type == "ADDED" and resource.kind == "Job":
            return run(obj)
        return None

    server.on_change(hook)


def exec_handler(ns: str, pod: str, container: str, command: list[str]):
    """A few commands: echo, fail (exit 3), stream (two lines 0.4 s apart), sleep, whoami."""
    if command[0] == "stream":
        async def gen():
            yield ("stdout", "first\n")
            await asyncio.sleep(0.4)
            yield ("stdout", "second\n")
            yield ("stderr", "done")
            yield ("exit", "0")

        return gen()

    async def run():
        if command[0] == "echo":
            return " ".join(command[1:]) + "\n", "", 0
        if command[0] == "fail":
            return "partial\n", "something broke\n", 3
        if command[0] == "sleep":
            await asyncio.sleep(float(command[1]))
            return "", "", 0
        if command[0] == "whoami":
            return f"{ns}/{pod}/{container}\n", "", 0
        return "", f"sh: {command[0]}: not found\n", 127

    return run()


def log_provider(ns: str, pod: str, container: str, tail: int | None, since: int | None) -> str:
    lines = [f"{pod}/{container} line {i}" for i in range(1, 6)]
    if since is not None:
        lines.append(f"since={since}")
    return "\n".join(lines) + "\n"


async def start_cluster(tmp_path: Path, *, token: str | None = None) -> Cluster:
    log = CommandLog(tmp_path / "commands.jsonl")
    server = KubeAPIServer(command_log=log, target="cluster", token=token,
                           exec_classifier=lambda cmd: cmd[0] not in ("echo", "whoami"))
    seed(server)
    install_job_controller(server)
    server.set_exec_handler(exec_handler)
    server.set_log_provider(log_provider)
    await server.start()
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url, namespace=NS, token=token or TOKEN)
    return Cluster(server, kubeconfig, log)
