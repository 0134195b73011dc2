"""Kubernetes failures as one sentence each: an ApiException (or a websocket handshake failure)
keeps its HTTP status in the ``KubeError``; a connection failure says why in plain words."""

from __future__ import annotations

import json
import re
from typing import Any

from runbook_tui.errors import KubeError


def translate(err: BaseException, *, context: str, server: str | None, kind: str | None = None,
              namespace: str | None = None, name: str | None = None) -> KubeError:
    """Any error of a request as a ``KubeError``."""
    if isinstance(err, KubeError):
        return err
    if is_connection_error(err):
        return connection_error(err, server or "?", context)
    status = getattr(err, "status", None)
    if status is not None:
        return api_error(err, context=context, server=server, kind=kind, namespace=namespace, name=name)
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return KubeError(f"Kubernetes request failed (context {context}): {reason}.")


def _status_of(err: Any) -> dict:
    """The Status object in an ApiException's body, or in a websocket handshake failure."""
    body = getattr(err, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = body or ""
    if not text and getattr(err, "reason", None):
        m = re.search(r"\{.*\}", str(err.reason), re.S)
        text = m.group(0) if m else ""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _sentence(text: str) -> str:
    text = " ".join(str(text).split())
    return text if text.endswith((".", "!", "?")) else text + "."


def is_connection_error(err: BaseException) -> bool:
    import urllib3.exceptions as ux

    if isinstance(err, (ux.MaxRetryError, ux.NewConnectionError, ux.ProtocolError, ux.TimeoutError,
                        ConnectionError, OSError)):
        return True
    # The websocket transport reports connection failures as ApiException(status=0).
    return getattr(err, "status", None) == 0 and "Handshake status" not in str(getattr(err, "reason", ""))


def _chain(err: BaseException) -> list[BaseException]:
    """The exception, what it wraps (urllib3's ``reason``) and its causes."""
    out: list[BaseException] = []
    todo: list[Any] = [err]
    while todo and len(out) < 12:
        e = todo.pop()
        if e is None or any(e is o for o in out):
            continue
        out.append(e)
        reason = getattr(e, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
        todo.extend([e.__cause__, e.__context__])
    return out


def connection_error(err: BaseException, server: str, context: str) -> KubeError:
    chain = _chain(err)
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        why = "connection refused"
    elif "timed out" in text or "timeout" in text:
        why = "the connection timed out"
    elif "name or service not known" in text or "nodename nor servname" in text or "resolution" in text:
        why = "the host name does not resolve"
    elif "reset" in text or "aborted" in text or "remote end closed" in text:
        why = "the connection was dropped"
    else:
        why = "the connection failed"
    return KubeError(f"Cannot reach the Kubernetes API at {server} (context {context}): {why}.", 0)


def api_error(err: Any, *, context: str, server: str | None, kind: str | None = None,
              namespace: str | None = None, name: str | None = None) -> KubeError:
    """An ApiException as one sentence, keeping its HTTP status."""
    status = int(getattr(err, "status", 0) or 0)
    reason_text = str(getattr(err, "reason", "") or "")
    if status == 0:
        m = re.search(r"Handshake status (\d+)", reason_text)
        if not m:
            return connection_error(err, server or "?", context)
        status = int(m.group(1))
    body = _status_of(err)
    message = body.get("message") or reason_text or f"HTTP {status}"
    details = body.get("details") or {}
    singular = (kind or details.get("kind") or "object").lower()
    if singular.endswith("s") and details.get("kind") == singular:
        singular = singular[:-1]
    where = f"{namespace}/{name}" if namespace and name else (name or namespace or "")
    ours = name is not None and (not details.get("name") or details.get("name") == name)
    if status == 401:
        text = (f"The Kubernetes API at {server} (context {context}) rejected our credentials "
                "(401 Unauthorized); check the kubeconfig user")
    elif status == 403:
        text = f"Forbidden by the Kubernetes API (context {context}): {message}"
    elif status == 404 and ours:
        text = f"{singular} {where} not found"
    elif status == 404:
        text = f"Not found (context {context}): {message}"
    elif status == 409 and body.get("reason") == "AlreadyExists" and ours:
        text = f"{singular} {where} already exists"
    elif status == 409:
        text = f"Conflict on {singular} {where}: {message}"
    elif status == 422:
        text = f"The Kubernetes API rejected {singular} {where} as invalid: {message}"
    elif status >= 500:
        text = f"The Kubernetes API at {server} (context {context}) failed with HTTP {status}: {message}"
    else:
        text = f"The Kubernetes API refused the request for {singular} {where} (HTTP {status}): {message}"
    return KubeError(_sentence(text), status)
