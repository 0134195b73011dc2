"""Fixtures shared by the test files. Helpers that are not fixtures are in support.py."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from support import ROOT, cli_env


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test has a cache folder of its own (checked procedures, Kubernetes discovery), for
    itself and the processes it starts: never the user's, and never warm from another test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the checkout: procedures are found by relative paths, as shown on screen.
    Files whose every test needs it say ``pytestmark = pytest.mark.usefixtures("at_root")``."""
    monkeypatch.chdir(ROOT)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """For the CLI in a subprocess: journals and configuration under ``tmp_path``."""
    return cli_env(tmp_path)


@pytest.fixture
def fixed_world(at_root: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """For snapshots: run from the checkout, in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """A journal folder holding the TUI tests' two recorded runs (tests/data/tui/journal)."""
    shutil.copytree(ROOT / "tests/data/tui/journal", tmp_path, dirs_exist_ok=True)
    return tmp_path


@pytest.fixture
def need_scp() -> None:
    """restore-backup copies the backup with OpenSSH's scp (Debian: openssh-client)."""
    if shutil.which("scp") is None:
        if os.environ.get("CI"):
            pytest.fail("scp is missing: install the Debian package openssh-client")
        pytest.skip("scp is not installed (Debian: openssh-client)")


@pytest.fixture
async def cluster(tmp_path: Path):
    """The lab's Kubernetes API server on loopback, seeded, asking for a bearer token (kubeserver.py)."""
    from kubeserver import TOKEN, start_cluster

    c = await start_cluster(tmp_path, token=TOKEN)
    yield c
    await c.server.stop()


@pytest.fixture
async def kube(cluster):
    """The official client, as the transport wraps it, on ``cluster``'s kubeconfig."""
    from runbook_tui.language.inventory import KubeTarget
    from runbook_tui.transports.kube import KubeClient

    client = KubeClient("cluster", KubeTarget(kubeconfig=str(cluster.kubeconfig)))
    yield client
    await client.close()
