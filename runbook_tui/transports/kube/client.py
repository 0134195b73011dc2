"""Our Kubernetes client: one per cluster target, over the official (synchronous) client.

Every call runs in a worker thread (``threads.in_thread``: a pool of its own); long loops (wait, exec) take a
cancel flag that is set when the awaiting task is cancelled. Objects come back as plain dicts,
as ``kubectl get -o json`` shows them. Every failure is a ``KubeError`` with one sentence.
"""

from __future__ import annotations

import asyncio
import builtins  # KubeClient.list shadows list in the annotations inside the class
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_tui.errors import KubeError, StepTimeout
from runbook_tui.language.inventory import KubeTarget
from runbook_tui.transports.base import CommandResult, OutputCallback
from runbook_tui.transports.kube import discovery_cache, jobs, kinds
from runbook_tui.transports.kube.config import (
    REQUEST_TIMEOUT,
    kubeconfig_path,
    new_api_client,
    read_kubeconfig,
)
from runbook_tui.transports.kube.errors import api_error, translate
from runbook_tui.transports.kube.log_follow import LogStream, follow_logs
from runbook_tui.transports.kube.pod_cache import PodCache
from runbook_tui.transports.kube.pods import exec_in_pod, read_logs, selector_string
from runbook_tui.transports.kube.threads import in_thread, load_client
from runbook_tui.transports.kube.wait import EventCallback, watch_changed, watch_until

# How long an object a watch just delivered answers the get that follows (one look, one hand-off).
SEEN_FRESH = 1.0

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}


@dataclass
class KubeStatus:
    """What ``probe`` found: enough for a status line and a readable failure."""

    target: str
    context: str
    namespace: str
    server: str | None
    reachable: bool
    error: str | None = None
    version: str | None = None


