"""What every transport returns, and the bounded buffer that keeps endless output in check."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# (stream, line) with stream "stdout" or "stderr"; the line has no trailing newline.
OutputCallback = Callable[[str, str], None]

#: Per stream, how much output a result keeps in memory (the tail). The journal keeps more.
RESULT_CAP = 1 << 20


class TailBuffer:
    """Keeps the last ``cap`` characters of a stream of lines, and whether anything was cut."""

    def __init__(self, cap: int = RESULT_CAP):
        self.cap = cap
        self._lines: deque[str] = deque()
        self._size = 0
        self.truncated = False

    def append(self, line: str) -> None:
        self._lines.append(line)
        self._size += len(line) + 1
        while self._size > self.cap and len(self._lines) > 1:
            self._size -= len(self._lines.popleft()) + 1
            self.truncated = True

    def text(self) -> str:
        return "\n".join(self._lines) + ("\n" if self._lines else "")


@dataclass
class CommandResult:
    """The outcome of one command on a target."""

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False  # the in-memory stdout/stderr hold only the tail
    signal: str | None = None
