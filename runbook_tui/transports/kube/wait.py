"""Waiting on the cluster: watch an object until a condition in its status is True, or until it
is gone, failing at once when a Job we wait on fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runbook_tui.errors import KubeError, StepTimeout
from runbook_tui.transports.kube.config import REQUEST_TIMEOUT
from runbook_tui.transports.kube.errors import api_error
from runbook_tui.transports.kube.threads import load_client

if TYPE_CHECKING:
    from runbook_tui.transports.kube.client import KubeClient

#: on_event(event_type, obj) while waiting: ADDED / MODIFIED / DELETED as the watch sees them.
EventCallback = Callable[[str, dict], None]

# A watch is re-opened at least this often so a cancelled wait frees its thread quickly.
WATCH_WINDOW = 5


def watch_until(client: KubeClient, res: Any, name: str, ns: str | None, condition: str, timeout: float,
                cancel: threading.Event, emit: Callable[[str, dict], None]) -> dict:
    """What ``KubeClient.wait`` runs in its worker thread: list, then watch in short windows
    (re-listing when the watch expires) until ``condition`` holds, the deadline passes or
    ``cancel`` is set."""
    load_client()
    from kubernetes import watch as kwatch
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import ReadTimeoutError

    deadline = time.monotonic() + timeout
    wanted = condition.lower()
    is_job = res.kind == "Job" and res.group == "batch"
    field = f"metadata.name={name}"

    def decide(obj: dict | None) -> dict | None:
        """The object when the wait is over; raises when it can never succeed."""
        if wanted == "delete":
            return {} if obj is None else None
        if obj is None:
            return None
        conds = (obj.get("status") or {}).get("conditions") or []
        for c in conds:
            if str(c.get("type", "")).lower() == wanted and c.get("status") == "True":
                return obj
        if is_job and wanted != "failed":
            for c in conds:
                if c.get("type") == "Failed" and c.get("status") == "True":
                    why = c.get("message") or c.get("reason") or "no reason given"
                    reason = f" ({c['reason']})" if c.get("reason") and c.get("message") else ""
                    where = f"{ns}/{name}" if ns else name
                    raise KubeError(f"Job {where} failed while waiting for {condition}: {why.rstrip('.')}{reason}.", 0)
        return None

    resource_version: str | None = None
    while True:
        if cancel.is_set():
            raise KubeError("The wait was cancelled.")
        if resource_version is None:
            listing = client.guard(
                lambda: res.get(namespace=ns, field_selector=field, _request_timeout=REQUEST_TIMEOUT).to_dict(),
                res, ns, name)
            items = listing.get("items") or []
            done = decide(items[0] if items else None)
            if done is not None:
                return done
            resource_version = (listing.get("metadata") or {}).get("resourceVersion")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StepTimeout(
                f"timed out waiting for the condition on {res.name}/{name} after {timeout:g} s"
            )
        window = max(1, min(WATCH_WINDOW, int(remaining + 0.999)))
        watcher = kwatch.Watch()
        try:
            # The server ends the watch after whole seconds; the read timeout ends it on time.
            for event in watcher.stream(
                res.get, namespace=ns, field_selector=field, resource_version=resource_version,
                timeout_seconds=window, serialize=False,
                _request_timeout=(REQUEST_TIMEOUT[0], min(window, remaining) + 0.05),
            ):
                if cancel.is_set():
                    watcher.stop()
                    break
                obj = event["raw_object"]
                resource_version = (obj.get("metadata") or {}).get("resourceVersion", resource_version)
                emit(event["type"], obj)
                done = decide(None if event["type"] == "DELETED" else obj)
                if done is not None:
                    watcher.stop()
                    return done
        except ReadTimeoutError:
            continue  # nothing happened in this window
        except ApiException as err:
            if err.status == 410:
                resource_version = None  # expired: list again
                continue
            raise api_error(err, context=client.context, server=client.server, kind=res.kind, namespace=ns, name=name) from None


def watch_changed(client: KubeClient, res: Any, name: str, ns: str | None, resource_version: str,
                  timeout: float, cancel: threading.Event) -> dict | None:
    """What ``KubeClient.changed`` runs in its worker thread: at the first change to the object
    after ``resource_version``, the object as the watch delivered it (``{}`` once deleted, or
    when the change is known but not the object); None when ``timeout`` passes first."""
    load_client()
    from kubernetes import watch as kwatch
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import ReadTimeoutError

    watcher = kwatch.Watch()
    try:
        # The server ends the watch after whole seconds; the read timeout ends it on time.
        for event in watcher.stream(
            res.get, namespace=ns, field_selector=f"metadata.name={name}", resource_version=resource_version,
            timeout_seconds=max(1, int(timeout + 0.999)), serialize=False,
            _request_timeout=(REQUEST_TIMEOUT[0], timeout + 0.05),
        ):
            if cancel.is_set():
                return None
            obj = event.get("raw_object") or {}
            seen = (obj.get("metadata") or {}).get("resourceVersion")
            if event.get("type") in ("ADDED", "MODIFIED", "DELETED") and seen != resource_version:
                return {} if event["type"] == "DELETED" else obj
    except ReadTimeoutError:
        return None
    except ApiException as err:
        if err.status == 410:
            return {}  # our version is too old to watch from: it has changed since; look again
        raise
    finally:
        watcher.stop()
    return None
