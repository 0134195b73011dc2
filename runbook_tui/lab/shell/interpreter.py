"""A tiny POSIX-ish shell in front of the lab hosts' command handlers.

Enough of sh for what runbooks type: the grammar of ``syntax`` (quoting, ``|``, ``&&``, ``||``,
``;``, redirections), globs and ``$?``. The builtins live in ``builtins`` (files, echo,
test...) and ``text`` (grep, awk, head, tail, wc, sort, cut); what a command is, in
``handlers``. Each handler says whether it changed something by calling ``Shell.mutate()``,
which the command log records. Every path is confined to the host's root folder.
"""

from __future__ import annotations

import fnmatch
import posixpath
from pathlib import Path

from runbook_tui.lab.shell.builtins import BUILTINS
from runbook_tui.lab.shell.handlers import Handler, Result
from runbook_tui.lab.shell.syntax import (
    STATUS_MARK,
    Command,
    ShellSyntaxError,
    Word,
    parse,
)

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
        except ShellSyntaxError as exc:
            return Result(stderr=self.sh_error(str(exc)), code=2)
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
