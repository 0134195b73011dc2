"""The mailserver's container, as ``kubectl exec`` and ``kubectl logs`` reach it.

Exec runs in the lab's shell over the container's file tree, with ``ss -ltn`` listing the ports
the lab state says the container listens on; nothing runs on the operator's machine. The log is
docker-mailserver's (``mail_log``). ``exec_is_mutating`` tells the command log which execs only
read.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from runbook_tui.lab.kube.mail_log import mail_log
from runbook_tui.lab.shell import Result, Shell, ShellSyntaxError, parse
from runbook_tui.lab.state import LabState

READ_ONLY_EXEC = {
    "ss", "cat", "grep", "egrep", "ls", "head", "tail", "wc", "echo", "hostname", "awk", "sort",
    "cut", "uniq", "test", "[", "true", "false", "date", "pwd", "whoami", "postconf", "doveconf",
}
SHELLS = ("sh", "bash", "/bin/sh", "/bin/bash")


def exec_is_mutating(command: list[str]) -> bool:
    """For the command log: an exec that only reads (``ss -ltn``, ``sh -c 'ss | grep'``)."""
    if command[:1] and command[0] in SHELLS and command[1:2] == ["-c"]:
        try:
            chain = parse(" ".join(command[2:]))
        except ShellSyntaxError:
            return True
        cmds = [c for _, pipeline in chain for c in pipeline]
        return any(c.redirects and any(op in (">", ">>", "2>", "2>>") and t != "/dev/null"
                                    for op, t in c.redirects)
                   or c.words[0].text not in READ_ONLY_EXEC for c in cmds)
    return not command or command[0] not in READ_ONLY_EXEC


def not_found(command: list[str]) -> tuple[str, str, int]:
    """What the container runtime answers for a program the image does not have."""
    return "", (
        "OCI runtime exec failed: exec failed: unable to start container process: "
        f'exec: "{command[0]}": executable file not found in $PATH: unknown\n'
    ), 127


class MailserverContainer:
    def __init__(self, root: Path, state: LabState):
        self.root = Path(root)  # the container's file tree
        self.state = state

    def log(self, since: int | None) -> str:
        return mail_log(self.state, since)

    def exec(self, command: list[str]) -> tuple[str, str, int]:
        shell = Shell(self.root, {"ss": self._ss, "hostname": lambda sh, a, i: Result("mail\n")},
                      flavor="linux", home="/", user="root")
        if command[0] in SHELLS and command[1:2] == ["-c"] and len(command) > 2:
            res = shell.run(command[2])
        elif command[0] in shell.commands:
            res = shell.run(shlex.join(command))
        else:
            return not_found(command)
        return res.stdout, res.stderr, res.code

    def _ss(self, sh: Shell, args: list[str], stdin: str) -> Result:
        """iproute2's ``ss -ltn``, column for column."""
        lines = ["State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess"]
        for port in sorted(self.state.container_ports, key=str):
            lines.append(f"LISTEN 0      100    {'0.0.0.0':>13}:{port:<5} {'0.0.0.0':>12}:*{' ' * 10}")
        return Result("\n".join(lines) + "\n")
