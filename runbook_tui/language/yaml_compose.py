"""Compose one YAML document with its source positions (see ``yaml_source`` for the contract).

libyaml's C parser makes the events when PyYAML was built with it (about ten times faster than
the pure-Python scanner, which dominated start-up); our own composer still builds the nodes, so
aliases and runaway nesting are caught the same way on either path. Whenever the C parser
refuses a text, the pure-Python parser reads it again, so that a syntax error is reported in the
same words and at the same place whichever parser is installed. (Left different: libyaml reads
a few odd flow-style texts the pure parser refuses, such as ``{a? b: c}``.)
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from runbook_tui.errors import Problem
from runbook_tui.language.yaml_source import (
    MAX_DEPTH,
    Document,
    Issue,
    Path,
    SourceError,
    SourceMap,
    check_size,
    position,
)

try:
    from yaml._yaml import CParser

    LIBYAML = True
except ImportError:  # PyYAML built without libyaml
    LIBYAML = False

_YAML = "tag:yaml.org,2002:"
# Scalars that keep their source text: a runbook never wants a datetime or "=".
_AS_TEXT = {_YAML + "timestamp", _YAML + "value", _YAML + "merge", _YAML + "str", "!"}
_CONSTRUCTED = {_YAML + "int", _YAML + "float", _YAML + "bool", _YAML + "null"}
_PLAIN_COLLECTIONS = {_YAML + "seq", _YAML + "map"}
# What the YAML reader refuses (the complement of its printable set), found up front so that
# every occurrence can be reported with its position.
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class _TooDeep(Exception):
    def __init__(self, mark: Any):
        self.mark = mark


class _Marking(Composer):
    """Composes nodes (which carry their marks); refuses aliases and runaway nesting."""

    alias_marks: list[tuple[Any, str]]
    _depth: int

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):  # type: ignore[attr-defined]  # from the parser half
            event = self.get_event()  # type: ignore[attr-defined]  # from the parser half
            self.alias_marks.append((event.start_mark, event.anchor))
            return ScalarNode(_YAML + "null", "", event.start_mark, event.end_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)  # type: ignore[attr-defined]  # from the parser half
            node = super().compose_node(parent, index)
            assert node is not None  # PyYAML composes a node for every event here; its stub says Optional
            return node
        finally:
            self._depth -= 1


class _PyLoader(_Marking, yaml.SafeLoader):
    def __init__(self, text: str):
        yaml.SafeLoader.__init__(self, text)
        self.alias_marks, self._depth = [], 0


if LIBYAML:

    class _CLoader(_Marking, CParser, Resolver):
        def __init__(self, text: str):
            CParser.__init__(self, text)
            Composer.__init__(self)
            Resolver.__init__(self)
            self.alias_marks, self._depth = [], 0


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


def _events_to_node(loader: _Marking, filename: str) -> Node | None:
    """Compose the stream's one document; PyYAML's errors pass through (see ``_compose``)."""
    try:
        loader.get_event()  # type: ignore[attr-defined]  # StreamStart
        node = None
        if not loader.check_event(yaml.StreamEndEvent):  # type: ignore[attr-defined]
            node = loader.compose_document()
            if not loader.check_event(yaml.StreamEndEvent):  # type: ignore[attr-defined]
                mark = loader.peek_event().start_mark  # type: ignore[attr-defined]
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
        return node
    finally:
        loader.dispose()  # type: ignore[attr-defined]


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
    loader: _Marking
    fast = False
    try:
        try:
            # libyaml takes a tab inside a plain value, which the pure parser refuses: such a
            # (rare) file goes to the pure parser, so that it is read the same either way.
            fast = LIBYAML and "\t" not in text
            loader = _CLoader(text) if fast else _PyLoader(text)
            node = _events_to_node(loader, filename)
        except yaml.YAMLError:
            if not fast:
                raise
            loader = _PyLoader(text)  # the same refusal, in the reference parser's words
            node = _events_to_node(loader, filename)
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
