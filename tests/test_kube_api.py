"""The lab's Kubernetes API server, over raw HTTP and through kubectl."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from kubeserver import NS, TOKEN, Cluster, kubectl_path, start_cluster

from runbook_tui.lab.kube.patch import (
    PatchError,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from runbook_tui.lab.kube.server import KubeAPIServer

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SVC = f"/api/v1/namespaces/{NS}/services"


@pytest.fixture
async def cluster(tmp_path):
    c = await start_cluster(tmp_path)
    yield c
    await c.server.stop()


@pytest.fixture
async def http(cluster):
    async with aiohttp.ClientSession(cluster.url, headers=AUTH) as session:
        yield session


async def call(http, method: str, path: str, body=None, *, ctype: str = "application/json", **kw):
    data = None if body is None else (body if isinstance(body, (str, bytes)) else json.dumps(body))
    headers = {"Content-Type": ctype, **kw.pop("headers", {})}
    async with http.request(method, path, data=data, headers=headers, **kw) as resp:
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


# --- discovery ------------------------------------------------------------------------------


async def test_discovery_documents(http):
    status, version = await call(http, "GET", "/version")
    assert status == 200 and version["major"] == "1" and version["gitVersion"].startswith("v1.")
    _, api = await call(http, "GET", "/api")
    assert api["kind"] == "APIVersions" and api["versions"] == ["v1"]
    _, core = await call(http, "GET", "/api/v1")
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["services"]["shortNames"] == ["svc"] and by_name["services"]["namespaced"] is True
    assert by_name["nodes"]["namespaced"] is False and by_name["nodes"]["shortNames"] == ["no"]
    assert {"pods/log", "pods/exec", "pods/status", "services/status"} <= set(by_name)
    _, groups = await call(http, "GET", "/apis")
    names = {g["name"]: g for g in groups["groups"]}
    assert {"apps", "batch", "metallb.io"} <= set(names)
    assert names["metallb.io"]["preferredVersion"] == {"groupVersion": "metallb.io/v1beta1", "version": "v1beta1"}
    _, batch = await call(http, "GET", "/apis/batch/v1")
    assert {r["name"]: r.get("shortNames") for r in batch["resources"] if "/" not in r["name"]} == {
        "jobs": None, "cronjobs": ["cj"]}
    status, _ = await call(http, "GET", "/apis/nope.io/v1")
    assert status == 404


# --- CRUD, errors -----------------------------------------------------------------------------


async def test_create_get_conflict_replace_delete(http, cluster):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}}
    status, made = await call(http, "POST", f"/api/v1/namespaces/{NS}/configmaps", body)
    assert status == 201
    meta = made["metadata"]
    assert meta["namespace"] == NS and meta["generation"] == 1 and len(meta["uid"]) == 36
    assert meta["creationTimestamp"].endswith("Z") and int(meta["resourceVersion"]) > 0

    status, err = await call(http, "POST", f"/api/v1/namespaces/{NS}/configmaps", body)
    assert status == 409
    assert err == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'configmaps "cfg" already exists', "reason": "AlreadyExists",
        "details": {"name": "cfg", "group": "", "kind": "configmaps"}, "code": 409,
    }

    replaced = {**made, "data": {"b": "2"}}
    status, new = await call(http, "PUT", f"/api/v1/namespaces/{NS}/configmaps/cfg", replaced)
    assert status == 200 and new["data"] == {"b": "2"} and new["metadata"]["uid"] == meta["uid"]
    assert int(new["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    status, err = await call(http, "PUT", f"/api/v1/namespaces/{NS}/configmaps/cfg", replaced)  # stale rv
    assert status == 409 and err["reason"] == "Conflict" and "has been modified" in err["message"]

    status, gone = await call(http, "DELETE", f"/api/v1/namespaces/{NS}/configmaps/cfg")
    assert status == 200 and gone["metadata"]["name"] == "cfg"
    status, err = await call(http, "GET", f"/api/v1/namespaces/{NS}/configmaps/cfg")
    assert status == 404 and err["message"] == 'configmaps "cfg" not found' and err["reason"] == "NotFound"


async def test_invalid_bodies(http):
    status, err = await call(http, "POST", SVC, {"apiVersion": "v1", "kind": "Service", "metadata": {}})
    assert status == 422 and err["reason"] == "Invalid"
    assert err["message"] == 'Service "" is invalid: metadata.name: Required value: name or generateName is required'
    status, err = await call(http, "POST", SVC, {"metadata": {"name": "Bad_Name"}})
    assert status == 422 and "RFC 1123" in err["message"]
    status, err = await call(http, "POST", SVC, "{not json")
    assert status == 400 and err["kind"] == "Status"
    status, err = await call(http, "POST", "/api/v1/namespaces/nowhere/services", {"metadata": {"name": "x"}})
    assert status == 404 and err["message"] == 'namespaces "nowhere" not found'
    status, err = await call(http, "POST", SVC, {"apiVersion": "apps/v1", "kind": "Service", "metadata": {"name": "x"}})
    assert status == 400 and "does not match the expected API version" in err["message"]


async def test_cluster_scoped_and_generate_name(http):
    status, node = await call(http, "GET", "/api/v1/nodes/k8s-node1")
    assert status == 200 and "namespace" not in node["metadata"]
    status, made = await call(http, "POST", f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"generateName": "probe-"}})
    assert status == 201 and made["metadata"]["name"].startswith("probe-") and len(made["metadata"]["name"]) == 11


async def test_selectors(http):
    async def names(query: str, path: str = f"/api/v1/namespaces/{NS}/pods") -> list[str]:
        status, body = await call(http, "GET", f"{path}?{query}")
        assert status == 200, body
        return [i["metadata"]["name"] for i in body["items"]]

    assert await names("labelSelector=app%3Dmailserver") == ["mailserver-aaa", "mailserver-bbb", "mailserver-ccc"]
    assert await names("labelSelector=app%3D%3Droundcube") == ["roundcube-0"]
    assert await names("labelSelector=app!%3Dmailserver") == ["roundcube-0"]
    assert await names("labelSelector=app+in+(roundcube,nothing)") == ["roundcube-0"]
    assert await names("labelSelector=app+notin+(mailserver)") == ["roundcube-0"]
    assert await names("labelSelector=tier", SVC) == ["mailserver-proxy"]
    assert await names("labelSelector=!tier", SVC) == ["mailserver"]
    assert await names("labelSelector=app%3Dmailserver,tier%3Dedge", SVC) == ["mailserver-proxy"]
    assert await names("fieldSelector=metadata.name%3Dmailserver-bbb") == ["mailserver-bbb"]
    assert await names("fieldSelector=metadata.name!%3Dmailserver-bbb,status.phase%3DRunning") == [
        "mailserver-aaa", "mailserver-ccc", "roundcube-0"]
    # Without a namespace: every namespace.
    status, body = await call(http, "GET", "/apis/metallb.io/v1beta1/ipaddresspools")
    assert [i["metadata"]["namespace"] for i in body["items"]] == ["metallb-system"]
    assert body["kind"] == "IPAddressPoolList" and body["apiVersion"] == "metallb.io/v1beta1"


# --- patches ------------------------------------------------------------------------------------


async def test_patch_types_over_http(http):
    path = f"{SVC}/mailserver"
    status, svc = await call(http, "PATCH", path, {"metadata": {"labels": {"app": None, "x": "1"}}},
                             ctype="application/merge-patch+json")
    assert status == 200 and svc["metadata"]["labels"] == {"x": "1"}

    status, svc = await call(http, "PATCH", path, {"spec": {"ports": [{"port": 25, "targetPort": 2525},
                                                                   {"port": 2526, "name": "alt"}]}},
                             ctype="application/strategic-merge-patch+json")
    assert status == 200
    ports = {p["port"]: p for p in svc["spec"]["ports"]}
    assert sorted(ports) == [25, 465, 587, 993, 2526]
    assert ports[25] == {"name": "smtp", "port": 25, "protocol": "TCP", "targetPort": 2525}

    status, svc = await call(http, "PATCH", path, [{"op": "replace", "path": "/spec/type", "value": "NodePort"},
                                                   {"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}}],
                             ctype="application/json-patch+json")
    assert status == 200 and svc["spec"]["type"] == "NodePort" and svc["metadata"]["annotations"] == {"a": "b"}
    status, err = await call(http, "PATCH", path, [{"op": "test", "path": "/spec/type", "value": "ClusterIP"}],
                             ctype="application/json-patch+json")
    assert status == 422 and err["reason"] == "Invalid" and "testing value /spec/type failed" in err["message"]

    # Strategic merge is for built-in types only; a CRD answers 415 like the real API.
    status, err = await call(http, "PATCH", "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools/default",
                             {"spec": {"autoAssign": False}}, ctype="application/strategic-merge-patch+json")
    assert status == 415 and err["reason"] == "UnsupportedMediaType"
    status, err = await call(http, "PATCH", "/api/v1/namespaces/mailserver/services/nope", {"spec": {}},
                             ctype="application/merge-patch+json")
    assert status == 404 and err["message"] == 'services "nope" not found'


async def test_server_side_apply_creates_then_merges(http):
    path = f"/api/v1/namespaces/{NS}/configmaps/applied?fieldManager=test"
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n"
    status, made = await call(http, "PATCH", path, manifest, ctype="application/apply-patch+yaml")
    assert status == 201 and made["data"] == {"a": "1"}
    status, merged = await call(http, "PATCH", path, "metadata: {name: applied}\ndata: {b: '2'}\n",
                                ctype="application/apply-patch+yaml")
    assert status == 200 and merged["data"] == {"a": "1", "b": "2"}


async def test_status_subresource_and_generation(http):
    path = "/apis/batch/v1/namespaces/mailserver/cronjobs/email-roundtrip-monitor"
    _, before = await call(http, "GET", path)
    _, after = await call(http, "PATCH", path, {"status": {"active": [{"name": "x"}]}, "metadata": {"labels": {"l": "v"}}},
                          ctype="application/merge-patch+json")
    assert "status" not in after and after["metadata"]["labels"] == {"l": "v"}  # main resource ignores status
    assert after["metadata"]["generation"] == before["metadata"]["generation"]  # metadata only
    _, after = await call(http, "PATCH", path + "/status", {"status": {"lastScheduleTime": "2025-01-01T00:00:00Z"},
                                                            "spec": {"suspend": True}},
                          ctype="application/merge-patch+json")
    assert after["status"] == {"lastScheduleTime": "2025-01-01T00:00:00Z"} and "suspend" not in after["spec"]
    _, after = await call(http, "PATCH", path, {"spec": {"suspend": True}}, ctype="application/merge-patch+json")
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert after["status"] == {"lastScheduleTime": "2025-01-01T00:00:00Z"}


def test_strategic_merge_rules():
    pod = {"spec": {"containers": [{"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}],
                                    "ports": [{"containerPort": 25}]},
                                   {"name": "b", "image": "1"}],
                    "tolerations": [{"key": "t1"}]}}
    out = strategic_merge_patch(pod, {"spec": {
        "containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}, {"name": "X", "$patch": "delete"}],
                        "ports": [{"containerPort": 2525}]},
                       {"name": "b", "$patch": "delete"}],
        "tolerations": [{"key": "t2"}]}})
    a = out["spec"]["containers"]
    assert len(a) == 1 and a[0]["image"] == "1" and a[0]["env"] == [{"name": "Y", "value": "2"}]
    assert a[0]["ports"] == [{"containerPort": 25}, {"containerPort": 2525}]
    assert out["spec"]["tolerations"] == [{"key": "t2"}]  # no merge key: replaced
    replaced = strategic_merge_patch(pod, {"spec": {"$patch": "replace", "containers": []}})
    assert replaced == {"spec": {"containers": []}}
    listed = strategic_merge_patch(pod, {"spec": {"containers": [{"name": "z"}, {"$patch": "replace"}]}})
    assert listed["spec"]["containers"] == [{"name": "z"}]
    assert strategic_merge_patch({"metadata": {"finalizers": ["a"]}}, {"metadata": {"finalizers": ["b", "a"]}}) == {
        "metadata": {"finalizers": ["a", "b"]}}
    with pytest.raises(PatchError):
        strategic_merge_patch(pod, {"spec": {"containers": [{"image": "no-name"}]}})


def test_merge_and_json_patch_rules():
    assert merge_patch({"a": {"b": 1, "c": 2}, "l": [1, 2]}, {"a": {"b": None, "d": 3}, "l": [3]}) == {
        "a": {"c": 2, "d": 3}, "l": [3]}
    assert merge_patch({"a": 1}, {"a": {"b": None}}) == {"a": {}}
    doc = {"a": [1, 2], "b": {"c~d/e": 1}}
    out = json_patch(doc, [{"op": "add", "path": "/a/-", "value": 3}, {"op": "add", "path": "/a/0", "value": 0},
                           {"op": "remove", "path": "/b/c~0d~1e"}, {"op": "copy", "from": "/a", "path": "/c"},
                           {"op": "move", "from": "/c", "path": "/d"}, {"op": "test", "path": "/d/3", "value": 3}])
    assert out == {"a": [0, 1, 2, 3], "b": {}, "d": [0, 1, 2, 3]} and doc["a"] == [1, 2]
    for bad in ([{"op": "remove", "path": "/zz"}], [{"op": "replace", "path": "/a/9", "value": 1}], {"op": "add"}):
        with pytest.raises(PatchError):
            json_patch(doc, bad)


# --- watch ------------------------------------------------------------------------------------


async def read_events(resp: aiohttp.ClientResponse, count: int) -> list[dict]:
    events = []
    while len(events) < count:
        line = await asyncio.wait_for(resp.content.readline(), 5)
        if not line:
            break
        events.append(json.loads(line))
    return events


async def test_watch_streams_changes_from_a_resource_version(http, cluster):
    store = cluster.server.store
    rv = store.resource_version
    async with http.get(f"/api/v1/namespaces/{NS}/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=10") as resp:
        assert resp.status == 200
        await call(http, "POST", f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "w"}})
        store.patch("v1", "ConfigMap", NS, "w", {"data": {"k": "v"}})  # Python-side writes notify too
        store.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "default"}})
        store.delete("v1", "ConfigMap", NS, "w")
        events = await read_events(resp, 3)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[1]["object"]["data"] == {"k": "v"}
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > rv


async def test_watch_without_version_starts_with_current_objects_and_times_out(http):
    t0 = time.monotonic()
    async with http.get(f"{SVC}?watch=1&fieldSelector=metadata.name%3Dmailserver&timeoutSeconds=1") as resp:
        body = await resp.text()
    lines = [json.loads(line) for line in body.splitlines()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [("ADDED", "mailserver")]
    assert 0.9 < time.monotonic() - t0 < 3


async def test_watch_ends_when_server_stops(tmp_path):
    cluster = await start_cluster(tmp_path)
    async with aiohttp.ClientSession(cluster.url, headers=AUTH) as http:
        async with http.get(f"{SVC}?watch=true&resourceVersion=1") as resp:
            stopping = asyncio.ensure_future(cluster.server.stop())
            t0 = time.monotonic()
            with pytest.raises(Exception):
                while True:
                    if not await resp.content.readline():
                        raise EOFError
            await stopping
            assert time.monotonic() - t0 < 3


# --- store, hooks, faults, command log -------------------------------------------------------


async def test_store_api_and_change_hooks(cluster):
    server = cluster.server
    seen: list[tuple[str, str, str]] = []
    server.on_change(lambda t, res, obj: seen.append((t, res.plural, obj["metadata"]["name"])))
    rv = server.store.resource_version
    made = server.store.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s", "namespace": NS}})
    assert int(made["metadata"]["resourceVersion"]) == rv + 1
    again = server.store.put({**made, "data": {"x": "1"}})
    assert again["metadata"]["uid"] == made["metadata"]["uid"] and int(again["metadata"]["resourceVersion"]) == rv + 2
    assert server.store.get("v1", "ConfigMap", NS, "s")["data"] == {"x": "1"}
    assert server.store.get("v1", "cm", NS, "missing") is None
    assert [o["metadata"]["name"] for o in server.store.list("v1", "Service", NS, label_selector="tier=edge")] == [
        "mailserver-proxy"]
    assert server.store.delete("v1", "ConfigMap", NS, "s")["metadata"]["name"] == "s"
    assert server.store.delete("v1", "ConfigMap", NS, "s") is None
    assert seen == [("ADDED", "configmaps", "s"), ("MODIFIED", "configmaps", "s"), ("DELETED", "configmaps", "s")]


async def test_delete_collects_owned_objects(http, cluster):
    status, job = await call(http, "POST", f"/apis/batch/v1/namespaces/{NS}/jobs",
                             {"metadata": {"name": "gc", "labels": {"outcome": "hang"}}, "spec": {"template": {}}})
    assert status == 201
    for _ in range(50):
        if cluster.server.store.get("v1", "Pod", NS, "gc-x1"):
            break
        await asyncio.sleep(0.02)
    assert cluster.server.store.get("v1", "Pod", NS, "gc-x1") is not None
    await call(http, "DELETE", f"/apis/batch/v1/namespaces/{NS}/jobs/gc", {"propagationPolicy": "Background"})
    assert cluster.server.store.get("v1", "Pod", NS, "gc-x1") is None


async def test_forbidden_latency_and_unauthorized(http, cluster):
    cluster.server.forbidden.add("services")
    status, err = await call(http, "GET", f"{SVC}/mailserver")
    assert status == 403 and err["reason"] == "Forbidden"
    assert err["message"] == ('services "mailserver" is forbidden: User "lab" cannot get resource "services" '
                              'in API group "" in the namespace "mailserver"')
    status, err = await call(http, "GET", SVC)
    assert err["message"].startswith('services is forbidden: User "lab" cannot list resource "services"')
    cluster.server.forbidden.clear()
    cluster.server.latency = 0.3
    t0 = time.monotonic()
    status, _ = await call(http, "GET", f"{SVC}/mailserver")
    assert status == 200 and time.monotonic() - t0 >= 0.3
    cluster.server.latency = 0
    cluster.server.token = "secret"
    async with aiohttp.ClientSession(cluster.url) as anonymous:
        status, err = await call(anonymous, "GET", "/api/v1/namespaces")
    assert status == 401 and err["reason"] == "Unauthorized"
    async with aiohttp.ClientSession(cluster.url, headers={"Authorization": "Bearer secret"}) as known:
        status, _ = await call(known, "GET", "/api/v1/namespaces")
    assert status == 200


async def test_command_log_records_writes_only(http, cluster):
    await call(http, "GET", f"{SVC}/mailserver")
    await call(http, "PATCH", f"{SVC}/mailserver", {"metadata": {"labels": {"a": "b"}}}, ctype="application/merge-patch+json")
    await call(http, "DELETE", f"{SVC}/mailserver-proxy")
    assert [(e["target"], e["command"], e["mutating"]) for e in cluster.log.entries()] == [
        ("cluster", "PATCH /api/v1/namespaces/mailserver/services/mailserver", True),
        ("cluster", "DELETE /api/v1/namespaces/mailserver/services/mailserver-proxy", True),
    ]


async def test_table_output(http):
    headers = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    _, table = await call(http, "GET", SVC, headers=headers)
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]
    rows = {r["cells"][0]: r["cells"] for r in table["rows"]}
    assert rows["mailserver-proxy"][1:5] == ["NodePort", "10.96.7.7", "<none>", "25:30125/TCP"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


async def test_start_and_stop_are_quick_and_clean(tmp_path):
    before = {t for t in asyncio.all_tasks()}
    server = KubeAPIServer()
    t0 = time.monotonic()
    port = await server.start()
    assert port > 0 and server.url == f"http://127.0.0.1:{port}"
    assert time.monotonic() - t0 < 0.5
    async with aiohttp.ClientSession() as s:
        async with s.get(server.url + "/api/v1/namespaces") as resp:
            assert resp.status == 200
    await server.stop()
    await asyncio.sleep(0)
    assert {t for t in asyncio.all_tasks()} - before == set()


# --- kubectl ---------------------------------------------------------------------------------


@pytest.fixture
def kubectl(cluster) -> Cluster:
    kubectl_path()
    return cluster


async def test_kubectl_get_svc(kubectl):
    rc, out, err = await kubectl.kubectl("get", "svc", "-n", NS)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert lines[1].split()[:5] == ["mailserver", "ClusterIP", "10.103.108.217", "<none>",
                                    "25/TCP,465/TCP,587/TCP,993/TCP"]
    assert lines[2].split()[:5] == ["mailserver-proxy", "NodePort", "10.96.7.7", "<none>", "25:30125/TCP"]


async def test_kubectl_get_other_kinds(kubectl):
    rc, out, err = await kubectl.kubectl("get", "po,deploy,cj,no")
    assert rc == 0, err
    assert "mailserver-bbb   1/1     Running" in out
    assert "k8s-node1   Ready    control-plane" in out
    assert "email-roundtrip-monitor   */20 * * * *" in out
    rc, out, err = await kubectl.kubectl("get", "ipaddresspools", "-A")
    assert rc == 0 and "metallb-system" in out and "10.0.20.200-10.0.20.220" in out, err
    rc, out, err = await kubectl.kubectl("get", "svc", "mailserver", "-o", "jsonpath={.spec.ports[*].port}")
    assert (rc, out) == (0, "25 465 587 993")
    rc, out, err = await kubectl.kubectl("get", "svc", "nope")
    assert rc == 1 and err.strip() == 'Error from server (NotFound): services "nope" not found'
    kubectl.server.forbidden.add("services")
    rc, out, err = await kubectl.kubectl("get", "svc", "mailserver")
    assert rc == 1 and 'cannot get resource "services" in API group "" in the namespace "mailserver"' in err


async def test_kubectl_patch(kubectl):
    rc, out, err = await kubectl.kubectl("patch", "svc", "mailserver", "-p",
                                         '{"spec":{"ports":[{"port":993,"targetPort":10993}]}}')
    assert (rc, out.strip()) == (0, "service/mailserver patched"), err
    ports = kubectl.server.store.get("v1", "Service", NS, "mailserver")["spec"]["ports"]
    assert len(ports) == 4 and ports[3] == {"name": "imaps", "port": 993, "protocol": "TCP", "targetPort": 10993}
    rc, out, err = await kubectl.kubectl("patch", "svc", "mailserver", "--type=json",
                                         "-p", '[{"op":"replace","path":"/spec/type","value":"LoadBalancer"}]')
    assert rc == 0, err
    rc, out, err = await kubectl.kubectl("get", "svc", "mailserver")
    assert "LoadBalancer" in out and "<pending>" in out


async def test_kubectl_logs_and_exec(kubectl):
    rc, out, err = await kubectl.kubectl("logs", "mailserver-bbb", "--tail=2")
    assert (rc, out) == (0, "mailserver-bbb/docker-mailserver line 4\nmailserver-bbb/docker-mailserver line 5\n"), err
    rc, out, err = await kubectl.kubectl("logs", "roundcube-0", "-c", "sidecar", "--tail=1")
    assert (rc, out) == (0, "roundcube-0/sidecar line 5\n"), err
    rc, out, err = await kubectl.kubectl("exec", "mailserver-bbb", "--", "echo", "hello", "world")
    assert (rc, out) == (0, "hello world\n"), err
    rc, out, err = await kubectl.kubectl("exec", "deployment/mailserver", "--", "whoami")
    assert (rc, out) == (0, "mailserver/mailserver-ccc/docker-mailserver\n"), err
    rc, out, err = await kubectl.kubectl("exec", "mailserver-bbb", "--", "fail")
    assert rc == 3 and out == "partial\n" and "something broke" in err
    assert "command terminated with exit code 3" in err
    entries = kubectl.log.entries()
    assert entries[-1]["command"] == (
        "EXEC /api/v1/namespaces/mailserver/pods/mailserver-bbb/exec -c docker-mailserver -- fail")
    assert [e["mutating"] for e in entries] == [False, False, True]  # the classifier: echo/whoami read only


async def test_kubectl_wait_for_job(kubectl):
    # kubectl's typed "create job" POSTs protobuf, which the lab does not decode (415); its
    # client-side dry run gives the same Job, created from JSON by "kubectl create -f -".
    rc, out, err = await kubectl.kubectl("create", "job", "--from=cronjob/email-roundtrip-monitor", "probe-k")
    assert rc == 1 and "unknown format" in err
    rc, manifest, err = await kubectl.kubectl("create", "job", "--from=cronjob/email-roundtrip-monitor", "probe-k",
                                              "--dry-run=client", "-o", "json")
    assert rc == 0, err
    rc, out, err = await kubectl.kubectl("create", "--validate=false", "-f", "-", stdin=manifest.encode())
    assert (rc, out.strip()) == (0, "job.batch/probe-k created"), err
    rc, out, err = await kubectl.kubectl("wait", "--for=condition=complete", "--timeout=10s", "job/probe-k")
    assert (rc, out.strip()) == (0, "job.batch/probe-k condition met"), err
    rc, out, err = await kubectl.kubectl("logs", "job/probe-k")
    assert rc == 0 and out.startswith("probe-k-x1/probe line 1"), err
    rc, out, err = await kubectl.kubectl("get", "jobs")
    assert out.split("\n")[1].split()[:3] == ["probe-k", "Complete", "1/1"], out
    rc, out, err = await kubectl.kubectl("delete", "job", "probe-k")
    assert (rc, out.strip()) == (0, 'job.batch "probe-k" deleted'), err


async def test_failing_hook_answers_a_500_status(http, cluster):
    def broken(event_type, resource, obj):
        if resource.plural == "configmaps":
            raise RuntimeError("controller broke")

    cluster.server.on_change(broken)
    status, err = await call(http, "POST", f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "h"}})
    assert status == 500 and err["kind"] == "Status" and err["reason"] == "InternalError"
    assert err["message"] == "Internal error occurred: controller broke"
    status, _ = await call(http, "GET", f"{SVC}/mailserver")
    assert status == 200
