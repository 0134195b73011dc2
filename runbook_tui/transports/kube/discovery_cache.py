"""The API's resource types kept between runs, as kubectl keeps them (``~/.kube/cache/discovery``).

Finding a kind's resource costs one request per API group before the first call (seven on the
lab; each one a round trip to a distant cluster). Kept on disk, the next run within ``TTL``
makes none. A kind the kept list lacks still triggers a fresh discovery (``KubeClient.resource``),
so a new CRD is found at once; a kept list is trusted only for ``TTL``, so a removed type is
forgotten soon after.

The official DynamicClient reads and writes its cache file in place, not atomically: each client
gets a private copy, and at close a copy it refreshed replaces the kept one with ``os.replace``,
so concurrent runs never read a half-written file. The key is the server, the context and the
kubeconfig files as they are now (path, size, mtime): another kubeconfig (a new lab, a changed
cluster) never meets an old list. The folder is ``$XDG_CACHE_HOME/runbook-tui/kube-discovery``
(else ``~/.cache/...``); deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from runbook_tui.user_cache import cache_folder

TTL = 600.0  # seconds a kept list is trusted (kubectl's was 10 minutes for years)


def folder() -> Path:
    return cache_folder("kube-discovery")


def _stamp(path: str) -> list[object]:
    try:
        st = os.stat(path)
    except OSError:
        return [path, -1, -1]
    return [path, st.st_size, st.st_mtime_ns]


def kept_path(server: str, context: str, kubeconfig: str, in_cluster: bool) -> Path:
    files = [] if in_cluster else [_stamp(os.path.expanduser(p)) for p in kubeconfig.split(os.pathsep) if p]
    key = json.dumps([server, context, files, in_cluster])
    return folder() / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def _fresh(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime < TTL
    except OSError:
        return False


@dataclass(frozen=True)
class Seed:
    copied: int  # the private copy's mtime (ns) once copied: unchanged means nothing was added
    discovered: float  # when the kept list was discovered (its mtime): its TTL runs from then


def seed(kept: Path, private: Path) -> Seed | None:
    """Copy a fresh kept list to ``private``."""
    if not _fresh(kept):
        return None
    try:
        discovered = kept.stat().st_mtime
        shutil.copyfile(kept, private)
        return Seed(private.stat().st_mtime_ns, discovered)
    except OSError:
        return None


def keep(private: Path, kept: Path, seeded: Seed | None) -> None:
    """Put a list the client wrote (not the one it was seeded with) in place for the next run.
    Groups read into a seeded list do not make the rest of it younger: the kept file keeps the
    seed's discovery time (``seeded`` is None after the client discovered everything afresh)."""
    try:
        if seeded is not None and private.stat().st_mtime_ns == seeded.copied:
            return
        kept.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=kept.parent, prefix=".new-", suffix=".json")
        os.close(fd)
        shutil.copyfile(private, tmp)
        if seeded is not None:
            os.utime(tmp, (seeded.discovered, seeded.discovered))
        os.replace(tmp, kept)
    except OSError:
        return  # a cache that cannot be written only costs the next run its discovery
    _prune(kept.parent)


def _prune(where: Path) -> None:
    """Lists past their TTL are never read again (a lab's is keyed by its port): remove them."""
    now = time.time()
    for path in where.glob("*.json"):
        try:
            if now - path.stat().st_mtime > TTL:
                path.unlink()
        except OSError:
            continue
