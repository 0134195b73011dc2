"""pfSense ``/cf/conf/config.xml``: the HAProxy package section, aliases and port forwards.

Format: pfSense's XML config; the HAProxy package keeps its settings under
``<installedpackages><haproxy>`` (pfsense/FreeBSD-ports
``net/pfSense-pkg-haproxy/files/usr/local/pkg/haproxy/haproxy.inc``). Its names are
backwards: ``<ha_backends><item>`` are the *frontends* (``name``, ``status``, ``type``,
``backend_serverpool``, ``a_extaddr/item/{extaddr,extaddr_custom,extaddr_port}``, base64
``advanced``) and ``<ha_pools><item>`` the *backends* (``name``, ``check_type``,
``checkinter``, base64 ``advanced``, ``ha_servers/item/{name,address,port,status,weight,
advanced}`` where a server's ``advanced`` is plain text such as ``send-proxy-v2``). Aliases
are ``<aliases><alias>``, port forwards ``<nat><rule>``. Example:
``tests/data/captured/pfsense_config.xml``.

Only the standard library parses it, and a document type declaration or entity is refused
outright, so no XML bomb or external entity is ever expanded.
"""

from __future__ import annotations

import base64
import binascii
import re
import xml.etree.ElementTree as ET
from typing import Any

from runbook_tui.parsers import ParseError
from runbook_tui.parsers._text import as_int, require_text

WHAT = "pfsense.config"
_FORBIDDEN = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
SEND_PROXY = ("send-proxy-v2-ssl-cn", "send-proxy-v2-ssl", "send-proxy-v2", "send-proxy")


def _text(element: ET.Element | None, tag: str) -> str | None:
    if element is None:
        return None
    child = element.find(tag)
    if child is None or child.text is None:
        return None
    value = child.text.strip()
    return value or None


def _has(element: ET.Element | None, tag: str) -> bool:
    return element is not None and element.find(tag) is not None


def _items(element: ET.Element | None, path: str) -> list[ET.Element]:
    return [] if element is None else element.findall(path)


def _number(value: str | None) -> int | str | None:
    if value is None:
        return None
    number = as_int(value)
    return value if number is None else number


def _base64(value: str | None) -> str | None:
    """The package stores frontend and pool ``advanced`` text base64-encoded."""
    if value is None:
        return None
    try:
        return base64.b64decode("".join(value.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return value  # hand-edited configs sometimes hold plain text


def _frontend(item: ET.Element) -> dict[str, Any]:
    binds, details = [], []
    for address in _items(item, "a_extaddr/item"):
        where = _text(address, "extaddr") or ""
        if where == "custom":
            where = _text(address, "extaddr_custom") or ""
        for port in (_text(address, "extaddr_port") or "").split(","):
            port = port.strip()
            binds.append(f"{where}:{port}" if port else where)
            details.append({"address": where, "port": _number(port or None),
                            "ssl": _text(address, "extaddr_ssl") in ("yes", "on", "1")})
    return {
        "name": _text(item, "name"),
        "description": _text(item, "desc"),
        "status": _text(item, "status"),
        "type": _text(item, "type"),
        "backend": _text(item, "backend_serverpool"),
        "binds": binds,
        "bind_details": details,
        "secondary": _text(item, "secondary") in ("yes", "on", "1"),
        "primary_frontend": _text(item, "primary_frontend"),
        "advanced": _base64(_text(item, "advanced")),
    }


def _server(item: ET.Element) -> dict[str, Any]:
    advanced = _text(item, "advanced")
    words = (advanced or "").split()
    return {
        "name": _text(item, "name"),
        "address": _text(item, "address"),
        "port": _number(_text(item, "port")),
        "status": _text(item, "status"),
        "weight": _number(_text(item, "weight")),
        "ssl": _text(item, "ssl") in ("yes", "on", "1"),
        "advanced": advanced,
        "send_proxy": next((w for w in words if w in SEND_PROXY), None),
    }


def _backend(item: ET.Element) -> dict[str, Any]:
    return {
        "name": _text(item, "name"),
        "balance": _text(item, "balance"),
        "check_type": _text(item, "check_type"),
        "checkinter": _number(_text(item, "checkinter")),
        "monitor_domain": _text(item, "monitor_domain"),
        "advanced": _base64(_text(item, "advanced")),
        "servers": [_server(server) for server in _items(item, "ha_servers/item")],
    }


def _alias(item: ET.Element) -> dict[str, Any]:
    address = _text(item, "address")
    return {"name": _text(item, "name"), "type": _text(item, "type"), "address": address,
            "addresses": (address or "").split(), "descr": _text(item, "descr")}


def _endpoint(element: ET.Element | None) -> str | None:
    if element is None:
        return None
    if element.find("any") is not None:
        return "any"
    where = _text(element, "address") or _text(element, "network")
    return f"! {where}" if where and element.find("not") is not None else where


def _nat(rule: ET.Element) -> dict[str, Any]:
    return {
        "interface": _text(rule, "interface"),
        "ipprotocol": _text(rule, "ipprotocol"),
        "protocol": _text(rule, "protocol"),
        "source": _endpoint(rule.find("source")),
        "destination": _endpoint(rule.find("destination")),
        "destination_port": _number(_text(rule.find("destination"), "port")),
        "target": _text(rule, "target"),
        "local_port": _number(_text(rule, "local-port")),
        "descr": _text(rule, "descr"),
        "disabled": _has(rule, "disabled"),
        "nordr": _has(rule, "nordr"),
        "associated_rule_id": _text(rule, "associated-rule-id"),
    }


def _root(text: str) -> ET.Element:
    forbidden = _FORBIDDEN.search(text)
    if forbidden:
        line = text.count("\n", 0, forbidden.start()) + 1
        raise ParseError(
            f"Line {line} of config.xml declares a document type or entity; refusing it (pfSense never writes one).",
            line=line,
        )
    try:
        return ET.fromstring(text)
    except ET.ParseError as err:
        position: tuple[int | None, int | None] = getattr(err, "position", (None, None))
        line_at, column = position
        reason = str(err).split(":", 1)[0]
        raise ParseError(
            f"config.xml is not well-formed XML at line {line_at}, column {column}: {reason}.", line=line_at
        ) from None


def parse(text: str) -> dict[str, Any]:
    """-> ``{"haproxy": bool, "frontends": [...], "backends": [...], "aliases": [...], "nat": [...]}``."""
    require_text(text, WHAT)
    root = _root(text)
    if root.tag != "pfsense":
        raise ParseError(f"Expected a pfSense config.xml with a <pfsense> root element, found <{root.tag}>.")
    haproxy = root.find("installedpackages/haproxy")
    return {
        "version": _text(root, "version"),
        "haproxy": haproxy is not None,
        "haproxy_enabled": _text(haproxy, "enable") in ("yes", "on", "1"),
        "frontends": [_frontend(item) for item in _items(haproxy, "ha_backends/item")],
        "backends": [_backend(item) for item in _items(haproxy, "ha_pools/item")],
        "aliases": [_alias(item) for item in _items(root, "aliases/alias")],
        "nat": [_nat(rule) for rule in _items(root, "nat/rule")],
    }
