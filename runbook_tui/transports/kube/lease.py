"""A team-wide lock in the cluster: the ``coordination.k8s.io/v1`` Lease ``runbook-tui`` in the
namespace of the inventory's Kubernetes target, the way Kubernetes' own controllers elect a
leader.

Whoever holds it names itself in ``holderIdentity``, renews ``renewTime`` while it lives, and
clears ``holderIdentity`` when done. A holder that stops renewing (its machine crashed) is
taken over once this machine has watched its record (holder, renewTime, resourceVersion) stay
unchanged for ``leaseDurationSeconds`` of its own monotonic clock, as client-go's leader
election does: ``renewTime`` is the holder's clock, and a holder whose clock runs 40 s behind
ours would otherwise read as expired while it renews. Every write carries the
``resourceVersion`` it read, so of two operators writing at once the API refuses one with 409
Conflict and exactly one wins.

Taking a free Lease costs one request in the common case: the resourceVersion a release (or a
read) saw while the Lease was free is kept on disk (lease_memory.py), and the next acquire
writes over it at once; the API refuses that write if anyone wrote since, and only then does
it read first.

Synchronous, like the official client: call it from a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from runbook_tui.errors import KubeError
from runbook_tui.language.inventory import KubeTarget
from runbook_tui.transports.kube.config import kubeconfig_path, new_api_client, read_kubeconfig
from runbook_tui.transports.kube.errors import translate
from runbook_tui.transports.kube.lease_memory import FreeLease, forget, remember, take
from runbook_tui.transports.kube.threads import load_core

LEASE_NAME = "runbook-tui"
DEFAULT_SECONDS = 30
# A shorter lease for tests and impatient sites: a crashed holder is taken over sooner.
SECONDS_ENV = "RUNBOOK_TUI_LEASE_SECONDS"
TIMEOUT = (5, 10)  # (connect, read) seconds: a lock must not hang a run
ATTEMPTS = 5  # conflicting writes retried (each re-reads first)


def lease_seconds() -> int:
    try:
        return max(1, int(os.environ.get(SECONDS_ENV, DEFAULT_SECONDS)))
    except ValueError:
        return DEFAULT_SECONDS


@dataclass(frozen=True)
class LeaseState:
    """A Lease as read: who holds it (``""`` when free) and until when."""

    holder: str
    acquired: datetime | None
    renewed: datetime | None
    seconds: int
    transitions: int
    resource_version: str

    @property
    def record(self) -> tuple[str, datetime | None, str]:
        """What a live holder changes with each renewal: watched to tell it from a dead one."""
        return (self.holder, self.renewed, self.resource_version)

    @property
    def expires(self) -> datetime | None:
        """By the holder's own clock: a hint for people and for whether to watch, never a reason
        to take a Lease over (the holder's clock may be behind ours)."""
        last = self.renewed or self.acquired
        return last + timedelta(seconds=self.seconds) if last else None

    def looks_expired(self, now: datetime) -> bool:
        """Held, but its renewTime by our wall clock is older than its duration: either the
        holder stopped, or its clock is behind ours. Only watching the record tells which."""
        return bool(self.holder) and (self.expires is None or self.expires < now)


class LeaseBusy(KubeError):
    """Someone else holds the Lease, and its record has not stayed unchanged for its duration
    while we watched. ``watched_since`` is when (time.monotonic) we first saw this record."""

    def __init__(self, state: LeaseState, where: str, watched_since: float):
        self.state, self.watched_since = state, watched_since
        super().__init__(f"{where} is held by {state.holder}.")


class LeaseUnavailable(KubeError):
    """This cluster offers us no Lease (403 Forbidden, 404 Not Found) or cannot be reached; the
    caller falls back to the local lock and says so."""


class ClusterLease:
    """The Lease of one cluster namespace, for one run's identity."""

    def __init__(self, target_name: str, target: KubeTarget, *, name: str = LEASE_NAME, seconds: int | None = None):
        path = kubeconfig_path(target)
        choice = read_kubeconfig(target_name, target, path)
        self.target_name, self.name = target_name, name
        self.path, self.context, self.namespace = path, choice.context, choice.namespace
        self.server, self.in_cluster, self._config_error = choice.server, choice.in_cluster, choice.error
        self.seconds = seconds or lease_seconds()
        self.what = f"the Lease {self.namespace}/{name} (target {target_name}, context {self.context})"
        self._api: Any = None
        # The record last read and when (time.monotonic) it was first seen as it is: a holder
        # is dead once it has stayed so for its leaseDurationSeconds. The first read starts it.
        self._seen: tuple[str, datetime | None, str] | None = None
        self._seen_at = 0.0
        # What we last wrote and its resourceVersion: renewing and clearing it is one request
        # (the API refuses it with 409 if anyone wrote since, and only then do we re-read).
        self._mine: tuple[str, str, dict] | None = None

    @property
    def key(self) -> tuple[str, str]:
        """Two targets in one namespace of one cluster share one Lease."""
        return (self.server or f"{self.path}#{self.context}", self.namespace)

    # --- reading --------------------------------------------------------------------------------

    def _request(self, method: str, body: dict | None = None, *, create: bool = False) -> dict:
        """One request about the Lease through the official client's transport, as JSON: the
        typed CoordinationV1Api would cost ~25 ms of importing and its models' building on the
        way to a run's first change. Raises the client's ApiException as the typed API does."""
        load_core()
        if self._api is None:
            if self._config_error:
                raise LeaseUnavailable(self._config_error)
            try:
                self._api = new_api_client(self.path, self.context, in_cluster=self.in_cluster)
            except KubeError as err:
                raise LeaseUnavailable(str(err)) from None
        api = self._api
        path = f"/apis/coordination.k8s.io/v1/namespaces/{quote(self.namespace)}/leases"
        headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if body else {})}
        request = api.param_serialize(method=method, resource_path=path if create else f"{path}/{quote(self.name)}",
                                      header_params=headers, body=body, auth_settings=["BearerToken"])
        response = api.call_api(*request, _request_timeout=TIMEOUT)
        response.read()
        # Every status read as JSON, so an error carries the API's Status (reason, details).
        return api.response_deserialize(response, {"2XX": "object", "4XX": "object", "5XX": "object"}).data or {}

    def read(self, *, remember_free: bool = True) -> LeaseState | None:
        """The Lease now, or None when it does not exist yet. Found free, it is remembered
        for the next acquire (unless the caller is about to write it anyway)."""
        load_core()
        from kubernetes.client.exceptions import ApiException

        try:
            lease = self._request("GET")
        except ApiException as err:
            if err.status == 404 and _status_reason(err) == "NotFound" and _names_lease(err, self.name):
                return None
            raise self._unavailable(err) from None
        except LeaseUnavailable:
            raise
        except Exception as err:
            raise self._unavailable(err) from None
        spec = lease.get("spec") or {}
        if remember_free and not spec.get("holderIdentity"):
            self._remember(lease)
        return LeaseState(
            holder=spec.get("holderIdentity") or "",
            acquired=_parsed(spec.get("acquireTime")),
            renewed=_parsed(spec.get("renewTime")),
            seconds=spec.get("leaseDurationSeconds") or self.seconds,
            transitions=spec.get("leaseTransitions") or 0,
            resource_version=(lease.get("metadata") or {}).get("resourceVersion") or "",
        )

    def watch(self, state: LeaseState) -> float:
        """Note STATE as read now; returns when (time.monotonic) its record was first seen as it
        is. A renewal, a takeover or a release changes it and starts the clock again."""
        if state.record != self._seen:
            self._seen, self._seen_at = state.record, time.monotonic()
        return self._seen_at

    def unchanged_for(self) -> float:
        """Seconds of our monotonic clock the last record read has stayed as it is."""
        return time.monotonic() - self._seen_at if self._seen is not None else 0.0

    # --- writing --------------------------------------------------------------------------------

    def acquire(self, identity: str) -> LeaseState | None:
        """Take the Lease for IDENTITY: free (no holder), ours, or its record seen unchanged for
        its leaseDurationSeconds (see ``watch``: a first read starts that clock, so a waiter
        calls again). Returns the dead holder's state it took over, if any; raises LeaseBusy
        (held by another, not yet seen dead) or LeaseUnavailable."""
        if self._take_remembered(identity):
            return None
        for _ in range(ATTEMPTS):
            current = self.read(remember_free=False)
            at = now()
            if current is not None and current.holder and current.holder != identity:
                since = self.watch(current)
                if time.monotonic() - since < current.seconds:
                    raise LeaseBusy(current, self.what, since)
            spec = {"holderIdentity": identity, "leaseDurationSeconds": self.seconds,
                    "acquireTime": _micro(at), "renewTime": _micro(at)}
            if current is None:
                spec["leaseTransitions"] = 0
                if self._write(None, spec):
                    return None
                continue
            changed = current.holder != identity
            spec["leaseTransitions"] = current.transitions + (1 if changed else 0)
            if self._write(current.resource_version, spec):
                return current if changed and current.holder else None
        raise LeaseUnavailable(f"{self.what} kept changing under us; try again.")

    def _take_remembered(self, identity: str) -> bool:
        """One write over the resourceVersion last seen free, as a read finding it still free
        would have led to: True when taken; False (read first) when there is none, or someone
        wrote since (409), or the Lease is gone (404)."""
        free = take(self.key, self.name)
        if free is None:
            return False
        at = _micro(now())
        spec = {"holderIdentity": identity, "leaseDurationSeconds": self.seconds, "acquireTime": at,
                "renewTime": at, "leaseTransitions": free.transitions + 1}
        try:
            return self._write(free.resource_version, spec, uid=free.uid)
        except LeaseUnavailable as err:
            if err.status == 404:
                return False  # deleted (or never there): the read says which, and creates it
            raise

    def renew(self, identity: str) -> LeaseState | None:
        """Move renewTime on. Returns None when renewed, else what was found instead: the Lease
        taken over or cleared by someone else, or LeaseState with no resourceVersion when it
        was deleted. Raises LeaseUnavailable when the API cannot be asked (try again)."""
        if self._write_mine(identity, renewTime=_micro(now())):
            return None
        for _ in range(ATTEMPTS):
            current = self.read()
            if current is None:
                return LeaseState("", None, None, self.seconds, 0, "")
            if current.holder != identity:
                return current
            spec = _spec_of(current, identity)
            spec["renewTime"] = _micro(now())
            if self._write(current.resource_version, spec):
                return None
        raise LeaseUnavailable(f"{self.what} kept changing under us; renewing it again.")

    def release(self, identity: str) -> None:
        """Clear holderIdentity if it is still ours; a Lease someone took over is left alone."""
        if self._write_mine(identity, holderIdentity=None):
            return
        for _ in range(ATTEMPTS):
            current = self.read()
            if current is None or current.holder != identity:
                return
            spec = _spec_of(current, identity)
            spec["holderIdentity"] = None
            if self._write(current.resource_version, spec):
                return

    def _write_mine(self, identity: str, **change: Any) -> bool:
        """Our last write, changed, over the resourceVersion it got: True when that held (no one
        wrote since, so the Lease was still ours); False when the caller must read first (a
        conflict, the Lease gone, or nothing written by IDENTITY yet)."""
        mine, self._mine = self._mine, None
        if mine is None or mine[0] != identity:
            return False
        try:
            return self._write(mine[1], {**mine[2], **change})
        except LeaseUnavailable as err:
            if err.status == 404:
                return False  # deleted: the read says so
            raise

    def _write(self, resource_version: str | None, spec: dict, *, uid: str = "") -> bool:
        """Create (no resourceVersion) or replace the Lease; False on a conflict (re-read).
        A UID makes the API refuse the write (409) to a Lease deleted and created anew."""
        load_core()
        from kubernetes.client.exceptions import ApiException

        body: dict[str, Any] = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                "metadata": {"name": self.name, "namespace": self.namespace,
                                             "labels": {"app.kubernetes.io/managed-by": "runbook-tui"}},
                                "spec": spec}
        self._mine = None
        try:
            if resource_version is None:
                written = self._request("POST", body, create=True)
            else:
                body["metadata"]["resourceVersion"] = resource_version
                if uid:
                    body["metadata"]["uid"] = uid
                written = self._request("PUT", body)
        except ApiException as err:
            if err.status == 409:
                return False  # another writer got there first (Conflict, or AlreadyExists)
            raise self._unavailable(err) from None
        except LeaseUnavailable:
            raise
        except Exception as err:
            raise self._unavailable(err) from None
        version = (written.get("metadata") or {}).get("resourceVersion")
        if spec.get("holderIdentity") and version:
            self._mine = (spec["holderIdentity"], version, spec)
        elif not spec.get("holderIdentity"):
            self._remember(written)  # cleared: the next acquire takes it in one write
        return True

    def _remember(self, lease: dict) -> None:
        """Keep a free Lease's resourceVersion for the next acquire (lease_memory.py)."""
        meta, spec = lease.get("metadata") or {}, lease.get("spec") or {}
        version = meta.get("resourceVersion")
        if not version:
            forget(self.key, self.name)
            return
        remember(self.key, self.name, FreeLease(version, meta.get("uid") or "", spec.get("leaseTransitions") or 0))

    def _unavailable(self, err: BaseException) -> LeaseUnavailable:
        sentence = str(translate(err, context=self.context, server=self.server, kind="lease",
                                 namespace=self.namespace, name=self.name))
        return LeaseUnavailable(sentence, getattr(err, "status", None) or 0)

    def close(self) -> None:
        if self._api is not None:
            api, self._api = self._api, None
            api.close()


