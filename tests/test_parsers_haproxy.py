"""HAProxy parsers against a real HAProxy started here, and against its captured output."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_tui.parsers import ParseError, get_parser

CAPTURED = Path(__file__).parent / "data" / "captured"
servers_state = get_parser("haproxy.servers_state")
stat = get_parser("haproxy.stat")
check = get_parser("haproxy.check")


def _require_program(name: str, package: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{name} is missing: CI must install the Debian package '{package}' (apt-get install {package}).")
    pytest.skip(f"{name} not installed (Debian package '{package}')")


@pytest.fixture(scope="module")
def haproxy_bin() -> str:
    return _require_program("haproxy", "haproxy")


def _free_port() -> int:
    """A loopback port nothing listens on (bound then closed, so connects are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ask(sock_path: str, command: str) -> str:
    """One runtime API command, as `echo CMD | socat SOCKET stdio` would send it."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(sock_path)
        s.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


class LiveHAProxy:
    def __init__(self, sock: str):
        self.sock = sock

    def ask(self, command: str) -> str:
        return _ask(self.sock, command)


@pytest.fixture(scope="module")
def live(haproxy_bin, tmp_path_factory) -> Iterator[LiveHAProxy]:
    """HAProxy with bk_smtp (mail1/mail2 listening, mail3/mail4 not) and bk_admin for state changes."""
    tmp = tmp_path_factory.mktemp("hap")
    listeners = []
    for _ in range(3):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        listeners.append(s)
    up1, up2, admin = (s.getsockname()[1] for s in listeners)
    down1, down2 = _free_port(), _free_port()
    sock = str(tmp / "admin.sock")
    fast = "check inter 200 fall 1 rise 1"
    cfg = tmp / "haproxy.cfg"
    cfg.write_text(
        "global\n"
        f"    stats socket {sock} level admin\n"
        "defaults\n    mode tcp\n    timeout connect 500ms\n    timeout client 5s\n    timeout server 5s\n"
        f"frontend fe_smtp\n    bind unix@{tmp}/fe_smtp.sock\n    default_backend bk_smtp\n"
        "backend bk_smtp\n"
        f"    server mail1 127.0.0.1:{up1} {fast} send-proxy-v2\n"
        f"    server mail2 127.0.0.1:{up2} {fast} send-proxy-v2\n"
        f"    server mail3 127.0.0.1:{down1} {fast} send-proxy-v2\n"
        f"    server mail4 127.0.0.1:{down2} {fast} send-proxy-v2\n"
        "backend bk_admin\n"
        f"    server a1 127.0.0.1:{admin} {fast}\n"
        f"    server a2 127.0.0.1:{admin} {fast}\n"
    )
    proc = subprocess.Popen([haproxy_bin, "-db", "-f", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"HAProxy did not start: {proc.stdout.read().decode() if proc.stdout else ''}")
            time.sleep(0.02)
        yield LiveHAProxy(sock)
    finally:
        proc.terminate()
        proc.wait(5)
        for s in listeners:
            s.close()


def _settled(live: LiveHAProxy, backend: str, expected: dict[str, str]) -> dict:
    """Poll until every named server has the expected status (checks run every 200 ms)."""
    deadline = time.monotonic() + 10
    while True:
        data = servers_state(live.ask(f"show servers state {backend}"))
        got = {s["name"]: s["status"] for s in data["servers"]}
        if got == expected or time.monotonic() > deadline:
            assert got == expected
            return data
        time.sleep(0.05)


def test_live_servers_state_up_and_down(live):
    data = _settled(live, "bk_smtp", {"mail1": "UP", "mail2": "UP", "mail3": "DOWN", "mail4": "DOWN"})
    assert data["version"] == 1
    by_name = {s["name"]: s for s in data["servers"]}
    assert [by_name[n]["up"] for n in ("mail1", "mail2", "mail3", "mail4")] == [True, True, False, False]
    assert by_name["mail1"]["op_state"] == 2 and by_name["mail3"]["op_state"] == 0
    assert by_name["mail1"]["check_status_name"] == "L4OK"
    assert by_name["mail3"]["check_status_name"] == "L4CON"
    assert by_name["mail3"]["check_result_name"] == "failed"
    assert by_name["mail1"]["addr"] == "127.0.0.1" and isinstance(by_name["mail1"]["port"], int)
    assert data["backends"]["bk_smtp"] == {"servers": 4, "up": 2, "down": ["mail3", "mail4"], "maint": [], "drain": []}


def test_live_servers_state_all_backends(live):
    _settled(live, "bk_smtp", {"mail1": "UP", "mail2": "UP", "mail3": "DOWN", "mail4": "DOWN"})
    data = servers_state(live.ask("show servers state"))
    assert set(data["backends"]) == {"bk_smtp", "bk_admin"}
    assert {s["backend_id"] for s in data["servers"] if s["backend"] == "bk_smtp"} != {
        s["backend_id"] for s in data["servers"] if s["backend"] == "bk_admin"
    }


def test_live_show_stat(live):
    _settled(live, "bk_smtp", {"mail1": "UP", "mail2": "UP", "mail3": "DOWN", "mail4": "DOWN"})
    data = stat(live.ask("show stat"))
    smtp = {row["svname"]: row for row in data["servers"] if row["pxname"] == "bk_smtp"}
    assert {name: row["status"] for name, row in smtp.items()} == {
        "mail1": "UP", "mail2": "UP", "mail3": "DOWN", "mail4": "DOWN"
    }
    assert smtp["mail3"]["check_status"] == "L4CON"
    assert isinstance(smtp["mail1"]["chkfail"], int)
    assert [row["pxname"] for row in data["frontends"]] == ["fe_smtp"]
    assert {row["pxname"] for row in data["backends"]} == {"bk_smtp", "bk_admin"}
    assert "agg_check_status" in data["fields"] or "check_status" in data["fields"]


def test_live_drain_maint_and_ready(live):
    _settled(live, "bk_admin", {"a1": "UP", "a2": "UP"})
    assert live.ask("set server bk_admin/a2 state drain").strip() == ""
    data = _settled(live, "bk_admin", {"a1": "UP", "a2": "DRAIN"})
    a2 = data["servers"][1]
    assert a2["admin_state"] & 0x08 and a2["up"] is True and a2["drain"] is True
    assert data["backends"]["bk_admin"]["drain"] == ["a2"]

    live.ask("set server bk_admin/a2 state maint")
    data = _settled(live, "bk_admin", {"a1": "UP", "a2": "MAINT"})
    a2 = data["servers"][1]
    assert a2["admin_state"] & 0x01 and a2["up"] is False
    assert data["backends"]["bk_admin"]["down"] == ["a2"] and data["backends"]["bk_admin"]["maint"] == ["a2"]
    assert {row["svname"]: row["status"] for row in stat(live.ask("show stat"))["servers"] if row["pxname"] == "bk_admin"}["a2"] == "MAINT"

    live.ask("set server bk_admin/a2 state ready")
    _settled(live, "bk_admin", {"a1": "UP", "a2": "UP"})


def test_live_unknown_backend_reply_is_a_parse_error(live):
    with pytest.raises(ParseError, match="Can't find backend"):
        servers_state(live.ask("show servers state no_such_backend"))


GOOD_CFG = """global
    stats socket {sock} level admin
defaults
    mode tcp
    timeout connect 5s
    timeout client 300s
    timeout server 300s
frontend mailserver_smtp
    bind unix@{dir}/fe.sock
    default_backend mailserver_smtp_ipvANY
backend mailserver_smtp_ipvANY
    server k8s-node1 10.0.20.101:30125 check inter 120000 send-proxy-v2
"""


def _check(haproxy_bin: str, cfg: Path) -> str:
    out = subprocess.run([haproxy_bin, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    return out.stderr + out.stdout


def test_live_check_valid(haproxy_bin, tmp_path):
    cfg = tmp_path / "good.cfg"
    cfg.write_text(GOOD_CFG.format(sock=tmp_path / "s.sock", dir=tmp_path))
    data = check(_check(haproxy_bin, cfg))
    assert data == {**data, "valid": True, "alerts": []}


def test_live_check_invalid_names_file_and_lines(haproxy_bin, tmp_path):
    cfg = tmp_path / "bad.cfg"
    text = GOOD_CFG.format(sock=tmp_path / "s.sock", dir=tmp_path)
    text = text.replace("send-proxy-v2", "send-proxy-v3").replace("    mode tcp\n", "    mode tcp\n    balance nonsense\n")
    cfg.write_text(text)
    data = check(_check(haproxy_bin, cfg))
    assert data["valid"] is False
    located = {(a["file"], a["line"]) for a in data["alerts"] if a["line"]}
    lines = text.splitlines()
    expected_v3 = next(i for i, line in enumerate(lines, 1) if "send-proxy-v3" in line)
    expected_balance = next(i for i, line in enumerate(lines, 1) if "balance nonsense" in line)
    assert (str(cfg), expected_v3) in located
    assert (str(cfg), expected_balance) in located
    v3 = next(a for a in data["alerts"] if a["line"] == expected_v3)
    assert "send-proxy-v3" in v3["message"] and "send-proxy-v2" in v3["message"]


def test_live_check_missing_file(haproxy_bin, tmp_path):
    data = check(_check(haproxy_bin, tmp_path / "missing.cfg"))
    assert data["valid"] is False
    assert "Cannot open configuration file" in data["alerts"][0]["message"]


# --- captured output (runs without haproxy) ---

def test_captured_servers_state():
    data = servers_state((CAPTURED / "haproxy-2.6_show_servers_state.txt").read_text())
    assert len(data["servers"]) == 16
    assert set(data["backends"]) == {
        "mailserver_smtp_ipvANY", "mailserver_smtps_ipvANY", "mailserver_submission_ipvANY", "mailserver_imaps_ipvANY"
    }
    for summary in data["backends"].values():
        assert summary["servers"] == 4 and summary["up"] == 2 and summary["down"] == ["k8s-node3", "k8s-node4"]
    assert {s["port"] for s in data["servers"]} == {30125, 30126, 30127, 30128}
    assert all(s["fqdn"] is None for s in data["servers"])


def test_captured_drain_and_maint():
    drain = servers_state((CAPTURED / "haproxy-2.6_show_servers_state_drain.txt").read_text())
    maint = servers_state((CAPTURED / "haproxy-2.6_show_servers_state_maint.txt").read_text())
    node2_drain = next(s for s in drain["servers"] if s["name"] == "k8s-node2")
    node2_maint = next(s for s in maint["servers"] if s["name"] == "k8s-node2")
    assert (node2_drain["status"], node2_drain["admin_state"], node2_drain["up"]) == ("DRAIN", 8, True)
    assert (node2_maint["status"], node2_maint["admin_state"], node2_maint["check_state"], node2_maint["up"]) == (
        "MAINT", 1, 14, False)


def test_reference_sample_with_crlf_and_no_trailing_blank_line():
    text = (
        "1\r\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
        "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
        "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
        "srv_check_addr srv_agent_addr srv_agent_port\r\n"
        "3 bk_smtp 1 mail1 127.0.0.1 2 0 1 1 8 15 3 3 6 0 0 0 - 21025 - 0 0 - - 0\r\n"
        "3 bk_smtp 3 mail3 127.0.0.1 0 0 1 1 7 8 2 0 6 0 0 0 - 21027 - 0 0 - - 0"
    )
    data = servers_state(text)
    assert [(s["name"], s["status"], s["check_status_name"]) for s in data["servers"]] == [
        ("mail1", "UP", "L7OK"), ("mail3", "DOWN", "L4CON")]


def test_fields_are_read_by_header_name_not_position():
    text = "1\n# srv_name be_name srv_admin_state srv_op_state be_id srv_id srv_addr srv_future_field\n" \
           "web1 bk 0 2 5 1 10.0.0.1 whatever\nweb2 bk 0 1 5 2 10.0.0.2 x\n"
    data = servers_state(text)
    assert [(s["name"], s["status"], s["future_field"]) for s in data["servers"]] == [
        ("web1", "UP", "whatever"), ("web2", "STARTING", "x")]


@pytest.mark.parametrize("text, line, words", [
    ("", None, "empty"),
    ("\n\n", None, "empty"),
    ("hello\n", 1, "format version"),
    ("1\nbk 1 2\n", 2, "header"),
    ("1\n# be_id be_name srv_id\n", 2, "lacks"),
    ("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state\n3 bk 1 a 1.2.3.4 2\n", 3, "6 fields"),
    ("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state\n3 bk 1 a 1.2.3.4 up 0\n", 3, "srv_op_state"),
    ("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state\n3 bk 1 a 1.2.3.4 9 0\n", 3, "0-3"),
    ("No such server.\n", 1, "No such server"),
])
def test_servers_state_malformed(text, line, words):
    with pytest.raises(ParseError, match=words) as caught:
        servers_state(text)
    assert caught.value.line == line


def test_captured_show_stat():
    data = stat((CAPTURED / "haproxy-2.6_show_stat.csv").read_text())
    assert len(data["frontends"]) == 5 and len(data["backends"]) == 4 and len(data["servers"]) == 16
    node3 = next(r for r in data["servers"] if r["svname"] == "k8s-node3" and r["pxname"] == "mailserver_smtp_ipvANY")
    assert (node3["status"], node3["check_status"], node3["addr"]) == ("DOWN", "L4CON", "127.0.20.103:30125")
    assert node3["slim"] is None and node3["chkdown"] == 1
    assert "-" not in data["fields"] and "" not in data["fields"]


def test_show_stat_columns_by_name_with_quoted_text_and_extra_columns():
    text = '# pxname,svname,status,check_desc,new_in_2_9,\nbk,s1,UP,"passed, quickly",7,\nbk,BACKEND,UP,,,\n'
    data = stat(text)
    assert data["servers"] == [{"pxname": "bk", "svname": "s1", "status": "UP", "check_desc": "passed, quickly", "new_in_2_9": 7}]
    assert data["backends"][0]["new_in_2_9"] is None


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("pxname,svname\n", "CSV header"),
    ("# a,b\n", "pxname,svname"),
    ("# pxname,svname,status\n,,\n", "proxy and server names"),
    ('# pxname,svname\nbk,"s1\n', "well-formed CSV"),
])
def test_show_stat_malformed(text, words):
    with pytest.raises(ParseError, match=words):
        stat(text)


def test_captured_check_outputs():
    valid = check((CAPTURED / "haproxy-2.6_check_valid.txt").read_text())
    assert valid == {"valid": True, "alerts": [], "warnings": [], "notices": []}
    invalid = check((CAPTURED / "haproxy-2.6_check_invalid.txt").read_text())
    assert invalid["valid"] is False
    assert [(a["file"], a["line"]) for a in invalid["alerts"]] == [("haproxy_bad.cfg", 15), ("haproxy_bad.cfg", 17)]
    warned = check((CAPTURED / "haproxy-2.6_check_warnings.txt").read_text())
    assert warned["valid"] is True and len(warned["warnings"]) == 2
    assert warned["warnings"][0]["message"].endswith("'client', 'connect', 'server'.")


def test_check_older_message_format():
    text = ("[ALERT] 108/142512 (4242) : parsing [/etc/haproxy/haproxy.cfg:21] : unknown keyword 'send-proxy-v3'\n"
            "[ALERT] 108/142512 (4242) : Fatal errors found in configuration.\n")
    data = check(text)
    assert data["valid"] is False
    assert data["alerts"] == [{"level": "ALERT", "section": None, "file": "/etc/haproxy/haproxy.cfg", "line": 21,
                               "message": "unknown keyword 'send-proxy-v3'"}]


@pytest.mark.parametrize("text", ["", "\n", "bash: haproxy: command not found\n"])
def test_check_without_verdict_is_a_parse_error(text):
    with pytest.raises(ParseError, match="Configuration file is valid"):
        check(text)


def test_a_required_field_written_as_dash_is_a_parse_error() -> None:
    from runbook_tui.errors import RunbookError
    from runbook_tui.parsers import get_parser

    line = "3 bk_smtp 1 mail1 127.0.0.1 2 - 1 1 8 15 3 3 6 0 0 0 - 21025 - 0 0 - - 0"  # admin_state "-"
    text = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight " \
           "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state " \
           "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl " \
           "srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n" + line + "\n"
    with pytest.raises(RunbookError, match="srv_admin_state is empty"):
        get_parser("haproxy.servers_state")(text)
