"""The lab's Kubernetes side: the mailserver objects on the KubeAPIServer, and the controllers
that make them behave (MetalLB, the Service type rules, Jobs and their pods).

Controllers run from the store's ``on_change`` hook and write only when something differs, so
their own writes settle after one round. What the pfSense side needs to know (Service type and
LoadBalancer IP, NodePorts, node readiness) is mirrored into the shared LabState.
"""

from __future__ import annotations

import asyncio
import random
import shlex
import string
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runbook_tui.lab.kube.mail_log import mail_log
from runbook_tui.lab.shell import Result, Shell
from runbook_tui.lab.state import (
    ALT_PORTS,
    CLUSTER_IP,
    MAIL_PORTS,
    METALLB_IP,
    NAMESPACE,
    NODEPORTS,
    OTHER_LB_IPS,
    POOL_NAME,
    POOL_RANGE,
    LabState,
)

METALLB_NS = "metallb-system"
LB_ANNOTATION = "metallb.io/loadBalancerIPs"
CRONJOB = "email-roundtrip-monitor"
POD_NAME = "mailserver-6b8f9d7c54-x2k4p"
CONTAINER = "docker-mailserver"
JOB_DELAY = 0.5  # seconds before a probe Job finishes
PROBE_SECONDS = 20.3


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uuid(*parts: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_DNS, ".".join(parts)))


def _svc_port(name: str, port: int, target: int | None = None, node_port: int | None = None) -> dict:
    p: dict[str, Any] = {"name": name, "protocol": "TCP", "port": port, "targetPort": target or port}
    if node_port:
        p["nodePort"] = node_port
    return p


READ_ONLY_EXEC = {
    "ss", "cat", "grep", "egrep", "ls", "head", "tail", "wc", "echo", "hostname", "awk", "sort",
    "cut", "uniq", "test", "[", "true", "false", "date", "pwd", "whoami", "postconf", "doveconf",
}


def exec_is_mutating(command: list[str]) -> bool:
    """For the command log: an exec that only reads (``ss -ltn``, ``sh -c 'ss | grep'``)."""
    if command[:1] and command[0] in ("sh", "bash", "/bin/sh", "/bin/bash") and command[1:2] == ["-c"]:
        from runbook_tui.lab.shell import ShellSyntaxError, parse

        try:
            chain = parse(" ".join(command[2:]))
        except ShellSyntaxError:
            return True
        cmds = [c for _, pipeline in chain for c in pipeline]
        return any(c.redirects and any(op in (">", ">>", "2>", "2>>") and t != "/dev/null"
                                    for op, t in c.redirects)
                   or c.words[0].text not in READ_ONLY_EXEC for c in cmds)
    return not command or command[0] not in READ_ONLY_EXEC


