"""ss.listening against the real iproute2 `ss -ltn` with sockets opened here, and captured output."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from runbook_tui.parsers import ParseError, get_parser

CAPTURED = Path(__file__).parent / "data" / "captured"
listening = get_parser("ss.listening")


@pytest.fixture(scope="module")
def ss_bin() -> str:
    path = shutil.which("ss")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("ss is missing: CI must install the Debian package 'iproute2' (apt-get install iproute2).")
    pytest.skip("ss not installed (Debian package 'iproute2')")


def _listen(family: int, host: str, v6only: bool | None = None) -> socket.socket:
    s = socket.socket(family)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
    s.bind((host, 0))
    s.listen(8)
    return s


@pytest.fixture
def sockets():
    opened = [_listen(socket.AF_INET, "127.0.0.1")]
    if socket.has_ipv6:
        try:
            opened.append(_listen(socket.AF_INET6, "::1", v6only=True))
        except OSError:
            pass  # no IPv6 loopback in this sandbox
    yield opened
    for s in opened:
        s.close()


@pytest.mark.parametrize("flags", ["-ltn", "-ltnp", "-ltnH"])
def test_real_ss_lists_our_ports(ss_bin, sockets, flags):
    out = subprocess.run([ss_bin, flags], capture_output=True, text=True, timeout=10, check=True).stdout
    data = listening(out)
    ours = {s.getsockname()[1]: s.family for s in sockets}
    assert set(ours) <= set(data["ports"])
    assert data["ports"] == sorted(set(data["ports"]))
    for port, family in ours.items():
        entry = next(s for s in data["sockets"] if s["local_port"] == port)
        assert entry["state"] == "LISTEN"
        assert entry["local_addr"] == ("127.0.0.1" if family == socket.AF_INET else "::1")
        assert entry["peer_port"] is None
        if flags == "-ltnp":
            assert entry["process_name"]  # we own these sockets, so ss names the process


def test_real_ss_filtered_by_port_expression(ss_bin, sockets):
    port = sockets[0].getsockname()[1]
    out = subprocess.run([ss_bin, "-ltn", f"sport = :{port}"], capture_output=True, text=True, timeout=10, check=True).stdout
    assert listening(out)["ports"] == [port]


def test_captured_mail_container_listeners():
    data = listening((CAPTURED / "iproute2-6.1_ss_ltn.txt").read_text())
    for port in (25, 2525, 465, 4465, 587, 5587, 993, 10993):
        assert port in data["ports"]
    dual = next(s for s in data["sockets"] if s["local_port"] == 993)
    assert (dual["local_addr"], dual["peer"]) == ("*", "*:*")
    v6 = [s for s in data["sockets"] if s["local"] == "[::]:25"]
    assert v6 and v6[0]["local_addr"] == "::"


def test_older_formats_without_state_and_with_netid():
    old = "Recv-Q Send-Q Local Address:Port Peer Address:Port\n0 128 :::25 :::*\n0 128 *:993 *:*\r\n"
    data = listening(old)
    assert data["ports"] == [25, 993]
    assert data["sockets"][0]["local_addr"] == "::" and data["sockets"][0]["state"] == "LISTEN"
    netid = "Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port\n" \
            "tcp LISTEN 0 4096 127.0.0.53%lo:53 0.0.0.0:*\nudp UNCONN 0 0 0.0.0.0:68 0.0.0.0:*\n"
    data = listening(netid)
    assert data["ports"] == [53]  # UNCONN udp sockets are not listening
    assert data["sockets"][0]["local_addr"] == "127.0.0.53%lo" and data["sockets"][1]["netid"] == "udp"


def test_empty_output_means_nothing_listens():
    assert listening("") == {"sockets": [], "ports": []}


@pytest.mark.parametrize("text, words", [
    ("listen 0 128 127.0.0.1:25 0.0.0.0:*\n", "socket state"),
    ("LISTEN 0 128\n", "columns"),
    ("LISTEN x 128 127.0.0.1:25 0.0.0.0:*\n", "Recv-Q"),
    ("LISTEN 0 128 127.0.0.1 0.0.0.0:*\n", "ADDRESS:PORT"),
    ("LISTEN 0 128 127.0.0.1:99999 0.0.0.0:*\n", "ADDRESS:PORT"),
])
def test_malformed_rows(text, words):
    with pytest.raises(ParseError, match=words) as caught:
        listening("State Recv-Q Send-Q Local Address:Port Peer Address:Port\n" + text)
    assert caught.value.line == 2
