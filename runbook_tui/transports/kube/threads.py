"""The threads the official (synchronous) client runs in: a pool of its own.

The event loop's default executor has min(32, CPUs + 4) workers (six on two cores), shared with
everything else the process hands to threads: fifty checks at once, or a few watches waiting
for a Job, would queue behind each other there. A call here costs what ``asyncio.to_thread``
costs (a hand-off to a parked thread); what it saves is the queueing.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from runbook_tui.importing import load

T = TypeVar("T")

MAX_WORKERS = 64  # requests in flight at once; also the size of each client's connection pool
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="kube")
        return _pool


async def in_thread(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` in the pool, with the caller's context variables (as ``to_thread``)."""
    call = functools.partial(contextvars.copy_context().run, fn, *args)
    return await asyncio.get_running_loop().run_in_executor(pool(), call)


# What a request needs: the API client, its errors, the kubeconfig loader. The rest serves the
# dynamic client, exec and watches; the team Lease, a run's first request, waits for none of it.
CORE_MODULES = ("kubernetes.client", "kubernetes.client.exceptions", "kubernetes.config")
CLIENT_MODULES = (*CORE_MODULES, "kubernetes.dynamic", "kubernetes.stream.ws_client", "kubernetes.watch")


def load_client() -> None:
    """Import the official client's packages once, one thread at a time (runbook_tui.importing).
    Every lazy ``from kubernetes ...`` in this package comes after a call to this, or to
    ``load_core`` where only the core's modules are imported."""
    load(*CLIENT_MODULES)


def load_core() -> None:
    """``load_client`` for the core alone (CORE_MODULES)."""
    load(*CORE_MODULES)
