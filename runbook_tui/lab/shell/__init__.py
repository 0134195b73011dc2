"""The lab hosts' tiny shell: what an SSH exec request (or a ``kubectl exec sh -c``) runs.

A package of its own because three hosts share it: pfSense and the backup host behind the SSH
harness, and the mailserver container behind ``pods/exec``. It knows no host: each one hands
``Shell`` its own commands and a root folder every path stays inside.

- ``syntax``: the command line's tokens (quoting, expansions, operators, redirections);
  ``grammar``: its parser (lists, and-or chains, pipelines, ``if``, ``for``).
- ``interpreter``: ``Shell`` runs a parsed line over a root folder.
- ``handlers``: what a command is (``Handler``, ``Result``) and the helpers commands share.
- ``builtins``: files, echo/printf, test, digests; ``text``: grep, awk, head, tail, wc, sort, cut, tr.
"""

from runbook_tui.lab.shell.grammar import parse, parse_script
from runbook_tui.lab.shell.handlers import Handler, Result, read_inputs, split_flags
from runbook_tui.lab.shell.interpreter import Shell
from runbook_tui.lab.shell.syntax import ShellSyntaxError, ShellUnsupported

__all__ = [
    "Handler", "Result", "Shell", "ShellSyntaxError", "ShellUnsupported", "parse", "parse_script",
    "read_inputs", "split_flags",
]
