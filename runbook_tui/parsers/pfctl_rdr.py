"""FreeBSD pf ``pfctl -sn`` redirect rules, and pfSense's own rule text (``/tmp/rules.debug``).

Format (from source, ``sbin/pfctl/pfctl_parser.c`` ``print_rule()``/``print_fromto()``/
``print_port()``/``print_pool()``)::

    rdr [pass] [log] on IFACE [inet|inet6] [proto P] from SRC [port OP X] to DST [port OP X]
        [label "..."] [tag T] -> TARGET [port N[:M]] [round-robin|random|...]

``pfctl`` prints a destination port with an operator and, when /etc/services knows it, by
name (``port = smtp``); a rule without addresses or ports prints ``all``; a pool of several
targets prints ``{ a, b }``. pfSense's generated text writes ``port 25`` without ``=`` and
may name an alias table as target (``-> <mailserver>``). ``nat``, ``binat``, ``no rdr``,
anchors and other statements are skipped. Examples (composed from the source):
``tests/data/captured/freebsd_pfctl_sn.txt``, ``tests/data/captured/pfsense_rules_debug_rdr.txt``.
"""

from __future__ import annotations

import re
from typing import Any

from runbook_tui.parsers import ParseError
from runbook_tui.parsers._text import as_int, clip, nonblank_lines, require_text

WHAT = "pfctl.rdr"

# Service names FreeBSD's /etc/services gives the ports we care about (getservbyport order
# decides which one pfctl prints; accept every alias).
SERVICES: dict[str, int] = {
    "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "http": 80, "www": 80,
    "pop3": 110, "ntp": 123, "imap": 143, "imap2": 143, "imap4": 143, "https": 443,
    "smtps": 465, "submissions": 465, "urd": 465, "submission": 587, "ldaps": 636,
    "imaps": 993, "pop3s": 995, "sieve": 4190,
}
SERVICE_NAMES: dict[int, str] = {25: "smtp", 465: "smtps", 587: "submission", 993: "imaps", 143: "imap",
                                 110: "pop3", 995: "pop3s", 80: "http", 443: "https", 22: "ssh", 53: "domain"}
_TOKEN = re.compile(r'"[^"]*"|[{}(),]|[^\s{}(),"]+')
OPERATORS = {"=", "!=", "<", "<=", ">", ">="}
POOL_OPTIONS = {"bitmask", "random", "source-hash", "round-robin", "sticky-address", "static-port", "map-e-portset"}
# Words after the from/to part that end an address (print_rule's order).
RULE_WORDS = {"user", "group", "flags", "icmp-type", "icmp6-type", "tos", "keep", "modulate", "synproxy", "label",
              "tag", "tagged", "rtable", "queue", "ridentifier", "dnpipe", "dnqueue", "probability", "no", "allow-opts",
              "os", "!", "->", "set", "prio", "divert-to", "fragment", "max-mss", "min-ttl"}


class _Bad(Exception):
    """Internal: the rule does not read; carries what was expected."""


def _port_value(token: str) -> tuple[int | None, str | None]:
    number = as_int(token)
    if number is not None:
        return number, SERVICE_NAMES.get(number)
    low, sep, high = token.partition(":")
    if sep and as_int(low) is not None and as_int(high) is not None:
        return int(low), None  # a range: its first port
    return SERVICES.get(token), token


def _take_group(tokens: list[str], i: int) -> tuple[str, int]:
    """A single token, or a brace list ``{ a, b }`` joined by spaces; returns the next index."""
    if tokens[i] != "{":
        return tokens[i], i + 1
    j = tokens.index("}", i) if "}" in tokens[i:] else len(tokens)
    items = [t for t in tokens[i + 1:j] if t != ","]
    return " ".join(items), j + 1


def _take_port(tokens: list[str], i: int) -> tuple[dict[str, Any], int]:
    """After the word ``port``: ``= smtp``, ``25``, ``1000:2000``, ``1000 >< 2000`` or ``{ 25 465 }``."""
    if i >= len(tokens):
        raise _Bad("a port after 'port'")
    op = "="
    if tokens[i] in OPERATORS:
        op, i = tokens[i], i + 1
        if i >= len(tokens):
            raise _Bad("a port after the operator")
    value, i = _take_group(tokens, i)
    if i < len(tokens) and tokens[i] in ("><", "<>", ":"):
        op, i = tokens[i], i + 1
        if i >= len(tokens):
            raise _Bad("the end of the port range")
        i += 1
    first = value.split()[0] if value else ""
    port, name = _port_value(first)
    return {"op": op, "text": value, "port": port, "name": name}, i


