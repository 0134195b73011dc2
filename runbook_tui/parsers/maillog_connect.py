"""Postfix connection lines in a mail log (syslog, docker-mailserver or journald lines).

Formats (from Postfix source): postscreen logs
``CONNECT from [%s]:%s to [%s]:%s`` (client address, client port, server address, server
port; ``src/postscreen/postscreen.c``); smtpd logs ``connect from %s`` with
``name[address]`` or, with ``smtpd_client_port_logging``, ``name[address]:port``
(``SMTPD_BUILD_NAMADDRPORT`` in ``src/smtpd/smtpd_peer.c``). The program tag before
``[pid]:`` is ``syslog_name/process``, e.g. ``postfix/smtpd-proxy25/postscreen`` for a
master.cf service run with ``-o syslog_name=postfix/smtpd-proxy25``; the service reported is
the tag without its first component (``smtpd-proxy25/postscreen``). Other lines are
ignored. Example: ``tests/data/captured/postfix_maillog.txt``.
"""

from __future__ import annotations

import re
from typing import Any

from runbook_tui.parsers._text import numbered_lines, require_text

WHAT = "maillog.connect_from"

_TAG = re.compile(r"(?:^|\s)(?P<tag>[\w.-]+(?:/[\w.-]+)+)\[(?P<pid>\d+)\]:\s+(?P<message>.*)$")
_POSTSCREEN = re.compile(
    r"^CONNECT from \[(?P<client_ip>[^\]\s]+)\]:(?P<client_port>\d+) to \[(?P<server_ip>[^\]\s]+)\]:(?P<server_port>\d+)\s*$"
)
_SMTPD = re.compile(r"^connect from (?P<client_name>[^\[\s]*)\[(?P<client_ip>[^\]\s]+)\](?::(?P<client_port>\d+))?\s*$")


def _int(value: str | None) -> int | None:
    return int(value) if value is not None else None


def parse(text: str) -> dict[str, Any]:
    """-> ``{"connections": [{"service","client_ip","client_port","server_ip","server_port","line"}],
    "client_ips": [unique, first seen first]}``."""
    require_text(text, WHAT)
    connections: list[dict[str, Any]] = []
    for number, line in numbered_lines(text):
        if "connect from " not in line and "CONNECT from " not in line:
            continue  # cheap filter: most log lines are about something else
        tagged = _TAG.search(line)
        if not tagged:
            continue
        message = tagged["message"]
        found = _POSTSCREEN.match(message) or _SMTPD.match(message)
        if not found:
            continue
        fields = found.groupdict()
        tag = tagged["tag"]
        connections.append({
            "service": tag.split("/", 1)[1],
            "program": tag,
            "pid": int(tagged["pid"]),
            "kind": "postscreen" if "server_ip" in fields else "smtpd",
            "client_name": fields.get("client_name"),
            "client_ip": fields["client_ip"],
            "client_port": _int(fields.get("client_port")),
            "server_ip": fields.get("server_ip"),
            "server_port": _int(fields.get("server_port")),
            "line": line.strip(),
            "line_number": number,
        })
    client_ips = list(dict.fromkeys(c["client_ip"] for c in connections))
    return {"connections": connections, "client_ips": client_ips}
