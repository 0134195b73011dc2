"""Our Kubernetes client: one per cluster target, over the official (synchronous) client.

Every call runs in a worker thread (``asyncio.to_thread``); long loops (wait, exec) take a
cancel flag that is set when the awaiting task is cancelled. Objects come back as plain dicts,
as ``kubectl get -o json`` shows them. Every failure is a ``KubeError`` with one sentence.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import yaml

from runbook_tui.errors import KubeError, StepTimeout
from runbook_tui.language.inventory import KubeTarget
from runbook_tui.transports.base import CommandResult, OutputCallback, TailBuffer

#: on_event(event_type, obj) while waiting: ADDED / MODIFIED / DELETED as the watch sees them.
EventCallback = Callable[[str, dict], None]

# (connect, read) seconds for ordinary requests: an unroutable address fails in 10 s, not 2 min.
REQUEST_TIMEOUT = (10, 60)
# A watch is re-opened at least this often so a cancelled wait frees its thread quickly.
WATCH_WINDOW = 5
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


def _kubeconfig_path(target: KubeTarget) -> str:
    if target.kubeconfig:
        return target.kubeconfig
    env = os.environ.get("KUBECONFIG")
    if env:
        return env.split(os.pathsep)[0]
    return os.path.expanduser("~/.kube/config")


class KubeClient:
    """One cluster target. ``context`` and ``namespace`` resolve like kubectl's: the target's,
    else the kubeconfig's current context and that context's namespace, else ``default``."""

    def __init__(self, name: str, target: KubeTarget):
        self.name = name
        self.target = target
        self.kubeconfig = _kubeconfig_path(target)
        self.context = target.context or ""
        self.namespace = target.namespace or "default"
        self.server: str | None = None
        self._config_error: str | None = None
        self._api: Any = None  # kubernetes.client.ApiClient
        self._dyn: Any = None  # kubernetes.dynamic.DynamicClient
        self._index: list[Any] | None = None
        self._lock = asyncio.Lock()
        self._cache_dir: str | None = None
        self._read_kubeconfig()

    # --- configuration -------------------------------------------------------------------------

    def _read_kubeconfig(self) -> None:
        path = self.kubeconfig
        if not os.path.exists(path):
            self._config_error = f"No kubeconfig found at {path} (target {self.name})."
            return
        try:
            with open(path, encoding="utf-8") as f:
                config = yaml.safe_load(f) or {}
            contexts = {c["name"]: c.get("context") or {} for c in config.get("contexts") or []}
            clusters = {c["name"]: c.get("cluster") or {} for c in config.get("clusters") or []}
        except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            self._config_error = f"The kubeconfig {path} is not valid: {reason}."
            return
        self.context = self.target.context or config.get("current-context") or ""
        if not self.context:
            self._config_error = f"The kubeconfig {path} names no current context; set one for target {self.name}."
            return
        if self.context not in contexts:
            known = ", ".join(sorted(contexts)) or "none"
            self._config_error = f"Context {self.context!r} is not in the kubeconfig {path} (contexts: {known})."
            return
        ctx = contexts[self.context]
        self.namespace = self.target.namespace or ctx.get("namespace") or "default"
        self.server = (clusters.get(ctx.get("cluster")) or {}).get("server")

    def _connect_sync(self) -> None:
        from kubernetes import config as kconfig
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.dynamic import DynamicClient

        if self._config_error:
            raise KubeError(self._config_error)
        try:
            api = kconfig.new_client_from_config(
                config_file=self.kubeconfig, context=self.context, persist_config=False
            )
        except (ConfigException, ValueError, TypeError, OSError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise KubeError(f"The kubeconfig {self.kubeconfig} is not valid for context {self.context}: {reason}.")
        api.configuration.retries = 0  # fail fast; the engine decides about retries
        self.server = api.configuration.host
        # A private discovery cache: the default one lives in /tmp keyed by host:port only.
        self._cache_dir = tempfile.mkdtemp(prefix="runbook-kube-")
        try:
            dyn = DynamicClient(api, cache_file=os.path.join(self._cache_dir, "discovery.json"))
        except Exception as err:
            api.close()
            raise self._translate(err) from None
        self._api, self._dyn = api, dyn

    async def _ensure(self) -> None:
        if self._dyn is not None:
            return
        async with self._lock:
            if self._dyn is None:
                await asyncio.to_thread(self._connect_sync)

    def _translate(self, err: BaseException, what: str | None = None, kind: str | None = None,
                   namespace: str | None = None, name: str | None = None) -> KubeError:
        if isinstance(err, KubeError):
            return err
        if is_connection_error(err):
            return connection_error(err, self.server or "?", self.context)
        status = getattr(err, "status", None)
        if status is not None:
            return api_error(err, context=self.context, server=self.server, kind=kind, namespace=namespace, name=name)
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        return KubeError(f"Kubernetes request failed (context {self.context}): {reason}.")

    async def _run(self, fn: Callable[[threading.Event], Any], *, kind: str | None = None,
                   namespace: str | None = None, name: str | None = None) -> Any:
        """Run ``fn(cancel)`` in a thread; translate its errors; set ``cancel`` if we are cancelled."""
        await self._ensure()
        cancel = threading.Event()
        try:
            return await asyncio.to_thread(fn, cancel)
        except asyncio.CancelledError:
            cancel.set()
            raise
        except (KubeError, StepTimeout):
            raise
        except Exception as err:
            raise self._translate(err, kind=kind, namespace=namespace, name=name) from None

    # --- resource types ------------------------------------------------------------------------

    def _resources(self, refresh: bool = False) -> list[Any]:
        from kubernetes.dynamic.resource import Resource

        if self._index is None or refresh:
            if refresh:
                self._dyn.resources.invalidate_cache()
            found = []
            for group in self._dyn.resources:
                for res in group if isinstance(group, list) else [group]:
                    if isinstance(res, Resource):
                        found.append(res)
            # Core first, then the preferred version of each group: kubectl's order.
            found.sort(key=lambda r: (r.group != "", not r.preferred))
            self._index = found
        return self._index

    def _resource(self, kind: str, api_version: str | None = None) -> Any:
        wanted = kind.lower()
        for refresh in (False, True):
            for res in self._resources(refresh):
                if api_version and res.group_version != api_version:
                    continue
                names = {res.kind.lower(), (res.name or "").lower(), (res.singular_name or "").lower()}
                names.update(s.lower() for s in res.short_names or [])
                if wanted in names:
                    return res
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
            res = self._resource(kind, api_version)
            ns = self._ns(res, namespace)
            return self._guard(lambda: res.get(name=name, namespace=ns, _request_timeout=REQUEST_TIMEOUT).to_dict(),
                               res, ns, name)

        return await self._run(call, kind=kind, namespace=namespace or self.namespace, name=name)

    async def list(self, kind: str, *, namespace: str | None = None, label_selector: str | None = None,
                   api_version: str | None = None) -> list[dict]:
        """``namespace="*"`` lists every namespace (kubectl's ``-A``)."""

        def call(cancel: threading.Event) -> list[dict]:
            res = self._resource(kind, api_version)
            ns = None if namespace == "*" else self._ns(res, namespace)
            result = self._guard(lambda: res.get(namespace=ns, label_selector=label_selector,
                                                 _request_timeout=REQUEST_TIMEOUT).to_dict(), res, ns, None)
            return result.get("items") or []

        return await self._run(call, kind=kind, namespace=namespace or self.namespace)

    async def patch(self, kind: str, name: str, body: dict | list, *, namespace: str | None = None,
                    patch_type: str = "merge", api_version: str | None = None) -> dict:
        if patch_type not in PATCH_TYPES:
            raise KubeError(f"Unknown patch type {patch_type!r}; use merge, strategic or json.")
        if patch_type == "json" and not isinstance(body, list):
            raise KubeError("A JSON patch must be a list of operations.")
        if patch_type != "json" and not isinstance(body, dict):
            raise KubeError(f"A {patch_type} patch must be a mapping.")

        def call(cancel: threading.Event) -> dict:
            res = self._resource(kind, api_version)
            return self._patch_sync(res, name, self._ns(res, namespace), body, patch_type)

        return await self._run(call, kind=kind, namespace=namespace or self.namespace, name=name)

    def _patch_sync(self, res: Any, name: str, ns: str | None, body: Any, patch_type: str) -> dict:
        from kubernetes.client.exceptions import ApiException

        def send(ptype: str) -> dict:
            return res.patch(body=body, name=name, namespace=ns, content_type=PATCH_TYPES[ptype],
                             _request_timeout=REQUEST_TIMEOUT).to_dict()

        try:
            return send(patch_type)
        except ApiException as err:
            # Custom resources have no strategic merge; a merge patch is what kubectl suggests.
            if err.status == 415 and patch_type == "strategic":
                return self._guard(lambda: send("merge"), res, ns, name)
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
            from kubernetes.client.exceptions import ApiException

            res = self._resource(manifest["kind"], manifest["apiVersion"])
            ns = self._ns(res, namespace or meta.get("namespace"))
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
            res = self._resource(kind)
            body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
            ns = self._ns(res, namespace)
            result = self._guard(lambda: res.delete(name=name, namespace=ns, body=body,
                                                    _request_timeout=REQUEST_TIMEOUT), res, ns, name)
            return result.to_dict() if hasattr(result, "to_dict") else dict(result or {})

        return await self._run(call, kind=kind, namespace=namespace or self.namespace, name=name)

    async def job_from_cronjob(self, cronjob: str, job_name: str, *, namespace: str | None = None) -> dict:
        """What ``kubectl create job NAME --from=cronjob/CRONJOB`` sends."""
        cj = await self.get("CronJob", cronjob, namespace=namespace, api_version="batch/v1")
        template = (cj.get("spec") or {}).get("jobTemplate") or {}
        tmeta = template.get("metadata") or {}
        annotations = {"cronjob.kubernetes.io/instantiate": "manual", **(tmeta.get("annotations") or {})}
        metadata: dict[str, Any] = {
            "name": job_name,
            "namespace": namespace or self.namespace,
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": cj["metadata"]["name"],
                    "uid": cj["metadata"]["uid"],
                    "controller": True,
                }
            ],
        }
        if tmeta.get("labels"):
            metadata["labels"] = tmeta["labels"]
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": template.get("spec") or {}}

        def call(cancel: threading.Event) -> dict:
            res = self._resource("Job", "batch/v1")
            ns = self._ns(res, namespace)
            return self._guard(lambda: res.create(body=job, namespace=ns, _request_timeout=REQUEST_TIMEOUT).to_dict(),
                               res, ns, job_name)

        return await self._run(call, kind="Job", namespace=namespace or self.namespace, name=job_name)

    def _guard(self, fn: Callable[[], Any], res: Any, ns: str | None, name: str | None) -> Any:
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
            res = self._resource(kind)
            return self._wait_sync(res, name, self._ns(res, namespace), condition, timeout, cancel, emit)

        return await self._run(call, kind=kind, namespace=namespace or self.namespace, name=name)

    def _wait_sync(self, res: Any, name: str, ns: str | None, condition: str, timeout: float,
                   cancel: threading.Event, emit: Callable[[str, dict], None]) -> dict:
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
                listing = self._guard(
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
                raise api_error(err, context=self.context, server=self.server, kind=res.kind, namespace=ns, name=name) from None

    # --- pods: logs and exec -------------------------------------------------------------------

    def _pod_sync(self, target: str, ns: str, for_logs: bool) -> dict:
        """A pod name, or ``job/NAME`` / ``deployment/NAME``: the pod kubectl would choose."""
        if "/" not in target:
            res = self._resource("Pod", "v1")
            return self._guard(lambda: res.get(name=target, namespace=ns, _request_timeout=REQUEST_TIMEOUT).to_dict(),
                               res, ns, target)
        kind, _, name = target.partition("/")
        owner_res = self._resource(kind)
        owner = self._guard(lambda: owner_res.get(name=name, namespace=ns, _request_timeout=REQUEST_TIMEOUT).to_dict(),
                            owner_res, ns, name)
        if owner_res.kind == "Pod":
            return owner
        selector = selector_string((owner.get("spec") or {}).get("selector"))
        if not selector:
            raise KubeError(f"{owner_res.kind} {ns}/{name} has no pod selector.")
        pod_res = self._resource("Pod", "v1")
        pods = self._guard(lambda: pod_res.get(namespace=ns, label_selector=selector,
                                               _request_timeout=REQUEST_TIMEOUT).to_dict(), pod_res, ns, None)
        items = pods.get("items") or []
        if not items:
            raise KubeError(f"No pods found for {owner_res.kind.lower()} {ns}/{name} (selector {selector}).", 404)
        return pick_pod(items, for_logs=for_logs)

    @staticmethod
    def _container(pod: dict, container: str | None) -> str | None:
        if container:
            return container
        meta = pod.get("metadata") or {}
        default = (meta.get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
        if default:
            return default
        containers = (pod.get("spec") or {}).get("containers") or []
        return containers[0].get("name") if containers else None

    async def logs(self, name: str, *, namespace: str | None = None, container: str | None = None,
                   tail: int | None = None, since: float | None = None) -> str:
        ns = namespace or self.namespace

        def call(cancel: threading.Event) -> str:
            from kubernetes.client import CoreV1Api

            pod = self._pod_sync(name, ns, for_logs=True)
            pod_name = pod["metadata"]["name"]
            kwargs: dict[str, Any] = {"_request_timeout": REQUEST_TIMEOUT}
            if (c := self._container(pod, container)) is not None:
                kwargs["container"] = c
            if tail is not None:
                kwargs["tail_lines"] = int(tail)
            if since is not None:
                kwargs["since_seconds"] = max(1, int(since))
            res = self._resource("Pod", "v1")
            return self._guard(lambda: CoreV1Api(self._api).read_namespaced_pod_log(pod_name, ns, **kwargs),
                               res, ns, pod_name)

        return await self._run(call, kind="Pod", namespace=ns, name=name)

    async def exec(self, name: str, command: list[str], *, namespace: str | None = None,
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
            pod = self._pod_sync(name, ns, for_logs=False)
            return self._exec_sync(pod, ns, list(command), self._container(pod, container), timeout, cancel, emit)

        return await self._run(call, kind="Pod", namespace=ns, name=name)

    def _exec_sync(self, pod: dict, ns: str, command: list[str], container: str | None, timeout: float | None,
                   cancel: threading.Event, emit: Callable[[str, str], None]) -> CommandResult:
        from kubernetes.client import CoreV1Api
        from kubernetes.client.exceptions import ApiException
        from kubernetes.stream import stream

        pod_name = pod["metadata"]["name"]
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            raise KubeError(f"Cannot exec into pod {ns}/{pod_name}: it has completed (phase {phase}).", 400)
        kwargs: dict[str, Any] = dict(command=command, stderr=True, stdin=False, stdout=True, tty=False,
                                      _preload_content=False)
        if container:
            kwargs["container"] = container
        # stream() swaps call_api on the ApiClient it is given while it connects: a private
        # ApiClient keeps concurrent requests of other steps off the websocket path.
        from kubernetes.client import ApiClient

        private = ApiClient(configuration=self._api.configuration)
        try:
            ws = stream(CoreV1Api(private).connect_get_namespaced_pod_exec, pod_name, ns, **kwargs)
        except ApiException as err:
            private.close()
            raise api_error(err, context=self.context, server=self.server, kind="Pod", namespace=ns, name=pod_name) from None
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
            private.close()
        return CommandResult(
            exit_code=code,
            stdout=buffers["stdout"].text(),
            stderr=buffers["stderr"].text(),
            truncated=buffers["stdout"].truncated or buffers["stderr"].truncated,
        )

    # --- health --------------------------------------------------------------------------------

    async def probe(self) -> KubeStatus:
        status = KubeStatus(self.name, self.context, self.namespace, self.server, reachable=False)
        if self._config_error:
            status.error = self._config_error
            return status
        try:
            await self._ensure()
            version = self._dyn.version.get("kubernetes", {})
            status.version = version.get("gitVersion")
            status.reachable = True
        except KubeError as err:
            status.error = str(err)
        status.server = self.server
        return status

    async def close(self) -> None:
        api, self._api, self._dyn, self._index = self._api, None, None, None
        if api is not None:
            await asyncio.to_thread(api.close)
        if self._cache_dir:
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


# --- errors: one sentence each ---------------------------------------------------------------


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
    phase_rank = {"Running": 0, "Unknown": 1, "Pending": 2}

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