class Cluster:
    """Seeds the API server's store and keeps the lab state in step with it."""

    def __init__(self, api: Any, state: LabState, root: Path):
        self.api = api
        self.store = api.store
        self.state = state
        self.root = Path(root)  # the mailserver container's file tree
        self.job_logs: dict[str, str] = {}  # pod name -> log
        self._started_jobs: set[str] = set()
        self._next_node_port = 31425

    # -- seeding -----------------------------------------------------------------------
    def seed(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "etc").mkdir(exist_ok=True)
        (self.root / "etc/hostname").write_text("mail\n", encoding="utf-8")
        put = self.store.put
        for ns in (NAMESPACE, METALLB_NS):
            put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                 "status": {"phase": "Active"}})
        for name, node in self.state.nodes.items():
            put(self._node(name, node.ip, node.ready, node.worker))
        put(self._mailserver_service())
        put({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "mailserver-proxy", "namespace": NAMESPACE,
                         "labels": {"app": "mailserver"}},
            "spec": {
                "type": "NodePort", "externalTrafficPolicy": "Cluster",
                "selector": {"app": "mailserver"}, "clusterIP": "10.105.44.93",
                "clusterIPs": ["10.105.44.93"], "ipFamilies": ["IPv4"],
                "ports": [
                    _svc_port(f"{svc}-proxy", MAIL_PORTS[svc], ALT_PORTS[svc], NODEPORTS[svc])
                    for svc in MAIL_PORTS
                ],
            },
            "status": {"loadBalancer": {}},
        })
        labels = {"app": "mailserver"}
        put({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "mailserver", "namespace": NAMESPACE, "labels": labels,
                         "generation": 1},
            "spec": {
                "replicas": 1, "selector": {"matchLabels": labels},
                "strategy": {"type": "Recreate"},
                "template": {"metadata": {"labels": labels}, "spec": self._pod_spec()},
            },
            "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                       "updatedReplicas": 1, "observedGeneration": 1,
                       "conditions": [{"type": "Available", "status": "True",
                                       "reason": "MinimumReplicasAvailable"}]},
        })
        put({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": POD_NAME, "namespace": NAMESPACE,
                         "labels": {**labels, "pod-template-hash": "6b8f9d7c54"}},
            "spec": {**self._pod_spec(), "nodeName": "k8s-node2"},
            "status": {
                "phase": "Running", "hostIP": "10.0.20.102", "podIP": "10.244.2.37",
                "startTime": "2026-04-19T10:12:03Z",
                "conditions": [{"type": t, "status": "True", "lastTransitionTime": "2026-04-19T10:12:41Z"}
                               for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                "containerStatuses": [{
                    "name": CONTAINER, "ready": True, "started": True, "restartCount": 0,
                    "image": "ghcr.io/docker-mailserver/docker-mailserver:14.0.0",
                    "imageID": "ghcr.io/docker-mailserver/docker-mailserver@sha256:3c1f0e",
                    "state": {"running": {"startedAt": "2026-04-19T10:12:05Z"}},
                }],
            },
        })
        put({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": CRONJOB, "namespace": NAMESPACE},
            "spec": {
                "schedule": "*/30 * * * *", "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
                "suspend": False,
                "jobTemplate": {
                    "metadata": {"labels": {"app": CRONJOB}},
                    "spec": {
                        "backoffLimit": 0, "activeDeadlineSeconds": 120,
                        "template": {
                            "metadata": {"labels": {"app": CRONJOB}},
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [{
                                    "name": "roundtrip", "image": "python:3.12-alpine",
                                    "command": ["python", "/scripts/roundtrip.py"],
                                    "env": [{"name": "MX_HOST", "value": "mail.viktorbarzin.me"},
                                            {"name": "IMAP_HOST", "value": "mailserver.mailserver.svc.cluster.local"}],
                                }],
                            },
                        },
                    },
                },
            },
            "status": {"lastScheduleTime": "2026-11-24T15:30:00Z"},
        })
        assigned, available = self.state.pool_counts()
        put({
            "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": POOL_NAME, "namespace": METALLB_NS},
            "spec": {"addresses": [f"{POOL_RANGE[0]}-{POOL_RANGE[1]}"], "autoAssign": True,
                     "avoidBuggyIPs": False},
            "status": {"assignedIPv4": assigned, "assignedIPv6": 0,
                       "availableIPv4": available, "availableIPv6": 0},
        })
        self.api.on_change(self.on_change)
        self.api.set_log_provider(self.logs)
        self.api.set_exec_handler(self.exec)

    def _node(self, name: str, ip: str, ready: bool, worker: bool) -> dict:
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
        if not worker:
            labels["node-role.kubernetes.io/control-plane"] = ""
        cond = (
            {"type": "Ready", "status": "True", "reason": "KubeletReady",
             "message": "kubelet is posting ready status"}
            if ready else
            {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
             "message": "Kubelet stopped posting node status."}
        )
        return {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "spec": {"podCIDR": f"10.244.{ip.rsplit('.', 1)[1][-1]}.0/24",
                     **({} if ready else {"taints": [{"key": "node.kubernetes.io/unreachable",
                                                       "effect": "NoSchedule"}]})},
            "status": {
                "addresses": [{"type": "InternalIP", "address": ip},
                              {"type": "Hostname", "address": name}],
                "conditions": [{**cond, "lastHeartbeatTime": _now(), "lastTransitionTime": _now()}],
                "nodeInfo": {"kubeletVersion": "v1.32.4", "kubeProxyVersion": "v1.32.4",
                             "osImage": "Ubuntu 24.04.1 LTS", "bootID": _uuid(name, "boot"),
                             "machineID": _uuid(name, "machine").replace("-", ""),
                             "systemUUID": _uuid(name, "system"),
                             "kernelVersion": "6.8.0-49-generic", "containerRuntimeVersion":
                             "containerd://1.7.24", "architecture": "amd64", "operatingSystem": "linux"},
            },
        }

    def _mailserver_service(self) -> dict:
        lb = self.state.service_type == "LoadBalancer"
        spec: dict[str, Any] = {
            "type": self.state.service_type, "selector": {"app": "mailserver"},
            "clusterIP": CLUSTER_IP, "clusterIPs": [CLUSTER_IP], "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack", "sessionAffinity": "None",
            "ports": [_svc_port(svc, port, node_port=30025 + i if lb else None)
                      for i, (svc, port) in enumerate(MAIL_PORTS.items())],
        }
        meta: dict[str, Any] = {"name": "mailserver", "namespace": NAMESPACE,
                                "labels": {"app": "mailserver"}}
        status: dict[str, Any] = {"loadBalancer": {}}
        if lb:
            meta["annotations"] = {LB_ANNOTATION: METALLB_IP}
            spec["externalTrafficPolicy"] = "Local"
            spec["healthCheckNodePort"] = 32117
            status = {"loadBalancer": {"ingress": [{"ip": METALLB_IP, "ipMode": "VIP"}]}}
        return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec,
                "status": status}

    def _pod_spec(self) -> dict:
        ports = sorted(set(MAIL_PORTS.values()) | set(ALT_PORTS.values()))
        return {
            "containers": [{
                "name": CONTAINER, "image": "ghcr.io/docker-mailserver/docker-mailserver:14.0.0",
                "ports": [{"containerPort": p, "protocol": "TCP"} for p in ports],
            }],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
        }

    # -- controllers -------------------------------------------------------------------
    def on_change(self, event: str, rtype: Any, obj: dict) -> Any:
        meta = obj.get("metadata", {})
        ns, name = meta.get("namespace"), meta.get("name")
        if rtype.kind == "Service" and ns == NAMESPACE:
            if name == "mailserver":
                self._service(event, obj)
            elif name == "mailserver-proxy":
                self._proxy(event, obj)
        elif rtype.kind == "Node":
            node = self.state.nodes.get(name)
            if node is not None:
                conds = obj.get("status", {}).get("conditions") or []
                node.ready = event != "DELETED" and any(
                    c.get("type") == "Ready" and c.get("status") == "True" for c in conds
                )
        elif rtype.kind == "Job" and event == "ADDED":
            return self._job_started(obj)
        elif rtype.kind == "IPAddressPool" and event != "DELETED" and name == POOL_NAME:
            self._sync_pool()
        return None

    def _service(self, event: str, obj: dict) -> None:
        if event == "DELETED":
            self.state.service_type, self.state.lb_ip = "", None
            self._sync_pool()
            return
        spec = obj.get("spec") or {}
        kind = spec.get("type", "ClusterIP")
        self.state.service_type = kind
        fix: dict[str, Any] = {}
        ports = spec.get("ports") or []
        if kind == "ClusterIP":
            # The API server drops type-dependent fields when the type no longer needs them.
            if any("nodePort" in p for p in ports):
                fix["ports"] = [{k: v for k, v in p.items() if k != "nodePort"} for p in ports]
            if "externalTrafficPolicy" in spec or "healthCheckNodePort" in spec:
                fix["externalTrafficPolicy"] = None
                fix["healthCheckNodePort"] = None
        elif kind in ("NodePort", "LoadBalancer"):
            if any("nodePort" not in p for p in ports):
                fix["ports"] = [p if "nodePort" in p else {**p, "nodePort": self._alloc_node_port()}
                                for p in ports]
            if kind == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local" \
                    and "healthCheckNodePort" not in spec:
                fix["healthCheckNodePort"] = 32117
            if "externalTrafficPolicy" not in spec:
                fix["externalTrafficPolicy"] = "Cluster"
        ip = self._metallb_ip(obj) if kind == "LoadBalancer" else None
        self.state.lb_ip = ip
        current = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        wanted = [{"ip": ip, "ipMode": "VIP"}] if ip else []
        patch: dict[str, Any] = {}
        if fix:
            patch["spec"] = fix
        if [i.get("ip") for i in current] != [i["ip"] for i in wanted]:
            patch["status"] = {"loadBalancer": {"ingress": wanted or None}}
        if patch:
            self.store.patch("v1", "Service", NAMESPACE, "mailserver", patch, "merge")
        self._sync_pool()

    def _metallb_ip(self, svc: dict) -> str | None:
        """MetalLB: the requested address if it is in the pool and free, else the next free."""
        import ipaddress

        lo, hi = (int(ipaddress.ip_address(a)) for a in POOL_RANGE)
        wanted = ((svc["metadata"].get("annotations") or {}).get(LB_ANNOTATION) or "").split(",")[0]
        wanted = wanted.strip() or (svc.get("spec") or {}).get("loadBalancerIP", "")
        if wanted:
            try:
                n = int(ipaddress.ip_address(wanted))
            except ValueError:
                return None
            return wanted if lo <= n <= hi and wanted not in OTHER_LB_IPS else None
        for n in range(lo, hi + 1):
            ip = str(ipaddress.ip_address(n))
            if ip not in OTHER_LB_IPS:
                return ip
        return None

    def _alloc_node_port(self) -> int:
        self._next_node_port += 1
        return self._next_node_port

    def _proxy(self, event: str, obj: dict) -> None:
        ports = [] if event == "DELETED" else (obj.get("spec") or {}).get("ports") or []
        self.state.proxy_nodeports = {
            int(p["targetPort"]): int(p["nodePort"])
            for p in ports
            if p.get("nodePort") and isinstance(p.get("targetPort"), int)
        }

    def _sync_pool(self) -> None:
        pool = self.store.get("metallb.io/v1beta1", "IPAddressPool", METALLB_NS, POOL_NAME)
        if pool is None:
            return
        assigned, available = self.state.pool_counts()
        status = pool.get("status") or {}
        if status.get("assignedIPv4") != assigned or status.get("availableIPv4") != available:
            self.store.patch("metallb.io/v1beta1", "IPAddressPool", METALLB_NS, POOL_NAME,
                             {"status": {"assignedIPv4": assigned, "availableIPv4": available}})

    # -- jobs ----------------------------------------------------------------------------
    def _job_started(self, job: dict) -> Any:
        meta = job["metadata"]
        if meta["uid"] in self._started_jobs or job.get("status", {}).get("completionTime"):
            return None
        self._started_jobs.add(meta["uid"])
        ns, name = meta["namespace"], meta["name"]
        template = (job.get("spec") or {}).get("template") or {}
        suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        pod_name = f"{name}-{suffix}"
        labels = {**(template.get("metadata", {}).get("labels") or {}),
                  "batch.kubernetes.io/job-name": name, "job-name": name,
                  "batch.kubernetes.io/controller-uid": meta["uid"], "controller-uid": meta["uid"]}
        self.store.put({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": ns, "labels": labels,
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                                              "uid": meta["uid"], "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": {**(template.get("spec") or {}), "nodeName": "k8s-node3"},
            "status": {"phase": "Running", "startTime": _now(), "podIP": "10.244.3.112",
                       "hostIP": "10.0.20.103",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": c.get("name", "main"), "ready": True,
                                              "restartCount": 0, "image": c.get("image", ""),
                                              "imageID": c.get("image", "") + "@sha256:9e4f1c",
                                              "state": {"running": {"startedAt": _now()}}}
                                             for c in (template.get("spec") or {}).get("containers", [])]},
        })
        self.job_logs[pod_name] = ""
        # As the API server defaults it: the Job selects its pods by its own uid.
        uid_labels = {"batch.kubernetes.io/controller-uid": meta["uid"], "controller-uid": meta["uid"],
                      "batch.kubernetes.io/job-name": name, "job-name": name}
        spec_fix = {}
        if not (job.get("spec") or {}).get("selector"):
            spec_fix = {"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": meta["uid"]}},
                        "template": {"metadata": {"labels": uid_labels}}}
        self.store.patch("batch/v1", "Job", ns, name,
                         {"spec": spec_fix, "status": {"active": 1, "ready": 1, "startTime": _now()}})
        return self._finish_job(ns, name, meta["uid"], pod_name)

    def _is_probe(self, job: dict) -> bool:
        refs = job["metadata"].get("ownerReferences") or []
        labels = job["metadata"].get("labels") or {}
        return labels.get("app") == CRONJOB or any(r.get("name") == CRONJOB for r in refs)

    async def _finish_job(self, ns: str, name: str, uid: str, pod_name: str) -> None:
        await asyncio.sleep(JOB_DELAY)
        job = self.store.get("batch/v1", "Job", ns, name)
        if job is None or job["metadata"]["uid"] != uid:
            return  # deleted meanwhile
        ok, log = (self.probe() if self._is_probe(job) else (True, ""))
        self.job_logs[pod_name] = log
        now = _now()
        if self.store.get("v1", "Pod", ns, pod_name) is not None:
            self.store.patch("v1", "Pod", ns, pod_name, {"status": {
                "phase": "Succeeded" if ok else "Failed",
                "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted"}],
                "containerStatuses": [{"name": "roundtrip", "ready": False, "restartCount": 0,
                                       "image": "python:3.12-alpine",
                                       "imageID": "python:3.12-alpine@sha256:9e4f1c",
                                       "state": {"terminated": {"exitCode": 0 if ok else 1,
                                                                "reason": "Completed" if ok else "Error",
                                                                "finishedAt": now}}}],
            }})
        if ok:
            status = {"active": None, "ready": 0, "succeeded": 1, "completionTime": now,
                      "conditions": [
                          {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
                           "message": "Reached expected number of succeeded pods",
                           "lastProbeTime": now, "lastTransitionTime": now},
                          {"type": "Complete", "status": "True", "reason": "CompletionsReached",
                           "message": "Reached expected number of succeeded pods",
                           "lastProbeTime": now, "lastTransitionTime": now}]}
        else:
            status = {"active": None, "ready": 0, "failed": 1,
                      "conditions": [
                          {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
                           "message": "Job has reached the specified backoff limit",
                           "lastProbeTime": now, "lastTransitionTime": now},
                          {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                           "message": "Job has reached the specified backoff limit",
                           "lastProbeTime": now, "lastTransitionTime": now}]}
        self.store.patch("batch/v1", "Job", ns, name, {"status": status})

    def probe(self) -> tuple[bool, str]:
        """The round trip: Brevo -> MX (WAN:25) -> ... -> mailserver, then an IMAP fetch."""
        t = time.time()
        stamp = lambda dt: datetime.fromtimestamp(t + dt, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
        rid = f"rt-{int(t)}"
        lines = [
            f"{stamp(0)} INFO sending {rid} via Brevo API to smoke-test@viktorbarzin.me",
            f"{stamp(0.4)} INFO Brevo accepted {rid} (messageId <{int(t)}.{rid}@smtp-relay.mailin.fr>)",
            f"{stamp(0.4)} INFO polling IMAP mailserver.mailserver.svc.cluster.local:993 for {rid}",
        ]
        ok, why = self.state.external_path()
        if self.state.probe_fails:
            ok, why = False, "test message never reached the INBOX"
        if ok:
            lines += [f"{stamp(PROBE_SECONDS)} INFO found {rid} in INBOX, deleting",
                      f"{stamp(PROBE_SECONDS)} Round-trip SUCCESS in {PROBE_SECONDS}s"]
        else:
            lines += [f"{stamp(60.4)} ERROR {rid} not found in INBOX after 60s",
                      f"{stamp(60.4)} Round-trip FAILED: no reply from MX within 60s ({why})"]
        return ok, "\n".join(lines) + "\n"

    # -- pod logs and exec -----------------------------------------------------------------
    def logs(self, ns: str, pod: str, container: str, tail: int | None, since: int | None) -> str:
        if pod in self.job_logs:
            return self.job_logs[pod]
        if pod != POD_NAME:
            return ""
        return mail_log(self.state, since)

    async def exec(self, ns: str, pod: str, container: str, command: list[str]) -> tuple[str, str, int]:
        if pod != POD_NAME:
            return "", f'OCI runtime exec failed: exec failed: unable to start container process: exec: "{command[0]}": executable file not found in $PATH: unknown\n', 127
        shell = Shell(self.root, {"ss": self._ss, "hostname": lambda sh, a, i: Result("mail\n")},
                      flavor="linux", home="/", user="root")
        if command[0] in ("sh", "bash", "/bin/sh", "/bin/bash") and command[1:2] == ["-c"] and len(command) > 2:
            res = shell.run(command[2])
        elif command[0] in shell.commands:
            res = shell.run(shlex.join(command))
        else:
            return "", (
                "OCI runtime exec failed: exec failed: unable to start container process: "
                f'exec: "{command[0]}": executable file not found in $PATH: unknown\n'
            ), 127
        return res.stdout, res.stderr, res.code

    def _ss(self, sh: Shell, args: list[str], stdin: str) -> Result:
        """iproute2's ``ss -ltn``, column for column."""
        lines = ["State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess"]
        for port in sorted(self.state.container_ports, key=str):
            lines.append(f"LISTEN 0      100    {'0.0.0.0':>13}:{port:<5} {'0.0.0.0':>12}:*{' ' * 10}")
        return Result("\n".join(lines) + "\n")
