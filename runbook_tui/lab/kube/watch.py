"""``?watch=true``: a chunked stream of JSON events, one line each, until the timeout.

A resourceVersion older than the store's history answers like the real server: the stream
opens, then one ERROR event carries the 410 Gone.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from runbook_tui.lab.kube.errors import ApiError, status_body
from runbook_tui.lab.kube.resources import ResourceType
from runbook_tui.lab.kube.selectors import field_selector, label_selector
from runbook_tui.lab.kube.store import Gone, Store


async def serve_watch(request: web.Request, store: Store, rtype: ResourceType, ns: str | None) -> web.StreamResponse:
    q = request.query
    labels, fields = label_selector(q.get("labelSelector")), field_selector(q.get("fieldSelector"))
    try:
        timeout = float(q.get("timeoutSeconds", "1800"))
    except ValueError:
        raise ApiError(400, "BadRequest", "invalid timeoutSeconds") from None
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    try:
        w = store.open_watch(rtype, ns, lambda o: labels(o) and fields(o), q.get("resourceVersion"))
    except Gone as err:
        # Like the real server: the watch opens, then one ERROR event carries the 410.
        await resp.prepare(request)
        event = {"type": "ERROR", "object": status_body(err.code, err.reason, err.message)}
        await resp.write(json.dumps(event).encode() + b"\n")
        await resp.write_eof()
        return resp
    try:
        await resp.prepare(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                item = await asyncio.wait_for(w.queue.get(), remaining)
            except TimeoutError:
                break
            if item is None:
                break
            event_type, obj = item
            await resp.write(json.dumps({"type": event_type, "object": obj}).encode() + b"\n")
        await resp.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        store.close_watch(w)
    return resp
