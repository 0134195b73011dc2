"""``kubectl logs -f``: a pod's log read as the container writes it, until the container ends.

The raw GET of ``pods/NAME/log?follow=true`` through the official client's transport, read
from the open urllib3 response a chunk at a time and cut into lines (a line split across two
chunks waits for its end). The worker thread blocks in that read, so a cancelled step shuts
the response's socket down from the cancelling side (``LogStream.close``): the read returns
at once instead of when the container next prints.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from runbook_tui.errors import KubeError
from runbook_tui.transports.base import RESULT_CAP, CommandResult, TailBuffer
from runbook_tui.transports.kube.config import REQUEST_TIMEOUT
from runbook_tui.transports.kube.pods import default_container, log_query, with_pod

if TYPE_CHECKING:
    from runbook_tui.transports.kube.client import KubeClient

# kubectl's --pod-running-timeout: how long a container still being created is waited for.
POD_RUNNING_TIMEOUT = 20.0
RETRY_DELAY = 0.25
# The kubelet's reasons for a container that will start by itself shortly (a pulling image
# that fails is said at once: waiting would not help).
STARTING = ("ContainerCreating", "PodInitializing")
CHUNK = 64 * 1024


class LogStream:
    """The open response of one follow, shared by the reading thread and the cancelling side."""

    def __init__(self, emit: Callable[[str], None]):
        self.emit = emit
        self._lock = threading.Lock()
        self._response: Any = None
        self.closed = False

    def attach(self, response: Any) -> None:
        with self._lock:
            self._response = response
            if self.closed:
                _shutdown(response)

    def close(self) -> None:
        """End the follow: a read blocked in the worker thread returns now."""
        with self._lock:
            self.closed = True
            if self._response is not None:
                _shutdown(self._response)


def _shutdown(response: Any) -> None:
    try:
        response.shutdown()  # urllib3 2.3+: shuts the socket's reading side, waking a blocked read
    except (RuntimeError, ValueError, OSError):
        pass  # already released or closed: nothing is blocked on it


def follow_logs(client: KubeClient, target: str, ns: str, container: str | None, tail: int | None,
                since: float | None, cancel: threading.Event, stream: LogStream) -> CommandResult:
    """What ``KubeClient.follow`` runs in its worker thread: the log, each line handed to
    ``stream.emit`` as it arrives, until the container ends (the response ends) or the
    follow is cancelled. The result keeps the last ``RESULT_CAP`` characters. As kubectl, a
    Job's pod not made yet, or a container still being created, is waited for a while."""
    res = client.resource("Pod", "v1")
    query = log_query(tail, since) + [("follow", "true")]
    deadline = time.monotonic() + POD_RUNNING_TIMEOUT

    def again(err: KubeError, why: str) -> None:
        """Wait before the next try, or say ``why`` there is none."""
        if time.monotonic() >= deadline:
            raise KubeError(why, err.status) from None
        if cancel.wait(RETRY_DELAY) or stream.closed:
            raise KubeError("The log read was cancelled.") from None

    def open_(pod: dict) -> Any:
        pod_name = pod["metadata"]["name"]
        c = default_container(pod, container)
        params = ([("container", c)] if c is not None else []) + query
        path = f"/api/v1/namespaces/{quote(ns)}/pods/{quote(pod_name)}/log"
        while True:
            try:
                # The client hands back urllib3's response unread (its transport never preloads
                # a body), once the headers are in. No read timeout: a quiet container is not a
                # dead one; the step's timeout and cancel end a follow through ``LogStream.close``.
                return client.guard(lambda: client.dyn.request(
                    "get", path, query_params=params, header_params={"Accept": "text/plain, */*"},
                    serialize=False, _request_timeout=(REQUEST_TIMEOUT[0], None),
                ), res, ns, pod_name)
            except KubeError as err:
                reason = next((r for r in STARTING if f"is waiting to start: {r}" in str(err)), None)
                if err.status != 400 or reason is None:
                    raise
                again(err, f"Container {c} of pod {ns}/{pod_name} did not start within {POD_RUNNING_TIMEOUT:g} s "
                           f"(still {reason}).")

    while True:
        try:
            response = with_pod(client, target, ns, True, open_)
            break
        except KubeError as err:
            if err.status != 404 or not str(err).startswith("No pods found"):
                raise
            # The Job controller has not made its pod yet.
            again(err, f"{str(err).rstrip('.')}, after waiting {POD_RUNNING_TIMEOUT:g} s for one.")
    stream.attach(response)
    return _read_lines(response, cancel, stream)


def _read_lines(response: Any, cancel: threading.Event, stream: LogStream) -> CommandResult:
    lines = TailBuffer()
    partial = b""
    try:
        while not (cancel.is_set() or stream.closed):
            try:
                chunk = response.read1(CHUNK)
            except Exception:
                if cancel.is_set() or stream.closed:
                    break
                raise
            if not chunk:
                break
            *whole, partial = (partial + chunk).split(b"\n")
            if len(partial) > RESULT_CAP:  # a runaway line without an end is cut, not kept growing
                whole.append(partial)
                partial = b""
            for raw in whole:
                line = raw.decode("utf-8", errors="replace")
                lines.append(line)
                stream.emit(line)
    finally:
        if cancel.is_set() or stream.closed:
            response.close()  # shut down: not fit to go back to the pool
        else:
            response.release_conn()
    if cancel.is_set() or stream.closed:
        raise KubeError("The log read was cancelled.")
    text = lines.text()
    if partial:  # the log's last line, without an end of line: kept as written
        last = partial.decode("utf-8", errors="replace")
        lines.append(last)
        stream.emit(last)
        text = lines.text()[:-1]
    return CommandResult(exit_code=None, stdout=text, truncated=lines.truncated)
