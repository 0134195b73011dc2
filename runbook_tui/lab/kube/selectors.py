"""Label and field selectors as the API server understands them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Predicate = Callable[[dict], bool]


class SelectorError(ValueError):
    pass


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    cur: list[str]
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


_SET = re.compile(r"^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$")
_EQ = re.compile(r"^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$")
_EXISTS = re.compile(r"^(!?)\s*([\w./-]+)$")


def label_selector(text: str | None) -> Predicate:
    """Equality (``a=b``, ``a==b``, ``a!=b``), set (``a in (x,y)``, ``a notin (x)``) and
    existence (``a``, ``!a``) requirements, comma-separated and all required."""
    if not text:
        return lambda obj: True
    tests: list[Callable[..., bool]] = []  # each called with the labels alone
    for req in _split_top(text):
        if m := _SET.match(req):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            if op == "in":
                tests.append(lambda l, k=key, vs=values: l.get(k) in vs)
            else:
                tests.append(lambda l, k=key, vs=values: l.get(k) not in vs)
        elif m := _EQ.match(req):
            key, op, value = m.groups()
            if op == "!=":
                tests.append(lambda l, k=key, v=value: l.get(k) != v)
            else:
                tests.append(lambda l, k=key, v=value: l.get(k) == v)
        elif m := _EXISTS.match(req):
            neg, key = m.groups()
            if neg:
                tests.append(lambda l, k=key: k not in l)
            else:
                tests.append(lambda l, k=key: k in l)
        else:
            raise SelectorError(f"unable to parse requirement: {req!r}")

    def match(obj: dict) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(t(labels) for t in tests)

    return match


def _field(obj: dict, path: str) -> Any:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def field_selector(text: str | None) -> Predicate:
    """``metadata.name=x``, ``metadata.namespace!=y``, any dotted path, comma-separated."""
    if not text:
        return lambda obj: True
    tests: list[Callable[[dict], bool]] = []
    for req in _split_top(text):
        m = re.match(r"^([\w.]+)\s*(==|=|!=)\s*(.*)$", req)
        if not m:
            raise SelectorError(f"invalid field selector: {req!r}")
        path, op, value = m.groups()

        def test(obj: dict, path=path, op=op, value=value) -> bool:
            actual = _field(obj, path)
            actual = "" if actual is None else str(actual)
            return (actual != value) if op == "!=" else (actual == value)

        tests.append(test)
    return lambda obj: all(t(obj) for t in tests)