class KubeClient:
    """One cluster target. ``context`` and ``namespace`` resolve like kubectl's: the target's,
    else the kubeconfig's current context and that context's namespace, else ``default``."""

    def __init__(self, name: str, target: KubeTarget):
        self.name = name
        self.target = target
        self.kubeconfig = kubeconfig_path(target)
        choice = read_kubeconfig(name, target, self.kubeconfig)
        self.context = choice.context
        self.namespace = choice.namespace
        self.server: str | None = choice.server
        self._config_error: str | None = choice.error
        self.in_cluster = choice.in_cluster
        self.api: Any = None  # kubernetes.client.ApiClient, once connected
        self._dyn: Any = None  # kubernetes.dynamic.DynamicClient
        self._kinds: dict[tuple[str, str | None], Any] = {}  # (kind as asked, api_version) -> resource
        self._kinds_lock = threading.Lock()
        self._lock = asyncio.Lock()
        self._cache_dir: str | None = None
        self._kept: Path | None = None  # where this cluster's discovery is kept between runs
        self._seeded: discovery_cache.Seed | None = None
        self.pods = PodCache()  # controllers' pods, resolved once per run (pod_cache.py)
        self._watch_refused = False  # the API answered a watch with an HTTP error: poll instead
        self._seen: dict[tuple[str, str, str], tuple[float, dict]] = {}  # changed() -> the next get
        self._planned: dict[tuple[str, str], dict] = {}  # (namespace, name) -> the Job a gate showed

    # --- connecting ----------------------------------------------------------------------------

    def _connect_sync(self) -> None:
        load_client()
        from kubernetes.dynamic import DynamicClient

        if self._config_error:
            raise KubeError(self._config_error)
        api = new_api_client(self.kubeconfig, self.context, in_cluster=self.in_cluster)
        self.server = api.configuration.host
        # A private copy of the kept discovery (discovery_cache.py); the client's default cache
        # lives in /tmp keyed by host:port only.
        self._cache_dir = tempfile.mkdtemp(prefix="runbook-kube-")
        private = Path(self._cache_dir) / "discovery.json"
        self._kept = discovery_cache.kept_path(self.server or "", self.context, self.kubeconfig, self.in_cluster)
        self._seeded = discovery_cache.seed(self._kept, private)
        try:
            dyn = DynamicClient(api, cache_file=str(private))
        except Exception as err:
            api.close()
            raise self._translate(err) from None
        self.api, self._dyn = api, dyn

    async def _ensure(self) -> None:
        if self._dyn is not None:
            return
        async with self._lock:
            if self._dyn is None:
                await in_thread(self._connect_sync)

    @property
    def dyn(self) -> Any:
        """The official DynamicClient (connected: only inside ``_run``'s worker calls)."""
        return self._dyn

    def _translate(self, err: BaseException, *, kind: str | None = None, namespace: str | None = None,
                   name: str | None = None) -> KubeError:
        return translate(err, context=self.context, server=self.server, kind=kind, namespace=namespace, name=name)

    async def _run(self, fn: Callable[[threading.Event], Any], *, kind: str | None = None,
                   namespace: str | None = None, name: str | None = None) -> Any:
        """Run ``fn(cancel)`` in a thread; translate its errors; set ``cancel`` if we are cancelled."""
        await self._ensure()
        cancel = threading.Event()
        try:
            return await in_thread(fn, cancel)
        except asyncio.CancelledError:
            cancel.set()
            raise
        except (KubeError, StepTimeout):
            raise
        except Exception as err:
            raise self._translate(err, kind=kind, namespace=namespace, name=name) from None

    # --- resource types ------------------------------------------------------------------------

    def resource(self, kind: str, api_version: str | None = None) -> Any:
        """The API resource ``kind`` names (kinds.py); a name the known groups lack is looked up
        again after a fresh discovery (a CRD installed since, a kept list that is behind)."""
        key = (kind.lower(), api_version)
        with self._kinds_lock:  # worker threads share the discoverer and its cache file
            if (found := self._kinds.get(key)) is not None:
                return found
            for refresh in (False, True):
                if refresh:
                    self._dyn.resources.invalidate_cache()
                    self._seeded = None  # discovered afresh: what is kept now is new
                found = kinds.find(self._dyn.resources, kind, api_version)
                if found is not None:
                    self._kinds[key] = found
                    return found
        where = f" in {api_version}" if api_version else ""
        raise KubeError(
            f"The Kubernetes API at {self.server} (context {self.context}) has no resource type {kind!r}{where}."
        )

    def _ns(self, res: Any, namespace: str | None) -> str | None:
        if not res.namespaced:
            return None
        return namespace or self.namespace

    # --- verbs ---------------------------------------------------------------------------------

    async def get(self, kind: str, name: str, *, namespace: str | None = None, api_version: str | None = None) -> dict:
        def call(cancel: threading.Event) -> dict:
            res = self.resource(kind, api_version)
            ns = self._ns(res, namespace)
            seen = self._seen.pop((res.kind, ns or "", name), None)
            if seen is not None and time.monotonic() - seen[0] < SEEN_FRESH:
                obj: dict = seen[1]  # as a watch delivered it a moment ago (``changed``)
            else:
                obj = self.guard(lambda: res.get(name=name, namespace=ns, _request_timeout=REQUEST_TIMEOUT).to_dict(),
                                 res, ns, name)
            # A Job just waited on: reading its log later needs only its pods, not it again.
            self.pods.remember_selector((res.kind, ns or "", name), selector_string((obj.get("spec") or {}).get("selector")))
            return obj

        return await self._run(call, kind=kind, namespace=namespace or self.namespace, name=name)

    async def list(self, kind: str, *, namespace: str | None = None, label_selector: str | None = None,
                   api_version: str | None = None) -> list[dict]:
        """``namespace="*"`` lists every namespace (kubectl's ``-A``)."""

        def call(cancel: threading.Event) -> list[dict]:
            res = self.resource(kind, api_version)
            ns = None if namespace == "*" else self._ns(res, namespace)
            result = self.guard(lambda: res.get(namespace=ns, label_selector=label_selector,
                                                _request_timeout=REQUEST_TIMEOUT).to_dict(), res, ns, None)
            return result.get("items") or []

        return await self._run(call, kind=kind, namespace=namespace or self.namespace)

    async def patch(self, kind: str, name: str, body: dict | builtins.list, *, namespace: str | None = None,
                    patch_type: str = "merge", api_version: str | None = None) -> dict:
        if patch_type not in PATCH_TYPES:
            raise KubeError(f"Unknown patch type {patch_type!r}; use merge, strategic or json.")
        if patch_type == "json" and not isinstance(body, list):
            raise KubeError("A JSON patch must be a list of operations.")
        if patch_type != "json" and not isinstance(body, dict):
            raise KubeError(f"A {patch_type} patch must be a mapping.")

        def call(cancel: threading.Event) -> dict:
            res = self.resource(kind, api_version)
            self.pods.changed(res.kind, self._ns(res, namespace), name)
            return self._patch_sync(res, name, self._ns(res, namespace), body, patch_type)

        return await self._run(call, kind=kind, namespace=namespace or self.namespace, name=name)

    def _patch_sync(self, res: Any, name: str, ns: str | None, body: Any, patch_type: str) -> dict:
        load_client()
        from kubernetes.client.exceptions import ApiException

        def send(ptype: str) -> dict:
            return res.patch(body=body, name=name, namespace=ns, content_type=PATCH_TYPES[ptype],
                             _request_timeout=REQUEST_TIMEOUT).to_dict()

        try:
            return send(patch_type)
        except ApiException as err:
            # Custom resources have no strategic merge; a merge patch is what kubectl suggests.
            if err.status == 415 and patch_type == "strategic":
                return self.guard(lambda: send("merge"), res, ns, name)
            raise api_error(err, context=self.context, server=self.server, kind=res.kind, namespace=ns, name=name) from None

    async def apply(self, manifest: dict, *, namespace: str | None = None) -> dict:
        """Create the object, or patch it when it exists (strategic for built-ins, else merge)."""
        if not isinstance(manifest, dict) or not manifest.get("kind") or not manifest.get("apiVersion"):
            raise KubeError("A manifest needs apiVersion and kind.")
        meta = manifest.get("metadata") or {}
        name = meta.get("name")
        if not name:
            raise KubeError(f"The {manifest['kind']} manifest has no metadata.name.")

        def call(cancel: threading.Event) -> dict:
            load_client()
            from kubernetes.client.exceptions import ApiException

            res = self.resource(manifest["kind"], manifest["apiVersion"])
            ns = self._ns(res, namespace or meta.get("namespace"))
            self.pods.changed(res.kind, ns, name)
            body = dict(manifest)
            if ns:
                body["metadata"] = {**meta, "namespace": ns}
            try:
                return res.create(body=body, namespace=ns, _request_timeout=REQUEST_TIMEOUT).to_dict()
            except ApiException as err:
                if err.status != 409:
                    raise api_error(err, context=self.context, server=self.server, kind=res.kind, namespace=ns, name=name) from None
            return self._patch_sync(res, name, ns, body, "strategic")

        return await self._run(call, kind=manifest["kind"], namespace=namespace or meta.get("namespace") or self.namespace, name=name)

    async def delete(self, kind: str, name: str, *, namespace: str | None = None,
                     propagation: str = "Background") -> dict:
        def call(cancel: threading.Event) -> dict:
            res = self.resource(kind)
            body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
            ns = self._ns(res, namespace)
            self.pods.changed(res.kind, ns, name)
            result = self.guard(lambda: res.delete(name=name, namespace=ns, body=body,
                                                   _request_timeout=REQUEST_TIMEOUT), res, ns, name)
            return result.to_dict() if hasattr(result, "to_dict") else dict(result or {})

        return await self._run(call, kind=kind, namespace=namespace or self.namespace, name=name)

    async def plan_job_from_cronjob(self, cronjob: str, job_name: str, *, namespace: str | None = None) -> dict:
        """The Job ``job_from_cronjob`` would create, read now for a gate to show: approved, it
        is the one created (so a gate costs no second read of the CronJob)."""
        cj = await self.get("CronJob", cronjob, namespace=namespace, api_version="batch/v1")
        job = jobs.job_from_cronjob(cj, job_name, namespace or self.namespace)
        self._planned[(namespace or self.namespace, job_name)] = job
        return job

    async def job_from_cronjob(self, cronjob: str, job_name: str, *, namespace: str | None = None) -> dict:
        """What ``kubectl create job NAME --from=cronjob/CRONJOB`` sends: the Job last shown at a
        gate for this name (``plan_job_from_cronjob``), else one made from the CronJob now."""
        if jobs.made_from(self._planned.get((namespace or self.namespace, job_name)) or {}) != cronjob:
            await self.plan_job_from_cronjob(cronjob, job_name, namespace=namespace)
        job = self._planned.pop((namespace or self.namespace, job_name))

        def call(cancel: threading.Event) -> dict:
            res = self.resource("Job", "batch/v1")
            ns = self._ns(res, namespace)
            self.pods.changed(res.kind, ns, job_name)
            return self.guard(lambda: res.create(body=job, namespace=ns, _request_timeout=REQUEST_TIMEOUT).to_dict(),
                              res, ns, job_name)

        return await self._run(call, kind="Job", namespace=namespace or self.namespace, name=job_name)

    def guard(self, fn: Callable[[], Any], res: Any, ns: str | None, name: str | None) -> Any:
        """``fn()``, with an ApiException it raises as the sentence about ``res`` ``ns/name``."""
        load_client()
        from kubernetes.client.exceptions import ApiException

        try:
            return fn()
        except ApiException as err:
            raise api_error(err, context=self.context, server=self.server, kind=res.kind,
                            namespace=ns if res.namespaced else None, name=name) from None

    # --- wait ----------------------------------------------------------------------------------

    async def wait(self, kind: str, name: str, condition: str, *, namespace: str | None = None,
                   timeout: float = 60, on_event: EventCallback | None = None) -> dict:
        """Watch until ``status.conditions[type==condition].status == "True"`` (case-insensitive),
        or until the object is gone for ``condition="delete"``. A Job that fails while we wait
        for anything else fails the wait at once."""
        loop = asyncio.get_running_loop()

        def emit(event_type: str, obj: dict) -> None:
            if on_event is not None:
                loop.call_soon_threadsafe(on_event, event_type, obj)

        def call(cancel: threading.Event) -> dict:
            res = self.resource(kind)
            return watch_until(self, res, name, self._ns(res, namespace), condition, timeout, cancel, emit)

        return await self._run(call, kind=kind, namespace=namespace or self.namespace, name=name)

    async def changed(self, kind: str, name: str, *, namespace: str | None = None, api_version: str | None = None,
                      resource_version: str | None = None, timeout: float = 1.0) -> bool:
        """Wait up to ``timeout`` s for the object to change after ``resource_version`` (a watch,
        not a poll): True as soon as it does. When the API refuses to watch (RBAC without the
        watch verb, a server without watch), or the watch fails, the time is slept out instead
        and False returned: the caller then looks again as it would have after a poll's delay."""
        start = time.monotonic()
        if resource_version and not self._watch_refused:
            def call(cancel: threading.Event) -> bool:
                res = self.resource(kind, api_version)
                ns = self._ns(res, namespace)
                obj = watch_changed(self, res, name, ns, resource_version, timeout, cancel)
                if obj:  # the next get of it (the look this wakes) is answered with it
                    self._seen[(res.kind, ns or "", name)] = (time.monotonic(), obj)
                return obj is not None

            try:
                return bool(await self._run(call, kind=kind, namespace=namespace or self.namespace, name=name))
            except KubeError as err:
                # An HTTP answer refusing the watch holds for the rest of the run; anything else
                # (a dropped connection) is for the next look to report.
                self._watch_refused = err.status >= 400
        await asyncio.sleep(max(0.0, timeout - (time.monotonic() - start)))
        return False

    # --- pods: logs and exec -------------------------------------------------------------------

    async def logs(self, name: str, *, namespace: str | None = None, container: str | None = None,
                   tail: int | None = None, since: float | None = None) -> str:
        ns = namespace or self.namespace

        def call(cancel: threading.Event) -> str:
            return read_logs(self, name, ns, container, tail, since)

        return await self._run(call, kind="Pod", namespace=ns, name=name)

    async def follow(self, name: str, *, namespace: str | None = None, container: str | None = None,
                     tail: int | None = None, since: float | None = None,
                     on_output: OutputCallback | None = None) -> CommandResult:
        """``logs -f``: lines reach ``on_output`` as the container writes them; returns when it
        ends. Cancelling shuts the open response down, so the worker thread is free at once."""
        ns = namespace or self.namespace
        loop = asyncio.get_running_loop()

        def emit(line: str) -> None:
            if on_output is not None:
                loop.call_soon_threadsafe(on_output, "stdout", line)

        stream = LogStream(emit)
        try:
            return await self._run(lambda cancel: follow_logs(self, name, ns, container, tail, since, cancel, stream),
                                   kind="Pod", namespace=ns, name=name)
        except asyncio.CancelledError:
            stream.close()
            raise

    async def exec(self, name: str, command: builtins.list[str], *, namespace: str | None = None,
                   container: str | None = None, on_output: OutputCallback | None = None,
                   timeout: float | None = None) -> CommandResult:
        """Run ``command`` in the pod; lines reach ``on_output`` as they arrive."""
        if not command:
            raise KubeError("exec needs a command.")
        ns = namespace or self.namespace
        loop = asyncio.get_running_loop()

        def emit(stream: str, line: str) -> None:
            if on_output is not None:
                loop.call_soon_threadsafe(on_output, stream, line)

        def call(cancel: threading.Event) -> CommandResult:
            return exec_in_pod(self, name, ns, list(command), container, timeout, cancel, emit)

        return await self._run(call, kind="Pod", namespace=ns, name=name)

    # --- health --------------------------------------------------------------------------------

    async def probe(self) -> KubeStatus:
        status = KubeStatus(self.name, self.context, self.namespace, self.server, reachable=False)
        if self._config_error:
            status.error = self._config_error
            return status
        try:
            # Asked of the server itself: connecting may have made no request (discovery kept).
            version = await self._run(lambda cancel: self._dyn.request(
                "get", "/version", serializer=lambda _client, data: data, _request_timeout=REQUEST_TIMEOUT))
            status.version = (version or {}).get("gitVersion")
            status.reachable = True
        except KubeError as err:
            status.error = str(err)
        status.server = self.server
        return status

    async def close(self) -> None:
        api, self.api, self._dyn = self.api, None, None
        self._kinds.clear()
        if api is not None:
            await in_thread(api.close)
        if self._cache_dir:
            if self._kept is not None:
                discovery_cache.keep(Path(self._cache_dir) / "discovery.json", self._kept, self._seeded)
            shutil.rmtree(self._cache_dir, ignore_errors=True)
            self._cache_dir = None


class KubePool:
    """One ``KubeClient`` per cluster target, built on first use."""

    def __init__(self, targets: Mapping[str, KubeTarget]):
        self._targets = dict(targets)
        self._clients: dict[str, KubeClient] = {}

    def client(self, target: str) -> KubeClient:
        if target not in self._clients:
            if target not in self._targets:
                known = ", ".join(sorted(self._targets)) or "none"
                raise KubeError(f"No Kubernetes target named {target!r} in the inventory (known: {known}).")
            self._clients[target] = KubeClient(target, self._targets[target])
        return self._clients[target]

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for c in clients:
            await c.close()

