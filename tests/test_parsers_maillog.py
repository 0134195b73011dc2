"""maillog.connect_from against Postfix log lines in the formats postscreen.c and smtpd write."""

from __future__ import annotations

from pathlib import Path

from runbook_tui.parsers import get_parser

CAPTURED = Path(__file__).parent / "data" / "captured"
connects = get_parser("maillog.connect_from")


def test_mailserver_log_sample():
    data = connects((CAPTURED / "postfix_maillog.txt").read_text())
    assert [(c["service"], c["client_ip"], c["client_port"], c["server_ip"], c["server_port"]) for c in data["connections"]] == [
        ("smtpd-proxy25/postscreen", "77.32.148.20", 41234, "10.0.20.101", 2525),
        ("smtpd-proxy25/smtpd", "77.32.148.20", None, None, None),
        ("smtpd-proxy25/postscreen", "209.85.220.41", 52811, "10.0.20.102", 2525),
        ("submission-proxy/smtpd", "2001:db8::25", 50321, None, None),
        ("postscreen", "10.0.20.1", 61022, "10.0.20.101", 25),
        ("smtpd", "10.244.1.17", None, None, None),
        ("smtpd-proxy25/postscreen", "77.32.148.20", 41299, "10.0.20.103", 2525),
    ]
    assert data["client_ips"] == ["77.32.148.20", "209.85.220.41", "2001:db8::25", "10.0.20.1", "10.244.1.17"]
    first = data["connections"][0]
    assert first["line_number"] == 1 and first["line"].endswith("to [10.0.20.101]:2525")
    assert first["program"] == "postfix/smtpd-proxy25/postscreen" and first["pid"] == 1412


def test_rejects_and_disconnects_are_not_connections():
    text = ("Apr 19 10:15:04 mail postfix/postscreen[1]: NOQUEUE: reject: CONNECT from [198.51.100.7]:40000: too many connections\n"
            "Apr 19 10:15:08 mail postfix/smtpd[2]: disconnect from unknown[10.244.1.17] ehlo=1 quit=1 commands=2\n"
            "Apr 19 10:15:08 mail postfix/smtpd[2]: lost connection after CONNECT from unknown[10.244.1.17]\n")
    assert connects(text) == {"connections": [], "client_ips": []}


def test_crlf_and_kubectl_prefix():
    text = "mailserver-7d9c postfix/smtpd-proxy25/postscreen[9]: CONNECT from [203.0.113.5]:1234 to [10.0.20.104]:2525\r\n"
    data = connects(text)
    assert data["client_ips"] == ["203.0.113.5"] and data["connections"][0]["server_port"] == 2525
