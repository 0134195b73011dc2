"""What OpenSSH would use to reach a target: ``~/.ssh/config`` read by asyncssh's own parser,
with the inventory's ``port`` and ``user`` winning only when the inventory gives them.

An operator whose ``~/.ssh/config`` says ``Port 2222`` for the firewall expects ``ssh fw`` and
this tool to agree; a default port 22 from the inventory must not override it. The same holds
for ``User``, ``HostName``, ``UserKnownHostsFile`` (read all, write the first, as ssh does),
``HashKnownHosts`` (accepted keys are written hashed) and ``ProxyJump`` (see connect.py).
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from runbook_tui.errors import TransportError
from runbook_tui.language.inventory import SSHTarget

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


def config_path() -> str:
    """The user's OpenSSH client configuration (asyncssh's default file too)."""
    return os.path.expanduser("~/.ssh/config")


@dataclass(frozen=True)
class Login:
    """The settings one connection uses, after the inventory and ``~/.ssh/config``."""

    host: str  # what is connected to: HostName when the config gives one
    port: int
    user: str
    known_hosts: tuple[str, ...]  # read all; an accepted key is added to the first
    hash_known_hosts: bool
    jumps: tuple[Hop, ...]  # ProxyJump's hops in the order they are logged in to
    config: tuple[str, ...]  # the files asyncssh is given (none when there is no ~/.ssh/config)
    port_given: bool  # the inventory (or the jump spec) named the port: pass it on
    user_given: bool

    @property
    def label(self) -> str:
        return host_port(self.host, self.port)


@dataclass(frozen=True)
class Hop:
    """One ``ProxyJump`` hop; what it leaves out comes from ``~/.ssh/config`` for its host."""

    spec: str  # as written, for messages
    host: str
    port: int | None
    user: str | None


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _client_config() -> Any:
    """asyncssh's client config parser, also reading ``HashKnownHosts`` (which asyncssh ignores)."""
    from asyncssh.config import SSHClientConfig, SSHConfig

    class _Config(SSHClientConfig):
        _handlers = {**SSHClientConfig._handlers, "hashknownhosts": ("HashKnownHosts", SSHConfig._set_bool)}

    return _Config


def resolve(name: str, target: SSHTarget) -> Login:
    """The login for ``target`` (inventory entry ``name``); a broken config is one sentence."""
    from asyncssh.config import ConfigParseError

    given = target.model_fields_set
    user_given = "user" in given and bool(target.user)
    port_given = "port" in given
    path = config_path()
    paths = (path,) if os.path.isfile(path) else ()
    try:
        config = _client_config().load(
            None, list(paths), False, False, False, getpass.getuser(),
            target.user if user_given else (), target.host, target.port if port_given else (),
        )
    except (ConfigParseError, OSError) as exc:
        raise TransportError(f"Cannot use {path} for {name}: {exc}.") from None
    files = config.get("UserKnownHostsFile") or [DEFAULT_KNOWN_HOSTS]
    known = (target.known_hosts,) if target.known_hosts else tuple(os.path.expanduser(f) for f in files)
    return Login(
        host=str(config.get("Hostname", target.host)),
        port=int(config.get("Port", 22)),
        user=str(config.get("User", getpass.getuser())),
        known_hosts=known,
        hash_known_hosts=bool(config.get("HashKnownHosts", False)),
        jumps=_jumps(path, name, config.get("ProxyJump")),
        config=paths,
        port_given=port_given,
        user_given=user_given,
    )


def target_label(name: str, target: SSHTarget) -> str:
    """``name (host:port)`` with the host and port a connection uses (``~/.ssh/config`` included),
    for messages; the inventory's when the config cannot be read (connecting will say why)."""
    path = config_path()
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        stamp = None
    # The fields given are part of the key: a target equals one whose port 22 is only the default.
    return _cached_label(name, target, frozenset(target.model_fields_set), path, stamp)


@lru_cache(maxsize=256)
def _cached_label(name: str, target: SSHTarget, given: frozenset[str], path: str, stamp: int | None) -> str:
    try:
        login = resolve(name, target)
    except TransportError:
        return f"{name} ({host_port(target.host, target.port)})"
    return f"{name} ({login.label})"


def _jumps(path: str, name: str, value: object) -> tuple[Hop, ...]:
    """``ProxyJump``'s comma-separated hops, each ``[user@]host[:port]`` or ``ssh://`` the same,
    an IPv6 address in brackets when a port follows (``[fe80::1]:2222``), as OpenSSH reads them.
    A bare IPv6 address is taken whole (OpenSSH wants brackets even then; it cannot hold a port)."""
    if value is None or str(value).lower() == "none":
        return ()
    specs = str(value).split(",")
    hops = []
    for spec in specs:
        try:
            hops.append(_hop(spec))
        except ValueError as exc:
            where = "" if len(specs) == 1 else f": the hop {spec}" if spec else ": an empty hop"
            raise TransportError(f"Cannot use {path} for {name}: its ProxyJump {value}{where} {exc}.") from None
    return tuple(hops)


def _hop(spec: str) -> Hop:
    import ipaddress

    rest = spec[len("ssh://"):].removesuffix("/") if spec.startswith("ssh://") else spec
    user, at, rest = rest.rpartition("@")
    if at and not user:
        raise ValueError("names no user before its @")
    if rest.startswith("["):
        host, bracket, tail = rest[1:].partition("]")
        if not bracket or (tail and not tail.startswith(":")):
            raise ValueError("is not [user@]host[:port] (an address in brackets is followed by nothing or :port)")
        port_text = tail[1:]
    elif rest.count(":") > 1:
        try:
            ipaddress.IPv6Address(rest)
        except ValueError:
            raise ValueError("is not [user@]host[:port] (an IPv6 address with a port goes in brackets: "
                             "[fe80::1]:2222)") from None
        host, port_text = rest, ""
    else:
        host, _, port_text = rest.partition(":")
    if not host:
        raise ValueError("names no host (hops are [user@]host[:port], separated by commas)")
    if host.startswith("-"):
        raise ValueError(f"has the host {host}, which ssh and other tools would read as an option")
    if port_text and not (port_text.isascii() and port_text.isdigit() and 1 <= int(port_text) <= 65535):
        raise ValueError(f"has the port {port_text}, which is not a number from 1 to 65535")
    return Hop(spec=spec, host=host, port=int(port_text) if port_text else None, user=user or None)


def jump_target(hop: Hop, target: SSHTarget) -> SSHTarget:
    """The SSHTarget of one ``ProxyJump`` hop; what the hop leaves out comes from
    ``~/.ssh/config`` for that host. The target's own known_hosts file, when the inventory names
    one, is used for its jump host too."""
    fields: dict[str, Any] = {"host": hop.host}
    if hop.port is not None:
        fields["port"] = hop.port
    if hop.user:
        fields["user"] = hop.user
    if target.known_hosts:
        fields["known_hosts"] = target.known_hosts
    return SSHTarget(**fields)
