"""A generic, in-process Kubernetes API server for the lab and the tests.

Plain HTTP on loopback, speaking enough of the real API for kubectl and the official Python
client: discovery, CRUD with selectors, watch, the four patch types, Status errors, server-side
tables, ``pods/log`` and ``pods/exec``. The lab adds behaviour through hooks (``on_change``,
``set_log_provider``, ``set_exec_handler``) and writes objects through ``server.store``.

    server = KubeAPIServer(command_log=log, target="cluster")
    port = await server.start()
    write_kubeconfig(path, server.url, namespace="mailserver")
    ...
    await server.stop()
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import shlex
from pathlib import Path
from typing import Any, Callable

import yaml
from aiohttp import web

from runbook_tui.lab.command_log import CommandLog
from runbook_tui.lab.kube.patch import (
    PatchError,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from runbook_tui.lab.kube.pods import ExecHandler, serve_exec
from runbook_tui.lab.kube.resources import ALL_VERBS, ResourceRegistry, ResourceType
from runbook_tui.lab.kube.selectors import SelectorError, field_selector, label_selector
from runbook_tui.lab.kube.store import ChangeCallback, Gone, Store, StoreError
from runbook_tui.lab.kube.tables import to_table
from runbook_tui.lab.proof import PROOF_HEADER

logger = logging.getLogger(__name__)

__all__ = ["KubeAPIServer", "ResourceType", "Store", "write_kubeconfig"]

#: provider(namespace, pod, container, tail_lines, since_seconds) -> the log text (or an awaitable of it).
LogProvider = Callable[[str, str, str, "int | None", "int | None"], str]

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T00:00:00Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_JSON = "application/json"


def status_body(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class ApiError(StoreError):
    """An error answered as a Status object."""


def _qualified(rtype: ResourceType) -> str:
    return f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural


class KubeAPIServer:
    def __init__(
        self,
        *,
        command_log: CommandLog | None = None,
        target: str = "cluster",
        token: str | None = None,
        user: str = "lab",
        exec_classifier: Callable[[list[str]], bool] | None = None,
        registry: ResourceRegistry | None = None,
        proof: str | None = None,
    ):
        self.store = Store(registry)
        self.command_log = command_log
        self.target = target
        # When set, requests need "Authorization: Bearer <token>". kubectl sends credentials only
        # over TLS, so a token makes this plain-HTTP server usable by the Python client alone.
        self.token = token
        self.user = user
        self.exec_classifier = exec_classifier
        self.proof = proof  # sent on every response as PROOF_HEADER (see workspace.lab_proven)
        self.forbidden: set[str] = set()  # plurals (or "pods/exec") answered with 403
        self.latency: float = 0.0  # seconds added to every request
        self._log_provider: LogProvider | None = None
        self._exec_handler: ExecHandler | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._host = "127.0.0.1"
        self._sockets: set[web.WebSocketResponse] = set()

    # --- lifecycle and hooks ---------------------------------------------------------------

    @property
    def registry(self) -> ResourceRegistry:
        return self.store.registry

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the API server is not started")
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int | None:
        return self._port

    def on_change(self, callback: ChangeCallback) -> None:
        """``callback(event_type, resource, obj)`` after every write, API or Python side."""
        self.store.on_change(callback)

    def set_log_provider(self, provider: LogProvider | None) -> None:
        self._log_provider = provider

    def set_exec_handler(self, handler: ExecHandler | None) -> None:
        self._exec_handler = handler

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        if self.proof:
            app.on_response_prepare.append(self._present_proof)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._host = host
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self._port

    async def _present_proof(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers[PROOF_HEADER] = self.proof or ""  # lab.proof

    async def stop(self) -> None:
        self.store.close_all_watches()
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.store.cancel_tasks()

    async def __aenter__(self) -> "KubeAPIServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- plumbing ----------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.token is not None and request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._status(ApiError(401, "Unauthorized", "Unauthorized"))
        try:
            return await handler(request)
        except StoreError as err:
            return self._status(err)
        except (SelectorError, PatchError) as err:
            return self._status(ApiError(400, "BadRequest", str(err)))
        except web.HTTPException:
            raise
        except Exception as err:  # a failing hook or provider: answer like the real API, keep serving
            logger.exception("lab Kubernetes API: %s %s failed", request.method, request.path)
            return self._status(ApiError(500, "InternalError", f"Internal error occurred: {err}"))

    @staticmethod
    def _status(err: StoreError) -> web.Response:
        return web.json_response(status_body(err.code, err.reason, err.message, err.details), status=err.code)

    def _record(self, command: str, mutating: bool = True) -> None:
        if self.command_log is not None:
            self.command_log.record(self.target, command, mutating)

    def _check_forbidden(self, verb: str, rtype: ResourceType, sub: str | None, ns: str | None, name: str | None) -> None:
        resource = f"{rtype.plural}/{sub}" if sub else rtype.plural
        if rtype.plural not in self.forbidden and resource not in self.forbidden:
            return
        what = f'{_qualified(rtype)} "{name}"' if name else _qualified(rtype)
        scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        raise ApiError(
            403,
            "Forbidden",
            f'{what} is forbidden: User "{self.user}" cannot {verb} resource "{resource}" '
            f'in API group "{rtype.group}" {scope}',
            {"name": name, "group": rtype.group, "kind": rtype.plural} if name else {"group": rtype.group, "kind": rtype.plural},
        )

    # --- routing -----------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["version"]:
            return web.json_response(SERVER_VERSION)
        if parts == ["api"]:
            return web.json_response(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self._host}:{self._port}"}],
                }
            )
        if parts == ["apis"]:
            return web.json_response(self._group_list())
        if parts and parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts and parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                groups = [g for g in self._group_list()["groups"] if g["name"] == parts[1]]
                if not groups:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                return web.json_response({"kind": "APIGroup", "apiVersion": "v1", **groups[0]})
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        types = self.registry.in_group_version(group, version)
        if not types:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return web.json_response(self._resource_list(group, version, types))
        watch = False
        if rest[0] == "watch":
            watch, rest = True, rest[1:]
        return await self._resource_request(request, group, version, rest, watch)

    def _group_list(self) -> dict:
        groups = []
        for name, versions in self.registry.groups().items():
            entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
            groups.append({"name": name, "versions": entries, "preferredVersion": dict(entries[0])})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    @staticmethod
    def _resource_list(group: str, version: str, types: list[ResourceType]) -> dict:
        resources = []
        for t in types:
            entry: dict[str, Any] = {
                "name": t.plural,
                "singularName": t.singular,
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": ALL_VERBS,
            }
            if t.short_names:
                entry["shortNames"] = list(t.short_names)
            if t.categories:
                entry["categories"] = list(t.categories)
            resources.append(entry)
            for sub in t.subresources:
                kind, verbs = {
                    "status": (t.kind, ["get", "patch", "update"]),
                    "log": ("Pod", ["get"]),
                    "exec": ("PodExecOptions", ["create", "get"]),
                }.get(sub, (t.kind, ["get"]))
                resources.append(
                    {"name": f"{t.plural}/{sub}", "singularName": "", "namespaced": t.namespaced, "kind": kind, "verbs": verbs}
                )
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}

    async def _resource_request(
        self, request: web.Request, group: str, version: str, rest: list[str], watch: bool
    ) -> web.StreamResponse:
        ns: str | None = None
        lookup = self.registry.by_plural
        if rest[0] == "namespaces" and len(rest) >= 3 and (t := lookup(group, version, rest[2])) and t.namespaced:
            ns, rest = rest[1], rest[2:]
        rtype = lookup(group, version, rest[0])
        if rtype is None or len(rest) > 3 or (ns is None and rtype.namespaced and len(rest) > 1):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub and sub not in rtype.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        method = request.method
        q = request.query
        watch = watch or q.get("watch") in ("true", "1")
        dry_run = "dryRun" in q

        if name is None:
            if method == "GET" and watch:
                self._check_forbidden("watch", rtype, None, ns, None)
                return await self._watch(request, rtype, ns)
            if method == "GET":
                self._check_forbidden("list", rtype, None, ns, None)
                return self._list(request, rtype, ns)
            if method == "POST":
                self._check_forbidden("create", rtype, None, ns, None)
                self._record(f"POST {request.path}")
                body = await self._body(request, rtype)
                return self._respond(request, rtype, self._create(rtype, ns, body, dry_run), 201)
            if method == "DELETE":
                self._check_forbidden("deletecollection", rtype, None, ns, None)
                self._record(f"DELETE {request.path}")
                items = self.store.select(rtype, ns, q.get("labelSelector"), q.get("fieldSelector"))
                gone = [self.store.remove(rtype, o["metadata"].get("namespace"), o["metadata"]["name"], dry_run=dry_run) for o in list(items)]
                return web.json_response(self._list_body(rtype, gone))
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

        if sub == "log":
            self._check_forbidden("get", rtype, sub, ns, name)
            return await self._logs(request, rtype, ns, name)
        if sub == "exec":
            self._check_forbidden("create", rtype, sub, ns, name)
            return await self._exec(request, rtype, ns or "", name)
        if method == "GET":
            self._check_forbidden("get", rtype, sub, ns, name)
            return self._respond(request, rtype, self._existing(rtype, ns, name))
        if method == "PUT":
            self._check_forbidden("update", rtype, sub, ns, name)
            self._record(f"PUT {request.path}")
            body = await self._body(request, rtype)
            self._check_identity(rtype, body, ns, name)
            obj = self.store.replace(
                rtype, body, keep_status=rtype.has_status and sub is None, status_only=sub == "status", dry_run=dry_run
            )
            return self._respond(request, rtype, obj)
        if method == "PATCH":
            self._check_forbidden("patch", rtype, sub, ns, name)
            self._record(f"PATCH {request.path}")
            obj, created = await self._patch(request, rtype, ns, name, sub, dry_run)
            return self._respond(request, rtype, obj, 201 if created else 200)
        if method == "DELETE":
            self._check_forbidden("delete", rtype, sub, ns, name)
            self._record(f"DELETE {request.path}")
            policy = q.get("propagationPolicy")
            raw = await request.read()
            if raw:
                try:
                    opts = json.loads(raw)
                    policy = opts.get("propagationPolicy", policy) if isinstance(opts, dict) else policy
                except ValueError:
                    raise ApiError(400, "BadRequest", "invalid DeleteOptions body")
            self._existing(rtype, ns, name)
            obj = self.store.remove(rtype, ns, name, cascade=policy != "Orphan", dry_run=dry_run)
            return web.json_response(obj)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    # --- handlers ------------------------------------------------------------------------------

    def _existing(self, rtype: ResourceType, ns: str | None, name: str) -> dict:
        obj = self.store.get_raw(rtype, ns, name)
        if obj is None:
            raise ApiError(
                404, "NotFound", f'{_qualified(rtype)} "{name}" not found',
                {"name": name, "group": rtype.group, "kind": rtype.plural},
            )
        return obj

    def _list_body(self, rtype: ResourceType, items: list[dict]) -> dict:
        return {
            "kind": f"{rtype.kind}List",
            "apiVersion": rtype.api_version,
            "metadata": {"resourceVersion": str(self.store.resource_version)},
            "items": items,
        }

    def _list(self, request: web.Request, rtype: ResourceType, ns: str | None) -> web.Response:
        items = self.store.select(rtype, ns, request.query.get("labelSelector"), request.query.get("fieldSelector"))
        if self._wants_table(request):
            return web.json_response(
                to_table(rtype, items, str(self.store.resource_version), request.query.get("includeObject", "Metadata"))
            )
        return web.json_response(self._list_body(rtype, items))

    def _respond(self, request: web.Request, rtype: ResourceType, obj: dict, status: int = 200) -> web.Response:
        if request.method == "GET" and self._wants_table(request):
            body = to_table(rtype, [obj], obj["metadata"].get("resourceVersion", ""), request.query.get("includeObject", "Metadata"))
            return web.json_response(body, status=status)
        return web.json_response(obj, status=status)

    @staticmethod
    def _wants_table(request: web.Request) -> bool:
        accept = request.headers.get("Accept", "")
        return "as=Table" in accept and "g=meta.k8s.io" in accept

    async def _body(self, request: web.Request, rtype: ResourceType) -> Any:
        raw = await request.read()
        if "protobuf" in request.content_type or "cbor" in request.content_type:
            raise ApiError(
                415, "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json, application/yaml",
            )
        try:
            if "yaml" in request.content_type:
                body = yaml.safe_load(raw)
            else:
                body = json.loads(raw or b"null")
        except (ValueError, yaml.YAMLError) as err:
            raise ApiError(400, "BadRequest", f"the body of the request could not be decoded: {err}")
        return body

    def _invalid(self, rtype: ResourceType, name: str, field: str, message: str) -> ApiError:
        return ApiError(
            422,
            "Invalid",
            f'{rtype.kind} "{name}" is invalid: {field}: {message}',
            {"name": name, "group": rtype.group, "kind": rtype.kind, "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}]},
        )

    def _validate(self, rtype: ResourceType, body: Any) -> None:
        if not isinstance(body, dict):
            raise self._invalid(rtype, "", "<body>", "Invalid value: the body must be a JSON object")
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if kind and kind != rtype.kind:
            raise ApiError(400, "BadRequest", f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})")
        if api_version and api_version != rtype.api_version:
            raise ApiError(
                400, "BadRequest",
                f"the API version in the data ({api_version}) does not match the expected API version ({rtype.api_version})",
            )
        meta = body.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise self._invalid(rtype, "", "metadata", "Invalid value: must be an object")
        meta = meta or {}
        name = meta.get("name") or ""
        if not name and not meta.get("generateName"):
            raise self._invalid(rtype, "", "metadata.name", "Required value: name or generateName is required")
        if name and (not isinstance(name, str) or len(name) > 253 or not _DNS1123.match(name)):
            raise self._invalid(
                rtype, str(name), "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric '
                "characters, '-' or '.', and must start and end with an alphanumeric character",
            )
        labels = meta.get("labels")
        if labels is not None and (not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values())):
            raise self._invalid(rtype, name, "metadata.labels", "Invalid value: label values must be strings")

    def _check_identity(self, rtype: ResourceType, body: Any, ns: str | None, name: str) -> None:
        self._validate(rtype, body)
        meta = body.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise ApiError(400, "BadRequest", f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        meta["name"] = name
        if rtype.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = ns

    def _create(self, rtype: ResourceType, ns: str | None, body: Any, dry_run: bool) -> dict:
        self._validate(rtype, body)
        meta = body.setdefault("metadata", {})
        if rtype.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = ns
            ns_type = self.registry.by_kind("v1", "Namespace")
            if ns_type and self.store.get_raw(ns_type, None, ns or "") is None:
                raise ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})
        return self.store.create(rtype, body, dry_run=dry_run)

    async def _patch(
        self, request: web.Request, rtype: ResourceType, ns: str | None, name: str, sub: str | None, dry_run: bool
    ) -> tuple[dict, bool]:
        ctype = request.content_type
        patch = await self._body(request, rtype)
        current = self.store.get_raw(rtype, ns, name)
        if ctype == "application/apply-patch+yaml":
            if current is None and sub is None:
                self._check_identity(rtype, patch, ns, name)
                return self._create(rtype, ns, patch, dry_run), True
            fn = strategic_merge_patch if rtype.builtin else merge_patch
        elif ctype == "application/merge-patch+json":
            fn = merge_patch
        elif ctype == "application/strategic-merge-patch+json":
            if not rtype.builtin:
                raise ApiError(
                    415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: "
                    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                )
            fn = strategic_merge_patch
        elif ctype == "application/json-patch+json":
            fn = json_patch
        else:
            raise ApiError(
                415, "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
                "application/strategic-merge-patch+json",
            )
        if current is None:
            self._existing(rtype, ns, name)
        if fn is not json_patch and not isinstance(patch, dict):
            raise ApiError(400, "BadRequest", "the patch must be a JSON object")
        try:
            new = fn(current, patch)
        except PatchError as err:
            raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {err}")
        if not isinstance(new, dict):
            raise self._invalid(rtype, name, "<body>", "Invalid value: the patched object is not an object")
        self._validate(rtype, {**new, "metadata": {**(new.get("metadata") or {}), "name": name}})
        new.setdefault("metadata", {})
        new["metadata"]["name"] = name
        if rtype.namespaced:
            new["metadata"]["namespace"] = ns
        obj = self.store.replace(
            rtype, new, keep_status=rtype.has_status and sub is None, status_only=sub == "status", dry_run=dry_run
        )
        return obj, False

    async def _watch(self, request: web.Request, rtype: ResourceType, ns: str | None) -> web.StreamResponse:
        q = request.query
        labels, fields = label_selector(q.get("labelSelector")), field_selector(q.get("fieldSelector"))
        try:
            timeout = float(q.get("timeoutSeconds", "1800"))
        except ValueError:
            raise ApiError(400, "BadRequest", "invalid timeoutSeconds")
        resp = web.StreamResponse(headers={"Content-Type": _JSON})
        resp.enable_chunked_encoding()
        try:
            w = self.store.open_watch(rtype, ns, lambda o: labels(o) and fields(o), q.get("resourceVersion"))
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
                except asyncio.TimeoutError:
                    break
                if item is None:
                    break
                event_type, obj = item
                await resp.write(json.dumps({"type": event_type, "object": obj}).encode() + b"\n")
            await resp.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.store.close_watch(w)
        return resp

    async def _logs(self, request: web.Request, rtype: ResourceType, ns: str | None, name: str) -> web.Response:
        pod = self._existing(rtype, ns, name)
        container = self._container(pod, request.query.get("container"))
        q = request.query
        tail = int(q["tailLines"]) if q.get("tailLines") else None
        since = int(q["sinceSeconds"]) if q.get("sinceSeconds") else None
        text: Any = self._log_provider(ns or "", name, container, tail, since) if self._log_provider else ""
        if inspect.isawaitable(text):
            text = await text
        if tail is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail:]) if tail > 0 else ""
        return web.Response(text=text, content_type="text/plain")

    @staticmethod
    def _container(pod: dict, container: str | None) -> str:
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

    async def _exec(self, request: web.Request, rtype: ResourceType, ns: str, name: str) -> web.StreamResponse:
        pod = self._existing(rtype, ns, name)
        container = self._container(pod, request.query.get("container"))
        command = request.query.getall("command", [])
        if not command:
            raise ApiError(400, "BadRequest", "you must specify at least 1 command")
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            raise ApiError(400, "BadRequest", f"cannot exec into a container in a completed pod; current phase is {phase}")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise ApiError(400, "BadRequest", "Upgrade request required")
        mutating = self.exec_classifier(command) if self.exec_classifier else True
        self._record(f"EXEC {request.path} -c {container} -- {shlex.join(command)}", mutating)
        return await serve_exec(request, self._exec_handler, ns, name, container, command, self._sockets)


def write_kubeconfig(
    path: str | Path,
    url: str,
    context: str = "lab",
    namespace: str | None = None,
    *,
    token: str = "lab-token",
    user: str = "lab",
) -> Path:
    """A kubeconfig for a plain-HTTP server with a token user, accepted by kubectl and the client."""
    ctx: dict[str, Any] = {"cluster": context, "user": user}
    if namespace:
        ctx["namespace"] = namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": url}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": ctx}],
        "current-context": context,
        "preferences": {},
    }
    path = Path(path)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path
