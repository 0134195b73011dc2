"""One user-facing error family: every message is a readable sentence, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass


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


class HostKeyError(TransportError):
    """The SSH host key is unknown or changed: refused until the operator accepts it."""

    title = "Host key not trusted"


class AuthError(TransportError):
    title = "Authentication refused"


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
