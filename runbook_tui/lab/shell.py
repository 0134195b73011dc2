"""A tiny POSIX-ish shell in front of the lab hosts' command handlers.

Enough of sh for what runbooks type: quoting, ``|``, ``&&``, ``||``, ``;``, ``>``/``>>``/``2>``/
``2>&1``/``<`` redirections, globs and ``$?``. The builtins live in ``shell_builtins`` (files,
echo, test...) and ``shell_text`` (grep, awk, head, tail, wc, sort, cut). Each handler says
whether it changed something by calling ``Shell.mutate()``, which the command log records.
Every path is confined to the host's root folder.
"""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass
class Result:
    stdout: str = ""
    stderr: str = ""
    code: int = 0


Handler = Callable[["Shell", list[str], str], Result]


class ShellSyntaxError(ValueError):
    pass


# -- parsing -----------------------------------------------------------------------------

STATUS_MARK = "\x00?"  # where "$?" expands, marked at parse time so '$?' stays literal
OPERATORS = ("&&", "||", "2>&1", "2>>", ">>", "2>", "|", ";", ">", "<")


@dataclass
class Word:
    text: str
    glob: bool = False  # had an unquoted * ? or [


@dataclass
class Command:
    words: list[Word] = field(default_factory=list)
    redirects: list[tuple[str, str]] = field(default_factory=list)  # (op, target)


def tokenize(line: str) -> list[Word | str]:
    """Words (with quote removal) and operator strings."""
    tokens: list[Word | str] = []
    buf: list[str] = []
    in_word = glob = False
    i, n = 0, len(line)

    def flush() -> None:
        nonlocal in_word, glob
        if in_word:
            tokens.append(Word("".join(buf), glob))
        buf.clear()
        in_word = glob = False

    while i < n:
        c = line[i]
        if c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("Unterminated quoted string")
            buf.append(line[i + 1 : end])
            in_word = True
            i = end + 1
        elif c == '"':
            i += 1
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n and line[i + 1] in '"\\$`':
                    i += 1
                elif line.startswith("$?", i):
                    buf.append(STATUS_MARK)
                    i += 2
                    continue
                buf.append(line[i])
                i += 1
            if i >= n:
                raise ShellSyntaxError("Unterminated quoted string")
            in_word = True
            i += 1
        elif c == "\\" and i + 1 < n:
            buf.append(line[i + 1])
            in_word = True
            i += 2
        elif c in " \t\n":
            flush()
            i += 1
        elif c == "#" and not in_word:
            break
        elif line.startswith("$?", i):
            buf.append(STATUS_MARK)
            in_word = True
            i += 2
        else:
            op = next((o for o in OPERATORS if line.startswith(o, i)), None)
            # "2>" is an operator only at the start of a word.
            if op and not (op.startswith("2") and in_word):
                flush()
                tokens.append(op)
                i += len(op)
                continue
            if c == "&":
                raise ShellSyntaxError("background jobs are not supported")
            buf.append(c)
            glob = glob or c in "*?["
            in_word = True
            i += 1
    flush()
    return tokens


