"""HAProxy runtime API ``show servers state [backend]``.

Format (haproxy ``doc/management.txt``; field names from ``SRV_STATE_FILE_FIELD_NAMES`` in
``include/haproxy/server-t.h``, identical in 2.6, 2.9 and 3.0): line 1 is the format version
``1``, line 2 a ``#`` comment naming the space-separated fields, then one line per server;
the reply ends with an empty line. Fields are read by the header's names, not positions,
so versions that append fields still parse. Captured example:
``tests/data/captured/haproxy-2.6_show_servers_state.txt``.

Meaning of the numbers (``include/haproxy/server-t.h``, ``include/haproxy/check-t.h``):
``srv_op_state`` 0 stopped, 1 starting, 2 running, 3 stopping; ``srv_admin_state`` is a bit
set (0x01 forced maint, 0x02 inherited maint, 0x04 config maint, 0x08 forced drain,
0x10 inherited drain, 0x20 DNS maint); ``srv_check_status`` is ``HCHK_STATUS_*``.
"""

from __future__ import annotations

from typing import Any

from runbook_tui.parsers import ParseError
from runbook_tui.parsers._text import as_int, clip, nonblank_lines, require_text

WHAT = "haproxy.servers_state"

OP_STATES = {0: "DOWN", 1: "STARTING", 2: "UP", 3: "STOPPING"}
ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20
ADMIN_DRAIN = 0x08 | 0x10

# HCHK_STATUS_* in enum order, named as `show stat` names them.
CHECK_STATUS_NAMES = (
    "UNK", "INI", "START", "CHECKED", "HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON",
    "L6OK", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP", "L57DATA", "L7OK", "L7OKC", "L7STS",
)
CHECK_RESULT_NAMES = ("unknown", "neutral", "failed", "passed", "condpass")

# Header name -> our key. Unlisted names keep their name without the "srv_" prefix.
RENAMED = {"be_id": "backend_id", "be_name": "backend", "srv_id": "id", "srv_name": "name"}
TEXT_FIELDS = {"be_name", "srv_name", "srv_addr", "srv_fqdn", "srvrecord", "srv_check_addr", "srv_agent_addr"}
REQUIRED = ("be_id", "be_name", "srv_id", "srv_name", "srv_addr", "srv_op_state", "srv_admin_state")

# One-line replies of the runtime API instead of a table.
KNOWN_REPLIES = ("Can't find backend.", "No such backend.", "Unknown command", "Permission denied")


def _key(name: str) -> str:
    return RENAMED.get(name, name[4:] if name.startswith("srv_") else name)


def _value(name: str, raw: str, number: int) -> Any:
    if raw == "-":
        if name in REQUIRED:  # HAProxy writes "-" only for fields a server may lack
            raise ParseError(f"Line {number} of `show servers state`: field {name} is empty ('-').", line=number)
        return None
    if name in TEXT_FIELDS:
        return raw
    value = as_int(raw)
    if value is None:
        if name in REQUIRED or name in ("srv_port", "srv_check_status", "srv_check_result", "srv_check_state"):
            raise ParseError(
                f"Line {number} of `show servers state`: field {name} should be a number, found {clip(raw)!r}.",
                line=number,
            )
        return raw
    return value


def _status(op_state: int, admin_state: int) -> str:
    if admin_state & ADMIN_MAINT:
        return "MAINT"
    if admin_state & ADMIN_DRAIN:
        return "DRAIN"
    return OP_STATES[op_state]


def _server(header: list[str], fields: list[str], number: int) -> dict[str, Any]:
    if len(fields) < len(header):
        raise ParseError(
            f"Line {number} of `show servers state` has {len(fields)} fields; "
            f"the header names {len(header)}.",
            line=number,
        )
    server: dict[str, Any] = {_key(n): _value(n, raw, number) for n, raw in zip(header, fields)}
    op_state, admin_state = server["op_state"], server["admin_state"]
    if op_state not in OP_STATES:
        raise ParseError(
            f"Line {number} of `show servers state`: srv_op_state should be 0-3, found {op_state}.", line=number
        )
    status = _status(op_state, admin_state)
    server["status"] = status
    server["up"] = op_state == 2 and status != "MAINT"
    server["maint"] = status == "MAINT"
    server["drain"] = bool(admin_state & ADMIN_DRAIN)
    server["check_status_name"] = _named(server.get("check_status"), CHECK_STATUS_NAMES)
    server["check_result_name"] = _named(server.get("check_result"), CHECK_RESULT_NAMES)
    return server


def _named(code: Any, names: tuple[str, ...]) -> str | None:
    return names[code] if isinstance(code, int) and 0 <= code < len(names) else None


def _summary(servers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    backends: dict[str, dict[str, Any]] = {}
    for server in servers:
        entry = backends.setdefault(server["backend"], {"servers": 0, "up": 0, "down": [], "maint": [], "drain": []})
        entry["servers"] += 1
        if server["up"]:
            entry["up"] += 1
        else:
            entry["down"].append(server["name"])
        if server["maint"]:
            entry["maint"].append(server["name"])
        if server["drain"]:
            entry["drain"].append(server["name"])
    return backends


def parse(text: str) -> dict[str, Any]:
    """``show servers state`` -> ``{"version", "servers": [...], "backends": {name: summary}}``."""
    require_text(text, WHAT)
    version: int | None = None
    header: list[str] | None = None
    servers: list[dict[str, Any]] = []
    for number, line in nonblank_lines(text):
        stripped = line.strip()
        if header is None and version is None:
            if stripped.startswith(KNOWN_REPLIES):
                raise ParseError(f"HAProxy answered {clip(stripped)!r} instead of the server state table.", line=number)
            version = as_int(stripped)
            if version is None:
                raise ParseError(
                    f"Line {number} of `show servers state`: expected the format version (1), found {clip(stripped)!r}.",
                    line=number,
                )
            continue
        if stripped.startswith("#"):
            names = stripped[1:].split()
            missing = [name for name in REQUIRED if name not in names]
            if missing:
                raise ParseError(
                    f"Line {number} of `show servers state`: the header lacks {', '.join(missing)}.", line=number
                )
            header = names
            continue
        fields = stripped.split()
        if len(fields) == 1 and as_int(fields[0]) is not None:
            version = int(fields[0])  # a second reply concatenated: its version line, header next
            header = None
            continue
        if header is None:
            raise ParseError(
                f"Line {number} of `show servers state`: expected the '# be_id be_name ...' header, found {clip(stripped)!r}.",
                line=number,
            )
        servers.append(_server(header, fields, number))
    if version is None:
        raise ParseError("The `show servers state` output is empty: expected a version line and a header.")
    if header is None:
        raise ParseError("The `show servers state` output has no '# be_id be_name ...' header line.")
    return {"version": version, "servers": servers, "backends": _summary(servers)}
