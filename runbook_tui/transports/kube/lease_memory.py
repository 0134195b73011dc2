"""What this machine last saw of a free team Lease, kept between runs so the next run takes it
with one request instead of two.

A release (or any read that finds the Lease without a holder) learns its resourceVersion while
it is free. The next ``acquire`` replaces the Lease over that resourceVersion at once: the API
accepts it only if nobody wrote the Lease since, so it is exactly the write a fresh read of a
free Lease would have led to, and anything else (409 Conflict, 404 gone) sends it back to
reading first. An entry is used once (dropped as it is taken), so a stale one costs one 409.

One small JSON file per Lease (server or kubeconfig#context, namespace, name) in the user cache
folder, written atomically and readable by the user alone; a file that cannot be read, does not
parse or names another Lease is ignored. The Lease's uid goes into the write too, so a Lease
recreated in a rebuilt cluster whose resourceVersions happen to match is refused, not taken.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from runbook_tui.user_cache import cache_folder, write_private

KEEP_DAYS = 7  # older entries are removed: a lab's is keyed by its port, and the team moved on


@dataclass(frozen=True)
class FreeLease:
    """A Lease as last seen free: replace it over ``resource_version`` to take it."""

    resource_version: str
    uid: str
    transitions: int


def folder() -> Path:
    return cache_folder("leases")


def _identity(key: tuple[str, str], name: str) -> list[str]:
    return [key[0], key[1], name]


def path_for(key: tuple[str, str], name: str) -> Path:
    digest = hashlib.sha256(json.dumps(_identity(key, name)).encode()).hexdigest()[:32]
    return folder() / f"{digest}.json"


def remember(key: tuple[str, str], name: str, free: FreeLease) -> None:
    """Keep FREE for the next acquire; a cache that cannot be written only costs it a read."""
    path = path_for(key, name)
    text = json.dumps({"lease": _identity(key, name), "resourceVersion": free.resource_version,
                       "uid": free.uid, "transitions": free.transitions})
    try:
        write_private(path, text)
    except OSError:
        return
    _prune(path.parent)


def take(key: tuple[str, str], name: str) -> FreeLease | None:
    """The Lease's remembered free state, dropped as it is read: it is good for one try."""
    path = path_for(key, name)
    try:
        raw = path.read_bytes()
    except OSError:
        return None  # none kept (the usual case for a first run), or unreadable
    forget(key, name)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("lease") != _identity(key, name):
        return None
    version, uid, transitions = data.get("resourceVersion"), data.get("uid", ""), data.get("transitions")
    if not (isinstance(version, str) and version and isinstance(uid, str)):
        return None
    if not isinstance(transitions, int) or isinstance(transitions, bool) or transitions < 0:
        return None
    return FreeLease(version, uid, transitions)


def forget(key: tuple[str, str], name: str) -> None:
    try:
        path_for(key, name).unlink(missing_ok=True)
    except OSError:
        pass  # a folder in its place, or no permission: take ignores it the same way


def _prune(where: Path) -> None:
    old = time.time() - KEEP_DAYS * 86400
    for path in where.glob("*.json"):
        try:
            if path.stat().st_mtime < old:
                path.unlink()
        except OSError:
            continue
