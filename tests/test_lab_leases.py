"""The lab's Kubernetes API server serves Leases as the real one does, and the kinds of the team
deployment (ServiceAccount, Secret, Role, RoleBinding) with the real API's defaulting and checks.
Spoken to by the official client and stock kubectl."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from kubeserver import NS, start_cluster

from runbook_tui.lab.kube.leases import is_lease_request


@pytest.fixture
async def cluster(tmp_path):
    c = await start_cluster(tmp_path)
    yield c
    await c.server.stop()


def coordination(cluster):
    from kubernetes import config
    from kubernetes.client import CoordinationV1Api

    return CoordinationV1Api(config.new_client_from_config(str(cluster.kubeconfig), persist_config=False))


def lease_body(holder: str, rv: str | None = None, seconds: int = 30) -> dict:
    meta = {"name": "runbook-tui", "namespace": NS, **({"resourceVersion": rv} if rv else {})}
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": seconds,
                     "renewTime": "2026-11-30T18:00:00.000000Z"}}


async def test_two_writers_with_one_resource_version_only_one_wins(cluster):
    from kubernetes.client.exceptions import ApiException

    api = coordination(cluster)
    created = await asyncio.to_thread(api.create_namespaced_lease, NS, lease_body("alice"))
    rv = created.metadata.resource_version
    won = await asyncio.to_thread(api.replace_namespaced_lease, "runbook-tui", NS, lease_body("bob", rv))
    assert won.spec.holder_identity == "bob"
    with pytest.raises(ApiException) as lost:
        await asyncio.to_thread(api.replace_namespaced_lease, "runbook-tui", NS, lease_body("carol", rv))
    status = json.loads(lost.value.body)
    assert lost.value.status == 409 and status["kind"] == "Status" and status["reason"] == "Conflict"
    assert status["details"] == {"name": "runbook-tui", "group": "coordination.k8s.io", "kind": "leases"}
    assert "the object has been modified" in status["message"]
    with pytest.raises(ApiException) as again:
        await asyncio.to_thread(api.create_namespaced_lease, NS, lease_body("dave"))
    assert again.value.status == 409 and json.loads(again.value.body)["reason"] == "AlreadyExists"
    # A merge patch too (kubectl's way of writing one field).
    patched = await asyncio.to_thread(api.patch_namespaced_lease, "runbook-tui", NS, {"spec": {"holderIdentity": None}})
    assert patched.spec.holder_identity is None and patched.spec.lease_duration_seconds == 30


async def test_lease_spec_is_checked_and_writes_are_logged_as_reads(cluster):
    from kubernetes.client.exceptions import ApiException

    api = coordination(cluster)
    with pytest.raises(ApiException) as bad:
        await asyncio.to_thread(api.create_namespaced_lease, NS, lease_body("alice", seconds=0))
    status = json.loads(bad.value.body)
    assert bad.value.status == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "spec.leaseDurationSeconds"
    await asyncio.to_thread(api.create_namespaced_lease, NS, lease_body("alice"))
    writes = [e for e in cluster.log.entries() if is_lease_request(e["command"])]
    assert [e["command"].split()[0] for e in writes] == ["POST", "POST"]
    assert not any(e["mutating"] for e in writes), "a run's lock is not a change to the mail edge"

    code, out, err = await cluster.kubectl("get", "lease", "runbook-tui", "-n", NS, "-o", "yaml")
    assert code == 0, err
    assert "holderIdentity: alice" in out and "kind: Lease" in out
    code, out, err = await cluster.kubectl("get", "leases", "-n", NS)
    assert code == 0 and out.split()[:4] == ["NAME", "HOLDER", "AGE", "runbook-tui"] and out.split()[4] == "alice", out + err
    code, out, err = await cluster.kubectl("api-resources", "--api-group=coordination.k8s.io")
    assert code == 0 and "leases" in out, err


async def test_team_kinds_get_the_real_apis_defaulting_and_checks(cluster):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ssh"},
              "stringData": {"id_ed25519": "KEY"}, "data": {"known_hosts": base64.b64encode(b"host").decode()}}
    code, out, err = await cluster.kubectl("apply", "--validate=false", "-n", NS, "-f", "-",
                                           stdin=json.dumps(secret).encode())
    assert code == 0, err
    stored = cluster.server.store.get("v1", "Secret", NS, "ssh")
    assert stored is not None and "stringData" not in stored and stored["type"] == "Opaque"
    assert {k: base64.b64decode(v) for k, v in stored["data"].items()} == {"id_ed25519": b"KEY", "known_hosts": b"host"}

    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"},
            "rules": [{"apiGroups": [""], "resources": ["pods"]}]}
    code, out, err = await cluster.kubectl("apply", "--validate=false", "-n", NS, "-f", "-",
                                           stdin=json.dumps(role).encode())
    assert code != 0 and "rules[0].verbs: Required value" in err
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "b"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Rolle", "name": "r"}, "subjects": []}
    code, out, err = await cluster.kubectl("apply", "--validate=false", "-n", NS, "-f", "-",
                                           stdin=json.dumps(binding).encode())
    # assumption: apimachinery's field.NotSupported wording, values quoted as Go's %q quotes them
    assert code != 0 and 'roleRef.kind: Unsupported value: "Rolle": supported values: "ClusterRole", "Role"' in err
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "validate"}}
    code, out, err = await cluster.kubectl("apply", "--validate=false", "-n", NS, "-f", "-",
                                           stdin=json.dumps(sa).encode())
    assert code == 0 and "serviceaccount/validate created" in out, err
