"""A tiny POSIX-ish shell in front of the lab hosts' command handlers.

Enough of sh for what runbooks and the SSH transport type: the grammar of ``syntax`` and
``grammar`` (quoting, variables, ``$?``, ``$$``, ``$(...)``, pipes, ``&&``/``||``/``;``,
redirections, ``if`` and ``for``), field splitting and globs, and the special builtins ``cd``, ``exit``,
``exec`` and ``:``. Other builtins live in ``builtins`` (files, echo, test...) and ``text`` (grep,
awk, head, tail, wc, sort, cut, tr); what a command is, in ``handlers``. Each handler says whether
it changed something by calling ``Shell.mutate()``, which the command log records. Every path is
confined to the host's root folder. What the lab does not implement it refuses with exit 2 and
``sh: syntax not supported by the lab: ...``.
"""

from __future__ import annotations

import fnmatch
import posixpath
import random
import re
from collections.abc import Callable
from pathlib import Path

from runbook_tui.lab.shell.builtins import BUILTINS
from runbook_tui.lab.shell.grammar import parse_script
from runbook_tui.lab.shell.handlers import Handler, Result
from runbook_tui.lab.shell.syntax import (
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
)


class _Exit(Exception):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class _Out:
    """Where a command's output goes: the text written to fd 1 and fd 2, in order."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.err: list[str] = []


def _escape_glob(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


# -- the shell ---------------------------------------------------------------------------


class Shell:
    """One command line's interpreter over a host's root folder."""

    def __init__(
        self,
        root: Path,
        commands: dict[str, Handler],
        *,
        flavor: str = "freebsd",  # or "linux": error wording, wc padding, ls -l owners
        home: str = "/root",
        user: str = "root",
    ):
        self.root = Path(root).resolve()
        self.commands = {**BUILTINS, **commands}
        self.flavor = flavor
        self.cwd = self.home = home
        self.user = user
        self.mutated = False
        self.last_code = 0
        self.vars: dict[str, str] = {}
        self.pid = random.randint(1000, 60000)
        self._subst_code: int | None = None

    # -- helpers for handlers --
    def mutate(self) -> None:
        self.mutated = True

    def abspath(self, path: str) -> str:
        return posixpath.normpath(posixpath.join(self.cwd, path))

    def resolve(self, path: str) -> Path:
        """The real file behind a host path; never outside the host's root."""
        real = (self.root / self.abspath(path).lstrip("/")).resolve()
        if real != self.root and self.root not in real.parents:
            return self.root / "nonexistent"
        return real

    def read(self, path: str) -> str:
        """File text, or raise FileNotFoundError/IsADirectoryError."""
        if path == "/dev/null":
            return ""
        p = self.resolve(path)
        if p.is_dir():
            raise IsADirectoryError(path)
        return p.read_text(encoding="utf-8", errors="replace")

    def write(self, path: str, text: str, append: bool = False) -> None:
        if path == "/dev/null":
            return
        p = self.resolve(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        with p.open("a" if append else "w", encoding="utf-8") as f:
            f.write(text)
        self.mutate()

    def _cd(self, path: str, o: _Out) -> int:
        # A special builtin: it changes this shell's folder, so it lives here, not in builtins. The
        # Linux wording is dash's (the differential test); the FreeBSD one follows its cd.c (assumption).
        if not self.resolve(path).is_dir():
            why = f"can't cd to {path}" if self.flavor == "linux" else f"{path}: No such file or directory"
            o.err.append(self.sh_error(f"cd: {why}"))
            return 2
        self.cwd = self.abspath(path)
        return 0

    def not_faked(self, name: str) -> str:
        """The lab's word on a command it does not have, listing the ones it fakes."""
        faked = sorted({*self.commands, "cd", "exec", "exit", ":"}, key=lambda c: (c.startswith("/"), c))
        return f"runbook-tui lab: {name}: not found; this lab's shell fakes: {', '.join(faked)}\n"

    def sh_error(self, msg: str) -> str:
        return ("sh: 1: " if self.flavor == "linux" else "sh: ") + msg + "\n"

    # -- running --
    def run(self, line: str) -> Result:
        self.mutated = False
        try:
            items = parse_script(line)
        except ShellSyntaxError as exc:
            return Result(stderr=self.sh_error(str(exc)), code=2)
        o = _Out()
        try:
            code = self._list(items, "", o)
        except _Exit as done:
            code = done.code
        return Result("".join(o.out), "".join(o.err), code & 255)

    def _list(self, items: list[AndOr], stdin: str, o: _Out) -> int:
        code = 0
        for chain in items:
            code = self._and_or(chain, stdin, o)
        return code

    def _and_or(self, chain: AndOr, stdin: str, o: _Out) -> int:
        code = 0
        for connector, pipeline in chain:
            if (connector == "&&" and code != 0) or (connector == "||" and code == 0):
                continue
            code = self._pipeline(pipeline, stdin, o)
            self.last_code = code
        return code

    def _pipeline(self, pipeline: Pipeline, stdin: str, o: _Out) -> int:
        if len(pipeline.commands) == 1:
            code = self._node(pipeline.commands[0], stdin, o)
        else:  # each part is a subshell: its exit and its variables stay inside it
            data, code = stdin, 0
            saved = dict(self.vars)
            for node in pipeline.commands:
                inner = _Out()
                try:
                    code = self._node(node, data, inner)
                except _Exit as done:
                    code = done.code
                data = "".join(inner.out)
                o.err.extend(inner.err)
                self.vars = dict(saved)
            o.out.append(data)
        if pipeline.negate:
            return 0 if code else 1
        return code

    def _node(self, node: Node, stdin: str, o: _Out) -> int:
        if isinstance(node, Simple):
            return self._simple(node, stdin, o)
        if isinstance(node, If):
            return self._redirected(node.redirects, stdin, o, lambda i, x: self._if(node, i, x))
        return self._redirected(node.redirects, stdin, o, lambda i, x: self._for(node, i, x))

    def _if(self, node: If, stdin: str, o: _Out) -> int:
        for cond, body in node.branches:
            if self._list(cond, stdin, o) == 0:
                return self._list(body, stdin, o)
        return self._list(node.otherwise, stdin, o) if node.otherwise else 0

    def _for(self, node: For, stdin: str, o: _Out) -> int:
        values = [v for w in node.items for v in self._fields(w, o)]
        code = 0
        for value in values:
            self.vars[node.name] = value
            code = self._list(node.body, stdin, o)
        return code

    def _simple(self, cmd: Simple, stdin: str, o: _Out) -> int:
        self._subst_code = None
        if not cmd.words:
            for name, word in cmd.assigns:
                self.vars[name] = self._string(word, o)
            code = self._redirected(cmd.redirects, stdin, o, lambda i, x: 0)
            return code or (self._subst_code or 0)
        args = [v for w in cmd.words for v in self._fields(w, o)]
        if not args:
            return self._redirected(cmd.redirects, stdin, o, lambda i, x: self._subst_code or 0)
        return self._redirected(cmd.redirects, stdin, o, lambda i, x: self._call(args, i, x))

    def _call(self, args: list[str], stdin: str, o: _Out) -> int:
        name = args[0]
        if name == "exit":
            if len(args) > 1 and not args[1].isdigit():
                o.err.append(self.sh_error(f"exit: Illegal number: {args[1]}"))
                raise _Exit(2)
            raise _Exit(int(args[1]) if len(args) > 1 else self.last_code)
        if name == "exec":
            if len(args) == 1:
                return 0
            raise _Exit(self._call(args[1:], stdin, o))
        if name == ":":
            return 0
        if name == "cd":
            return self._cd(args[1] if len(args) > 1 else self.home, o)
        handler = self.commands.get(name) or (
            self.commands.get(posixpath.basename(name)) if "/" in name else None
        )
        if handler is None:
            # sh's own line first (what a script reading stderr expects), then what the lab has.
            o.err.append(self.sh_error(f"{name}: not found"))
            o.err.append(self.not_faked(name))
            return 127
        res = handler(self, args, stdin)
        o.out.append(res.stdout)
        o.err.append(res.stderr)
        return res.code

    def _redirected(
        self, redirects: list[Redirect], stdin: str, o: _Out, body: Callable[[str, _Out], int]
    ) -> int:
        """Run ``body`` with fds 1 and 2 pointing where ``redirects`` say, in their order."""
        if not redirects:
            return body(stdin, o)
        targets: dict[int, str | None] = {1: None, 2: None}  # None: the caller's fd; else a file
        where: dict[int, int] = {1: 1, 2: 2}  # which of the caller's fds, when not a file
        for r in redirects:
            if r.op == ">&":
                src = int(r.target.text)
                targets[r.fd], where[r.fd] = targets[src], where[src]
                continue
            path = self._string(r.target, o)
            if r.op == "<":
                try:
                    stdin = self.read(path)
                except OSError:
                    o.err.append(self.sh_error(f"cannot open {path}: No such file"))
                    return 2
                continue
            try:
                self.write(path, "", append=r.op == ">>")
            except OSError:
                o.err.append(self.sh_error(f"cannot create {path}: Directory nonexistent"))
                return 2
            targets[r.fd] = path
        inner = _Out()
        try:
            return body(stdin, inner)
        finally:
            for fd, text in ((1, "".join(inner.out)), (2, "".join(inner.err))):
                file = targets[fd]
                if file is not None:
                    if text:
                        self.write(file, text, append=True)
                else:
                    (o.out if where[fd] == 1 else o.err).append(text)

    # -- expansion --
    def _value(self, part: Part, o: _Out) -> str:
        if part.kind == "var":
            return self.vars.get(part.value, "")
        if part.kind == "status":
            return str(self.last_code)
        if part.kind == "pid":
            return str(self.pid)
        if part.kind == "cmd":
            return self._substitute(part.value, o)
        return part.value

    def _substitute(self, source: str, o: _Out) -> str:
        """``$(...)``: a subshell's output, less its trailing newlines."""
        saved, last = dict(self.vars), self.last_code
        inner = _Out()
        try:
            code = self._list(parse_script(source), "", inner)
        except _Exit as done:
            code = done.code
        finally:
            self.vars, self.last_code = saved, last
        self._subst_code = code
        o.err.extend(inner.err)
        return "".join(inner.out).rstrip("\n")

    def _string(self, word: Word, o: _Out) -> str:
        """A word expanded without field splitting or globs (assignments, redirection targets)."""
        return "".join(self._value(p, o) for p in word.parts)

    def _fields(self, word: Word, o: _Out) -> list[str]:
        """A word expanded into fields: unquoted expansions split at blanks, then globs."""
        fields: list[tuple[str, str, bool]] = []
        text: list[str] = []
        pattern: list[str] = []
        glob = exists = False

        def end() -> None:
            nonlocal glob, exists
            if exists:
                fields.append(("".join(text), "".join(pattern), glob))
            text.clear()
            pattern.clear()
            glob = exists = False

        for part in word.parts:
            value = self._value(part, o)
            if part.quoted:
                text.append(value)
                pattern.append(_escape_glob(value))
                exists = True
                continue
            pieces = [value] if part.kind == "lit" else re.split(r"([ \t\n]+)", value)
            for piece in pieces:
                if not piece:
                    continue
                if part.kind != "lit" and piece.isspace():
                    end()
                    continue
                text.append(piece)
                pattern.append(piece)
                glob = glob or any(c in piece for c in "*?[")
                exists = True
        end()
        out: list[str] = []
        for plain, pat, has_glob in fields:
            out.extend((self._glob(pat) if has_glob else []) or [plain])
        return out

    def _glob(self, pattern: str) -> list[str]:
        base, _, name = pattern.rpartition("/")
        folder = self.resolve(base or ("/" if pattern.startswith("/") else "."))
        if not folder.is_dir() or any(c in base for c in "*?["):
            return []
        names = sorted(p.name for p in folder.iterdir() if fnmatch.fnmatchcase(p.name, name))
        prefix = base + "/" if pattern.count("/") else ""
        return [prefix + n for n in names if not n.startswith(".")]