class Claim:
    """The Leases one attempt to take the lock got, each by ``take`` in a thread. Once given up
    (its caller failed or was cancelled), a Lease a thread still gets is cleared at once."""

    def __init__(self, identity: str):
        self.identity = identity
        self.taken: list[ClusterLease] = []
        self._guard, self._given_up = threading.Lock(), False

    def take(self, lease: ClusterLease) -> LeaseState | None:
        state = lease.acquire(self.identity)
        with self._guard:
            if self._given_up:
                let_go_later([lease], self.identity)
            else:
                self.taken.append(lease)
        return state

    def give_up(self) -> None:
        with self._guard:
            self._given_up = True
            let_go_later(self.taken, self.identity)


LETTING_GO: set[threading.Thread] = set()


def let_go_later(leases: list["ClusterLease"], identity: str) -> None:
    """Clear the Leases from a thread: ``release`` is called from the event loop, the official
    client blocks, and the API may be served by that very loop (the lab). Not a daemon: the
    interpreter waits for it before exiting, so a finished run never leaves its Lease behind."""
    if not leases:
        return
    thread = threading.Thread(target=_let_go, args=(list(leases), identity), name="lease-release")
    LETTING_GO.add(thread)
    thread.start()


def _let_go(leases: list["ClusterLease"], identity: str) -> None:
    for lease in reversed(leases):
        try:
            lease.release(identity)
        except KubeError:
            pass  # unreachable now: the Lease expires by itself within its duration
        finally:
            lease.close()
    LETTING_GO.discard(threading.current_thread())


