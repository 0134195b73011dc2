"""Small helpers shared by the parsers: numbered lines and tolerant number conversion."""

from __future__ import annotations

import re
from collections.abc import Iterator

from runbook_tui.parsers import ParseError

_INT = re.compile(r"[+-]?\d+")


def require_text(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise ParseError(f"The {what} parser reads text, not {type(text).__name__}.")
    return text


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) for every line, CRLF or LF, trailing whitespace removed.

    Split on "\\n" only (not str.splitlines) so that numbers match what ``cat -n`` shows.
    """
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line.rstrip()


def nonblank_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in numbered_lines(text):
        if line.strip():
            yield number, line


def as_int(value: str) -> int | None:
    """The integer ``value`` spells (ASCII digits only), else None."""
    if value.isascii() and _INT.fullmatch(value):
        return int(value)
    return None


def scalar(value: str) -> int | str | None:
    """Empty -> None, integer -> int, anything else stays a string."""
    if value == "":
        return None
    number = as_int(value)
    return value if number is None else number


def clip(value: str, limit: int = 60) -> str:
    """Shorten a quoted fragment of bad input for an error sentence."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def split_host_port(value: str) -> tuple[str, str] | None:
    """``[::1]:25`` -> ("::1", "25"), ``*:25`` -> ("*", "25"), ``:::25`` -> ("::", "25").

    None when there is no ``:port`` part at all.
    """
    if value.startswith("["):
        host, sep, port = value[1:].partition("]:")
        return (host, port) if sep else None
    host, sep, port = value.rpartition(":")
    return (host, port) if sep else None


def port_number(value: str) -> int | None:
    """A TCP/UDP port as an int, None for a wildcard ``*``; ValueError for anything else."""
    if value == "*":
        return None
    number = as_int(value)
    if number is None or not 0 <= number <= 65535:
        raise ValueError(value)
    return number


def host_port(value: str, number: int, expected: str) -> tuple[str, int | None]:
    """``ADDRESS:PORT`` as (address, port), or a ParseError saying what line ``number`` should hold."""
    parts = split_host_port(value)
    try:
        if parts is None:
            raise ValueError(value)
        return parts[0], port_number(parts[1])
    except ValueError:
        raise ParseError(f"{expected}, found {clip(value)!r}.", line=number) from None
