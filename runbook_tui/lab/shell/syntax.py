"""The shell's grammar: a command line into a tree of lists, and-or chains, pipelines and commands.

What runbooks and the SSH transport type: quoting (single, double, backslash), ``$NAME``,
``${NAME}``, ``$?``, ``$$``, ``$(...)``, ``|``, ``!``, ``&&``, ``||``, ``;`` and newlines, comments,
the redirections ``>``, ``>>``, ``<`` (on fd 1 or 2) and ``>&1``/``>&2``, ``NAME=value``, and the
compound commands ``if/elif/else/fi`` and ``for NAME in ...; do ...; done``. Anything else sh knows
(``&``, subshells, braces, functions, while/until/case, here-documents, arithmetic, backquotes,
positional parameters, ``${NAME:-x}``...) raises ``ShellUnsupported``: the lab says so rather than
doing something else. Words keep their quoting (``Part``s) until the interpreter expands them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class ShellSyntaxError(ValueError):
    pass


class ShellUnsupported(ShellSyntaxError):
    """Valid sh that the lab does not implement."""


@dataclass
class Part:
    kind: str  # "lit", "var", "cmd" (command substitution source), "status" ($?), "pid" ($$)
    value: str = ""
    quoted: bool = False


@dataclass
class Word:
    parts: list[Part] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The word as written, less its quotes (expansions shown as sh would write them)."""
        shown = {"var": "${%s}", "cmd": "$(%s)", "status": "$?%s", "pid": "$$%s"}
        return "".join(p.value if p.kind == "lit" else shown[p.kind] % p.value for p in self.parts)

    @property
    def plain(self) -> str | None:
        """The text of a word of unquoted literal characters only (a reserved word candidate)."""
        if len(self.parts) == 1 and self.parts[0].kind == "lit" and not self.parts[0].quoted:
            return self.parts[0].value
        return None


@dataclass
class Redirect:
    fd: int  # 0, 1 or 2
    op: str  # "<", ">", ">>", ">&"
    target: Word  # a file, or "1"/"2" for ">&"


@dataclass
class Simple:
    assigns: list[tuple[str, Word]] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class If:
    branches: list[tuple[list[AndOr], list[AndOr]]]  # (condition, body)
    otherwise: list[AndOr] | None
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class For:
    name: str
    items: list[Word]
    body: list[AndOr]
    redirects: list[Redirect] = field(default_factory=list)


Node = Simple | If | For


@dataclass
class Pipeline:
    commands: list[Node]
    negate: bool = False


AndOr = list[tuple[str, Pipeline]]  # [(connector, pipeline)]; the first connector is ";"

OPERATORS = ("&&", "||", ";;", ";", "|", "&", "(", ")", "\n")
UNSUPPORTED_WORDS = {"while", "until", "case", "{", "}", "function", "select", "[["}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _unsupported(what: str) -> ShellUnsupported:
    return ShellUnsupported(f"syntax not supported by the lab: {what}")


def _closing_paren(line: str, i: int) -> int:
    """The index of the ``)`` closing the ``$(`` whose body starts at ``i``."""
    depth, n = 1, len(line)
    while i < n:
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                break
            i = end + 1
            continue
        if c == '"':
            i += 1
            while i < n and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ShellSyntaxError('Syntax error: end of file unexpected (expecting ")")')


def _dollar(line: str, i: int, quoted: bool) -> tuple[Part, int]:
    """The expansion starting at ``line[i] == '$'`` and the index after it."""
    nxt = line[i + 1 : i + 2]
    if line.startswith("$((", i):
        raise _unsupported("arithmetic expansion $((...))")
    if nxt == "(":
        end = _closing_paren(line, i + 2)
        return Part("cmd", line[i + 2 : end], quoted), end + 1
    if nxt == "?":
        return Part("status", "", quoted), i + 2
    if nxt == "$":
        return Part("pid", "", quoted), i + 2
    if nxt == "{":
        m = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}").match(line, i + 1)
        if not m:
            raise _unsupported("parameter expansion " + line[i : line.find("}", i) + 1 or None])
        return Part("var", m.group(1), quoted), m.end()
    m = NAME.match(line, i + 1)
    if m:
        return Part("var", m.group(), quoted), m.end()
    if nxt and nxt in "0123456789@*#!-":
        raise _unsupported(f"special parameter ${nxt}")
    return Part("lit", "$", quoted), i + 1


