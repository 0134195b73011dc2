"""How the lab's API server says no: ``Status`` objects, and the errors that become them.

The wording and the ``details`` follow the real API server, because kubectl and the official
client show them to the operator as they are.
"""

from __future__ import annotations

from typing import Any

from runbook_tui.lab.kube.resources import ResourceType
from runbook_tui.lab.kube.store import Store, StoreError


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


def qualified(rtype: ResourceType) -> str:
    return f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural


def not_found(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{qualified(rtype)} "{name}" not found',
        {"name": name, "group": rtype.group, "kind": rtype.plural},
    )


def existing(store: Store, rtype: ResourceType, ns: str | None, name: str) -> dict:
    """The object a URL names, or the NotFound the API answers for it."""
    obj = store.get_raw(rtype, ns, name)
    if obj is None:
        raise not_found(rtype, name)
    return obj


def no_such_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def invalid(rtype: ResourceType, name: str, field: str, message: str) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f'{rtype.kind} "{name}" is invalid: {field}: {message}',
        {"name": name, "group": rtype.group, "kind": rtype.kind, "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}]},
    )


def forbidden(user: str, verb: str, rtype: ResourceType, resource: str, ns: str | None, name: str | None) -> ApiError:
    what = f'{qualified(rtype)} "{name}"' if name else qualified(rtype)
    scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
    return ApiError(
        403,
        "Forbidden",
        f'{what} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "{rtype.group}" {scope}',
        {"name": name, "group": rtype.group, "kind": rtype.plural} if name else {"group": rtype.group, "kind": rtype.plural},
    )
