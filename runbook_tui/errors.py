"""One user-facing error family: every message is a readable sentence, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class RunbookError(Exception):
    """Base of every error an operator may see. ``str(err)`` is the sentence to show."""

    title = "Error"


@dataclass(frozen=True)
class Problem:
    """One validation problem at a place in a source file."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class ProcedureError(RunbookError):
    """A procedure, inventory or input is invalid; carries every problem found."""

    title = "Invalid procedure"

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.col, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


class TransportError(RunbookError):
    """A target could not be reached or refused us: the step could not run."""

    title = "Cannot reach target"

    @property
    def unreachable(self) -> bool:
        """The target itself was not reached (or refused us): no rehearsal can pass over that."""
        return True

    @property
    def interrupted(self) -> bool:
        """The command was cut off on the target: it may have half-applied."""
        return False


HostKeyProblem = Literal["unknown", "changed", "refused"]


class HostKeyError(TransportError):
    """The SSH host key is unknown or changed: refused until the operator accepts it.

    ``kind`` says which: "unknown" (known_hosts has no key for the host; --accept-host-key
    trusts it), "changed" (known_hosts vouches for other keys: never overridden) or "refused"
    (asyncssh refused the key before we were asked, e.g. one marked @revoked). ``host`` and
    ``port`` are where we connected, ``known_hosts`` the file that was consulted, and
    ``fingerprint`` the offered key's "SHA256:..." (None when we never saw the key).
    """

    title = "Host key not trusted"

    def __init__(
        self,
        message: str,
        *,
        target: str,
        host: str,
        port: int,
        known_hosts: str,
        kind: HostKeyProblem,
        fingerprint: str | None = None,
    ):
        super().__init__(message)
        self.target = target
        self.host = host
        self.port = port
        self.known_hosts = known_hosts
        self.kind = kind
        self.fingerprint = fingerprint

    @property
    def changed(self) -> bool:
        return self.kind == "changed"


class AuthError(TransportError):
    title = "Authentication refused"
    fingerprint: str | None  # the key the server offered, when the connection saw it (set where raised)


class StepTimeout(TransportError):
    title = "Timed out"

    @property
    def unreachable(self) -> bool:
        return False

    @property
    def interrupted(self) -> bool:
        return True


class ConnectionDropped(TransportError):
    title = "Connection dropped"

    @property
    def interrupted(self) -> bool:
        return True


class KubeError(TransportError):
    """A Kubernetes API call failed; ``status`` is the HTTP status (0 when unreachable)."""

    title = "Kubernetes API error"

    def __init__(self, message: str, status: int = 0):
        self.status = status
        super().__init__(message)

    @property
    def unreachable(self) -> bool:
        # 404 or 409 may only mean a change a dry run did not make; no answer, 401, 403 never do.
        return self.status in (0, 401, 403)