def _spec_of(state: LeaseState, identity: str) -> dict:
    return {"holderIdentity": identity, "leaseDurationSeconds": state.seconds,
            "acquireTime": _micro(state.acquired) if state.acquired else None,
            "renewTime": _micro(state.renewed) if state.renewed else None,
            "leaseTransitions": state.transitions}


def _status_reason(err: Any) -> str:
    import json

    try:
        body = json.loads(err.body or "{}")
    except (TypeError, ValueError):
        return ""
    return body.get("reason", "") if isinstance(body, dict) else ""


def _names_lease(err: Any, name: str) -> bool:
    """A 404 about the Lease itself (create it), not about its type or namespace (no Leases here)."""
    import json

    try:
        details = json.loads(err.body or "{}").get("details") or {}
    except (TypeError, ValueError, AttributeError):
        return False
    return details.get("name") == name and details.get("kind") in ("leases", "Lease")


def now() -> datetime:
    return datetime.now(UTC)


def _parsed(when: str | None) -> datetime | None:
    """A metav1.MicroTime (``2026-11-30T21:00:00.123456Z``) as an aware datetime; None if absent
    or not a time."""
    if not when:
        return None
    try:
        parsed = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _micro(when: datetime) -> str:
    """metav1.MicroTime as the API server writes it."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
