"""iproute2 ``ss -ltn`` (also ``-ltnp``, ``-H`` without header, ``-ln`` with a Netid column).

Format (captured from iproute2 6.1 on Debian 12): header
``State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess`` then rows like
``LISTEN 0      128        127.0.0.1:2525      0.0.0.0:*``; IPv6 prints ``[::1]:25`` and a
dual-stack wildcard ``*:25``; ``-p`` appends ``users:(("master",pid=1,fd=13))``. Older ss
printed IPv6 as ``:::25`` and, with ``-l``, sometimes no State column. Captured example:
``tests/data/captured/iproute2-6.1_ss_ltn.txt``.
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

WHAT = "ss.listening"
NETIDS = {"tcp", "udp", "raw", "u_str", "u_dgr", "u_seq", "p_raw", "p_dgr", "nl", "sctp", "mptcp", "tipc", "v_str", "v_dgr", "xdp"}
_STATE = re.compile(r"^[A-Z][A-Z0-9-]*$")
_PROCESS_NAME = re.compile(r'users:\(\("(?P<name>[^"]*)"')


def _socket(tokens: list[str], number: int) -> dict[str, Any]:
    netid = None
    if tokens and tokens[0] in NETIDS:
        netid, tokens = tokens[0], tokens[1:]
    state = None
    if tokens and as_int(tokens[0]) is None:
        if not _STATE.match(tokens[0]):
            raise ParseError(f"Line {number} of `ss` output: expected a socket state like LISTEN, found {clip(tokens[0])!r}.", line=number)
        state, tokens = tokens[0], tokens[1:]
    if len(tokens) < 4:
        raise ParseError(
            f"Line {number} of `ss` output: expected State, Recv-Q, Send-Q, local and peer address columns.", line=number
        )
    recv_q, send_q = as_int(tokens[0]), as_int(tokens[1])
    if recv_q is None or send_q is None:
        raise ParseError(f"Line {number} of `ss` output: Recv-Q and Send-Q should be numbers.", line=number)
    local_addr, local_port = host_port(tokens[2], number, f"Line {number} of `ss` output: expected the local address as ADDRESS:PORT")
    peer_addr, peer_port = host_port(tokens[3], number, f"Line {number} of `ss` output: expected the peer address as ADDRESS:PORT")
    process = " ".join(tokens[4:]) or None
    name = _PROCESS_NAME.search(process) if process else None
    return {
        "netid": netid,
        "state": state or "LISTEN",  # ss -l without a State column lists only listeners
        "recv_q": recv_q,
        "send_q": send_q,
        "local": tokens[2],
        "local_addr": local_addr,
        "local_port": local_port,
        "peer": tokens[3],
        "peer_addr": peer_addr,
        "peer_port": peer_port,
        "process": process,
        "process_name": name["name"] if name else None,
    }


def parse(text: str) -> dict[str, Any]:
    """-> ``{"sockets": [{"state","recv_q","send_q","local_addr","local_port","peer",...}],
    "ports": sorted unique listening ports}``."""
    require_text(text, WHAT)
    sockets = []
    for number, line in nonblank_lines(text):
        tokens = line.split()
        if tokens[0] in ("State", "Netid", "Recv-Q"):
            continue  # the header (absent with -H)
        sockets.append(_socket(tokens, number))
    ports = sorted({s["local_port"] for s in sockets if s["state"] == "LISTEN" and s["local_port"] is not None})
    return {"sockets": sockets, "ports": ports}
