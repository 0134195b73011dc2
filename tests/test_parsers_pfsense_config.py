"""pfsense.config against config.xml fixtures shaped as pfSense and its HAProxy package write them."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_tui.parsers import ParseError, get_parser

CAPTURED = Path(__file__).parent / "data" / "captured"
config = get_parser("pfsense.config")


@pytest.fixture(scope="module")
def full():
    return config((CAPTURED / "pfsense_config.xml").read_text())


def test_frontends_are_the_ha_backends_items(full):
    assert full["haproxy"] is True and full["haproxy_enabled"] is True
    assert [(f["name"], f["binds"], f["backend"], f["status"], f["type"]) for f in full["frontends"]] == [
        ("mailserver_smtp", ["10.0.20.1:25"], "mailserver_smtp", "active", "tcp"),
        ("mailserver_smtps", ["10.0.20.1:465"], "mailserver_smtps", "active", "tcp"),
        ("mailserver_submission", ["10.0.20.1:587"], "mailserver_submission", "active", "tcp"),
        ("mailserver_imaps", ["10.0.20.1:993"], "mailserver_imaps", "active", "tcp"),
        ("mailserver_smtp_test", ["10.0.20.1:2525"], "mailserver_smtp", "active", "tcp"),
    ]
    assert full["frontends"][0]["advanced"] == "timeout client 300s"  # base64 in the XML


def test_backends_are_the_ha_pools_items(full):
    assert [b["name"] for b in full["backends"]] == [
        "mailserver_smtp", "mailserver_smtps", "mailserver_submission", "mailserver_imaps"]
    for backend, port in zip(full["backends"], (30125, 30126, 30127, 30128)):
        assert backend["checkinter"] == 120000 and backend["check_type"] == "Basic"
        assert backend["advanced"] == "option tcp-smart-connect"
        assert [(s["name"], s["address"], s["port"], s["status"], s["advanced"], s["send_proxy"]) for s in backend["servers"]] == [
            (f"k8s-node{i}", f"10.0.20.{100 + i}", port, "active", "send-proxy-v2", "send-proxy-v2") for i in range(1, 5)]


def test_aliases_and_nat(full):
    assert [(a["name"], a["type"], a["addresses"]) for a in full["aliases"]] == [
        ("k8s_nodes", "host", ["10.0.20.101", "10.0.20.102", "10.0.20.103", "10.0.20.104"]),
        ("mail_ports", "port", ["25", "465", "587", "993"]),
    ]
    assert [(n["interface"], n["destination"], n["destination_port"], n["target"], n["local_port"]) for n in full["nat"]] == [
        ("wan", "wanip", p, "10.0.20.1", p) for p in (25, 465, 587, 993)]
    assert not any(n["disabled"] for n in full["nat"])


def test_config_without_haproxy_package():
    data = config((CAPTURED / "pfsense_config_without_haproxy.xml").read_text())
    assert (data["haproxy"], data["frontends"], data["backends"]) == (False, [], [])
    assert {n["target"] for n in data["nat"]} == {"mailserver"}
    assert data["aliases"][0] == {"name": "mailserver", "type": "host", "address": "10.0.20.202",
                                  "addresses": ["10.0.20.202"], "descr": "MetalLB mailserver LoadBalancer"}


def test_broken_config_names_the_xml_error_line():
    text = (CAPTURED / "pfsense_config_broken.xml").read_text()
    with pytest.raises(ParseError, match="not well-formed XML at line") as caught:
        config(text)
    assert caught.value.line is not None
    assert "</advance>" in text.split("\n")[caught.value.line - 1]


@pytest.mark.parametrize("prolog", [
    '<!DOCTYPE pfsense [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>',
    '<!doctype pfsense SYSTEM "file:///etc/passwd">',
    '<!-- ok --><!ENTITY x SYSTEM "http://127.0.0.1/">',
])
def test_dtds_and_entities_are_refused(prolog):
    text = f'<?xml version="1.0"?>\n{prolog}\n<pfsense><version>&b;</version></pfsense>\n'
    with pytest.raises(ParseError, match="declares a document type or entity") as caught:
        config(text)
    assert caught.value.line == 2


def test_other_root_element_is_refused():
    with pytest.raises(ParseError, match="<opnsense>"):
        config("<opnsense><version>1</version></opnsense>")


def test_minimal_haproxy_section_with_custom_and_multi_port_binds():
    text = """<pfsense><installedpackages><haproxy><ha_backends><item>
        <name>fe</name><a_extaddr><item><extaddr>any_ipv4</extaddr><extaddr_port>25,2525</extaddr_port></item>
        </a_extaddr><advanced>not base64!</advanced></item></ha_backends><ha_pools><item><name>bk</name>
        <ha_servers><item><name>s</name><address>10.0.0.1</address><port>x</port></item></ha_servers></item>
        </ha_pools></haproxy></installedpackages></pfsense>"""
    data = config(text)
    assert data["frontends"][0]["binds"] == ["any_ipv4:25", "any_ipv4:2525"]
    assert data["frontends"][0]["advanced"] == "not base64!"
    server = data["backends"][0]["servers"][0]
    assert (server["port"], server["send_proxy"], server["weight"]) == ("x", None, None)
    assert (data["haproxy_enabled"], data["aliases"], data["nat"]) == (False, [], [])