def _take_address(tokens: list[str], i: int, stop: set[str]) -> tuple[str, dict[str, Any] | None, int]:
    parts: list[str] = []
    if i < len(tokens) and tokens[i] == "!":
        parts.append("!")  # negation belongs to the address, not a rule word
        i += 1
    while i < len(tokens) and tokens[i] not in stop and tokens[i] != "port":
        if tokens[i] == "{":
            group, i = _take_group(tokens, i)
            parts.append("{ " + group + " }")
        else:
            parts.append(tokens[i])
            i += 1
    if not parts or parts == ["!"]:
        raise _Bad("an address")
    port = None
    if i < len(tokens) and tokens[i] == "port":
        port, i = _take_port(tokens, i + 1)
    return " ".join(parts), port, i


def _rule(line: str) -> dict[str, Any]:
    tokens = _TOKEN.findall(line)
    rule: dict[str, Any] = {
        "interface": None, "af": None, "proto": None, "from": "any", "from_port": None, "to": "any",
        "to_port": None, "to_port_name": None, "target": None, "targets": [], "target_alias": None,
        "target_port": None, "pass": False, "log": False, "label": None, "line": line.strip(),
    }
    i = 1
    while i < len(tokens) and tokens[i] in ("pass", "log", "quick"):
        if tokens[i] in ("pass", "log"):
            rule[tokens[i]] = True
        i += 1
        if i < len(tokens) and tokens[i] == "(" and tokens[i - 1] == "log":
            i = tokens.index(")", i) + 1 if ")" in tokens[i:] else len(tokens)
    if i < len(tokens) and tokens[i] == "on":
        i += 1
        negate = ""
        if i < len(tokens) and tokens[i] == "!":
            negate, i = "! ", i + 1
        if i >= len(tokens):
            raise _Bad("an interface after 'on'")
        name, i = _take_group(tokens, i)
        rule["interface"] = negate + name
    if i < len(tokens) and tokens[i] in ("inet", "inet6"):
        rule["af"], i = tokens[i], i + 1
    if i < len(tokens) and tokens[i] == "proto":
        if i + 1 >= len(tokens):
            raise _Bad("a protocol after 'proto'")
        rule["proto"], i = _take_group(tokens, i + 1)
    if i < len(tokens) and tokens[i] == "all":
        i += 1
    else:
        if i < len(tokens) and tokens[i] == "from":
            rule["from"], rule["from_port"], i = _take_address(tokens, i + 1, {"to"} | RULE_WORDS)
        if i >= len(tokens) or tokens[i] != "to":
            raise _Bad("'from ... to ...' or 'all'")
        rule["to"], to_port, i = _take_address(tokens, i + 1, RULE_WORDS)
        if to_port:
            rule["to_port"], rule["to_port_name"] = to_port["port"], to_port["name"]
    while i < len(tokens) and tokens[i] != "->":
        if tokens[i] == "label" and i + 1 < len(tokens):
            rule["label"] = tokens[i + 1].strip('"')
        i += 1
    if i >= len(tokens):
        raise _Bad("'-> TARGET'")
    i += 1
    if i >= len(tokens):
        raise _Bad("a target after '->'")
    if tokens[i] == "{":
        group, i = _take_group(tokens, i)
        rule["targets"] = group.split()
    else:
        rule["targets"], i = [tokens[i]], i + 1
    rule["target"] = rule["targets"][0] if rule["targets"] else None
    target = rule["target"] or ""
    if target.startswith("<") and target.endswith(">") and len(target) > 2:
        rule["target_alias"] = target[1:-1]
    elif target.startswith("$") and len(target) > 1:
        rule["target_alias"] = target[1:]  # a macro in pfSense's rule text
    if i < len(tokens) and tokens[i] == "port":
        if i + 1 >= len(tokens):
            raise _Bad("a port after 'port'")
        first = tokens[i + 1].partition(":")[0]
        rule["target_port"] = as_int(first) if as_int(first) is not None else SERVICES.get(first)
        i += 2
    else:
        rule["target_port"] = rule["to_port"]  # rdr without a port keeps the destination port
    rule["pool_options"] = [token for token in tokens[i:] if token in POOL_OPTIONS]
    return rule


def parse(text: str) -> dict[str, Any]:
    """-> ``{"rules": [{"interface","af","proto","from","to","to_port","to_port_name","target",
    "target_port","target_alias",...}]}``, one per ``rdr`` line."""
    require_text(text, WHAT)
    rules = []
    for number, line in nonblank_lines(text):
        words = line.split(None, 1)
        if words[0] != "rdr":
            continue  # nat, binat, no rdr, anchors, tables, filter rules
        try:
            rule = _rule(line)
        except _Bad as bad:
            raise ParseError(f"Line {number} of the pf rules: expected {bad} in the rdr rule {clip(line.strip())!r}.", line=number) from None
        rule["line_number"] = number
        rules.append(rule)
    return {"rules": rules}
