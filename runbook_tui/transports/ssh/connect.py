"""Opening one SSH connection: the login with its host key check, and one sentence for each way
it can fail (host key, authentication, negotiation, network)."""

from __future__ import annotations

import getpass
import os
import socket
from typing import TYPE_CHECKING, Any

from runbook_tui.errors import AuthError, TransportError
from runbook_tui.language.inventory import SSHTarget
from runbook_tui.transports.ssh.host_keys import (
    HostKeyCheck,
    host_key_error,
    kex_error,
    known_hosts_path,
    load_known_hosts,
    remember_host_key,
)

if TYPE_CHECKING:  # asyncssh is imported lazily at first use: it is slow to import
    import asyncssh

_KEEPALIVE = 15.0


async def open_connection(
    name: str, target: SSHTarget, *, label: str, accept_host_key: bool, connect_timeout: float
) -> asyncssh.SSHClientConnection:
    """Log in to ``target``; ``accept_host_key`` trusts (and records) a key known_hosts lacks."""
    import asyncssh

    path = known_hosts_path(target)
    check = HostKeyCheck(known=load_known_hosts(name, path), accept=accept_host_key)
    if target.key and not os.path.isfile(target.key):
        raise TransportError(f"The key file {target.key} for {name} does not exist.")

    class _Client(asyncssh.SSHClient):
        def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
            check.conn = conn

        def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
            return check.validate(host, addr, port, key)

    try:
        conn = await asyncssh.connect(
            target.host,
            target.port,
            username=target.user if target.user else (),
            client_keys=[target.key] if target.key else (),  # () = agent and default keys
            known_hosts=check.known,
            client_factory=_Client,
            connect_timeout=connect_timeout,
            keepalive_interval=_KEEPALIVE,
            keepalive_count_max=3,
        )
    except asyncssh.HostKeyNotVerifiable as exc:
        raise host_key_error(name, label, target, path, check, exc) from None
    except asyncssh.PermissionDenied:
        how = f"tried {target.key}" if target.key else "tried the SSH agent and default keys"
        err = AuthError(
            f"{name} refused our key (user {target.user or getpass.getuser()}); {how}, "
            f"so check that the matching public key is in authorized_keys on {target.host}."
        )
        key = check.conn.get_server_host_key() if check.conn is not None else None
        err.fingerprint = key.get_fingerprint("sha256") if key is not None else None
        raise err from None
    except asyncssh.KeyExchangeFailed as exc:
        raise await kex_error(name, label, target, path, check, exc, connect_timeout) from None
    except asyncssh.KeyImportError as exc:
        raise TransportError(f"Cannot use the key {target.key} for {name}: {exc}.") from None
    except (asyncssh.DisconnectError, asyncssh.ConnectionLost) as exc:
        raise TransportError(
            f"{label} closed the connection during the SSH login: {exc.reason}."
        ) from None
    except TimeoutError:
        raise TransportError(
            f"{label} did not complete the SSH login within {connect_timeout:g} s."
        ) from None
    except socket.gaierror as exc:
        raise TransportError(
            f"Cannot connect to {name}: the host name {target.host} does not resolve "
            f"({exc.strerror})."
        ) from None
    except ConnectionRefusedError:
        raise TransportError(
            f"Cannot connect to {label}: connection refused (nothing listens on port "
            f"{target.port})."
        ) from None
    except OSError as exc:
        raise TransportError(f"Cannot connect to {label}: {exc.strerror or exc}.") from None

    if check.verdict == "accepted" and check.offered is not None:
        remember_host_key(name, path, check)
    return conn
