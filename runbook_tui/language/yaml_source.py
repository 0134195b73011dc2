"""Read one YAML document into plain Python data plus the source position of every node.

PyYAML's own constructors forget where things were written and silently keep the last of two
duplicate keys, so we compose the node graph with a SafeLoader subclass and construct the values
ourselves: every value and every mapping key gets a 1-based ``(line, col)`` under its path
(``("steps", 2, "run")``), duplicate keys and aliases become problems, and the result contains
only ``dict`` (with ``str`` keys), ``list``, ``str``, ``int``, ``float``, ``bool`` and ``None``.

Aliases are refused outright: they are the only way a small file can expand into a huge value
(the "billion laughs" bomb), and a runbook gains nothing from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runbook_tui.errors import Problem

MAX_BYTES = 1 << 20
MAX_DEPTH = 64

Path = tuple[str | int, ...]

_YAML = "tag:yaml.org,2002:"
# Scalars that keep their source text: a runbook never wants a datetime or "=".
_AS_TEXT = {_YAML + "timestamp", _YAML + "value", _YAML + "merge", _YAML + "str", "!"}
_CONSTRUCTED = {_YAML + "int", _YAML + "float", _YAML + "bool", _YAML + "null"}
_PLAIN_COLLECTIONS = {_YAML + "seq", _YAML + "map"}
# What the YAML reader refuses (the complement of its printable set), found up front so that
# every occurrence can be reported with its position.
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


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


class _TooDeep(Exception):
    def __init__(self, mark: Any):
        self.mark = mark


class _MarkingLoader(yaml.SafeLoader):
    """Composes nodes (which carry their marks); refuses aliases and runaway nesting."""

    def __init__(self, text: str):
        super().__init__(text)
        self.alias_marks: list[tuple[Any, str]] = []
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()  # type: ignore[no-untyped-call]  # unannotated in types-PyYAML
            self.alias_marks.append((event.start_mark, event.anchor))
            return ScalarNode(_YAML + "null", "", event.start_mark, event.end_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)  # type: ignore[no-untyped-call]  # unannotated in types-PyYAML
            node = super().compose_node(parent, index)
            assert node is not None  # PyYAML composes a node for every event here; its stub says Optional
            return node
        finally:
            self._depth -= 1


def _syntax_problem(filename: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or exc.context or "cannot parse"
    message = f"invalid YAML: {problem}"
    if exc.context and exc.problem:
        where = ""
        if exc.context_mark is not None:
            where = f" at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
        message += f" ({exc.context}{where})"
    if problem == "mapping values are not allowed here":
        message += "; if a value contains ': ', put it in quotes"
    if "'\\t'" in message:
        message += "; indent with spaces, not tabs"
    return Problem(filename, line, col, message)


def _tag(tag: str) -> str:
    return "!!" + tag[len(_YAML) :] if tag.startswith(_YAML) else tag


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "text"


class _Builder:
    def __init__(self, source: SourceMap):
        self.source = source
        self.issues: list[Issue] = []
        self.ctor = SafeConstructor()

        self.unreadable: set[Path] = set()

    def issue(self, path: Path, mark: Any, message: str, key: str | None = None) -> None:
        self.issues.append(Issue(path, mark.line + 1, mark.column + 1, message, key))

    def build(self, node: Node, path: Path) -> Any:
        self.source.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if node.tag not in _PLAIN_COLLECTIONS:
            self.issue(
                path,
                node.start_mark,
                f"YAML tag '{_tag(node.tag)}' is not supported; write a plain list or mapping",
            )
        if isinstance(node, SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        assert isinstance(node, MappingNode)  # the composer makes scalars, sequences and mappings only
        return self.mapping(node, path)

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        if node.style in ("|", ">"):
            self.source.block.add(path)
        tag = node.tag
        if tag in _AS_TEXT:
            return node.value
        if tag in _CONSTRUCTED:
            try:
                return self.ctor.yaml_constructors[tag](self.ctor, node)
            except Exception:
                self.issue(
                    path, node.start_mark, f"cannot read {node.value[:40]!r} as YAML type '{_tag(tag)}'"
                )
                self.unreadable.add(path)
                return node.value
        # Keep the text, so that the rest of the file still validates around it.
        self.issue(
            path,
            node.start_mark,
            f"YAML tag '{_tag(tag)}' is not supported; write plain text, a number or true/false",
        )
        return node.value

    def mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.issue(
                    path,
                    key_node.start_mark,
                    f"a key in {{subject}} is {_kind(key_node)}; keys must be plain text",
                )
                continue
            key = key_node.value
            if key_node.tag == _YAML + "merge":
                self.issue(
                    path, key_node.start_mark, "YAML merge keys ('<<') are not allowed; write the keys out"
                )
                continue
            if key in first:
                self.issue(
                    path, key_node.start_mark, f"duplicate key {{subject}} (first at line {first[key]})", key
                )
                continue
            first[key] = key_node.start_mark.line + 1
            self.source.keys[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, path + (key,))
        return result


def _compose(text: str, filename: str) -> tuple[Node | None, list[Problem]]:
    """The node graph of the one document in ``text`` (None when empty) and a problem for each
    alias in it. Raises SourceError for what cannot be read at all."""
    check_size(text, filename)
    bad = list(_NON_PRINTABLE.finditer(text))
    if bad:
        first = bad[0]
        line, col = position(text, first.start())
        more = f" ({len(bad) - 1} more after it)" if len(bad) > 1 else ""
        code = ord(first.group())
        raise SourceError(
            [Problem(filename, line, col, f"character U+{code:04X} is not allowed in a YAML file{more}")]
        )
    loader = _MarkingLoader(text)
    try:
        loader.get_event()  # type: ignore[no-untyped-call]  # StreamStart; unannotated in types-PyYAML
        node = None
        if not loader.check_event(yaml.StreamEndEvent):
            node = loader.compose_document()
            if not loader.check_event(yaml.StreamEndEvent):
                mark = loader.peek_event().start_mark  # type: ignore[no-untyped-call]  # unannotated in types-PyYAML
                raise SourceError(
                    [
                        Problem(
                            filename,
                            mark.line + 1,
                            mark.column + 1,
                            "found a second YAML document ('---'); a file holds exactly one",
                        )
                    ]
                )
    except yaml.MarkedYAMLError as exc:
        raise SourceError([_syntax_problem(filename, exc)]) from None
    except _TooDeep as exc:
        raise SourceError(
            [
                Problem(
                    filename,
                    exc.mark.line + 1,
                    exc.mark.column + 1,
                    f"nesting is deeper than {MAX_DEPTH} levels",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:  # e.g. ReaderError: no mark, but still one sentence
        raise SourceError([Problem(filename, 1, 1, f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    alias_problems = [
        Problem(
            filename,
            mark.line + 1,
            mark.column + 1,
            f"YAML aliases are not allowed ('*{anchor}'); write the value out in full",
        )
        for mark, anchor in loader.alias_marks
    ]
    return node, alias_problems


def read_yaml(text: str, filename: str, *, expected: str) -> Document:
    """Parse ``text`` as exactly one YAML mapping. ``expected`` names it for messages
    ("a procedure: a mapping with id, title and steps"). Raises SourceError."""
    if text.startswith("\ufeff"):
        text = text[1:]
    node, alias_problems = _compose(text, filename)
    source = SourceMap(filename, text)
    if node is None or (isinstance(node, ScalarNode) and node.tag == _YAML + "null" and node.value == ""):
        raise SourceError(alias_problems + [Problem(filename, 1, 1, f"file is empty; expected {expected}")])
    if not isinstance(node, MappingNode):
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        raise SourceError(
            alias_problems + [Problem(filename, line, col, f"expected {expected}, found {_kind(node)}")]
        )
    if alias_problems:
        # What an alias stands for is unknown to us, so anything said about the values
        # around it would be guesswork: report the aliases alone.
        raise SourceError(alias_problems)
    builder = _Builder(source)
    data = builder.build(node, ())
    return Document(data, source, builder.issues, builder.unreadable)


def read_value(text: str, filename: str) -> Any:
    """One YAML value of any shape (a list or mapping given on the command line), read like a
    file: no aliases, tags or runaway nesting. Raises SourceError naming each problem."""
    node, alias_problems = _compose(text, filename)
    if alias_problems:
        raise SourceError(alias_problems)
    if node is None:
        return None
    builder = _Builder(SourceMap(filename, text))
    data = builder.build(node, ())
    if builder.issues:
        raise SourceError(
            [
                Problem(filename, i.line, i.col, i.message.replace("{subject}", repr(i.key) if i.key else "the value"))
                for i in builder.issues
            ]
        )
    return data
