"""The API's resource types kept between runs (transports/kube/discovery_cache.py), against the
lab's API server: a kept list is used while fresh and for the same kubeconfig only."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest
from kubeserver import TOKEN, start_cluster

from runbook_tui.errors import KubeError
from runbook_tui.language.inventory import KubeTarget
from runbook_tui.transports.kube import KubeClient, discovery_cache


@pytest.fixture
async def cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    c = await start_cluster(tmp_path, token=TOKEN)
    yield c
    await c.server.stop()


async def _client(cluster) -> KubeClient:
    return KubeClient("cluster", KubeTarget(kubeconfig=str(cluster.kubeconfig)))


def _kept() -> list[Path]:
    return sorted(discovery_cache.folder().glob("*.json"))


def _add_fake_kind(path: Path) -> None:
    """A kind only the kept list knows: found only if the list is used without asking the server."""
    data = json.loads(path.read_text())
    core = data["resources"]["api"][""]["v1"]["resources"]
    widget = dict(core["ConfigMap"][0], kind="Widget", name="widgets", singular_name="widget", short_names=[])
    core["Widget"] = [widget]
    path.write_text(json.dumps(data))


async def test_a_second_client_uses_the_kept_list(cluster):
    first = await _client(cluster)
    await first.list("Pod")
    await first.close()
    kept = _kept()
    assert len(kept) == 1
    _add_fake_kind(kept[0])

    second = await _client(cluster)
    await second.list("Pod")  # connects, seeded from the kept list
    # In a thread: a miss would ask the server, which answers on this loop.
    assert (await asyncio.to_thread(second.resource, "Widget")).kind == "Widget"
    await second.close()


async def test_a_stale_or_foreign_list_is_not_used(cluster):
    first = await _client(cluster)
    await first.list("Pod")
    await first.close()
    (kept,) = _kept()
    _add_fake_kind(kept)

    # Another kubeconfig (here: the same file rewritten) has a key of its own.
    before = cluster.kubeconfig.stat()
    os.utime(cluster.kubeconfig, ns=(before.st_atime_ns, before.st_mtime_ns + 5_000_000_000))
    other = await _client(cluster)
    await other.list("Pod")
    with pytest.raises(KubeError, match="no resource type 'Widget'"):
        await other.get("Widget", "w")
    await other.close()

    # Past its TTL the list is discovered afresh (the kubeconfig as it was: the first key).
    os.utime(cluster.kubeconfig, ns=(before.st_atime_ns, before.st_mtime_ns))
    old = time.time() - discovery_cache.TTL - 5
    os.utime(kept, (old, old))
    stale = await _client(cluster)
    await stale.list("Pod")
    with pytest.raises(KubeError, match="no resource type 'Widget'"):
        await stale.get("Widget", "w")
    await stale.close()


async def test_probe_asks_the_server_even_with_a_kept_list(cluster):
    first = await _client(cluster)
    assert (await first.probe()).reachable
    await first.close()
    await cluster.server.stop()
    second = await _client(cluster)
    status = await second.probe()
    assert not status.reachable and status.error
    await second.close()


async def test_a_lookup_reads_only_the_groups_it_needs(cluster):
    """Nothing kept: finding Pod reads the core group only, not every group of the cluster."""
    def read(group: str) -> int:
        (kept,) = _kept()
        data = json.loads(kept.read_text())["resources"]
        where = data["api"][""]["v1"] if group == "" else data["apis"][group]["v1"]
        return len(where["resources"])

    first = await _client(cluster)
    await first.list("Pod")
    await first.close()
    assert read("") > 0 and read("apps") == 0 and read("batch") == 0
    (kept,) = _kept()
    discovered = kept.stat().st_mtime

    second = await _client(cluster)
    await second.get("Deployment", "mailserver")
    await second.close()
    assert read("apps") > 0 and read("batch") == 0
    # A group read later does not make the rest younger: the TTL runs from the first discovery.
    assert kept.stat().st_mtime == discovered
