"""freebsd.sockstat and pfctl.rdr against samples laid out as FreeBSD's sources print them."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_tui.parsers import ParseError, get_parser

CAPTURED = Path(__file__).parent / "data" / "captured"
sockstat = get_parser("freebsd.sockstat")
rdr = get_parser("pfctl.rdr")


def test_sockstat_reference_sample():
    text = ("USER     COMMAND    PID   FD  PROTO  LOCAL ADDRESS         FOREIGN ADDRESS\n"
            "www      haproxy    81234 7   tcp4   *:993                 *:*\n")
    assert sockstat(text) == {
        "sockets": [{"user": "www", "command": "haproxy", "pid": 81234, "fd": 7, "proto": "tcp4", "local": "*:993",
                     "local_addr": "*", "local_port": 993, "foreign": "*:*", "more_addresses": []}],
        "ports": {"haproxy": [993]},
    }


def test_sockstat_pfsense_sample():
    # assumption: the sample is composed from freebsd-src usr.bin/sockstat/sockstat.c (no FreeBSD
    # runs here to capture it); listed in runbook_tui/procedures/README.md.
    data = sockstat((CAPTURED / "freebsd_sockstat_l.txt").read_text())
    assert data["ports"]["haproxy"] == [25, 465, 587, 993, 2525]
    assert data["ports"]["unbound"] == [53, 953]
    by = {(s["command"], s["fd"]): s for s in data["sockets"]}
    assert by[("haproxy", 12)]["proto"] == "stream" and by[("haproxy", 12)]["local_addr"] == "/tmp/haproxy.socket"
    assert by[("haproxy", 12)]["local_port"] is None
    assert by[("ntpd", 20)]["local_addr"] == "fe80::1%lo0"
    assert by[("ntpd", 21)]["local_addr"] == "::1" and by[("ntpd", 21)]["local_port"] == 123
    assert by[("dpinger", 8)]["local_port"] is None  # port 0 prints as *
    assert by[("?", None)]["pid"] is None and by[("?", None)]["local_port"] == 30000
    assert {s["user"] for s in data["sockets"] if s["command"] == "haproxy"} == {"www"}


def test_sockstat_quiet_numeric_and_continuation_lines():
    text = ("80       haproxy    81234 7   tcp4   10.0.20.1:25          *:*\r\n"
            "root     sctpd        900 3   sctp46 10.0.20.1:5000        *:*\n"
            "                                     10.0.30.1:5000        *:*\n"
            "root     long name  123   4   udp4   *:514                 *:*\n")
    data = sockstat(text)
    assert [s["user"] for s in data["sockets"]] == ["80", "root", "root"]
    assert data["sockets"][1]["more_addresses"] == [["10.0.30.1:5000", "*:*"]]
    assert data["sockets"][2]["command"] == "long name"
    assert data["ports"] == {"haproxy": [25], "sctpd": [5000], "long name": [514]}


@pytest.mark.parametrize("text, line, words", [
    ("   *:25   *:*\n", 1, "no socket line above"),
    ("www haproxy\n", 1, "USER COMMAND PID FD PROTO"),
    ("www haproxy 1 2 tcp4\n", 1, "no local address"),
    ("USER COMMAND\nwww haproxy 1 2 tcp4 nowhere *:*\n", 2, "address like"),
])
def test_sockstat_malformed(text, line, words):
    with pytest.raises(ParseError, match=words) as caught:
        sockstat(text)
    assert caught.value.line == line


def _by_port(rules):
    return {r["to_port"]: r for r in rules}


def test_pfctl_reference_sample():
    text = ('no rdr proto carp all\nrdr-anchor "tftp-proxy/*" all\n'
            "rdr on igb0 inet proto tcp from any to 203.0.113.10 port = smtp -> 10.0.20.1 port 25\n"
            "rdr on igb0 inet proto tcp from any to 203.0.113.10 port = submission -> 10.0.20.1 port 587\n")
    rules = rdr(text)["rules"]
    assert [(r["interface"], r["af"], r["proto"], r["from"], r["to"], r["to_port"], r["to_port_name"], r["target"],
             r["target_port"], r["target_alias"]) for r in rules] == [
        ("igb0", "inet", "tcp", "any", "203.0.113.10", 25, "smtp", "10.0.20.1", 25, None),
        ("igb0", "inet", "tcp", "any", "203.0.113.10", 587, "submission", "10.0.20.1", 587, None),
    ]
    assert [r["line_number"] for r in rules] == [3, 4]


def test_pfctl_sample_composed_from_source():
    # assumption: composed from freebsd-src sbin/pfctl/pfctl_parser.c, not captured.
    rules = rdr((CAPTURED / "freebsd_pfctl_sn.txt").read_text())["rules"]
    assert len(rules) == 6  # nat, no rdr and anchors are skipped
    by = _by_port(rules)
    assert {p: by[p]["target_port"] for p in (25, 465, 587, 993)} == {25: 25, 465: 465, 587: 587, 993: 993}
    assert by[465]["to_port_name"] == "submissions"
    proxy = by[80]
    assert (proxy["to"], proxy["from"], proxy["label"], proxy["target_port"]) == (
        "! 10.0.10.1", "10.0.10.0/24", "USER_RULE: transparent proxy", 3128)
    pool = by[8443]
    assert pool["pass"] is True and pool["af"] == "inet6"
    assert pool["targets"] == ["10.0.20.101", "10.0.20.102"] and pool["pool_options"] == ["round-robin"]


def test_pfsense_rule_text_with_alias_target():
    rules = rdr((CAPTURED / "pfsense_rules_debug_rdr.txt").read_text())["rules"]
    mail = [r for r in rules if r["target_alias"]]
    assert [(r["to_port"], r["target"], r["target_alias"], r["target_port"]) for r in mail] == [
        (25, "<mailserver>", "mailserver", 25), (465, "<mailserver>", "mailserver", 465),
        (587, "<mailserver>", "mailserver", 587), (993, "<mailserver>", "mailserver", 993)]
    reflection = rules[-1]
    assert reflection["interface"] == "igb1 igb2" and reflection["target_port"] == 19000


def test_rdr_without_target_port_keeps_destination_port_and_all():
    rules = rdr("rdr on em0 inet proto tcp from any to any port 2001 -> 10.17.89.1\n"
                "rdr on em0 all -> 10.0.0.1\n")["rules"]
    assert (rules[0]["to"], rules[0]["to_port"], rules[0]["target_port"]) == ("any", 2001, 2001)
    assert (rules[1]["from"], rules[1]["to"], rules[1]["to_port"], rules[1]["target_port"]) == ("any", "any", None, None)


@pytest.mark.parametrize("text, words", [
    ("rdr on igb0 inet proto tcp from any to 1.2.3.4 port = smtp\n", "'-> TARGET'"),
    ("rdr on igb0 inet proto tcp from any to 1.2.3.4 port = smtp ->\n", "target after"),
    ("rdr on igb0 inet proto tcp from any -> 1.2.3.4\n", "from ... to"),
    ("rdr on\n", "interface"),
    ("rdr on igb0 proto tcp from any to 1.2.3.4 port\n", "port after"),
])
def test_rdr_malformed(text, words):
    with pytest.raises(ParseError, match=words) as caught:
        rdr("# header\n" + text)
    assert caught.value.line == 2
