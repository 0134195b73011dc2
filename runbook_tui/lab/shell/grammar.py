"""The shell's parser: the tokens of ``syntax`` into lists of and-or chains of pipelines.

``parse_script`` gives the tree the interpreter runs; ``parse`` a flat view of every simple
command in it (its words and redirections as written), for callers that only ask what a command
line would run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runbook_tui.lab.shell.syntax import (
    NAME,
    UNSUPPORTED_WORDS,
    AndOr,
    For,
    If,
    Node,
    Part,
    Pipeline,
    Redirect,
    ShellSyntaxError,
    Simple,
    Word,
    _unsupported,
    tokenize,
)

RESERVED = {"if", "then", "elif", "else", "fi", "for", "do", "done", "in", "!"}
_ASSIGN = re.compile(rf"({NAME.pattern})=")


def _describe(tok: object) -> str:
    if tok is None:
        return "end of file"
    if tok == "\n":
        return "newline"
    if isinstance(tok, Word):
        return f'"{tok.text}"'
    if isinstance(tok, Redirect):
        return "redirection"
    return f'"{tok}"'


class _Parser:
    def __init__(self, line: str):
        self.tokens = tokenize(line)
        self.i = 0

    def peek(self) -> Word | Redirect | str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def at(self, *words: str) -> bool:
        tok = self.peek()
        return isinstance(tok, Word) and tok.plain in words

    def unexpected(self, expecting: str = "") -> ShellSyntaxError:
        tok = self.peek()
        what = _describe(tok)
        msg = f"Syntax error: {what} unexpected" if tok is None else f"Syntax error: {what} unexpected"
        return ShellSyntaxError(msg + (f' (expecting "{expecting}")' if expecting else ""))

    def expect(self, word: str) -> None:
        if not self.at(word):
            raise self.unexpected(word)
        self.i += 1

    def skip_newlines(self) -> None:
        while self.peek() == "\n":
            self.i += 1

    def script(self) -> list[AndOr]:
        items = self.list_(())
        if self.peek() is not None:
            raise self.unexpected()
        return items

    def list_(self, stop: tuple[str, ...]) -> list[AndOr]:
        items: list[AndOr] = []
        self.skip_newlines()
        while self.peek() is not None and not self.at(*stop):
            items.append(self.and_or())
            if self.peek() in (";", "\n"):
                self.i += 1
                self.skip_newlines()
            elif self.peek() is not None and not self.at(*stop):
                raise self.unexpected()
        if stop and not items:
            raise self.unexpected()
        return items

    def and_or(self) -> AndOr:
        chain: AndOr = [(";", self.pipeline())]
        while self.peek() in ("&&", "||"):
            op = str(self.peek())
            self.i += 1
            self.skip_newlines()
            chain.append((op, self.pipeline()))
        return chain

    def pipeline(self) -> Pipeline:
        negate = self.at("!")
        if negate:
            self.i += 1
        commands = [self.command()]
        while self.peek() == "|":
            self.i += 1
            self.skip_newlines()
            commands.append(self.command())
        return Pipeline(commands, negate)

    def command(self) -> Node:
        tok = self.peek()
        plain = tok.plain if isinstance(tok, Word) else None
        if plain == "if":
            node: Node = self.if_()
        elif plain == "for":
            node = self.for_()
        elif plain in UNSUPPORTED_WORDS:
            raise _unsupported(f"{plain} ...")
        elif plain in RESERVED:
            raise self.unexpected()
        else:
            return self.simple()
        while isinstance(self.peek(), Redirect):
            node.redirects.append(self.redirect())
        return node

    def redirect(self) -> Redirect:
        tok = self.peek()
        assert isinstance(tok, Redirect)
        self.i += 1
        if tok.op != ">&":
            target = self.peek()
            if not isinstance(target, Word):
                raise ShellSyntaxError("Syntax error: redirection unexpected")
            tok = Redirect(tok.fd, tok.op, target)
            self.i += 1
        return tok

    def simple(self) -> Simple:
        cmd = Simple()
        while True:
            tok = self.peek()
            if isinstance(tok, Redirect):
                cmd.redirects.append(self.redirect())
                continue
            if not isinstance(tok, Word):
                break
            first = tok.parts[0] if tok.parts else None
            m = _ASSIGN.match(first.value) if first and first.kind == "lit" and not first.quoted else None
            if m and not cmd.words:
                assert first is not None
                rest = first.value[m.end():]
                value = Word(([Part("lit", rest)] if rest else []) + tok.parts[1:])
                cmd.assigns.append((m.group(1), value))
            else:
                cmd.words.append(tok)
            self.i += 1
        if not (cmd.words or cmd.assigns or cmd.redirects):
            raise self.unexpected()
        if len(cmd.words) == 1 and cmd.words[0].plain == "exec" and cmd.redirects:
            raise _unsupported("exec with redirections only (redirecting the shell itself)")
        if cmd.words and cmd.assigns:
            raise _unsupported("assignment before a command (NAME=value command)")
        return cmd

    def if_(self) -> If:
        self.expect("if")
        branches = []
        cond = self.list_(("then",))
        self.expect("then")
        branches.append((cond, self.list_(("elif", "else", "fi"))))
        while self.at("elif"):
            self.i += 1
            cond = self.list_(("then",))
            self.expect("then")
            branches.append((cond, self.list_(("elif", "else", "fi"))))
        otherwise = None
        if self.at("else"):
            self.i += 1
            otherwise = self.list_(("fi",))
        self.expect("fi")
        return If(branches, otherwise)

    def for_(self) -> For:
        self.expect("for")
        tok = self.peek()
        if not (isinstance(tok, Word) and tok.plain and NAME.fullmatch(tok.plain)):
            raise ShellSyntaxError("Syntax error: Bad for loop variable")
        name = tok.plain
        self.i += 1
        self.skip_newlines()
        items: list[Word] = []
        if self.at("in"):
            self.i += 1
            while isinstance(self.peek(), Word):
                items.append(self.peek())  # type: ignore[arg-type]
                self.i += 1
            if self.peek() not in (";", "\n"):
                raise self.unexpected()
        if self.peek() in (";", "\n"):
            self.i += 1
        self.skip_newlines()
        self.expect("do")
        body = self.list_(("done",))
        self.expect("done")
        return For(name, items, body)


def parse_script(line: str) -> list[AndOr]:
    """The command line as the interpreter runs it; raises ShellSyntaxError (or ShellUnsupported)."""
    return _Parser(line).script()


@dataclass
class Command:
    """One simple command as written: its words, and its redirections as (op, target)."""

    words: list[Word]
    redirects: list[tuple[str, str]]


def _op(r: Redirect) -> str:
    if r.op == ">&":
        return f"{'2' if r.fd == 2 else ''}>&{r.target.text}"
    return r.op if r.fd == (0 if r.op == "<" else 1) else f"{r.fd}{r.op}"


def parse(line: str) -> list[tuple[str, list[Command]]]:
    """Every simple command of the line, as ``[(connector, pipeline)]``, compound ones opened."""
    out: list[tuple[str, list[Command]]] = []

    def walk(items: list[AndOr]) -> None:
        for chain in items:
            for connector, pipe in chain:
                cmds: list[Command] = []
                for node in pipe.commands:
                    redirects = [(_op(r), r.target.text) for r in node.redirects]
                    if isinstance(node, Simple):
                        words = node.words or [Word([Part("lit", ":" if not node.assigns else "=")])]
                        cmds.append(Command(words, redirects))
                        continue
                    if redirects:
                        cmds.append(Command([Word([Part("lit", type(node).__name__.lower())])], redirects))
                    if isinstance(node, If):
                        for cond, body in node.branches:
                            walk(cond)
                            walk(body)
                        walk(node.otherwise or [])
                    else:
                        walk(node.body)
                if cmds:
                    out.append((connector, cmds))

    walk(parse_script(line))
    return out
