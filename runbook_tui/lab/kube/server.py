"""A generic, in-process Kubernetes API server for the lab and the tests.

Plain HTTP on loopback, speaking enough of the real API for kubectl and the official Python
client: discovery, CRUD with selectors, watch, the four patch types, Status errors, server-side
tables, ``pods/log`` and ``pods/exec``. The lab adds behaviour through hooks (``on_change``,
``set_log_provider``, ``set_exec_handler``) and writes objects through ``server.store``.

    server = KubeAPIServer(command_log=log, target="cluster")
    port = await server.start()
    write_kubeconfig(path, server.url, namespace="mailserver")   # kube.kubeconfig
    ...
    await server.stop()

This module routes a request and answers reads; the rest is in the modules named after their
job: ``discovery``, ``writes`` (bodies, create, patch, delete options), ``watch``, ``pods``
(log and exec), ``errors`` (Status objects), ``tables`` (``kubectl get`` columns).
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Callable

from aiohttp import web

from runbook_tui.lab.command_log import CommandLog
from runbook_tui.lab.kube.admission import admit
from runbook_tui.lab.kube.discovery import SERVER_VERSION, api_group, api_versions, group_list, resource_list
from runbook_tui.lab.kube.errors import ApiError, existing, forbidden, no_such_path, status_body
from runbook_tui.lab.kube.leases import is_lease_request
from runbook_tui.lab.kube.patch import PatchError
from runbook_tui.lab.kube.pods import ExecHandler, LogProvider, exec_request, serve_exec, serve_logs
from runbook_tui.lab.kube.resources import ResourceRegistry, ResourceType
from runbook_tui.lab.kube.selectors import SelectorError
from runbook_tui.lab.kube.store import ChangeCallback, Store, StoreError
from runbook_tui.lab.kube.tables import to_table
from runbook_tui.lab.kube.watch import serve_watch
from runbook_tui.lab.kube.writes import apply_patch, check_identity, create, propagation_policy, read_body
from runbook_tui.lab.proof import PROOF_HEADER

logger = logging.getLogger(__name__)

__all__ = ["KubeAPIServer", "ResourceType", "Store"]


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
        self.store.admission.append(admit)
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
        # Tests set a list to count round trips: (method, path) of every request, reads too.
        self.requests: list[tuple[str, str]] | None = None
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
        if self.requests is not None:
            self.requests.append((request.method, request.path))
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.token is not None and not self._authorized(request.headers.get("Authorization", "")):
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

    def _authorized(self, header: str) -> bool:
        # The scheme is case-insensitive, as in kube-apiserver: the client's in-cluster
        # configuration sends "bearer <token>".
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and token == self.token

    @staticmethod
    def _status(err: StoreError) -> web.Response:
        return web.json_response(status_body(err.code, err.reason, err.message, err.details), status=err.code)

    def _record(self, command: str, mutating: bool = True) -> None:
        if self.command_log is not None:
            # The runs' own lock changes nothing on the mail edge: logged as a read (leases.py).
            self.command_log.record(self.target, command, mutating and not is_lease_request(command))

    def _check_forbidden(self, verb: str, rtype: ResourceType, sub: str | None, ns: str | None, name: str | None) -> None:
        resource = f"{rtype.plural}/{sub}" if sub else rtype.plural
        if rtype.plural not in self.forbidden and resource not in self.forbidden:
            return
        raise forbidden(self.user, verb, rtype, resource, ns, name)

    # --- routing -----------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["version"]:
            return web.json_response(SERVER_VERSION)
        if parts == ["api"]:
            return web.json_response(api_versions(f"{self._host}:{self._port}"))
        if parts == ["apis"]:
            return web.json_response(group_list(self.registry))
        if parts and parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts and parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                return web.json_response(api_group(self.registry, parts[1]))
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise no_such_path()
        types = self.registry.in_group_version(group, version)
        if not types:
            raise no_such_path()
        if not rest:
            return web.json_response(resource_list(group, version, types))
        watch = False
        if rest[0] == "watch":
            watch, rest = True, rest[1:]
        return await self._resource_request(request, group, version, rest, watch)

    async def _resource_request(
        self, request: web.Request, group: str, version: str, rest: list[str], watch: bool
    ) -> web.StreamResponse:
        ns: str | None = None
        lookup = self.registry.by_plural
        if rest[0] == "namespaces" and len(rest) >= 3 and (t := lookup(group, version, rest[2])) and t.namespaced:
            ns, rest = rest[1], rest[2:]
        rtype = lookup(group, version, rest[0])
        if rtype is None or len(rest) > 3 or (ns is None and rtype.namespaced and len(rest) > 1):
            raise no_such_path()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub and sub not in rtype.subresources:
            raise no_such_path()
        method = request.method
        q = request.query
        watch = watch or q.get("watch") in ("true", "1")
        dry_run = "dryRun" in q

        if name is None:
            if method == "GET" and watch:
                self._check_forbidden("watch", rtype, None, ns, None)
                return await serve_watch(request, self.store, rtype, ns)
            if method == "GET":
                self._check_forbidden("list", rtype, None, ns, None)
                return self._list(request, rtype, ns)
            if method == "POST":
                self._check_forbidden("create", rtype, None, ns, None)
                self._record(f"POST {request.path}")
                body = await read_body(request)
                return self._respond(request, rtype, create(self.store, rtype, ns, body, dry_run), 201)
            if method == "DELETE":
                self._check_forbidden("deletecollection", rtype, None, ns, None)
                self._record(f"DELETE {request.path}")
                items = self.store.select(rtype, ns, q.get("labelSelector"), q.get("fieldSelector"))
                gone = [self.store.remove(rtype, o["metadata"].get("namespace"), o["metadata"]["name"], dry_run=dry_run) for o in list(items)]
                return web.json_response(self._list_body(rtype, gone))
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

        if sub == "log":
            self._check_forbidden("get", rtype, sub, ns, name)
            return await serve_logs(request, ns, name, existing(self.store, rtype, ns, name), self._log_provider,
                                    self.store)
        if sub == "exec":
            self._check_forbidden("create", rtype, sub, ns, name)
            return await self._exec(request, rtype, ns or "", name)
        if method == "GET":
            self._check_forbidden("get", rtype, sub, ns, name)
            return self._respond(request, rtype, existing(self.store, rtype, ns, name))
        if method == "PUT":
            self._check_forbidden("update", rtype, sub, ns, name)
            self._record(f"PUT {request.path}")
            body = await read_body(request)
            check_identity(rtype, body, ns, name)
            obj = self.store.replace(
                rtype, body, keep_status=rtype.has_status and sub is None, status_only=sub == "status", dry_run=dry_run
            )
            return self._respond(request, rtype, obj)
        if method == "PATCH":
            self._check_forbidden("patch", rtype, sub, ns, name)
            self._record(f"PATCH {request.path}")
            obj, created = await apply_patch(self.store, request, rtype, ns, name, sub, dry_run)
            return self._respond(request, rtype, obj, 201 if created else 200)
        if method == "DELETE":
            self._check_forbidden("delete", rtype, sub, ns, name)
            self._record(f"DELETE {request.path}")
            policy = await propagation_policy(request)
            existing(self.store, rtype, ns, name)
            obj = self.store.remove(rtype, ns, name, cascade=policy != "Orphan", dry_run=dry_run)
            return web.json_response(obj)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    # --- answers ------------------------------------------------------------------------------

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

    async def _exec(self, request: web.Request, rtype: ResourceType, ns: str, name: str) -> web.StreamResponse:
        container, command = exec_request(request, existing(self.store, rtype, ns, name))
        mutating = self.exec_classifier(command) if self.exec_classifier else True
        self._record(f"EXEC {request.path} -c {container} -- {shlex.join(command)}", mutating)
        return await serve_exec(request, self._exec_handler, ns, name, container, command, self._sockets)
