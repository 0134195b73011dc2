"""FreeBSD ``sockstat -l`` (``usr.bin/sockstat/sockstat.c``).

Format (from source, ``display()``/``displaysock()``): header
``USER     COMMAND    PID   FD  PROTO  LOCAL ADDRESS         FOREIGN ADDRESS`` (absent with
``-q``), then per socket: user (uid with ``-n``), command cut to 10 characters, pid, fd,
protocol (``tcp4``, ``tcp6``, ``tcp46``, ``udp4``...; ``stream``/``dgram`` for unix sockets)
and the addresses. ``printaddr()`` writes a wildcard address as ``*`` and port 0 as ``*``,
IPv6 without brackets (``::1:25``). Sockets with several addresses (SCTP) continue on lines
that start with spaces; sockets without an owner print ``?`` for user, command, pid and fd.
pfSense runs HAProxy as uid 80 ``www``. Example (composed from the source and the
documented pfSense output): ``tests/data/captured/freebsd_sockstat_l.txt``.
"""

from __future__ import annotations

import re
from typing import Any

from runbook_tui.parsers import ParseError
from runbook_tui.parsers._text import (
    as_int,
    clip,
    host_port,
    nonblank_lines,
    require_text,
)

WHAT = "freebsd.sockstat"
_ROW = re.compile(
    r"^(?P<user>\S+)\s+(?P<command>\S.*?)\s+(?P<pid>\d+|\?)\s+(?P<fd>\d+|\?)\s+(?P<proto>[a-z][a-z0-9_-]*)(?:\s+(?P<rest>.*))?$"
)
_INET = re.compile(r"^(?:tcp|udp|udplite|sctp|divert|raw|icmp)\w*?(?:4|6|46)$")


def _socket(match: re.Match[str], number: int) -> dict[str, Any]:
    proto, rest = match["proto"], (match["rest"] or "").strip()
    socket: dict[str, Any] = {
        "user": match["user"],
        "command": match["command"],
        "pid": as_int(match["pid"]),
        "fd": as_int(match["fd"]),
        "proto": proto,
        "local": None,
        "local_addr": None,
        "local_port": None,
        "foreign": None,
        "more_addresses": [],
    }
    if not _INET.match(proto):
        socket["local"] = socket["local_addr"] = rest or None  # unix socket: a path, not host:port
        return socket
    fields = rest.split()
    if not fields:
        raise ParseError(f"Line {number} of `sockstat` output: the {proto} socket has no local address.", line=number)
    socket["local"] = fields[0]
    socket["local_addr"], socket["local_port"] = host_port(
        fields[0], number,
        f"Line {number} of `sockstat` output: expected an address like *:25 or 10.0.20.1:25")
    socket["foreign"] = fields[1] if len(fields) > 1 else None
    return socket


def parse(text: str) -> dict[str, Any]:
    """-> ``{"sockets": [{"user","command","pid","fd","proto","local_addr","local_port","foreign"}],
    "ports": {command: sorted listening ports}}``."""
    require_text(text, WHAT)
    sockets: list[dict[str, Any]] = []
    for number, line in nonblank_lines(text):
        if line.startswith("USER") and "COMMAND" in line:
            continue
        if line[0].isspace():
            if not sockets:
                raise ParseError(
                    f"Line {number} of `sockstat` output is indented, but there is no socket line above it to continue.",
                    line=number,
                )
            sockets[-1]["more_addresses"].append(line.split())  # extra addresses of a multi-homed socket
            continue
        match = _ROW.match(line)
        if not match:
            raise ParseError(
                f"Line {number} of `sockstat` output: expected USER COMMAND PID FD PROTO LOCAL FOREIGN, found {clip(line)!r}.",
                line=number,
            )
        sockets.append(_socket(match, number))
    ports: dict[str, list[int]] = {}
    for socket in sockets:
        if socket["local_port"] is not None:
            ports.setdefault(socket["command"], []).append(socket["local_port"])
    return {"sockets": sockets, "ports": {command: sorted(set(found)) for command, found in ports.items()}}
