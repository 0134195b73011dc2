"""A pod's subresources: ``pods/log`` from a provider (``follow=true`` streams it until the pod
ends), ``pods/exec`` over a websocket.

Exec answers the way kubelet does through the API server: binary frames prefixed by a channel
byte, 1 stdout, 2 stderr, 3 the final status as JSON. ``v5.channel.k8s.io`` adds channel 255
(close a stream) from the client, which we ignore: we never read stdin.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from runbook_tui.lab.kube.errors import ApiError
from runbook_tui.lab.kube.store import Store

#: provider(namespace, pod, container, tail_lines, since_seconds) -> the log text (or an awaitable of it).
LogProvider = Callable[[str, str, str, "int | None", "int | None"], str]

#: async handler(namespace, pod, container, command) -> (stdout, stderr, exit_code).
#: It may instead return an async iterator of (stream, text) pairs, stream being "stdout" or
#: "stderr", ending with ("exit", "<code>"): output then reaches the client as it is produced.
ExecResult = tuple[str, str, int] | AsyncIterator[tuple[str, str]]
ExecHandler = Callable[[str, str, str, list[str]], Awaitable[ExecResult] | AsyncIterator[tuple[str, str]]]

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDOUT, STDERR, STATUS = 1, 2, 3


def exit_status(command: list[str], code: int) -> dict:
    """The status frame: what kubelet sends on channel 3."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            f"command terminated with non-zero exit code: error executing command {command}, "
            f"exit code {code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def container_of(pod: dict, container: str | None) -> str:
    """The container a request names, or the pod's only one; the API's error otherwise."""
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    pod_name = pod["metadata"]["name"]
    if container:
        if container not in names:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {pod_name}")
        return container
    if len(names) == 1:
        return names[0]
    if not names:
        raise ApiError(400, "BadRequest", f"pod {pod_name} has no containers")
    raise ApiError(
        400, "BadRequest",
        f"a container name must be specified for pod {pod_name}, choose one of: [{' '.join(names)}]",
    )


FOLLOW_POLL = 0.2  # seconds between looks for new log text when the pod has not changed


def _waiting(pod: dict, container: str) -> str | None:
    """Why ``container`` has not started yet (``ContainerCreating``), or None once it has."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            waiting = (status.get("state") or {}).get("waiting")
            return (waiting.get("reason") or "ContainerCreating") if isinstance(waiting, dict) else None
    return None


def _finished(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _last(text: str, tail: int | None) -> str:
    if tail is None:
        return text
    lines = text.splitlines(keepends=True)
    return "".join(lines[-tail:]) if tail > 0 else ""


async def _read(provider: LogProvider | None, ns: str | None, name: str, container: str, tail: int | None,
                since: int | None) -> str:
    text: Any = provider(ns or "", name, container, tail, since) if provider else ""
    if inspect.isawaitable(text):
        text = await text
    return str(text)


async def serve_logs(
    request: web.Request, ns: str | None, name: str, pod: dict, provider: LogProvider | None,
    store: Store | None = None,
) -> web.StreamResponse:
    container = container_of(pod, request.query.get("container"))
    q = request.query
    tail = int(q["tailLines"]) if q.get("tailLines") else None
    since = int(q["sinceSeconds"]) if q.get("sinceSeconds") else None
    reason = _waiting(pod, container)
    if reason is not None:
        # assumption: kubelet's words (validateContainerLogStatus in its source), not captured
        # from a live API server.
        raise ApiError(400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    if q.get("follow") not in ("true", "1") or store is None:
        return web.Response(text=_last(await _read(provider, ns, name, container, tail, since), tail),
                            content_type="text/plain")
    return await _follow(request, store, ns, pod, container, since, tail, provider)


async def _follow(request: web.Request, store: Store, ns: str | None, pod: dict, container: str,
                  since: int | None, tail: int | None, provider: LogProvider | None) -> web.StreamResponse:
    """``follow=true``: the log as it is, then what is added to it, until the pod has finished
    (or is deleted); a running pod's follow stays open until the client hangs up. Each write
    reaches the client as one chunk, as the kubelet flushes each line."""
    name = pod["metadata"]["name"]
    watch = store.open_watch(store.resolve("v1", "Pod"), ns, lambda o: o["metadata"]["name"] == name,
                             str(store.resource_version))
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
        sent = await _read(provider, ns, name, container, None, since)
        await resp.write(_last(sent, tail).encode())
        done = _finished(pod)
        while not done:
            try:
                item = await asyncio.wait_for(watch.queue.get(), FOLLOW_POLL)
            except TimeoutError:
                item = ()  # no change to the pod: look for new text all the same
            if item is None or request.transport is None or request.transport.is_closing():
                break  # the server is stopping, or the client hung up
            if item:
                event_type, obj = item
                done = event_type == "DELETED" or _finished(obj)
            text = await _read(provider, ns, name, container, None, since)
            # Only text added after what was sent: a log that was rewritten (the mailserver's
            # is drawn afresh for each read) has nothing new to follow.
            if len(text) > len(sent) and text.startswith(sent):
                await resp.write(text[len(sent):].encode())
                sent = text
        await resp.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the client went away mid-stream
    finally:
        store.close_watch(watch)
    return resp


def exec_request(request: web.Request, pod: dict) -> tuple[str, list[str]]:
    """The container and command of a ``pods/exec`` request the API server would accept."""
    container = container_of(pod, request.query.get("container"))
    command = request.query.getall("command", [])
    if not command:
        raise ApiError(400, "BadRequest", "you must specify at least 1 command")
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise ApiError(400, "BadRequest", f"cannot exec into a container in a completed pod; current phase is {phase}")
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise ApiError(400, "BadRequest", "Upgrade request required")
    return container, command


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, so close frames and pings are handled."""
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break