def tokenize(line: str) -> list[Word | Redirect | str]:
    """Words (parts with their quoting), redirections, and operator strings ("\\n" included)."""
    tokens: list[Word | Redirect | str] = []
    parts: list[Part] = []
    in_word = False
    i, n = 0, len(line)

    def flush() -> None:
        nonlocal in_word
        if in_word:
            tokens.append(Word(list(parts)))
        parts.clear()
        in_word = False

    def lit(text: str, quoted: bool) -> None:
        nonlocal in_word
        if parts and parts[-1].kind == "lit" and parts[-1].quoted == quoted:
            parts[-1].value += text
        else:
            parts.append(Part("lit", text, quoted))
        in_word = True

    while i < n:
        c = line[i]
        if c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("Syntax error: Unterminated quoted string")
            lit(line[i + 1 : end], True)
            i = end + 1
        elif c == '"':
            i += 1
            lit("", True)
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n and line[i + 1] in '"\\$`\n':
                    if line[i + 1] != "\n":
                        lit(line[i + 1], True)
                    i += 2
                elif line[i] == "$":
                    part, i = _dollar(line, i, True)
                    parts.append(part) if part.kind != "lit" else lit(part.value, True)
                elif line[i] == "`":
                    raise _unsupported("backquote command substitution")
                else:
                    lit(line[i], True)
                    i += 1
            if i >= n:
                raise ShellSyntaxError("Syntax error: Unterminated quoted string")
            i += 1
        elif c == "\\":
            if line[i + 1 : i + 2] != "\n":
                lit(line[i + 1 : i + 2], True)
            i += 2
        elif c in " \t":
            flush()
            i += 1
        elif c == "#" and not in_word:
            while i < n and line[i] != "\n":
                i += 1
        elif c == "$":
            part, i = _dollar(line, i, False)
            if part.kind == "lit":
                lit(part.value, False)
            else:
                parts.append(part)
                in_word = True
        elif c == "`":
            raise _unsupported("backquote command substitution")
        elif c in "<>" or (c.isdigit() and not in_word and line[i + 1 : i + 2] in ("<", ">")):
            flush()
            i = _redirect(line, i, tokens)
        else:
            op = next((o for o in OPERATORS if line.startswith(o, i)), None)
            if op:
                flush()
                if op in ("&", ";;", "(", ")"):
                    what = {"&": "background job &", ";;": "case ;;"}.get(op, "subshell ( )")
                    raise _unsupported(what)
                tokens.append(op)
                i += len(op)
                continue
            lit(c, False)
            i += 1
    flush()
    return tokens


def _redirect(line: str, i: int, tokens: list[Word | Redirect | str]) -> int:
    m = re.compile(r"(\d*)(>>|>&|>\||<<|<&|<>|>|<)").match(line, i)
    assert m is not None
    fd_text, op = m.groups()
    default = 0 if op.startswith("<") else 1
    fd = int(fd_text) if fd_text else default
    if op in ("<<", "<&", "<>", ">|"):
        raise _unsupported(f"redirection {op}" + (" (here-document)" if op == "<<" else ""))
    if fd > 2:
        raise _unsupported(f"file descriptor {fd}")
    i = m.end()
    if op == ">&":
        dup = re.compile(r"[12](?=[\s;&|<>)]|$)").match(line, i)
        if not dup:
            raise _unsupported(f"redirection >&{line[i:i + 1]}")
        tokens.append(Redirect(fd, op, Word([Part("lit", dup.group())])))
        return dup.end()
    tokens.append(Redirect(fd, op, Word()))  # the target is the next word
    return i
