"""Pods as kubectl finds them: the pod behind ``job/NAME`` or ``deployment/NAME`` (kubectl's
choice among a controller's pods), its default container, its logs (followed: log_follow.py),
and exec with output streamed line by line. The functions taking a client run in its worker thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from runbook_tui.errors import KubeError, StepTimeout
from runbook_tui.transports.base import CommandResult, TailBuffer
from runbook_tui.transports.kube.config import REQUEST_TIMEOUT
from runbook_tui.transports.kube.errors import api_error
from runbook_tui.transports.kube.pod_cache import Key
from runbook_tui.transports.kube.threads import load_client

T = TypeVar("T")

if TYPE_CHECKING:
    from runbook_tui.transports.kube.client import KubeClient


def find_pod(client: KubeClient, target: str, ns: str, for_logs: bool) -> tuple[dict, Key | None]:
    """A pod name, or ``job/NAME`` / ``deployment/NAME``: the pod kubectl would choose, and the
    controller's key when the pod came from the client's kept list (pod_cache.py)."""
    if "/" not in target:
        res = client.resource("Pod", "v1")
        return client.guard(lambda: res.get(name=target, namespace=ns, _request_timeout=REQUEST_TIMEOUT).to_dict(),
                            res, ns, target), None
    kind, _, name = target.partition("/")
    owner_res = client.resource(kind)
    key: Key = (owner_res.kind, ns, name)
    if owner_res.kind != "Pod" and (kept := client.pods.pods(key)) is not None:
        return pick_pod(kept, for_logs=for_logs), key
    selector = client.pods.selector(key)
    if selector is None:
        owner = client.guard(lambda: owner_res.get(name=name, namespace=ns, _request_timeout=REQUEST_TIMEOUT).to_dict(),
                             owner_res, ns, name)
        if owner_res.kind == "Pod":
            return owner, None
        selector = selector_string((owner.get("spec") or {}).get("selector"))
        if not selector:
            raise KubeError(f"{owner_res.kind} {ns}/{name} has no pod selector.")
        client.pods.remember_selector(key, selector)
    pod_res = client.resource("Pod", "v1")
    pods = client.guard(lambda: pod_res.get(namespace=ns, label_selector=selector,
                                            _request_timeout=REQUEST_TIMEOUT).to_dict(), pod_res, ns, None)
    items = pods.get("items") or []
    if not items:
        client.pods.forget(key)
        raise KubeError(f"No pods found for {owner_res.kind.lower()} {ns}/{name} (selector {selector}).", 404)
    client.pods.remember_pods(key, items)
    return pick_pod(items, for_logs=for_logs), None


def with_pod(client: KubeClient, target: str, ns: str, for_logs: bool, use: Callable[[dict], T]) -> T:
    """``use(pod)`` for the pod behind ``target``; a kept pod that fails (gone since, 404) is
    resolved afresh and tried once more, so a stale list never decides the outcome. ``use``
    must be safe to repeat: a log read, or opening an exec (never reading one)."""
    pod, key = find_pod(client, target, ns, for_logs)
    if key is None:
        return use(pod)
    try:
        return use(pod)
    except KubeError:
        client.pods.forget(key)
    pod, _ = find_pod(client, target, ns, for_logs)
    return use(pod)


def default_container(pod: dict, container: str | None) -> str | None:
    """The container asked for, else the pod's default-container annotation, else its first."""
    if container:
        return container
    meta = pod.get("metadata") or {}
    default = (meta.get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if default:
        return default
    containers = (pod.get("spec") or {}).get("containers") or []
    return containers[0].get("name") if containers else None


def log_query(tail: int | None, since: float | None) -> list[tuple[str, Any]]:
    """``--tail`` and ``--since`` as the query of a pods/log GET."""
    query: list[tuple[str, Any]] = []
    if tail is not None:
        query.append(("tailLines", int(tail)))
    if since is not None:
        query.append(("sinceSeconds", max(1, int(since))))
    return query


def read_logs(client: KubeClient, name: str, ns: str, container: str | None, tail: int | None,
              since: float | None) -> str:
    """What ``KubeClient.logs`` runs in its worker thread: the pod's log as text."""
    query = log_query(tail, since)
    res = client.resource("Pod", "v1")

    def read(pod: dict) -> str:
        pod_name = pod["metadata"]["name"]
        c = default_container(pod, container)
        params = ([("container", c)] if c is not None else []) + query
        # The raw GET of pods/log through the official client's transport, as kubectl sends it:
        # CoreV1Api would do the same but costs most of a second to import (its pydantic models).
        response = client.guard(lambda: client.dyn.request(
            "get", f"/api/v1/namespaces/{quote(ns)}/pods/{quote(pod_name)}/log", query_params=params,
            header_params={"Accept": "text/plain, */*"}, serialize=False, _request_timeout=REQUEST_TIMEOUT,
        ), res, ns, pod_name)
        return str(response.data.decode("utf-8", errors="replace"))

    return with_pod(client, name, ns, True, read)


def exec_in_pod(client: KubeClient, target: str, ns: str, command: list[str], container: str | None,
                timeout: float | None, cancel: threading.Event, emit: Callable[[str, str], None]) -> CommandResult:
    """What ``KubeClient.exec`` runs in its worker thread: the exec websocket into the pod
    behind ``target``, read until the command ends, ``timeout`` passes or ``cancel`` is set."""

    def open_(pod: dict) -> tuple[dict, Any]:
        return pod, open_exec(client, pod, ns, command, default_container(pod, container))

    pod, ws = with_pod(client, target, ns, False, open_)
    return read_exec(ws, pod, ns, default_container(pod, container), timeout, cancel, emit)


def open_exec(client: KubeClient, pod: dict, ns: str, command: list[str], container: str | None) -> Any:
    """The exec websocket, opened: the command has started."""
    load_client()
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream.ws_client import websocket_call

    pod_name = pod["metadata"]["name"]
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise KubeError(f"Cannot exec into pod {ns}/{pod_name}: it has completed (phase {phase}).", 400)
    query: list[tuple[str, Any]] = [("command", command)]
    if container:
        query.append(("container", container))
    query += [("stderr", True), ("stdin", False), ("stdout", True), ("tty", False)]
    # The request CoreV1Api.connect_get_namespaced_pod_exec serializes (auth headers included),
    # opened by the official client's websocket call without importing CoreV1Api (most of a
    # second: its pydantic models) or swapping call_api on a shared ApiClient as stream() does.
    _, url, headers, _, _ = client.api.param_serialize(
        method="GET", resource_path="/api/v1/namespaces/{namespace}/pods/{name}/exec",
        path_params={"namespace": ns, "name": pod_name}, query_params=query, header_params={"Accept": "*/*"},
        collection_formats={"command": "multi"}, auth_settings=["BearerToken"],
    )
    try:
        ws = websocket_call(client.api.configuration, "GET", url, headers=headers, _preload_content=False,
                            _request_timeout=REQUEST_TIMEOUT)
    except ApiException as err:
        raise api_error(err, context=client.context, server=client.server, kind="Pod", namespace=ns, name=pod_name) from None
    return ws


def read_exec(ws: Any, pod: dict, ns: str, container: str | None, timeout: float | None, cancel: threading.Event,
              emit: Callable[[str, str], None]) -> CommandResult:
    """Read an opened exec until the command ends, ``timeout`` passes or ``cancel`` is set."""
    pod_name = pod["metadata"]["name"]
    buffers = {"stdout": TailBuffer(), "stderr": TailBuffer()}
    partial = {"stdout": "", "stderr": ""}

    def feed(stream_name: str, text: str) -> None:
        data = partial[stream_name] + text
        *lines, partial[stream_name] = data.split("\n")
        for line in lines:
            buffers[stream_name].append(line)
            emit(stream_name, line)

    deadline = time.monotonic() + timeout if timeout else None
    try:
        while ws.is_open():
            if cancel.is_set():
                raise KubeError("The exec was cancelled.")
            if deadline is not None and time.monotonic() > deadline:
                where = f" -c {container}" if container else ""
                raise StepTimeout(f"exec in pod {ns}/{pod_name}{where} timed out after {timeout:g} s")
            ws.update(timeout=0.2)
            for stream_name, read in (("stdout", ws.read_stdout), ("stderr", ws.read_stderr)):
                text = read(timeout=0) if ws.is_open() else read()
                if text:
                    feed(stream_name, text)
        for stream_name, read in (("stdout", ws.read_stdout), ("stderr", ws.read_stderr)):
            text = read()
            if text:
                feed(stream_name, text)
        for stream_name, rest in partial.items():
            if rest:
                buffers[stream_name].append(rest)
                emit(stream_name, rest)
        code = ws.returncode
    finally:
        ws.close()
    return CommandResult(
        exit_code=code,
        stdout=buffers["stdout"].text(),
        stderr=buffers["stderr"].text(),
        truncated=buffers["stdout"].truncated or buffers["stderr"].truncated,
    )


# --- choosing a pod like kubectl --------------------------------------------------------------


def selector_string(selector: dict | None) -> str:
    """A ``spec.selector`` (matchLabels and matchExpressions) as a label selector."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), ",".join(expr.get("values") or [])
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": f"{key}", "DoesNotExist": f"!{key}"}.get(op, ""))
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        parts = [f"{k}={v}" for k, v in selector.items() if isinstance(v, str)]  # a Service-style map
    return ",".join(p for p in parts if p)


def _ready_since(pod: dict) -> str | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "True":
            return c.get("lastTransitionTime") or ""
    return None


def _max_restarts(pod: dict) -> int:
    return max((c.get("restartCount", 0) for c in (pod.get("status") or {}).get("containerStatuses") or []), default=0)


def pick_pod(pods: list[dict], *, for_logs: bool) -> dict:
    """kubectl's choice among a controller's pods (``podutils``): for exec, ActivePods reversed
    (scheduled, Running, Ready, ready longest, fewest restarts, oldest); for logs, ByLogging
    (the same, but the pod with the most restarts first: it is the interesting one)."""
    phase_rank: dict[str | None, int] = {"Running": 0, "Unknown": 1, "Pending": 2}

    def key(pod: dict) -> tuple:
        spec, status, meta = pod.get("spec") or {}, pod.get("status") or {}, pod.get("metadata") or {}
        ready = _ready_since(pod)
        restarts = _max_restarts(pod)
        return (
            0 if spec.get("nodeName") else 1,
            phase_rank.get(status.get("phase"), 3),
            0 if ready is not None else 1,
            ready or "~",  # ISO timestamps sort in time order; earlier = ready longer
            -restarts if for_logs else restarts,
            meta.get("creationTimestamp") or "~",
        )

    return sorted(pods, key=key)[0]
