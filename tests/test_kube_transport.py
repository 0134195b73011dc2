"""KubeClient (over the official kubernetes client) against the lab's API server."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest
from kubeserver import NS, kubectl_path

from runbook_tui.errors import KubeError, StepTimeout
from runbook_tui.lab.kube.kubeconfig import write_kubeconfig
from runbook_tui.language.inventory import KubeTarget
from runbook_tui.transports.kube import KubeClient, KubePool, pick_pod, selector_string


@pytest.fixture
async def kube(cluster):
    pool = KubePool({"cluster": KubeTarget(kubeconfig=str(cluster.kubeconfig))})
    yield pool.client("cluster")
    await pool.close()


# --- configuration ----------------------------------------------------------------------------


async def test_context_and_namespace_resolve_like_kubectl(cluster, tmp_path):
    pool = KubePool({
        "a": KubeTarget(kubeconfig=str(cluster.kubeconfig)),
        "b": KubeTarget(kubeconfig=str(cluster.kubeconfig), context="lab", namespace="metallb-system"),
    })
    a, b = pool.client("a"), pool.client("b")
    assert (a.context, a.namespace) == ("lab", NS)
    assert (b.context, b.namespace) == ("lab", "metallb-system")
    assert pool.client("a") is a
    with pytest.raises(KubeError, match=r"^No Kubernetes target named 'zz' in the inventory \(known: a, b\)\.$"):
        pool.client("zz")
    pools = await b.list("ipaddresspool")
    assert [p["metadata"]["name"] for p in pools] == ["default"]
    status = await a.probe()
    assert status.reachable and status.version == "v1.32.4" and status.server == cluster.url and status.error is None
    await pool.close()


async def test_kubeconfig_problems_are_sentences(tmp_path, cluster):
    missing = KubeClient("c", KubeTarget(kubeconfig=str(tmp_path / "nope")))
    with pytest.raises(KubeError, match=r"^No kubeconfig found at .*/nope \(target c\)\.$"):
        await missing.get("svc", "x")
    status = await missing.probe()
    assert not status.reachable and status.error.startswith("No kubeconfig found")

    bad = tmp_path / "bad"
    bad.write_text("contexts: [unclosed\n")
    with pytest.raises(KubeError, match=r"^The kubeconfig .*/bad is not valid: "):
        await KubeClient("c", KubeTarget(kubeconfig=str(bad))).get("svc", "x")

    unknown = KubeClient("c", KubeTarget(kubeconfig=str(cluster.kubeconfig), context="prod"))
    with pytest.raises(KubeError, match=r"^Context 'prod' is not in the kubeconfig .* \(contexts: lab\)\.$"):
        await unknown.list("svc")


async def test_connection_refused(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens
    config = write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{port}")
    client = KubeClient("c", KubeTarget(kubeconfig=str(config)))
    t0 = time.monotonic()
    with pytest.raises(KubeError) as err:
        await client.get("svc", "x")
    assert str(err.value) == (f"Cannot reach the Kubernetes API at http://127.0.0.1:{port} (context lab): "
                              "connection refused.")
    assert err.value.status == 0 and time.monotonic() - t0 < 5
    status = await client.probe()
    assert not status.reachable and status.error == str(err.value)
    await client.close()


# --- reads ---------------------------------------------------------------------------------------


async def test_get_accepts_kubectl_names(kube):
    spellings = ["Service", "service", "svc", "services"]
    results = [await kube.get(k, "mailserver") for k in spellings]
    assert all(r == results[0] for r in results)
    svc = results[0]
    assert svc["kind"] == "Service" and svc["apiVersion"] == "v1" and svc["spec"]["clusterIP"] == "10.103.108.217"
    assert isinstance(svc["metadata"]["resourceVersion"], str)
    pool = await kube.get("ipaddresspool", "default", namespace="metallb-system")
    assert pool["status"] == {"assignedIPv4": 2, "availableIPv4": 19}
    cj = await kube.get("cj", "email-roundtrip-monitor", api_version="batch/v1")
    assert cj["spec"]["schedule"] == "*/20 * * * *"
    node = await kube.get("no", "k8s-node1")
    assert node["metadata"]["name"] == "k8s-node1"
    with pytest.raises(KubeError) as err:
        await kube.get("widget", "x")
    assert str(err.value) == f"The Kubernetes API at {kube.server} (context lab) has no resource type 'widget'."


async def test_list_with_selectors_and_all_namespaces(kube):
    pods = await kube.list("po", label_selector="app=mailserver")
    assert [p["metadata"]["name"] for p in pods] == ["mailserver-aaa", "mailserver-bbb", "mailserver-ccc"]
    assert await kube.list("svc", label_selector="tier in (edge)") != []
    assert await kube.list("ipaddresspools") == []  # the client's namespace has none
    every = await kube.list("ipaddresspools", namespace="*")
    assert [p["metadata"]["namespace"] for p in every] == ["metallb-system"]
    assert {n["metadata"]["name"] for n in await kube.list("ns")} >= {"default", NS, "metallb-system"}


# --- writes -----------------------------------------------------------------------------------------


async def test_patch_all_types(kube, cluster):
    svc = await kube.patch("svc", "mailserver", {"metadata": {"annotations": {"a": "1"}}})
    assert svc["metadata"]["annotations"] == {"a": "1"}
    svc = await kube.patch("svc", "mailserver", {"spec": {"ports": [{"port": 25, "targetPort": 2525}]}},
                           patch_type="strategic")
    assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(25, 2525), (465, 465), (587, 587), (993, 993)]
    svc = await kube.patch("svc", "mailserver", [{"op": "remove", "path": "/spec/ports/3"}], patch_type="json")
    assert len(svc["spec"]["ports"]) == 3
    # Strategic merge on a custom resource falls back to a merge patch instead of failing.
    pool = await kube.patch("ipaddresspool", "default", {"spec": {"autoAssign": False}},
                            namespace="metallb-system", patch_type="strategic")
    assert pool["spec"] == {"addresses": ["10.0.20.200-10.0.20.220"], "autoAssign": False}
    assert [e["command"] for e in cluster.log.entries()][-1] == (
        "PATCH /apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools/default")
    with pytest.raises(KubeError, match="must be a list"):
        await kube.patch("svc", "mailserver", {"op": "x"}, patch_type="json")


async def test_apply_creates_then_updates(kube):
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "edge"}, "data": {"a": "1"}}
    made = await kube.apply(manifest)
    assert made["metadata"]["namespace"] == NS and made["data"] == {"a": "1"}
    updated = await kube.apply({**manifest, "data": {"b": "2"}})
    assert updated["data"] == {"a": "1", "b": "2"} and updated["metadata"]["uid"] == made["metadata"]["uid"]
    pool = await kube.apply({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                             "metadata": {"name": "default", "namespace": "metallb-system"},
                             "spec": {"avoidBuggyIPs": True}})
    assert pool["spec"]["avoidBuggyIPs"] is True and pool["spec"]["autoAssign"] is True


async def test_delete(kube, cluster):
    gone = await kube.delete("svc", "mailserver-proxy")
    assert gone["metadata"]["name"] == "mailserver-proxy"
    assert cluster.server.store.get("v1", "Service", NS, "mailserver-proxy") is None
    with pytest.raises(KubeError) as err:
        await kube.delete("svc", "mailserver-proxy")
    assert str(err.value) == "service mailserver/mailserver-proxy not found." and err.value.status == 404


async def test_job_from_cronjob_matches_kubectl(kube, cluster):
    kubectl_path()
    cluster.server.token = None  # kubectl sends no credentials over plain HTTP
    rc, out, err = await cluster.kubectl("create", "job", "--from=cronjob/email-roundtrip-monitor", "probe-a",
                                         "--dry-run=client", "-o", "json")
    assert rc == 0, err
    expected = json.loads(out)
    job = await kube.job_from_cronjob("email-roundtrip-monitor", "probe-a")
    cj = cluster.server.store.get("batch/v1", "CronJob", NS, "email-roundtrip-monitor")
    assert job["metadata"]["ownerReferences"] == expected["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "CronJob", "name": "email-roundtrip-monitor",
         "uid": cj["metadata"]["uid"], "controller": True}]
    assert job["metadata"]["annotations"] == expected["metadata"]["annotations"] == {
        "cronjob.kubernetes.io/instantiate": "manual", "team": "mail"}
    assert job["metadata"]["labels"] == expected["metadata"]["labels"]
    # Everything kubectl would send, nothing more
    # (Go prints empty structs and null timestamps that carry no meaning).
    def meaningful(v):
        if isinstance(v, dict):
            v = {k: meaningful(x) for k, x in v.items()}
            return {k: x for k, x in v.items() if x not in (None, {})}
        return [meaningful(x) for x in v] if isinstance(v, list) else v

    # The stored Job also carries what the API server adds to every Job (selector, pod labels,
    # counts): take those off to compare with what was sent.
    spec = dict(job["spec"])
    uid = job["metadata"]["uid"]
    assert spec.pop("selector") == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = dict(spec["template"]["metadata"]["labels"])
    for key in ("job-name", "batch.kubernetes.io/job-name", "controller-uid", "batch.kubernetes.io/controller-uid"):
        labels.pop(key)
    spec["template"] = {**spec["template"], "metadata": {**spec["template"]["metadata"], "labels": labels}}
    spec["template"] = meaningful(spec["template"])
    sent = meaningful(expected["spec"])
    for key, default in (("completions", 1), ("parallelism", 1), ("backoffLimit", 6),
                         ("completionMode", "NonIndexed"), ("suspend", False)):
        if key not in sent:
            assert spec.pop(key) == default, key
    for key, value in sent.items():
        assert spec[key] == value, key
    assert set(spec) == set(sent)
    with pytest.raises(KubeError, match=r"^job mailserver/probe-a already exists\.$"):
        await kube.job_from_cronjob("email-roundtrip-monitor", "probe-a")
    with pytest.raises(KubeError, match=r"^cronjob mailserver/nope not found\.$"):
        await kube.job_from_cronjob("nope", "probe-b")


# --- wait ----------------------------------------------------------------------------------------------


async def _job(kube: KubeClient, name: str, outcome: str) -> None:
    await kube.apply({"apiVersion": "batch/v1", "kind": "Job",
                      "metadata": {"name": name, "labels": {"outcome": outcome}},
                      "spec": {"template": {"spec": {"containers": [{"name": "probe", "image": "p"}]}}}})


async def test_wait_complete_with_events(kube):
    await _job(kube, "probe-ok", "complete")
    events: list[tuple[str, str]] = []
    job = await kube.wait("job", "probe-ok", "complete", timeout=10,
                          on_event=lambda t, o: events.append((t, o["metadata"]["name"])))
    assert job["status"]["conditions"][0]["type"] == "Complete"
    assert events and events[-1] == ("MODIFIED", "probe-ok")
    again = await kube.wait("job", "probe-ok", "Complete", timeout=1)  # already true: no watch needed
    assert again["metadata"]["name"] == "probe-ok"


async def test_wait_fails_at_once_when_the_job_fails(kube):
    await _job(kube, "probe-bad", "fail")
    t0 = time.monotonic()
    with pytest.raises(KubeError) as err:
        await kube.wait("job", "probe-bad", "complete", timeout=30)
    assert time.monotonic() - t0 < 3
    assert str(err.value) == ("Job mailserver/probe-bad failed while waiting for complete: "
                              "Job has reached the specified backoff limit (BackoffLimitExceeded).")


async def test_wait_times_out_like_kubectl(kube):
    await _job(kube, "probe-x", "hang")
    t0 = time.monotonic()
    with pytest.raises(StepTimeout) as err:
        await kube.wait("job", "probe-x", "complete", timeout=1.5)
    assert str(err.value) == "timed out waiting for the condition on jobs/probe-x after 1.5 s"
    assert 1.4 < time.monotonic() - t0 < 4


async def test_wait_for_delete(kube, cluster):
    waiter = asyncio.ensure_future(kube.wait("svc", "mailserver-proxy", "delete", timeout=10))
    await asyncio.sleep(0.5)
    assert not waiter.done()
    cluster.server.store.delete("v1", "Service", NS, "mailserver-proxy")
    assert await asyncio.wait_for(waiter, 5) == {}
    assert await kube.wait("svc", "never-existed", "delete", timeout=1) == {}


async def test_wait_can_be_cancelled(kube):
    await _job(kube, "probe-c", "hang")
    task = asyncio.ensure_future(kube.wait("job", "probe-c", "complete", timeout=60))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- logs and exec -----------------------------------------------------------------------------------


async def test_logs_name_forms(kube):
    assert await kube.logs("mailserver-bbb", tail=1) == "mailserver-bbb/docker-mailserver line 5\n"
    assert (await kube.logs("roundcube-0", container="sidecar", tail=1)) == "roundcube-0/sidecar line 5\n"
    assert (await kube.logs("roundcube-0", tail=1)) == "roundcube-0/roundcube line 5\n"  # first container
    assert (await kube.logs("mailserver-bbb", since=30)).endswith("since=30\n")
    # deployment/NAME: for logs kubectl prefers the pod with the most restarts among equals.
    assert (await kube.logs("deployment/mailserver", tail=1)).startswith("mailserver-ccc/")
    await _job(kube, "probe-l", "complete")
    await kube.wait("job", "probe-l", "complete", timeout=10)
    assert (await kube.logs("job/probe-l")).startswith("probe-l-x1/probe line 1\n")
    with pytest.raises(KubeError, match=r"^pod mailserver/ghost not found\.$"):
        await kube.logs("ghost")
    with pytest.raises(KubeError, match=r"^deployment mailserver/ghost not found\.$"):
        await kube.logs("deployment/ghost")


async def test_exec_exit_codes_and_streams(kube, cluster):
    lines: list[tuple[str, str]] = []
    result = await kube.exec("mailserver-bbb", ["echo", "hello", "world"], on_output=lambda s, l: lines.append((s, l)))
    assert (result.exit_code, result.stdout, result.stderr) == (0, "hello world\n", "")
    assert lines == [("stdout", "hello world")]
    result = await kube.exec("deployment/mailserver", ["fail"])
    assert (result.exit_code, result.stdout, result.stderr) == (3, "partial\n", "something broke\n")
    result = await kube.exec("deployment/mailserver", ["whoami"])
    assert result.stdout == "mailserver/mailserver-ccc/docker-mailserver\n"  # ready longest wins for exec
    result = await kube.exec("roundcube-0", ["whoami"], container="sidecar")
    assert result.stdout == "mailserver/roundcube-0/sidecar\n"
    assert cluster.log.entries()[-1]["command"].endswith("-c sidecar -- whoami")


async def test_exec_streams_lines_as_they_come(kube):
    seen: list[tuple[float, str, str]] = []
    t0 = time.monotonic()
    result = await kube.exec("mailserver-bbb", ["stream"],
                             on_output=lambda s, l: seen.append((time.monotonic() - t0, s, l)))
    done = time.monotonic() - t0
    assert [(s, l) for _, s, l in seen] == [("stdout", "first"), ("stdout", "second"), ("stderr", "done")]
    assert done - seen[0][0] >= 0.3  # the first line arrived well before the command ended
    assert (result.exit_code, result.stdout, result.stderr) == (0, "first\nsecond\n", "done\n")


async def test_exec_timeout(kube):
    with pytest.raises(StepTimeout, match=r"^exec in pod mailserver/mailserver-bbb -c docker-mailserver timed out after 0.5 s$"):
        await kube.exec("mailserver-bbb", ["sleep", "5"], timeout=0.5)


# --- API errors ------------------------------------------------------------------------------------


async def test_error_sentences(kube, cluster):
    cluster.server.forbidden.add("services")
    with pytest.raises(KubeError) as err:
        await kube.get("svc", "mailserver")
    assert err.value.status == 403 and str(err.value) == (
        'Forbidden by the Kubernetes API (context lab): services "mailserver" is forbidden: User "lab" cannot get '
        'resource "services" in API group "" in the namespace "mailserver".')
    cluster.server.forbidden.clear()

    with pytest.raises(KubeError) as err:
        await kube.get("svc", "foo")
    assert (err.value.status, str(err.value)) == (404, "service mailserver/foo not found.")
    with pytest.raises(KubeError) as err:
        await kube.get("node", "foo")
    assert str(err.value) == "node foo not found."

    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}
    with pytest.raises(KubeError) as err:
        await kube.apply(manifest)
    assert err.value.status == 422 and str(err.value).startswith(
        'The Kubernetes API rejected configmap mailserver/Bad_Name as invalid: ConfigMap "Bad_Name" is invalid:')

    with pytest.raises(KubeError) as err:
        await kube.patch("svc", "mailserver", [{"op": "test", "path": "/spec/type", "value": "x"}], patch_type="json")
    assert err.value.status == 422 and "testing value /spec/type failed" in str(err.value)

    with pytest.raises(KubeError) as err:
        await kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "nowhere"}})
    assert (err.value.status, str(err.value)) == (404, 'Not found (context lab): namespaces "nowhere" not found.')

    cluster.server.token = "rotated"
    with pytest.raises(KubeError) as err:
        await kube.list("svc")
    assert err.value.status == 401 and str(err.value) == (
        f"The Kubernetes API at {cluster.url} (context lab) rejected our credentials (401 Unauthorized); "
        "check the kubeconfig user.")
    for e in (err.value,):
        assert "\n" not in str(e) and "Traceback" not in str(e)


async def test_conflict_sentences(kube):
    await kube.job_from_cronjob("email-roundtrip-monitor", "dup")
    with pytest.raises(KubeError) as err:
        await kube.job_from_cronjob("email-roundtrip-monitor", "dup")
    assert err.value.status == 409 and str(err.value) == "job mailserver/dup already exists."
    stale = await kube.get("svc", "mailserver")
    await kube.patch("svc", "mailserver", {"metadata": {"labels": {"x": "1"}}})
    with pytest.raises(KubeError) as err:  # an optimistic-lock failure: resourceVersion moved on
        await kube.patch("svc", "mailserver", {"metadata": {"resourceVersion": stale["metadata"]["resourceVersion"]}})
    assert err.value.status == 409 and str(err.value).startswith(
        'Conflict on service mailserver/mailserver: Operation cannot be fulfilled on services "mailserver"')


def test_pick_pod_and_selectors():
    def pod(name, *, phase="Running", node="n", ready=None, restarts=0, created="2025-01-01T00:00:00Z"):
        conds = [{"type": "Ready", "status": "True", "lastTransitionTime": ready}] if ready else []
        return {"metadata": {"name": name, "creationTimestamp": created}, "spec": {"nodeName": node},
                "status": {"phase": phase, "conditions": conds, "containerStatuses": [{"restartCount": restarts}]}}

    pods = [pod("pending", phase="Pending"), pod("unready"), pod("new", ready="2025-02-01T00:00:00Z"),
            pod("old-restarty", ready="2025-01-01T00:00:00Z", restarts=3), pod("old", ready="2025-01-01T00:00:00Z"),
            pod("unscheduled", node="")]
    assert pick_pod(pods, for_logs=False)["metadata"]["name"] == "old"
    assert pick_pod(pods, for_logs=True)["metadata"]["name"] == "old-restarty"
    assert selector_string({"matchLabels": {"a": "b"}, "matchExpressions": [
        {"key": "t", "operator": "In", "values": ["x", "y"]}, {"key": "g", "operator": "DoesNotExist"}]}) == (
        "a=b,t in (x,y),!g")
