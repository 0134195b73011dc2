"""The lab hosts' tiny shell: what an SSH exec request (or a ``kubectl exec sh -c``) runs.

A package of its own because three hosts share it: pfSense and the backup host behind the SSH
harness, and the mailserver container behind ``pods/exec``. It knows no host: each one hands
``Shell`` its own commands and a root folder every path stays inside.

- ``syntax``: the command line's grammar (quoting, ``|``, ``&&``, ``||``, ``;``, redirections).
- ``interpreter``: ``Shell`` runs a parsed line over a root folder.
- ``handlers``: what a command is (``Handler``, ``Result``) and the helpers commands share.
- ``builtins``: files, echo/printf, test, digests; ``text``: grep, awk, head, tail, wc, sort, cut.
"""

from runbook_tui.lab.shell.handlers import Handler, Result, read_inputs, split_flags
from runbook_tui.lab.shell.interpreter import Shell
from runbook_tui.lab.shell.syntax import ShellSyntaxError, parse

__all__ = ["Handler", "Result", "Shell", "ShellSyntaxError", "parse", "read_inputs", "split_flags"]
