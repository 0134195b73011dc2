"""A pod's subresources: ``pods/log`` from a provider, ``pods/exec`` over a websocket.

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


async def serve_logs(
    request: web.Request, ns: str | None, name: str, pod: dict, provider: LogProvider | None
) -> web.Response:
    container = container_of(pod, request.query.get("container"))
    q = request.query
    tail = int(q["tailLines"]) if q.get("tailLines") else None
    since = int(q["sinceSeconds"]) if q.get("sinceSeconds") else None
    text: Any = provider(ns or "", name, container, tail, since) if provider else ""
    if inspect.isawaitable(text):
        text = await text
    if tail is not None:
        lines = text.splitlines(keepends=True)
        text = "".join(lines[-tail:]) if tail > 0 else ""
    return web.Response(text=text, content_type="text/plain")


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
