"""``php`` without php: the infra repo's scripts recognised by what they declare.

The fallback when php-cli is not installed (``php_cmd`` says so once). It checks the syntax the
way a hand edit breaks it and reads the literal values a script declares (``$NODES``,
``build_pool(...)``, ``$NAT_TARGET``, ``$ALIAS_NAME``...), then applies the effect the infra
repo's bootstrap, NAT flip/unflip and alias scripts have. Anything else it runs as a no-op. The
output imitates those scripts' own echo lines and PHP's parse errors as pfSense displays them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runbook_tui.lab.pfsense.php import PHPParseError, Script
from runbook_tui.lab.shell import Result, Shell, split_flags
from runbook_tui.lab.state import MAIL_PORTS, Alias, HAFrontend, HAPool, HAServer

if TYPE_CHECKING:
    from runbook_tui.lab.pfsense.host import PfSense


def run(host: PfSense, sh: Shell, args: list[str]) -> Result:
    flags, rest = split_flags(args[1:], with_value="rf")
    if "r" in flags:
        return _inline(host, flags["r"])
    path = flags.get("f") or (rest[0] if rest else None)
    if path is None:
        return Result(stderr="Usage: php [options] [-f] <file> [--] [args...]\n", code=1)
    try:
        src = sh.read(path)
    except OSError:
        return Result(f"Could not open input file: {path}\n", code=1)
    try:
        script = Script(src)
    except PHPParseError as err:
        # pfSense's php.ini displays errors on stdout (display_errors=on, html_errors=off).
        shown = path if "l" in flags else sh.abspath(path)
        msg = f"\nParse error: syntax error, {err.detail} in {shown} on line {err.line}\n"
        if "l" in flags:
            return Result(f"{msg}Errors parsing {path}\n", code=255)
        return Result(msg, code=255)
    if "l" in flags:
        return Result(f"No syntax errors detected in {path}\n")
    if script.calls("build_pool") or script.has_var("NODES"):
        return _bootstrap(host, sh, script)
    if script.has_var("NAT_TARGET"):
        return _nat_retarget(host, sh, script)
    if script.has_var("ALIAS_NAME"):
        if script.has_var("ALIAS_ADDRESS"):
            return _alias_add(host, sh, script)
        return _alias_delete(host, sh, script)
    return Result()


def _inline(host: PfSense, code: str) -> Result:
    # The procedures' alias listing: `foreach (config_get_path("aliases/alias")...) echo name address`.
    if "alias" in code:
        return Result("".join(f"{a.name} {' '.join(a.addresses)}\n" for a in host.state.running.aliases))
    return Result()


def _bootstrap(host: PfSense, sh: Shell, script: Script) -> Result:
    nodes = script.var("NODES")
    if not isinstance(nodes, dict) or not all(isinstance(v, str) for v in nodes.values()):
        return Result("\nFatal error: Uncaught TypeError: foreach() argument must be of type array|object\n", code=255)
    inter = script.var("CHECK_INTER")
    inter = inter if isinstance(inter, int) else 120000
    pools = [
        HAPool(name, [HAServer(n, ip, port) for n, ip in nodes.items()], checkinter=inter)
        for name, port, *_ in script.calls("build_pool")
        if isinstance(name, str) and isinstance(port, int)
    ]
    fronts = [
        HAFrontend(c[0], c[1], c[2], descr=c[3] if len(c) > 3 and isinstance(c[3], str) else "")
        for c in script.calls("build_frontend")
        if len(c) >= 3 and isinstance(c[0], str) and isinstance(c[1], int) and isinstance(c[2], str)
    ]
    cfg = host.config_for_edit()
    cfg.haproxy_section = True
    cfg.pools = [p for p in cfg.pools if not p.name.startswith("mailserver_")] + pools
    cfg.frontends = [f for f in cfg.frontends if not f.name.startswith("mailserver_")] + fronts
    host.write_config(cfg, "pfsense-haproxy-bootstrap.php: mailserver frontends + backends")
    ok = host.apply_haproxy(cfg)
    sh.mutate()
    return Result(f"haproxy_check_and_run rc={'OK' if ok else 'FAILED'}\n", code=0 if ok else 1)


def _nat_retarget(host: PfSense, sh: Shell, script: Script) -> Result:
    target = script.var("NAT_TARGET")
    ports = script.var("PORTS") or list(MAIL_PORTS.values())
    cfg = host.config_for_edit()
    changed = 0
    for r in cfg.nat:
        if r.interface == "wan" and r.port in ports and r.target != target:
            r.target = target
            changed += 1
    if changed:
        host.write_config(cfg, f"NAT: mail ports -> {target}")
        sh.mutate()
    host.apply_filter(cfg)
    return Result(f"nat rules retargeted: {changed} -> {target}\n")


def _alias_add(host: PfSense, sh: Shell, script: Script) -> Result:
    name, address = script.var("ALIAS_NAME"), script.var("ALIAS_ADDRESS")
    cfg = host.config_for_edit()
    existing = cfg.alias(name)
    if existing:
        return Result(f"alias {name} already present ({' '.join(existing.addresses)})\n")
    cfg.aliases.append(Alias(name, [address], descr=str(script.var("ALIAS_DESCR") or "")))
    host.write_config(cfg, f"Alias {name} -> {address} added")
    host.apply_filter(cfg)
    sh.mutate()
    return Result(f"alias {name} -> {address} added\n")


def _alias_delete(host: PfSense, sh: Shell, script: Script) -> Result:
    name = script.var("ALIAS_NAME")
    cfg = host.config_for_edit()
    user = next((r for r in cfg.nat if r.target == name), None)
    if user:
        return Result(f"alias {name} is still referenced by NAT rule '{user.descr}'; not deleting\n", code=1)
    if cfg.alias(name) is None:
        return Result(f"alias {name} not present\n")
    cfg.aliases = [a for a in cfg.aliases if a.name != name]
    host.write_config(cfg, f"Alias {name} deleted")
    host.apply_filter(cfg)
    sh.mutate()
    return Result(f"alias {name} deleted\n")
