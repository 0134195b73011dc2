"""Taking the team Lease costs one request when this machine last saw it free: the requests the
lab's API server received are counted. Someone else's write in between (stock kubectl, the
official client), a deleted Lease or a spoilt cache file cost a read, never the lock's
guarantees: the Lease is still taken only when free, and a holder is still named.
"""

from __future__ import annotations

import asyncio
import json
import stat

import pytest
from kubeserver import NS, start_cluster

from runbook_tui.language.inventory import KubeTarget
from runbook_tui.transports.kube.lease import ClusterLease, LeaseBusy
from runbook_tui.transports.kube.lease_memory import folder

LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"
ONE = f"{LEASES}/runbook-tui"
ME, ALSO_ME = "me@here (pid 1, run a)", "me@here (pid 2, run b)"


@pytest.fixture
async def cluster(tmp_path):
    """Without a bearer token: stock kubectl sends none over plain HTTP."""
    c = await start_cluster(tmp_path)
    yield c
    await c.server.stop()


@pytest.fixture
def requests(cluster) -> list[tuple[str, str]]:
    cluster.server.requests = []
    return cluster.server.requests


def lease(cluster) -> ClusterLease:
    """A fresh one each time, as a new run's process makes: what it knows is on disk."""
    return ClusterLease("cluster", KubeTarget(kubeconfig=str(cluster.kubeconfig)))


async def acquire(cluster, identity: str):
    taker = lease(cluster)
    try:
        return await asyncio.to_thread(taker.acquire, identity)
    finally:
        taker.close()


async def acquire_and_release(cluster, identity: str) -> None:
    taker = lease(cluster)
    try:
        assert await asyncio.to_thread(taker.acquire, identity) is None
        await asyncio.to_thread(taker.release, identity)
    finally:
        taker.close()


def lease_requests(requests: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(method, path) for method, path in requests if path.startswith(LEASES)]


def stored(cluster) -> dict:
    found = cluster.server.store.get("coordination.k8s.io/v1", "Lease", NS, "runbook-tui")
    assert found is not None
    return found


def coordination(cluster):
    from kubernetes import config
    from kubernetes.client import CoordinationV1Api

    return CoordinationV1Api(config.new_client_from_config(str(cluster.kubeconfig), persist_config=False))


async def test_taking_the_lease_after_our_release_is_one_put(cluster, requests):
    await acquire_and_release(cluster, ME)
    # The first run meets no Lease: a read (404), a create; the release is one write.
    assert lease_requests(requests) == [("GET", ONE), ("POST", LEASES), ("PUT", ONE)]
    (kept,) = folder().glob("*.json")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700

    requests.clear()
    assert await acquire(cluster, ALSO_ME) is None
    assert lease_requests(requests) == [("PUT", ONE)]
    spec = stored(cluster)["spec"]
    assert spec["holderIdentity"] == ALSO_ME and spec["leaseTransitions"] == 1
    assert spec["acquireTime"] == spec["renewTime"]
    assert not list(folder().glob("*.json")), "a remembered state is used once"


async def test_a_read_that_finds_it_free_is_remembered_too(cluster, requests):
    code, out, err = await cluster.kubectl("create", "--validate=false", "-n", NS, "-f", "-", stdin=json.dumps({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "runbook-tui"},
        "spec": {"leaseDurationSeconds": 30, "leaseTransitions": 4}}).encode())
    assert code == 0, err
    looker = lease(cluster)
    try:
        state = await asyncio.to_thread(looker.read)  # as home does, to say who holds it
    finally:
        looker.close()
    assert state is not None and state.holder == ""
    requests.clear()
    assert await acquire(cluster, ME) is None
    assert lease_requests(requests) == [("PUT", ONE)]
    assert stored(cluster)["spec"]["leaseTransitions"] == 5


