"""The mailserver's objects as the lab seeds them into its Kubernetes API server.

Names, addresses and statuses are those of the seed's cluster (``state`` holds the addresses
both sides share); ``seed_objects`` yields them in the order a fresh cluster gets them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from runbook_tui.lab.state import (
    ALT_PORTS,
    CLUSTER_IP,
    MAIL_PORTS,
    METALLB_IP,
    NAMESPACE,
    NODEPORTS,
    POOL_NAME,
    POOL_RANGE,
    LabState,
)

METALLB_NS = "metallb-system"
LB_ANNOTATION = "metallb.io/loadBalancerIPs"
CRONJOB = "email-roundtrip-monitor"
POD_NAME = "mailserver-6b8f9d7c54-x2k4p"
CONTAINER = "docker-mailserver"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def uuid_for(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, ".".join(parts)))


def svc_port(name: str, port: int, target: int | None = None, node_port: int | None = None) -> dict:
    p: dict[str, Any] = {"name": name, "protocol": "TCP", "port": port, "targetPort": target or port}
    if node_port:
        p["nodePort"] = node_port
    return p


def seed_objects(state: LabState) -> Iterator[dict]:
    """Namespaces, nodes, the two Services, the Deployment and its pod, the probe CronJob, the
    MetalLB pool."""
    for ns in (NAMESPACE, METALLB_NS):
        yield {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
               "status": {"phase": "Active"}}
    for name, n in state.nodes.items():
        yield node(name, n.ip, n.ready, n.worker)
    yield mailserver_service(state)
    yield {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "mailserver-proxy", "namespace": NAMESPACE,
                     "labels": {"app": "mailserver"}},
        "spec": {
            "type": "NodePort", "externalTrafficPolicy": "Cluster",
            "selector": {"app": "mailserver"}, "clusterIP": "10.105.44.93",
            "clusterIPs": ["10.105.44.93"], "ipFamilies": ["IPv4"],
            "ports": [
                svc_port(f"{svc}-proxy", MAIL_PORTS[svc], ALT_PORTS[svc], NODEPORTS[svc])
                for svc in MAIL_PORTS
            ],
        },
        "status": {"loadBalancer": {}},
    }
    labels = {"app": "mailserver"}
    yield {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "mailserver", "namespace": NAMESPACE, "labels": labels,
                     "generation": 1},
        "spec": {
            "replicas": 1, "selector": {"matchLabels": labels},
            "strategy": {"type": "Recreate"},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec()},
        },
        "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                   "updatedReplicas": 1, "observedGeneration": 1,
                   "conditions": [{"type": "Available", "status": "True",
                                   "reason": "MinimumReplicasAvailable"}]},
    }
    yield {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": POD_NAME, "namespace": NAMESPACE,
                     "labels": {**labels, "pod-template-hash": "6b8f9d7c54"}},
        "spec": {**pod_spec(), "nodeName": "k8s-node2"},
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
    }
    yield {
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
    }
    assigned, available = state.pool_counts()
    yield {
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": POOL_NAME, "namespace": METALLB_NS},
        "spec": {"addresses": [f"{POOL_RANGE[0]}-{POOL_RANGE[1]}"], "autoAssign": True,
                 "avoidBuggyIPs": False},
        "status": {"assignedIPv4": assigned, "assignedIPv6": 0,
                   "availableIPv4": available, "availableIPv6": 0},
    }


def node(name: str, ip: str, ready: bool, worker: bool) -> dict:
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
            "conditions": [{**cond, "lastHeartbeatTime": now(), "lastTransitionTime": now()}],
            "nodeInfo": {"kubeletVersion": "v1.32.4", "kubeProxyVersion": "v1.32.4",
                         "osImage": "Ubuntu 24.04.1 LTS", "bootID": uuid_for(name, "boot"),
                         "machineID": uuid_for(name, "machine").replace("-", ""),
                         "systemUUID": uuid_for(name, "system"),
                         "kernelVersion": "6.8.0-49-generic", "containerRuntimeVersion":
                         "containerd://1.7.24", "architecture": "amd64", "operatingSystem": "linux"},
        },
    }


def mailserver_service(state: LabState) -> dict:
    """The mailserver Service of ``state``'s type: LoadBalancer (the MetalLB address) or ClusterIP."""
    lb = state.service_type == "LoadBalancer"
    spec: dict[str, Any] = {
        "type": state.service_type, "selector": {"app": "mailserver"},
        "clusterIP": CLUSTER_IP, "clusterIPs": [CLUSTER_IP], "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack", "sessionAffinity": "None",
        "ports": [svc_port(svc, port, node_port=30025 + i if lb else None)
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


def pod_spec() -> dict:
    ports = sorted(set(MAIL_PORTS.values()) | set(ALT_PORTS.values()))
    return {
        "containers": [{
            "name": CONTAINER, "image": "ghcr.io/docker-mailserver/docker-mailserver:14.0.0",
            "ports": [{"containerPort": p, "protocol": "TCP"} for p in ports],
        }],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
    }
