"""Files over SFTP: an upload that replaces the file atomically where the server can rename over
it and is verified by reading it back, and reading a file that may not exist."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from runbook_tui.errors import ConnectionDropped, TransportError

if TYPE_CHECKING:  # asyncssh is imported lazily at first use: it is slow to import
    import asyncssh

#: Gives the target's SFTP client, opening the connection or the session when needed.
SFTPOpener = Callable[[], Awaitable["asyncssh.SFTPClient"]]


@dataclass
class UploadResult:
    dest: str
    size: int
    sha256: str


async def start_sftp(conn: asyncssh.SSHClientConnection, label: str) -> asyncssh.SFTPClient | None:
    """A new SFTP session on ``conn``, or None when the connection went stale since its last
    use (nothing ran yet, so the caller may reconnect)."""
    import asyncssh

    try:
        return await conn.start_sftp_client()
    except (asyncssh.Error, ConnectionError) as exc:
        if not conn.is_closed():
            reason = getattr(exc, "reason", "") or str(exc)
            raise TransportError(f"{label} does not offer SFTP: {reason}.") from None
        return None


async def upload(
    open_sftp: SFTPOpener, name: str, label: str, data: bytes, dest: str, mode: int | None
) -> UploadResult:
    """Write ``data`` to ``dest`` (atomically where the server can rename over a file), set
    ``mode`` (else keep the old file's), then read it back to verify."""
    import asyncssh

    size, digest = len(data), hashlib.sha256(data).hexdigest()
    directory, base = posixpath.split(dest)
    tmp = posixpath.join(directory, f".{base}.runbook-upload")
    try:
        sftp = await open_sftp()
        if mode is None and await sftp.exists(dest):
            mode = (await sftp.stat(dest)).permissions
            mode = None if mode is None else mode & 0o7777
        try:
            await _write(sftp, tmp, data)
            if mode is not None:
                await sftp.chmod(tmp, mode)
            await sftp.posix_rename(tmp, dest)
        except asyncssh.SFTPOpUnsupported:  # no atomic rename: write in place instead
            await _write(sftp, dest, data)
            if mode is not None:
                await sftp.chmod(dest, mode)
        finally:
            await _remove_quietly(sftp, tmp)
        back = await _read(sftp, dest)
    except asyncssh.SFTPError as exc:
        raise _sftp_error(name, label, f"upload to {dest}", dest, exc) from None
    except (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError):
        raise ConnectionDropped(
            f"The connection to {label} dropped while uploading {dest}; "
            "check the file before retrying."
        ) from None
    assert back is not None
    if len(back) != size or hashlib.sha256(back).hexdigest() != digest:
        raise TransportError(
            f"Upload to {dest} on {name} did not verify: wrote {size} bytes "
            f"(SHA-256 {digest[:12]}...), read back {len(back)} bytes "
            f"(SHA-256 {hashlib.sha256(back).hexdigest()[:12]}...)."
        )
    return UploadResult(dest=dest, size=size, sha256=digest)


async def read_file(
    open_sftp: SFTPOpener, drop_connection: Callable[[], None], name: str, label: str, path: str
) -> bytes | None:
    """The file's bytes, or None when it does not exist. Read-only, so a dropped connection is
    dropped from the pool (``drop_connection``) and the read retried once."""
    import asyncssh

    for attempt in range(2):
        try:
            sftp = await open_sftp()
            return await _read(sftp, path)
        except asyncssh.SFTPError as exc:
            if isinstance(exc, asyncssh.SFTPConnectionLost) and attempt == 0:
                drop_connection()
                continue
            raise _sftp_error(name, label, f"read {path}", path, exc) from None
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError):
            drop_connection()
            if attempt == 0:
                continue
            raise ConnectionDropped(
                f"The connection to {label} dropped while reading {path}."
            ) from None
    raise AssertionError("unreachable")


async def _write(sftp: asyncssh.SFTPClient, path: str, data: bytes) -> None:
    async with sftp.open(path, "wb") as f:
        await f.write(data)


async def _read(sftp: asyncssh.SFTPClient, path: str) -> bytes | None:
    import asyncssh

    try:
        async with sftp.open(path, "rb") as f:
            return cast(bytes, await f.read())  # asyncssh types read() as an unbound AnyStr; "rb" gives bytes
    except asyncssh.SFTPNoSuchFile:
        return None


async def _remove_quietly(sftp: Any, path: str) -> None:
    try:
        if await sftp.exists(path):
            await sftp.remove(path)
    except Exception:  # best effort: a stray temp file must not hide the real error
        pass


def _sftp_error(name: str, label: str, what: str, path: str, exc: Any) -> TransportError:
    import asyncssh

    if isinstance(exc, asyncssh.SFTPConnectionLost):
        return ConnectionDropped(f"The connection to {label} dropped during the {what}.")
    if isinstance(exc, (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath)):
        why = f"the directory {posixpath.dirname(path) or '.'} does not exist"
    elif isinstance(exc, asyncssh.SFTPPermissionDenied):
        why = "permission denied"
    else:
        why = exc.reason or type(exc).__name__
    return TransportError(f"Cannot {what} on {name}: {why}.")
