"""Opening one SSH connection: the login with its host key check (through the jump hosts
``~/.ssh/config`` names), and one sentence for each way it can fail (host key, authentication,
negotiation, network)."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from runbook_tui.errors import AuthError, TransportError
from runbook_tui.language.inventory import SSHTarget
from runbook_tui.transports.ssh.host_keys import (
    HostKeyCheck,
    host_key_error,
    hung_up_error,
    kex_error,
    load_known_hosts,
    remember_host_key,
)
from runbook_tui.transports.ssh.ssh_config import Login, jump_target, resolve

if TYPE_CHECKING:  # asyncssh is imported lazily at first use: it is slow to import
    import asyncssh

_KEEPALIVE = 15.0


async def open_connection(
    name: str, target: SSHTarget, *, accept_host_key: bool, connect_timeout: float
) -> asyncssh.SSHClientConnection:
    """Log in to ``target`` as OpenSSH would (``~/.ssh/config`` included, see ssh_config.py);
    ``accept_host_key`` trusts (and records) a key known_hosts lacks, the jump host's too.
    Messages name the host and port actually used."""
    login = resolve(name, target)
    # Each hop is logged in to here, with its own host key check, so that a problem with a jump
    # host's key names the jump host (asyncssh's own ProxyJump would not say which). Like
    # asyncssh's, each hop holds the one before it (set_tunnel): closing the target's connection
    # closes the whole chain, and closing the last hop opened so far closes every hop before it.
    jump: asyncssh.SSHClientConnection | None = None
    try:
        for hop in login.jumps:
            hop_target = jump_target(hop, target)
            hop_login = resolve(name, hop_target)
            conn = await _login(
                name, hop_target, hop_login, f"the jump host {hop.spec} ({hop_login.label}) of {name}",
                accept_host_key=accept_host_key, connect_timeout=connect_timeout, tunnel=jump,
            )
            conn.set_tunnel(jump)
            jump = conn
        conn = await _login(name, target, login, f"{name} ({login.label})", accept_host_key=accept_host_key,
                            connect_timeout=connect_timeout, tunnel=jump)
    except BaseException:
        if jump is not None:
            jump.close()
        raise
    conn.set_tunnel(jump)
    return conn


async def _login(
    name: str, target: SSHTarget, login: Login, label: str, *, accept_host_key: bool, connect_timeout: float,
    tunnel: asyncssh.SSHClientConnection | None,
) -> asyncssh.SSHClientConnection:
    import asyncssh

    path = login.known_hosts[0]
    check = HostKeyCheck(known=load_known_hosts(name, login.known_hosts), accept=accept_host_key)
    if target.key and not os.path.isfile(target.key):
        raise TransportError(f"The key file {target.key} for {name} does not exist.")

    class _Client(asyncssh.SSHClient):
        def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
            check.conn = conn

        def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
            return check.validate(host, addr, port, key)

    try:
        conn = await asyncssh.connect(
            target.host,  # as written: the config's Host blocks match it, HostName replaces it
            login.port,
            username=login.user,
            client_keys=[target.key] if target.key else (),  # () = the config's, agent and default keys
            known_hosts=check.known,
            config=list(login.config) or None,
            tunnel=tunnel,  # ProxyJump is done by open_connection, hop by hop
            client_factory=_Client,
            connect_timeout=connect_timeout,
            keepalive_interval=_KEEPALIVE,
            keepalive_count_max=3,
        )
    except asyncssh.HostKeyNotVerifiable as exc:
        raise host_key_error(name, label, login, path, check, exc) from None
    except asyncssh.PermissionDenied:
        how = f"tried {target.key}" if target.key else "tried the SSH agent and the configured or default keys"
        # The user and port actually used: either may come from ~/.ssh/config.
        who = name if label.startswith(f"{name} (") else label
        err = AuthError(
            f"{who} refused our key (user {login.user}); {how}, so check that the matching public "
            f"key is in authorized_keys on {login.host} (port {login.port})."
        )
        key = check.conn.get_server_host_key() if check.conn is not None else None
        err.fingerprint = key.get_fingerprint("sha256") if key is not None else None
        raise err from None
    except asyncssh.KeyExchangeFailed as exc:
        raise await kex_error(name, label, login, path, check, exc, connect_timeout, tunnel) from None
    except asyncssh.KeyImportError as exc:
        raise TransportError(f"Cannot use the key {target.key} for {name}: {exc}.") from None
    except (asyncssh.DisconnectError, asyncssh.ConnectionLost, ConnectionResetError) as exc:
        closed = TransportError(
            f"{label} closed the connection during the SSH login: {exc.reason}."
            if isinstance(exc, asyncssh.Error) else f"Cannot connect to {label}: {exc.strerror or exc}."
        )
        raise await hung_up_error(closed, name, label, login, path, check, connect_timeout, tunnel) from None
    except TimeoutError:
        raise TransportError(
            f"{label} did not complete the SSH login within {connect_timeout:g} s."
        ) from None
    except socket.gaierror as exc:
        raise TransportError(
            f"Cannot connect to {label}: the host name {login.host} does not resolve "
            f"({exc.strerror})."
        ) from None
    except asyncssh.ChannelOpenError as exc:  # through a jump host that could not reach the target
        raise TransportError(f"Cannot connect to {label} through its jump host: {exc.reason}.") from None
    except ConnectionRefusedError:
        raise TransportError(
            f"Cannot connect to {label}: connection refused (nothing listens on port "
            f"{login.port})."
        ) from None
    except OSError as exc:
        raise TransportError(f"Cannot connect to {label}: {exc.strerror or exc}.") from None

    if check.verdict == "accepted" and check.offered is not None:
        remember_host_key(name, path, check, hashed=login.hash_known_hosts)
    return conn
