"""pfSense ``config.xml``: render a PfConfig into the real file's shape, and read it back.

The HAProxy package section follows pfSense-pkg-haproxy: ``<ha_backends>`` items are the
*frontends*, ``<ha_pools>`` items the *backends* (the package's names are backwards).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from runbook_tui.lab.state import (
    PFSENSE_IP,
    WAN_IF,
    WAN_IP,
    Alias,
    HAFrontend,
    HAPool,
    HAServer,
    NatRule,
    PfConfig,
)

LAB_ADMIN_HASH = "$2y$10$labLABlabLABlabLABlabLOeZ0Qk7b1q6Yl3c2Vt8J5m9n4p2r6s"


class ConfigXMLError(ValueError):
    """config.xml is not well-formed; ``line`` is 1-based."""

    def __init__(self, message: str, line: int = 0):
        self.line = line
        super().__init__(message)


def _sub(parent: ET.Element, tag: str, text: str | int | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def render(cfg: PfConfig, revision_time: int = 1776600000, descr: str = "") -> str:
    root = ET.Element("pfsense")
    _sub(root, "version", "23.3")
    _sub(root, "lastchange")
    system = _sub(root, "system")
    val: str | int | None
    for tag, val in (
        ("hostname", "pfsense"),
        ("domain", "viktorbarzin.lan"),
        ("timezone", "Europe/London"),
        ("webgui", None),
    ):
        _sub(system, tag, val)
    # As in every real config.xml: the admin's password hash (pfSense's <bcrypt-hash>, a made-up
    # value here). It is what must never land in a journal when a procedure reads this file.
    admin = _sub(system, "user")
    for tag, val in (("name", "admin"), ("descr", "System Administrator"), ("scope", "system"),
                     ("groupname", "admins"), ("bcrypt-hash", LAB_ADMIN_HASH), ("uid", 0)):
        _sub(admin, tag, val)
    ifaces = _sub(root, "interfaces")
    for name, dev, addr, bits, descr_ in (
        ("wan", WAN_IF, WAN_IP, 24, "WAN"),
        ("lan", "igb1", "10.0.10.1", 24, "LAN"),
        ("opt1", "igb1.20", PFSENSE_IP, 24, "VLAN20_K8S"),
    ):
        iface = _sub(ifaces, name)
        _sub(iface, "enable")
        _sub(iface, "if", dev)
        _sub(iface, "descr", descr_)
        _sub(iface, "ipaddr", addr)
        _sub(iface, "subnet", bits)
    aliases = _sub(root, "aliases")
    for a in cfg.aliases:
        el = _sub(aliases, "alias")
        _sub(el, "name", a.name)
        _sub(el, "type", a.type)
        _sub(el, "address", " ".join(a.addresses))
        _sub(el, "descr", a.descr)
        _sub(el, "detail", "||".join("Entry added by admin" for _ in a.addresses))
    nat = _sub(root, "nat")
    _sub(_sub(nat, "outbound"), "mode", "automatic")
    for r in cfg.nat:
        el = _sub(nat, "rule")
        _sub(_sub(el, "source"), "any")
        dest = _sub(el, "destination")
        _sub(dest, "network", "wanip")
        _sub(dest, "port", r.port)
        _sub(el, "ipprotocol", "inet")
        _sub(el, "protocol", r.protocol)
        _sub(el, "target", r.target)
        _sub(el, "local-port", r.local_port)
        _sub(el, "interface", r.interface)
        _sub(el, "descr", r.descr)
        _sub(el, "associated-rule-id", "pass")
    filt = _sub(root, "filter")
    rule = _sub(filt, "rule")
    for tag, val in (("type", "pass"), ("interface", "wan"), ("ipprotocol", "inet")):
        _sub(rule, tag, val)
    _sub(rule, "descr", "NAT Mail to mailserver")
    pkgs = _sub(root, "installedpackages")
    if cfg.haproxy_section:
        hap = _sub(pkgs, "haproxy")
        for tag, val in (
            ("enable", "yes"),
            ("maxconn", 1000),
            ("nbthread", 1),
            ("hard_stop_after", "15m"),
            ("localstatsport", None),
        ):
            _sub(hap, tag, val)
        fronts = _sub(hap, "ha_backends")
        for f in cfg.frontends:
            el = _sub(fronts, "item")
            _sub(el, "name", f.name)
            _sub(el, "descr", f.descr)
            _sub(el, "status", f.status)
            _sub(el, "type", "tcp")
            _sub(el, "backend_serverpool", f.pool)
            ext = _sub(_sub(el, "a_extaddr"), "item")
            _sub(ext, "extaddr", f.extaddr)
            _sub(ext, "extaddr_port", f.port)
            _sub(el, "advanced")
        pools = _sub(hap, "ha_pools")
        for p in cfg.pools:
            el = _sub(pools, "item")
            _sub(el, "name", p.name)
            if p.id is not None:
                _sub(el, "id", p.id)
            _sub(el, "check_type", p.check_type)
            _sub(el, "checkinter", p.checkinter)
            _sub(el, "balance", "roundrobin")
            _sub(el, "advanced")
            servers = _sub(el, "ha_servers")
            for s in p.servers:
                se = _sub(servers, "item")
                _sub(se, "name", s.name)
                if s.id is not None:
                    _sub(se, "id", s.id)
                _sub(se, "address", s.address)
                _sub(se, "port", s.port)
                _sub(se, "status", s.status)
                _sub(se, "weight", s.weight)
                _sub(se, "advanced", s.advanced)
    menu = _sub(pkgs, "menu")
    _sub(menu, "name", "HAProxy")
    _sub(menu, "section", "Services")
    rev = _sub(root, "revision")
    _sub(rev, "time", revision_time)
    _sub(rev, "description", descr or "admin@10.0.10.50 (Local Database): Saved HAProxy settings")
    _sub(rev, "username", "admin@10.0.10.50 (Local Database)")
    ET.indent(root, space="\t")
    return '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _text(el: ET.Element | None, tag: str, default: str = "") -> str:
    found = el.find(tag) if el is not None else None
    return (found.text or "").strip() if found is not None else default


def _int(value: str, default: int = 0) -> int:
    try:
        return int(value)
    except ValueError:
        return default


def _optional_int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def parse(text: str) -> PfConfig:
    """Read a config.xml; raises ConfigXMLError with pfSense-like wording when malformed."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        line = err.position[0] if err.position else 0
        reason = str(err).split(":")[0]
        raise ConfigXMLError(f"XML error: {reason} at line {line}", line) from None
    if root.tag != "pfsense":
        raise ConfigXMLError("XML error: no pfsense object found!")
    cfg = PfConfig()
    for a in root.iterfind("aliases/alias"):
        cfg.aliases.append(
            Alias(_text(a, "name"), _text(a, "address").split(), _text(a, "type"), _text(a, "descr"))
        )
    for r in root.iterfind("nat/rule"):
        port = _int(_text(r.find("destination"), "port"))
        cfg.nat.append(
            NatRule(
                port,
                _text(r, "target"),
                _int(_text(r, "local-port"), port),
                _text(r, "interface", "wan"),
                _text(r, "protocol", "tcp"),
                _text(r, "descr"),
            )
        )
    hap = root.find("installedpackages/haproxy")
    cfg.haproxy_section = hap is not None
    if hap is None:
        return cfg
    cfg.haproxy_enabled = hap.find("enable") is not None
    for f in hap.iterfind("ha_backends/item"):
        ext = f.find("a_extaddr/item")
        cfg.frontends.append(
            HAFrontend(
                _text(f, "name"),
                _int(_text(ext, "extaddr_port")),
                _text(f, "backend_serverpool"),
                _text(f, "status", "active"),
                _text(ext, "extaddr", PFSENSE_IP),
                _text(f, "descr"),
            )
        )
    for p in hap.iterfind("ha_pools/item"):
        servers = [
            HAServer(
                _text(s, "name"),
                _text(s, "address"),
                _int(_text(s, "port")),
                _text(s, "advanced"),
                _text(s, "status", "active"),
                _int(_text(s, "weight"), 1),
                _optional_int(_text(s, "id")),
            )
            for s in p.iterfind("ha_servers/item")
        ]
        cfg.pools.append(
            HAPool(
                _text(p, "name"),
                servers,
                _text(p, "check_type", "Basic"),
                _int(_text(p, "checkinter"), 0),
                _optional_int(_text(p, "id")),
            )
        )
    return cfg
