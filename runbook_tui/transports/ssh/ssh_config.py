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
    proxy_jump: str | None
    config: tuple[str, ...]  # the files asyncssh is given (none when there is no ~/.ssh/config)
    port_given: bool  # the inventory (or the jump spec) named the port: pass it on
    user_given: bool

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


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
        proxy_jump=None if config.get("ProxyJump") in (None, "none") else str(config.get("ProxyJump")),
        config=paths,
        port_given=port_given,
        user_given=user_given,
    )


def jump_target(spec: str, target: SSHTarget) -> SSHTarget:
    """The SSHTarget of one ``ProxyJump`` hop, ``[user@]host[:port]``, as asyncssh parses it;
    what the spec leaves out comes from ``~/.ssh/config`` for that host. The target's own
    known_hosts file, when the inventory names one, is used for its jump host too."""
    user, _, host = spec.rpartition("@")
    fields: dict[str, Any] = {"host": host}
    if ":" in host:
        fields["host"], port = host.rsplit(":", 1)
        fields["port"] = int(port)
    if user:
        fields["user"] = user
    if target.known_hosts:
        fields["known_hosts"] = target.known_hosts
    return SSHTarget(**fields)