async def test_someone_elses_write_since_costs_a_conflict_and_a_read(cluster, requests):
    await acquire_and_release(cluster, ME)
    # Another machine took it and let it go with stock kubectl: our remembered version is old.
    for holder in ('"carol@elsewhere"', "null"):
        code, out, err = await cluster.kubectl("patch", "lease", "runbook-tui", "-n", NS, "--type=merge",
                                               "-p", f'{{"spec":{{"holderIdentity":{holder}}}}}')
        assert code == 0, err
    before = stored(cluster)["metadata"]["resourceVersion"]
    requests.clear()
    assert await acquire(cluster, ALSO_ME) is None
    # The remembered write is refused (409), then today's way: read, judge, write.
    assert lease_requests(requests) == [("PUT", ONE), ("GET", ONE), ("PUT", ONE)]
    after = stored(cluster)
    assert after["spec"]["holderIdentity"] == ALSO_ME and after["spec"]["leaseTransitions"] == 1
    assert int(after["metadata"]["resourceVersion"]) == int(before) + 1, "one write got through"


async def test_a_holder_since_is_named_and_keeps_the_lease(cluster, requests):
    await acquire_and_release(cluster, ME)
    api = coordination(cluster)
    try:
        current = await asyncio.to_thread(api.read_namespaced_lease, "runbook-tui", NS)
        current.spec.holder_identity = "carol@elsewhere (pid 7, run c)"
        await asyncio.to_thread(api.replace_namespaced_lease, "runbook-tui", NS, current)
    finally:
        api.api_client.close()
    requests.clear()
    with pytest.raises(LeaseBusy) as busy:
        await acquire(cluster, ALSO_ME)
    assert str(busy.value) == ("the Lease mailserver/runbook-tui (target cluster, context lab) is held by "
                               "carol@elsewhere (pid 7, run c).")
    assert lease_requests(requests) == [("PUT", ONE), ("GET", ONE)]
    assert stored(cluster)["spec"]["holderIdentity"] == "carol@elsewhere (pid 7, run c)"
    # The stale version was dropped: asking again is a read alone.
    requests.clear()
    with pytest.raises(LeaseBusy):
        await acquire(cluster, ALSO_ME)
    assert lease_requests(requests) == [("GET", ONE)]


async def test_a_deleted_lease_is_created_again(cluster, requests):
    await acquire_and_release(cluster, ME)
    code, out, err = await cluster.kubectl("delete", "lease", "runbook-tui", "-n", NS)
    assert code == 0, err
    requests.clear()
    assert await acquire(cluster, ALSO_ME) is None
    # The remembered write meets 404; the read says the Lease is gone; it is created.
    assert lease_requests(requests) == [("PUT", ONE), ("GET", ONE), ("POST", LEASES)]
    spec = stored(cluster)["spec"]
    assert spec["holderIdentity"] == ALSO_ME and spec["leaseTransitions"] == 0


@pytest.mark.parametrize("spoilt", [b"{not json", b"\xff\xfe", b'{"lease": ["elsewhere", "ns", "runbook-tui"], '
                                    b'"resourceVersion": "1", "uid": "", "transitions": 0}',
                                    b'{"resourceVersion": 7}', b"[]"])
async def test_a_spoilt_cache_file_is_ignored(cluster, requests, spoilt):
    await acquire_and_release(cluster, ME)
    (kept,) = folder().glob("*.json")
    entry = json.loads(kept.read_text())
    assert entry["resourceVersion"] == stored(cluster)["metadata"]["resourceVersion"]
    kept.write_bytes(spoilt)
    requests.clear()
    assert await acquire(cluster, ALSO_ME) is None
    assert lease_requests(requests) == [("GET", ONE), ("PUT", ONE)]
    assert stored(cluster)["spec"]["holderIdentity"] == ALSO_ME


async def test_a_cache_folder_that_cannot_be_written_costs_only_the_read(cluster, requests, tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    await acquire_and_release(cluster, ME)
    requests.clear()
    assert await acquire(cluster, ALSO_ME) is None
    assert lease_requests(requests) == [("GET", ONE), ("PUT", ONE)]
