"""Read one YAML document into plain Python data plus the source position of every node.

PyYAML's own constructors forget where things were written and silently keep the last of two
duplicate keys, so we compose the node graph with a SafeLoader subclass and construct the values
ourselves: every value and every mapping key gets a 1-based ``(line, col)`` under its path
(``("steps", 2, "run")``), duplicate keys and aliases become problems, and the result contains
only ``dict`` (with ``str`` keys), ``list``, ``str``, ``int``, ``float``, ``bool`` and ``None``.

Aliases are refused outright: they are the only way a small file can expand into a huge value
(the "billion laughs" bomb), and a runbook gains nothing from them.

This module holds what the rest of the language needs without parsing (positions, decoding, the
size limit); the parsing itself (``read_yaml``, ``read_value``) is in ``yaml_compose``, which
callers import where they parse, so that a start that finds every procedure in the check cache
never imports PyYAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runbook_tui.errors import Problem

MAX_BYTES = 1 << 20
MAX_DEPTH = 64

Path = tuple[str | int, ...]



class SourceError(Exception):
    """The text cannot be read as one YAML document; ``problems`` says where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class Issue:
    """A problem found while reading. ``{subject}`` in the message is filled in by the caller,
    which knows what ``path`` (and ``key`` in the mapping there) means: ``'run' in step 'x'``."""

    path: Path
    line: int
    col: int
    message: str
    key: str | None = None


@dataclass
class SourceMap:
    """Where each value and each mapping key of a document was written (1-based line, col)."""

    file: str
    text: str = ""
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    block: set[Path] = field(default_factory=set)  # scalars written as | or > blocks

    def value(self, path: Path) -> tuple[int, int]:
        """The position of the value at ``path``, or of its nearest ancestor that exists."""
        path = tuple(path)
        while path and path not in self.values:
            path = path[:-1]
        return self.values.get(path, (1, 1))

    def key(self, path: Path) -> tuple[int, int]:
        """The position of the key naming ``path`` (the value's when it is a list item)."""
        path = tuple(path)
        if path in self.keys:
            return self.keys[path]
        return self.value(path)

    def template_line(self, path: Path, lineno: int) -> tuple[int, int]:
        """Where line ``lineno`` (1-based) of the text value at ``path`` is in the file."""
        line, col = self.value(path)
        if lineno <= 1 and tuple(path) not in self.block:
            return line, col
        # Block scalars start on the line after their | or > indicator.
        target = line + lineno - (0 if tuple(path) in self.block else 1)
        lines = self.text.splitlines()
        if 1 <= target <= len(lines):
            source = lines[target - 1]
            return target, len(source) - len(source.lstrip(" ")) + 1
        return line, col

    def problem(self, line_col: tuple[int, int], message: str) -> Problem:
        return Problem(self.file, line_col[0], line_col[1], message)


@dataclass
class Document:
    data: Any
    source: SourceMap
    issues: list[Issue]
    # Values we could not read as written (bad tags): other errors about them would be noise.
    unreadable: set[Path] = field(default_factory=set)


def position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character ``index`` in ``text``."""
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


def decode(data: bytes, filename: str) -> str:
    """UTF-8 text (a BOM is allowed) or SourceError naming the first bad byte's position."""
    if len(data) > MAX_BYTES:
        raise SourceError([_too_big(filename, len(data))])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start
        prefix = data[:start]
        line = prefix.count(b"\n") + 1
        line_start = prefix.rfind(b"\n") + 1
        col = len(prefix[line_start:].decode("utf-8", "replace")) + 1
        byte = data[start]
        raise SourceError(
            [
                Problem(
                    filename,
                    line,
                    col,
                    f"file is not UTF-8 text: byte 0x{byte:02x} cannot be decoded; save it as UTF-8",
                )
            ]
        ) from None


def _too_big(filename: str, size: int) -> Problem:
    return Problem(
        filename,
        1,
        1,
        f"file is {size} bytes, over the limit of {MAX_BYTES} bytes (1 MiB); refusing to read it",
    )


def check_size(text: str, filename: str) -> None:
    # Cheap bound first: a UTF-8 character is at most 4 bytes.
    if len(text) * 4 > MAX_BYTES:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_BYTES:
            raise SourceError([_too_big(filename, size)])
