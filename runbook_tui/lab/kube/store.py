"""The lab API server's object store: every object, a global resourceVersion, watchers, hooks.

All access happens on the event loop thread that runs the server. Python-side writes (the lab's
controllers, tests) go through the same path as API writes: they bump resourceVersion, notify
watchers and call the ``on_change`` hooks.
"""

from __future__ import annotations

import asyncio
import builtins  # Store.list shadows list in the annotations inside the class
import copy
import inspect
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runbook_tui.lab.kube.patch import json_patch, merge_patch, strategic_merge_patch
from runbook_tui.lab.kube.resources import ResourceRegistry, ResourceType
from runbook_tui.lab.kube.selectors import field_selector, label_selector

#: callback(event_type, resource, obj): event_type is ADDED, MODIFIED or DELETED.
ChangeCallback = Callable[[str, ResourceType, dict], Any]

Key = tuple[str, str, str]  # (resource key "group/version/plural", namespace or "", name)

#: How many past events a watch may resume from; older resourceVersions get 410 Gone.
HISTORY = 5000


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rkey(rtype: ResourceType) -> str:
    return f"{rtype.group}/{rtype.version}/{rtype.plural}"


class StoreError(Exception):
    """Raised by the store for API-visible failures; the server turns it into a Status."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}


class Gone(StoreError):
    def __init__(self, rv: int):
        super().__init__(410, "Expired", f"too old resource version: {rv}")


@dataclass(eq=False)
class Watch:
    """One open watch: its filter and the queue the server drains."""

    rtype: ResourceType
    namespace: str | None
    predicate: Callable[[dict], bool]
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)


def _spec_part(obj: dict) -> dict:
    """What counts for ``metadata.generation``: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


