"""The pods behind ``deployment/NAME`` or ``job/NAME``, resolved once per run and client.

Finding them is two round trips (the controller for its selector, then the pods it selects)
before every exec or log read; validate reads the mailserver's pods twice and a Job's once. A
controller's selector is kept from any read of it (a Job just waited on): Deployments, Jobs,
ReplicaSets, StatefulSets and DaemonSets cannot change theirs. The pod list is kept for
``POD_TTL`` and forgotten when this client changes the controller or any pod of its namespace;
a kept pod the API no longer serves (404, a failed exec) is resolved afresh once by the caller.
"""

from __future__ import annotations

import threading
import time

# Kinds whose spec.selector the API refuses to change: a kept one stays true while the object lives.
IMMUTABLE_SELECTOR = frozenset({"Deployment", "Job", "ReplicaSet", "StatefulSet", "DaemonSet"})
POD_TTL = 60.0  # seconds a resolved pod list is used: one run's worth of reads, not a day's

Key = tuple[str, str, str]  # (kind as the API names it, namespace, name)


class PodCache:
    """Shared by a client's worker threads, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._selectors: dict[Key, str] = {}
        self._pods: dict[Key, tuple[float, list[dict]]] = {}

    def selector(self, key: Key) -> str | None:
        with self._lock:
            return self._selectors.get(key)

    def remember_selector(self, key: Key, selector: str) -> None:
        if key[0] in IMMUTABLE_SELECTOR and selector:
            with self._lock:
                self._selectors[key] = selector

    def pods(self, key: Key) -> list[dict] | None:
        with self._lock:
            kept = self._pods.get(key)
        if kept is None or time.monotonic() - kept[0] > POD_TTL:
            return None
        return kept[1]

    def remember_pods(self, key: Key, pods: list[dict]) -> None:
        with self._lock:
            self._pods[key] = (time.monotonic(), pods)

    def forget(self, key: Key) -> None:
        with self._lock:
            self._pods.pop(key, None)
            self._selectors.pop(key, None)

    def changed(self, kind: str, namespace: str | None, name: str | None) -> None:
        """This client wrote ``kind`` ``namespace/name``: what it selects may differ now."""
        with self._lock:
            if kind == "Pod":
                for key in [k for k in self._pods if k[1] == namespace]:
                    del self._pods[key]
            elif name is not None:
                self._pods.pop((kind, namespace or "", name), None)
                self._selectors.pop((kind, namespace or "", name), None)
