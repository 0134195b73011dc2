"""What a write sends, and what it makes of the store: bodies decoded (JSON or YAML) and
validated as the real API server does, create, the four patch types (server-side apply, merge,
strategic merge, JSON patch) and a delete's propagation policy."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import yaml
from aiohttp import web

from runbook_tui.lab.kube.errors import ApiError, existing, invalid
from runbook_tui.lab.kube.patch import PatchError, json_patch, merge_patch, strategic_merge_patch
from runbook_tui.lab.kube.resources import ResourceType
from runbook_tui.lab.kube.store import Store

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


async def read_body(request: web.Request) -> Any:
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
        raise ApiError(400, "BadRequest", f"the body of the request could not be decoded: {err}") from None
    return body


def validate(rtype: ResourceType, body: Any) -> None:
    if not isinstance(body, dict):
        raise invalid(rtype, "", "<body>", "Invalid value: the body must be a JSON object")
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
        raise invalid(rtype, "", "metadata", "Invalid value: must be an object")
    meta = meta or {}
    name = meta.get("name") or ""
    if not name and not meta.get("generateName"):
        raise invalid(rtype, "", "metadata.name", "Required value: name or generateName is required")
    if name and (not isinstance(name, str) or len(name) > 253 or not _DNS1123.match(name)):
        raise invalid(
            rtype, str(name), "metadata.name",
            f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric '
            "characters, '-' or '.', and must start and end with an alphanumeric character",
        )
    labels = meta.get("labels")
    if labels is not None and (not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values())):
        raise invalid(rtype, name, "metadata.labels", "Invalid value: label values must be strings")


def check_identity(rtype: ResourceType, body: Any, ns: str | None, name: str) -> None:
    validate(rtype, body)
    meta = body.setdefault("metadata", {})
    if meta.get("name") and meta["name"] != name:
        raise ApiError(400, "BadRequest", f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
    meta["name"] = name
    if rtype.namespaced:
        if meta.get("namespace") and meta["namespace"] != ns:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = ns


def create(store: Store, rtype: ResourceType, ns: str | None, body: Any, dry_run: bool) -> dict:
    validate(rtype, body)
    meta = body.setdefault("metadata", {})
    if rtype.namespaced:
        if meta.get("namespace") and meta["namespace"] != ns:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = ns
        ns_type = store.registry.by_kind("v1", "Namespace")
        if ns_type and store.get_raw(ns_type, None, ns or "") is None:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})
    return store.create(rtype, body, dry_run=dry_run)


async def apply_patch(
    store: Store, request: web.Request, rtype: ResourceType, ns: str | None, name: str, sub: str | None, dry_run: bool
) -> tuple[dict, bool]:
    ctype = request.content_type
    patch = await read_body(request)
    current = store.get_raw(rtype, ns, name)
    if ctype == "application/apply-patch+yaml":
        if current is None and sub is None:
            check_identity(rtype, patch, ns, name)
            return create(store, rtype, ns, patch, dry_run), True
        fn: Callable[[Any, Any], Any] = strategic_merge_patch if rtype.builtin else merge_patch
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
        existing(store, rtype, ns, name)
    if fn is not json_patch and not isinstance(patch, dict):
        raise ApiError(400, "BadRequest", "the patch must be a JSON object")
    try:
        new = fn(current, patch)
    except PatchError as err:
        raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {err}") from None
    if not isinstance(new, dict):
        raise invalid(rtype, name, "<body>", "Invalid value: the patched object is not an object")
    validate(rtype, {**new, "metadata": {**(new.get("metadata") or {}), "name": name}})
    new.setdefault("metadata", {})
    new["metadata"]["name"] = name
    if rtype.namespaced:
        new["metadata"]["namespace"] = ns
    obj = store.replace(
        rtype, new, keep_status=rtype.has_status and sub is None, status_only=sub == "status", dry_run=dry_run
    )
    return obj, False


async def propagation_policy(request: web.Request) -> str | None:
    """A DELETE's ``propagationPolicy``: from a DeleteOptions body, else from the query."""
    policy = request.query.get("propagationPolicy")
    raw = await request.read()
    if raw:
        try:
            opts = json.loads(raw)
            policy = opts.get("propagationPolicy", policy) if isinstance(opts, dict) else policy
        except ValueError:
            raise ApiError(400, "BadRequest", "invalid DeleteOptions body") from None
    return policy