class Store:
    def __init__(self, registry: ResourceRegistry | None = None):
        self.registry = registry or ResourceRegistry()
        self._objects: dict[Key, dict] = {}
        self._rv = 0
        self._history: deque[tuple[int, str, ResourceType, dict]] = deque(maxlen=HISTORY)
        self._watches: set[Watch] = set()
        self._hooks: list[ChangeCallback] = []
        # Defaulting and validation of an API write before it is stored (the server's admission.py).
        self.admission: list[Callable[[ResourceType, dict], None]] = []
        self._tasks: set[asyncio.Task] = set()
        self._uid_seq = 0
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    # --- hooks -----------------------------------------------------------------------------

    def on_change(self, callback: ChangeCallback) -> None:
        """Call ``callback(event_type, resource, obj)`` after every write. A coroutine result
        is run as a task (cancelled when the server stops)."""
        self._hooks.append(callback)

    @property
    def resource_version(self) -> int:
        return self._rv

    # --- resolving ---------------------------------------------------------------------------

    def resolve(self, api_version: str, kind: str) -> ResourceType:
        rtype = self.registry.by_kind(api_version, kind)
        if rtype is None:
            raise StoreError(
                404, "NotFound", f'the server could not find the requested resource ({api_version} {kind})'
            )
        return rtype

    def _key(self, rtype: ResourceType, namespace: str | None, name: str) -> Key:
        return (rkey(rtype), (namespace or "") if rtype.namespaced else "", name)

    # --- Python-side API ---------------------------------------------------------------------

    def put(self, obj: dict) -> dict:
        """Create or replace ``obj`` (its apiVersion/kind/metadata say which). Returns a copy
        of what is stored. Keeps uid and creationTimestamp of an existing object."""
        rtype = self.resolve(obj.get("apiVersion", ""), obj.get("kind", ""))
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if rtype.namespaced and not meta.get("namespace"):
            meta["namespace"] = "default"
        existing = self.get_raw(rtype, meta.get("namespace"), meta.get("name", ""))
        if existing is None:
            return self.create(rtype, obj)
        return self.replace(rtype, obj, check_version=False, keep_status=False)

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict | None:
        rtype = self.resolve(api_version, kind)
        found = self.get_raw(rtype, namespace, name)
        return copy.deepcopy(found) if found is not None else None

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[dict]:
        rtype = self.resolve(api_version, kind)
        return [copy.deepcopy(o) for o in self.select(rtype, namespace, label_selector, field_selector)]

    def delete(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict | None:
        """Delete (and garbage-collect dependents); None when it did not exist."""
        rtype = self.resolve(api_version, kind)
        if self.get_raw(rtype, namespace, name) is None:
            return None
        return self.remove(rtype, namespace, name)

    def patch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        patch: Any,
        patch_type: str = "merge",
    ) -> dict:
        """Patch a stored object (merge, strategic or json), status included."""
        rtype = self.resolve(api_version, kind)
        current = self.get_raw(rtype, namespace, name)
        if current is None:
            raise StoreError(404, "NotFound", f'{rtype.plural} "{name}" not found')
        fn = {"merge": merge_patch, "strategic": strategic_merge_patch, "json": json_patch}[patch_type]
        new = fn(current, patch)
        new.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
        return self.replace(rtype, new, check_version=False, keep_status=False)

    # --- used by the server ------------------------------------------------------------------

    def get_raw(self, rtype: ResourceType, namespace: str | None, name: str) -> dict | None:
        return self._objects.get(self._key(rtype, namespace, name))

    def select(
        self,
        rtype: ResourceType,
        namespace: str | None,
        labels: str | None = None,
        fields: str | None = None,
    ) -> builtins.list[dict]:
        match_l, match_f, prefix = label_selector(labels), field_selector(fields), rkey(rtype)
        out = []
        for (rk, ns, _), obj in self._objects.items():
            if rk == prefix and (not namespace or not rtype.namespaced or ns == namespace):
                if match_l(obj) and match_f(obj):
                    out.append(obj)
        return sorted(out, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _new_uid(self) -> str:
        return str(uuid.uuid4())

    def create(self, rtype: ResourceType, obj: dict, *, dry_run: bool = False) -> dict:
        obj = copy.deepcopy(obj)
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if not rtype.namespaced:
            meta.pop("namespace", None)
        elif not meta.get("namespace"):
            meta["namespace"] = "default"
        key = self._key(rtype, meta.get("namespace"), meta["name"])
        if key in self._objects:
            raise StoreError(
                409,
                "AlreadyExists",
                f'{rtype.plural}{"." + rtype.group if rtype.group else ""} "{meta["name"]}" already exists',
                {"name": meta["name"], "group": rtype.group, "kind": rtype.plural},
            )
        meta["uid"] = self._new_uid()
        meta["creationTimestamp"] = now_iso()
        meta["generation"] = 1
        meta.pop("deletionTimestamp", None)
        for admit in self.admission:
            admit(rtype, obj)
        if dry_run:
            meta["resourceVersion"] = str(self._rv)
            return copy.deepcopy(obj)
        meta["resourceVersion"] = self._next_rv()
        self._objects[key] = obj
        self._emit("ADDED", rtype, obj)
        return copy.deepcopy(obj)

    def replace(
        self,
        rtype: ResourceType,
        obj: dict,
        *,
        check_version: bool = True,
        keep_status: bool = False,
        status_only: bool = False,
        dry_run: bool = False,
    ) -> dict:
        """Replace an existing object. ``keep_status``: a write to the main resource of a type
        with a status subresource leaves status alone; ``status_only``: a /status write
        changes nothing but status."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        key = self._key(rtype, meta.get("namespace"), meta.get("name", ""))
        current = self._objects.get(key)
        if current is None:
            raise StoreError(
                404, "NotFound", f'{rtype.plural} "{meta.get("name")}" not found',
                {"name": meta.get("name"), "group": rtype.group, "kind": rtype.plural},
            )
        cur_meta = current["metadata"]
        sent_rv = meta.get("resourceVersion")
        if check_version and sent_rv and sent_rv != cur_meta["resourceVersion"]:
            raise StoreError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {rtype.plural}{"." + rtype.group if rtype.group else ""} '
                f'"{meta["name"]}": the object has been modified; please apply your changes to the latest '
                "version and try again",
                {"name": meta["name"], "group": rtype.group, "kind": rtype.plural},
            )
        if status_only:
            new = copy.deepcopy(current)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            obj = new
            meta = obj["metadata"]
        elif keep_status:
            if "status" in current:
                obj["status"] = copy.deepcopy(current["status"])
            else:
                obj.pop("status", None)
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        for immutable in ("uid", "creationTimestamp", "name"):
            meta[immutable] = cur_meta[immutable]
        if rtype.namespaced:
            meta["namespace"] = cur_meta["namespace"]
        generation = cur_meta.get("generation", 1)
        if _spec_part(obj) != _spec_part(current):
            generation += 1
        meta["generation"] = generation
        for admit in self.admission:
            admit(rtype, obj)
        if dry_run:
            meta["resourceVersion"] = cur_meta["resourceVersion"]
            return copy.deepcopy(obj)
        meta["resourceVersion"] = self._next_rv()
        self._objects[key] = obj
        self._emit("MODIFIED", rtype, obj)
        return copy.deepcopy(obj)

    def remove(
        self, rtype: ResourceType, namespace: str | None, name: str, *, cascade: bool = True,
        dry_run: bool = False,
    ) -> dict:
        key = self._key(rtype, namespace, name)
        obj = self._objects.get(key)
        if obj is None:
            raise StoreError(
                404, "NotFound", f'{rtype.plural}{"." + rtype.group if rtype.group else ""} "{name}" not found',
                {"name": name, "group": rtype.group, "kind": rtype.plural},
            )
        if dry_run:
            return copy.deepcopy(obj)
        del self._objects[key]
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._emit("DELETED", rtype, obj)
        if cascade:
            self._collect_garbage(obj)
        return copy.deepcopy(obj)

    def _collect_garbage(self, owner: dict) -> None:
        """Delete what the owner owned (ownerReferences by uid), and a namespace's contents."""
        uid = owner["metadata"]["uid"]
        is_ns = owner.get("kind") == "Namespace" and owner.get("apiVersion") == "v1"
        doomed = []
        for (rk, ns, name), obj in list(self._objects.items()):
            refs = obj["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == uid for r in refs) or (is_ns and ns == owner["metadata"]["name"]):
                doomed.append((rk, ns, name))
        for rk, ns, name in doomed:
            group, version, plural = rk.split("/")
            rtype = self.registry.by_plural(group, version, plural)
            if rtype and self._key(rtype, ns, name) in self._objects:
                self.remove(rtype, ns, name)

    # --- events ------------------------------------------------------------------------------

    def _emit(self, event_type: str, rtype: ResourceType, obj: dict) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        self._history.append((rv, event_type, rtype, obj))
        for w in list(self._watches):
            if self._watch_matches(w, rtype, obj):
                w.queue.put_nowait((event_type, obj))
        for hook in list(self._hooks):
            result = hook(event_type, rtype, copy.deepcopy(obj))
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _watch_matches(w: Watch, rtype: ResourceType, obj: dict) -> bool:
        if rkey(rtype) != rkey(w.rtype):
            return False
        if w.namespace and rtype.namespaced and obj["metadata"].get("namespace") != w.namespace:
            return False
        return w.predicate(obj)

    def open_watch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        predicate: Callable[[dict], bool],
        resource_version: str | None,
    ) -> Watch:
        """Register a watch. No (or "0") resourceVersion: synthetic ADDED for what exists now;
        otherwise replay every later event from history (410 Gone if it is too old)."""
        w = Watch(rtype, namespace, predicate)
        if not resource_version or resource_version == "0":
            for obj in self.select(rtype, namespace):
                if predicate(obj):
                    w.queue.put_nowait(("ADDED", obj))
        else:
            try:
                since = int(resource_version)
            except ValueError:
                raise StoreError(400, "BadRequest", f"invalid resource version {resource_version!r}") from None
            oldest = self._history[0][0] if self._history else self._rv + 1
            if since < oldest - 1 and since < self._rv:
                raise Gone(since)
            for rv, event_type, et, obj in self._history:
                if rv > since and self._watch_matches(w, et, obj):
                    w.queue.put_nowait((event_type, obj))
        self._watches.add(w)
        return w

    def close_watch(self, w: Watch) -> None:
        self._watches.discard(w)

    def close_all_watches(self) -> None:
        for w in list(self._watches):
            w.queue.put_nowait(None)
        self._watches.clear()

    async def cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
