"""The contract between the shell and the commands it runs, and what every command uses.

A command is a ``Handler``: ``handler(shell, argv, stdin) -> Result``. It reads and writes files
through the ``Shell`` it is given (every path stays inside the host's root folder) and calls
``shell.mutate()`` when it changed something. This module knows the ``Shell`` only by name, so
the builtins and the hosts' commands can import it without importing the interpreter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runbook_tui.lab.shell.interpreter import Shell


@dataclass
class Result:
    stdout: str = ""
    stderr: str = ""
    code: int = 0


Handler = Callable[["Shell", list[str], str], Result]


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
