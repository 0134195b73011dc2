"""Host keys: the target's known_hosts file decides, and checking is never disabled.

An unknown key is refused unless the operator accepted that target (then it is appended to
known_hosts so the next run trusts it, hashed like ``ssh-keygen -H`` when ``~/.ssh/config`` says
``HashKnownHosts yes``); a changed key is always refused. Each refusal is one ``HostKeyError``
sentence that says what to do.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runbook_tui.errors import HostKeyError, TransportError
from runbook_tui.transports.ssh.ssh_config import Login

if TYPE_CHECKING:  # asyncssh is imported lazily at first use: it is slow to import
    import asyncssh


@dataclass
class HostKeyCheck:
    """What happened to the host key during one connection attempt."""

    known: Any  # asyncssh.SSHKnownHosts
    accept: bool
    verdict: str | None = None  # None (trusted by known_hosts), "unknown", "changed", "accepted"
    offered: Any = None  # the asyncssh.SSHKey the server offered, when we were asked about it
    host: str = ""
    port: int = 22
    conn: Any = None  # the connection being made, to read its host key after a failed login

    def validate(self, host: str, addr: str, port: int, key: Any) -> bool:
        import asyncssh

        self.offered, self.host, self.port = key, host, port
        trusted, trusted_cas, *_ = asyncssh.match_known_hosts(
            self.known, host, addr, None if port == 22 else port
        )
        if trusted or trusted_cas:
            self.verdict = "changed"  # known_hosts vouches for other keys: never override
            return False
        self.verdict = "accepted" if self.accept else "unknown"
        return self.accept


def known_hosts_pattern(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def describe_key(key: Any) -> tuple[str, str]:
    return key.get_algorithm(), key.get_fingerprint("sha256")


def load_known_hosts(name: str, paths: tuple[str, ...]) -> Any:
    """Every known_hosts file the login reads (``UserKnownHostsFile`` may list several)."""
    import asyncssh

    texts = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            text = ""  # nothing is trusted yet
        except OSError as exc:
            raise TransportError(
                f"Cannot read the known_hosts file {path} for {name}: {exc.strerror}."
            ) from None
        try:
            asyncssh.import_known_hosts(text)
        except ValueError as exc:
            raise TransportError(f"The known_hosts file {path} is invalid: {exc}.") from None
        texts.append(text if text.endswith("\n") or not text else text + "\n")
    # An object, not the path: asyncssh treats an empty value as "use the default file".
    return asyncssh.import_known_hosts("".join(texts))


def hashed_pattern(pattern: str, salt: bytes | None = None) -> str:
    """``|1|salt|hash`` for a host pattern, as ``ssh-keygen -H`` and ``HashKnownHosts`` write it:
    HMAC-SHA1 of the pattern keyed with a random 20-byte salt, both base64."""
    salt = salt if salt is not None else os.urandom(20)
    digest = hmac.new(salt, pattern.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def remember_host_key(name: str, path: str, check: HostKeyCheck, *, hashed: bool = False) -> None:
    """Append an operator-accepted key so the next run trusts it (hashed when asked)."""
    algorithm, blob = check.offered.export_public_key("openssh").decode().split()[:2]
    pattern = known_hosts_pattern(check.host, check.port)
    line = f"{hashed_pattern(pattern) if hashed else pattern} {algorithm} {blob}\n"
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        with open(path, "a+", encoding="utf-8") as f:
            f.seek(0)
            text = f.read()
            if line in text:
                return
            f.write(("" if not text or text.endswith("\n") else "\n") + line)
    except OSError as exc:
        raise TransportError(
            f"Accepted the host key of {name} but could not add it to {path}: {exc.strerror}."
        ) from None


def host_key_error(
    name: str, label: str, login: Login, path: str, check: HostKeyCheck, exc: Exception
) -> HostKeyError:
    """The login stopped at the host key: say whether it is unknown, changed or refused."""
    if check.offered is None:  # e.g. a key marked @revoked: asyncssh refused before asking us
        return HostKeyError(
            f"Host key for {label} was refused: {exc}.",
            target=name, host=login.host, port=login.port, known_hosts=path, kind="refused",
        )
    algorithm, fingerprint = describe_key(check.offered)
    if check.verdict == "changed":
        return _changed_key_error(
            name, label, path, check.host, check.port, algorithm, fingerprint, fingerprint
        )
    return HostKeyError(
        f"Host key for {label} is not known: {algorithm} {fingerprint}. Check it, then "
        f"run with --accept-host-key {name} (or add it to {path}).",
        target=name, host=check.host, port=check.port, known_hosts=path, kind="unknown",
        fingerprint=fingerprint,
    )


async def kex_error(
    name: str, label: str, login: Login, path: str, check: HostKeyCheck, exc: asyncssh.KeyExchangeFailed,
    connect_timeout: float, tunnel: asyncssh.SSHClientConnection | None = None,
) -> TransportError:
    """Key exchange fails when known_hosts only lists key types the server no longer has:
    that is a changed host key, so fetch the new key to report its fingerprint."""
    if not _trusted_keys(check, login):
        return TransportError(f"SSH negotiation with {label} failed: {exc.reason}.")
    key = await _server_key(login, connect_timeout, tunnel)
    return _changed_to(name, label, path, login, key)


async def hung_up_error(
    closed: TransportError, name: str, label: str, login: Login, path: str, check: HostKeyCheck,
    connect_timeout: float, tunnel: asyncssh.SSHClientConnection | None = None,
) -> TransportError:
    """OpenSSH's sshd hangs up without a word (a reset, or an end of stream through a jump host)
    when it has none of the key types known_hosts lists for it (asyncssh offers only those): a
    changed host key too, unless the key it offers a client that takes any type is trusted.
    Any other hang-up is ``closed``."""
    trusted = _trusted_keys(check, login)
    if not trusted or (check.conn is not None and check.conn.get_server_host_key() is not None):
        return closed  # nothing to compare with, or the key exchange got through
    key = await _server_key(login, connect_timeout, tunnel)
    if key is None or any(k.public_data == key.public_data for k in trusted):
        return closed
    return _changed_to(name, label, path, login, key)


def _trusted_keys(check: HostKeyCheck, login: Login) -> list[Any]:
    import asyncssh

    # No address: asyncssh takes the host for one when it is an IP address (a name is not).
    trusted, *_ = asyncssh.match_known_hosts(check.known, login.host, "", None if login.port == 22 else login.port)
    return list(trusted)


async def _server_key(
    login: Login, connect_timeout: float, tunnel: asyncssh.SSHClientConnection | None
) -> Any:
    """The key the server offers a client that takes any type, fetched the way the login went:
    through ``tunnel`` (the last jump host) when there is one, as the target may be reachable
    only from there, or another host may answer to its name here."""
    import asyncssh

    try:
        return await asyncio.wait_for(
            asyncssh.get_server_host_key(login.host, login.port, tunnel=tunnel or (), config=None),
            connect_timeout,
        )
    except (TimeoutError, OSError, asyncssh.Error):
        return None


def _changed_to(name: str, label: str, path: str, login: Login, key: Any) -> HostKeyError:
    if key is None:
        algorithm, fingerprint = "a key of another type", "(fingerprint unavailable)"
    else:
        algorithm, fingerprint = describe_key(key)
    return _changed_key_error(
        name, label, path, login.host, login.port, algorithm, fingerprint,
        fingerprint if key is not None else None,
    )


def _changed_key_error(
    name: str, label: str, path: str, host: str, port: int, algorithm: str, shown: str,
    fingerprint: str | None,
) -> HostKeyError:
    """``shown`` is what the sentence says about the new key, ``fingerprint`` the key's own."""
    pattern = known_hosts_pattern(host, port)
    return HostKeyError(
        f"Host key for {label} has CHANGED: the server now offers {algorithm} {shown}, "
        f"which does not match {path}; if the change is expected, remove the old key with "
        f"ssh-keygen -R {shlex.quote(pattern)} -f {shlex.quote(path)} and connect again.",
        target=name, host=host, port=port, known_hosts=path, kind="changed",
        fingerprint=fingerprint,
    )