def parse(line: str) -> list[tuple[str, list[Command]]]:
    """``[(connector, pipeline)]`` where connector is ';', '&&' or '||' (the first is ';')."""
    out: list[tuple[str, list[Command]]] = []
    connector = ";"
    pipeline: list[Command] = [Command()]
    tokens = tokenize(line)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if isinstance(tok, Word):
            pipeline[-1].words.append(tok)
        elif tok in (">", ">>", "2>", "2>>", "<"):
            if i + 1 >= len(tokens) or not isinstance(tokens[i + 1], Word):
                raise ShellSyntaxError("Syntax error: redirection unexpected")
            pipeline[-1].redirects.append((tok, tokens[i + 1].text))  # type: ignore[union-attr]
            i += 1
        elif tok == "2>&1":
            pipeline[-1].redirects.append((tok, ""))
        elif tok == "|":
            if not pipeline[-1].words:
                raise ShellSyntaxError('Syntax error: "|" unexpected')
            pipeline.append(Command())
        else:  # ; && ||
            if not pipeline[-1].words:
                if tok == ";" and len(pipeline) == 1 and not pipeline[0].redirects:
                    i += 1
                    continue
                raise ShellSyntaxError(f'Syntax error: "{tok}" unexpected')
            out.append((connector, pipeline))
            connector, pipeline = tok, [Command()]
        i += 1
    if pipeline[-1].words:
        out.append((connector, pipeline))
    elif len(pipeline) > 1 or connector != ";":
        raise ShellSyntaxError("Syntax error: end of file unexpected")
    return out


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
        from runbook_tui.lab.shell_builtins import BUILTINS

        self.root = Path(root).resolve()
        self.commands = {**BUILTINS, **commands}
        self.flavor = flavor
        self.cwd = home
        self.user = user
        self.mutated = False
        self.last_code = 0

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

    def sh_error(self, msg: str) -> str:
        return ("sh: 1: " if self.flavor == "linux" else "sh: ") + msg + "\n"

    # -- running --
    def run(self, line: str) -> Result:
        self.mutated = False
        try:
            chain = parse(line)
        except ShellSyntaxError as err:
            return Result(stderr=self.sh_error(str(err)), code=2)
        result = Result()
        out: list[str] = []
        err: list[str] = []
        for connector, pipeline in chain:
            if connector == "&&" and result.code != 0:
                continue
            if connector == "||" and result.code == 0:
                continue
            result = self._pipeline(pipeline)
            self.last_code = result.code
            out.append(result.stdout)
            err.append(result.stderr)
        return Result("".join(out), "".join(err), result.code)

    def _expand(self, words: list[Word]) -> list[str]:
        args: list[str] = []
        for w in words:
            if STATUS_MARK in w.text:
                w = Word(w.text.replace(STATUS_MARK, str(self.last_code)), w.glob)
            if w.glob:
                matches = self._glob(w.text)
                if matches:
                    args.extend(matches)
                    continue
            args.append(w.text)
        return args

    def _glob(self, pattern: str) -> list[str]:
        base, _, name = pattern.rpartition("/")
        folder = self.resolve(base or ("/" if pattern.startswith("/") else "."))
        if not folder.is_dir() or any(c in base for c in "*?["):
            return []
        names = sorted(p.name for p in folder.iterdir() if fnmatch.fnmatchcase(p.name, name))
        prefix = base + "/" if pattern.count("/") else ""
        return [prefix + n for n in names if not n.startswith(".")]

    def _pipeline(self, pipeline: list[Command]) -> Result:
        data = ""
        errs: list[str] = []
        result = Result()
        for cmd in pipeline:
            result = self._command(cmd, data)
            data = result.stdout
            errs.append(result.stderr)
        return Result(result.stdout, "".join(errs), result.code)

    def _command(self, cmd: Command, stdin: str) -> Result:
        args = self._expand(cmd.words)
        for op, target in cmd.redirects:
            if op == "<":
                try:
                    stdin = self.read(target)
                except OSError:
                    return Result(stderr=self.sh_error(f"cannot open {target}: No such file"), code=2)
        name = args[0]
        handler = self.commands.get(name) or (
            self.commands.get(posixpath.basename(name)) if "/" in name else None
        )
        if handler is None:
            res = Result(stderr=self.sh_error(f"{name}: not found"), code=127)
        else:
            res = handler(self, args, stdin)
        for op, target in cmd.redirects:
            if op == "2>&1":
                res = Result(res.stdout + res.stderr, "", res.code)
            elif op in (">", ">>"):
                self.write(target, res.stdout, append=op == ">>")
                res = Result("", res.stderr, res.code)
            elif op in ("2>", "2>>"):
                self.write(target, res.stderr, append=op == "2>>")
                res = Result(res.stdout, "", res.code)
        return res


# -- helpers for handlers -------------------------------------------------------------


def split_flags(args: list[str], with_value: str = "") -> tuple[dict[str, str], list[str]]:
    """Short options (``-vc``, ``-n 5``, ``-n5``) until the first operand or ``--``."""
    flags: dict[str, str] = {}
    rest = list(args)
    while rest and rest[0].startswith("-") and rest[0] != "-":
        arg = rest.pop(0)
        if arg == "--":
            break
        j = 1
        while j < len(arg):
            c = arg[j]
            if c in with_value:
                value = arg[j + 1 :] or (rest.pop(0) if rest else "")
                flags[c] = value
                break
            flags[c] = ""
            j += 1
    return flags, rest


def no_file(sh: Shell, prog: str, path: str) -> str:
    return f"{prog}: {path}: No such file or directory\n"


def read_inputs(sh: Shell, prog: str, files: list[str], stdin: str) -> tuple[list[tuple[str, str]], str]:
    """[(name, text)] for the operands (or stdin), and the error text for missing ones."""
    if not files:
        return [("-", stdin)], ""
    out, err = [], ""
    for f in files:
        try:
            out.append((f, stdin if f == "-" else sh.read(f)))
        except IsADirectoryError:
            err += f"{prog}: {f}: Is a directory\n"
        except OSError:
            err += no_file(sh, prog, f)
    return out, err