async def serve_exec(
    request: web.Request,
    handler: ExecHandler | None,
    namespace: str,
    pod: str,
    container: str,
    command: list[str],
    open_sockets: set[web.WebSocketResponse],
) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=PROTOCOLS, autoclose=True)
    await ws.prepare(request)
    open_sockets.add(ws)
    reader = asyncio.ensure_future(_drain(ws))
    runner = asyncio.ensure_future(_run(ws, handler, namespace, pod, container, command))
    try:
        # A client that hangs up (or a server that stops) ends the command too.
        await asyncio.wait({reader, runner}, return_when=asyncio.FIRST_COMPLETED)
        if runner.done() and not ws.closed:
            try:
                code = runner.result()
            except Exception as exc:  # a broken lab handler is the command failing, not a hang
                await _send(ws, "stderr", f"exec failed in the lab: {exc}\n")
                code = 1
            await ws.send_bytes(bytes([STATUS]) + json.dumps(exit_status(command, code)).encode())
    except (ConnectionResetError, RuntimeError):
        pass  # the client went away mid-stream
    finally:
        for task in (reader, runner):
            task.cancel()
        await asyncio.gather(reader, runner, return_exceptions=True)
        if not ws.closed:
            await ws.close()
        open_sockets.discard(ws)
    return ws


async def _send(ws: web.WebSocketResponse, stream: str, text: str) -> None:
    if text:
        await ws.send_bytes(bytes([STDOUT if stream == "stdout" else STDERR]) + text.encode())


async def _run(
    ws: web.WebSocketResponse,
    handler: ExecHandler | None,
    namespace: str,
    pod: str,
    container: str,
    command: list[str],
) -> int:
    if handler is None:
        await _send(ws, "stderr", f"exec: {command[0] if command else ''}: not available in this lab\n")
        return 126
    result: Any = handler(namespace, pod, container, command)
    if hasattr(result, "__aiter__"):
        code = 0
        async for stream, text in result:
            if stream == "exit":
                code = int(text)
            else:
                await _send(ws, stream, text)
        return code
    stdout, stderr, code = await result
    # One frame per line, like a process writing line-buffered output.
    for line in stdout.splitlines(keepends=True):
        await _send(ws, "stdout", line)
    for line in stderr.splitlines(keepends=True):
        await _send(ws, "stderr", line)
    return int(code)
