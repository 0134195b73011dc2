"""Where a Kubernetes target's configuration comes from, as kubectl decides it: several files in
KUBECONFIG merged, and the pod's service account when there is no kubeconfig at all. Against the
lab's API server with the official client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes.config import incluster_config
from kubeserver import NS, TOKEN

from runbook_tui.errors import KubeError
from runbook_tui.lab.kube.kubeconfig import write_kubeconfig
from runbook_tui.language.inventory import KubeTarget
from runbook_tui.transports.kube import KubeClient
from runbook_tui.transports.kube.config import IN_CLUSTER, new_api_client


@pytest.fixture
def no_home_config(tmp_path, monkeypatch):
    """No ~/.kube/config and no KUBECONFIG unless a test sets one."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    return home


def _two_files(tmp_path: Path, url: str) -> tuple[Path, Path]:
    """The first file knows another cluster and is the current context; the second holds the
    context that reaches the lab and, under the same name as the first's, a cluster that must lose."""
    first = write_kubeconfig(tmp_path / "first", "http://127.0.0.1:9", context="other", token="wrong",
                            user="other")
    second = write_kubeconfig(tmp_path / "second", url, context="lab", namespace=NS)
    config = yaml.safe_load(second.read_text())
    config["clusters"].append({"name": "other", "cluster": {"server": "http://127.0.0.1:1"}})
    config["current-context"] = "lab"
    second.write_text(yaml.safe_dump(config))
    return first, second


async def test_kubeconfig_list_is_merged_first_file_wins(cluster, tmp_path, monkeypatch, no_home_config):
    first, second = _two_files(tmp_path, cluster.url)
    monkeypatch.setenv("KUBECONFIG", f"{first}:{tmp_path / 'missing'}:{second}")

    client = KubeClient("c", KubeTarget(context="lab"))
    assert (client.context, client.namespace, client.server) == ("lab", NS, cluster.url)
    svc = await client.get("svc", "mailserver")
    assert svc["metadata"]["namespace"] == NS
    status = await client.probe()
    assert status.reachable and status.error is None
    await client.close()

    # No context on the target: the first file's current context, and its cluster, not the second's.
    other = KubeClient("c", KubeTarget())
    assert (other.context, other.server) == ("other", "http://127.0.0.1:9")
    await other.close()

    unknown = KubeClient("c", KubeTarget(context="nope"))
    with pytest.raises(KubeError, match=r"^Context 'nope' is not in the kubeconfig .*first:.*second "
                                        r"\(contexts: lab, other\)\.$"):
        await unknown.list("svc")


async def test_no_kubeconfig_anywhere_says_where_it_looked(tmp_path, monkeypatch, no_home_config):
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    client = KubeClient("c", KubeTarget())
    with pytest.raises(KubeError, match=r"^No kubeconfig found at any of .*/a, .*/b \(target c\)\.$"):
        await client.get("svc", "x")


@pytest.fixture
def service_account(tmp_path, monkeypatch, no_home_config):
    """The pod's service account folder, in a tmp folder: the client's loader reads fixed paths,
    so they are pointed here (configuring the client's loader, not replacing our code)."""
    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    (folder / "token").write_text(TOKEN)
    (folder / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    (folder / "namespace").write_text(NS + "\n")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(folder / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(folder / "ca.crt"))
    return folder


async def test_in_cluster_service_account_when_no_kubeconfig(cluster, service_account, monkeypatch):
    port = cluster.url.rsplit(":", 1)[1]
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)

    client = KubeClient("c", KubeTarget())
    assert (client.context, client.namespace, client.in_cluster) == (IN_CLUSTER, NS, True)
    assert KubeClient("c", KubeTarget(namespace="metallb-system")).namespace == "metallb-system"
    # The client's in-cluster loader always speaks HTTPS, and the lab serves plain HTTP: what is
    # checked is the configuration built for the lab's address, with the service account's token.
    api = new_api_client(client.kubeconfig, client.context, in_cluster=True)
    try:
        assert api.configuration.host == f"https://127.0.0.1:{port}"
        assert api.configuration.api_key["BearerToken"] == f"bearer {TOKEN}"
        assert api.configuration.ssl_ca_cert == str(service_account / "ca.crt")
    finally:
        api.close()

    # A context asked for by name needs a kubeconfig: the sentence names it.
    named = KubeClient("c", KubeTarget(context="lab"))
    with pytest.raises(KubeError, match=r"^Context 'lab' needs a kubeconfig, and none was found at .*"):
        await named.get("svc", "x")
    # An inventory that names a kubeconfig file never falls back to the service account.
    missing = KubeClient("c", KubeTarget(kubeconfig=str(service_account / "nope")))
    assert not missing.in_cluster
    with pytest.raises(KubeError, match=r"^No kubeconfig found at .*/nope \(target c\)\.$"):
        await missing.get("svc", "x")


async def test_without_the_service_account_env_there_is_no_in_cluster(service_account):
    client = KubeClient("c", KubeTarget())
    assert not client.in_cluster
    with pytest.raises(KubeError, match=r"^No kubeconfig found at .*/home/\.kube/config \(target c\)\.$"):
        await client.get("svc", "x")


def test_reading_a_kubeconfig_imports_no_kubernetes(cluster, tmp_path):
    """A target's context, namespace and server are read at start-up (locks, status lines); the
    kubernetes package (a tenth of a second to import) waits for the first request."""
    code = (
        "import sys\n"
        "from runbook_tui.language.inventory import KubeTarget\n"
        "from runbook_tui.transports.kube import KubeClient\n"
        f"c = KubeClient('c', KubeTarget(kubeconfig={str(cluster.kubeconfig)!r}))\n"
        "print(c.context, c.namespace, c.server, 'kubernetes' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_SERVICE")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["lab", NS, cluster.url, "False"]
