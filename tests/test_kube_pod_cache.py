"""The pods behind deployment/NAME and job/NAME resolved once per client (pod_cache.py), against
the lab's API server: later reads skip the controller, a pod gone since is found afresh, and our
own changes make the next read resolve again."""

from __future__ import annotations

import copy

import pytest
from kubeserver import NS

from runbook_tui.errors import KubeError


async def test_a_deployments_pods_are_resolved_once(kube, cluster):
    assert (await kube.exec("deployment/mailserver", ["whoami"])).stdout == "mailserver/mailserver-ccc/docker-mailserver\n"
    # Reading the Deployment is refused from here on: what follows does not need it.
    cluster.server.forbidden.add("deployments")
    assert (await kube.exec("deployment/mailserver", ["whoami"])).stdout == "mailserver/mailserver-ccc/docker-mailserver\n"
    # The same list serves the log read (kubectl's choice for logs among it).
    assert (await kube.logs("deployment/mailserver", tail=1)).startswith("mailserver-ccc/")


async def test_a_pod_gone_since_is_resolved_afresh(kube, cluster):
    assert (await kube.exec("deployment/mailserver", ["whoami"])).stdout.startswith("mailserver/mailserver-ccc/")
    store = cluster.server.store
    replacement = copy.deepcopy(store.get("v1", "Pod", NS, "mailserver-ccc"))
    replacement["metadata"] = {k: v for k, v in replacement["metadata"].items()
                               if k in ("namespace", "labels", "annotations")} | {"name": "mailserver-ddd"}
    store.delete("v1", "Pod", NS, "mailserver-ccc")
    store.put(replacement)
    assert (await kube.exec("deployment/mailserver", ["whoami"])).stdout.startswith("mailserver/mailserver-ddd/")


async def test_our_own_change_resolves_again(kube, cluster):
    await kube.exec("deployment/mailserver", ["whoami"])
    await kube.patch("Deployment", "mailserver", {"metadata": {"annotations": {"touched": "yes"}}})
    cluster.server.forbidden.add("deployments")
    with pytest.raises(KubeError, match="(?i)forbidden"):
        await kube.exec("deployment/mailserver", ["whoami"])


async def test_a_jobs_selector_is_kept_from_reading_it(kube, cluster):
    await kube.apply({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "probe-s"},
                      "spec": {"template": {"spec": {"containers": [{"name": "probe", "image": "p"}]}}}})
    await kube.wait("job", "probe-s", "complete", timeout=10)
    await kube.get("Job", "probe-s")
    cluster.server.forbidden.add("jobs")
    assert (await kube.logs("job/probe-s")).startswith("probe-s-x1/probe line 1\n")
