"""The lab shell against the real ``/bin/sh``: the same command lines, the same files, the same
answers.

Each line of the corpus runs twice: through the lab shell the way the backup host builds it (a
temporary root, the host's home as the working folder) and through ``/bin/sh -c`` in a temporary
folder holding the same files. stdout and the exit code must match; stderr too, except where the
corpus says only that it must name something (a command that is not found). Programs that exist
only on pfSense (sockstat, pfctl, socat to the HAProxy socket) have no counterpart here and are
left out. What the lab does not implement is listed in ``KNOWN_LIMITS``: there the lab must refuse
the line (exit 2, ``sh: syntax not supported by the lab: ...``), never run something else.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from runbook_tui.lab.shell import Result, Shell
from runbook_tui.lab.shell.builtins import b_sha256sum

HOME = "/home/backup"
FILES = {
    "lines.txt": "alpha\nbeta\ngamma\nbeta two\n",
    "cols.txt": "a 1 x\nb 2 y\nc 3 z\n",
    "kv.txt": "k1:v1\nk2:v2\n",
    "servers": "1\n# header\n3 bk_smtp 1 mail1 127.0.0.1 2 0\n3 bk_smtp 2 mail2 127.0.0.1 0 1\n",
}

#: stdout, stderr and exit code must all match.
EXACT = [
    # echo and quoting
    "echo hello",
    "echo -n hi",
    "echo \"a  b\" 'c|d'",
    "echo a\\ b c\\\\d",
    "echo 'single $HOME \"x\"'",
    'echo "dq \\"x\\" \\\\ \\$ end"',
    "echo 'it''s' \"mixed\"'quotes'",
    "echo a   b\tc",
    "echo '#not a comment' # a comment",
    "echo x#y",
    "echo",
    # variables
    "X=1; echo $X",
    "X='a  b'; echo \"$X\" $X",
    "X=hi; echo \"${X}there\" ${X}",
    "echo \"[$UNSET_VAR_X]\" end",
    "X=1 Y=2; echo $X$Y",
    "X=a; X=$X$X; echo $X",
    "X='*.txt'; echo \"$X\"",
    "echo '$X' \"\\$X\"",
    # status
    "false; echo $?",
    "true; echo \"rc=$?\"",
    "nosuch_cmd_zz 2>/dev/null; echo $?",
    # redirections
    "echo err >&2",
    "echo err 1>&2",
    "echo err >&2; echo out",
    "cat nofile 2>&1",
    "cat nofile 2>/dev/null; echo $?",
    "echo one > out.txt; echo two >> out.txt; cat out.txt",
    "cat nofile > out.txt 2>&1; cat out.txt",
    "cat nofile 2>&1 > out.txt; echo [; cat out.txt",
    "echo x >/dev/null; echo y",
    "echo hidden >out.txt; cat <out.txt",
    "tr a-z A-Z < lines.txt",
    "cat < nofile",
    "cat < nofile; echo after $?",
    "echo to-file 2>err.txt >out.txt; cat out.txt err.txt",
    "grep beta <lines.txt >out.txt; cat out.txt",
    # pipes and connectors
    "cat lines.txt | grep -E 'b|c' | head -n 1",
    "printf '%s\\n' b a c | sort | head -n 2",
    "true && echo yes || echo no",
    "false && echo yes || echo no",
    "false || false || echo third",
    "true && false; echo $?",
    "echo a; echo b ; echo c;",
    "cat nofile | cat; echo $?",
    "false | true; echo $?",
    "true | false; echo $?",
    "echo a\necho b",
    "echo a &&\necho b",
    "echo a |\ncat",
    # for and if
    "for x in a b c; do echo $x; done",
    "for x in a b; do echo \"[$x]\"; echo next; done",
    "for f in *.txt; do echo $f; done",
    "for x in 'a b' c; do echo \"$x\"; done; echo after $x",
    "for x in; do echo never; done; echo ok",
    "for x in a b\ndo\n  echo $x\ndone",
    "if true; then echo y; fi",
    "if false; then echo y; else echo n; fi",
    "if false; then echo y; fi; echo rc=$?",
    "if [ -f lines.txt ]; then echo file; fi",
    "if test -d nofile; then echo d; elif true; then echo e; fi",
    "if grep -q gamma lines.txt; then echo has; else echo hasnt; fi",
    "if true; then if false; then echo a; else echo b; fi; fi",
    "for x in 1 2; do if [ $x = 2 ]; then echo two; fi; done",
    "if true\nthen\n  echo multi\nfi",
    "echo if then fi",
    "echo for; echo done",
    # test and [
    "test 1 -eq 1 && echo eq",
    "[ a = b ]; echo $?",
    "[ -n \"\" ]; echo $?",
    "[ -z \"\" ] && echo empty",
    "[ -s lines.txt ] && echo nonempty",
    "[ ! -e nofile ] && echo absent",
    "test 3 -gt 2; echo $?",
    "[ abc != abd ]; echo $?",
    "test; echo $?",
    # exec and exit
    "exec echo via-exec",
    "exec echo a; echo not-reached",
    "exit 3",
    "exit",
    "echo a; exit 4; echo b",
    "false; exit",
    "false || exit 5; echo no",
    "for x in a b; do echo $x; exit 6; done",
    "if true; then exit 7; fi; echo no",
    # printf
    "printf '%s\\n' a b c",
    "printf '%s=%s\\n' k v k2",
    "printf 'x%sy\\n'",
    "printf '%d\\n' 42",
    "printf 'a\\tb\\n'",
    "printf '%s %s\\n' one",
    "printf '100%%\\n'",
    "printf hello",
    # command substitution
    "echo $(echo inner)",
    "echo \"got: $(head -n 1 lines.txt)\"",
    "X=$(echo a b); echo \"$X\"",
    "echo $(printf 'a\\n\\n\\n')end",
    "echo \"$(printf 'x\\ny')\"",
    "echo $(echo 'a  b')",
    "X=$(false); echo $?",
    "echo $(echo $(echo nested))",
    "echo \"$(echo \"in quotes\")\"",
    "echo $(cat nofile 2>&1)",
    # text tools
    "grep -E '^(a|g)' lines.txt",
    "grep -c beta lines.txt",
    "grep zzz lines.txt; echo $?",
    "grep -v beta lines.txt",
    "grep beta nofile; echo $?",
    "awk '{print $1}' cols.txt",
    "awk '{print $2, $1}' cols.txt",
    "awk -F: '{print $2}' kv.txt",
    "awk 'NR>2 {print $4, $6}' servers",
    "cat cols.txt | awk '$2 == 2 {print $3}'",
    "tr -d ' ' < cols.txt",
    "echo hello | tr a-z A-Z",
    "echo 'a b c' | tr ' ' '\\n'",
    "echo 'a:b' | tr ':' ' '",
    "head -n 2 lines.txt",
    "head -1 lines.txt",
    "tail -n 1 lines.txt",
    "tail -2 lines.txt",
    "cat lines.txt | wc -l",
    "cat lines.txt kv.txt",
    "cat nofile; echo $?",
    "ls *.txt",
    "cut -d : -f 2 kv.txt",
    "sort -r lines.txt",
    "echo b a | tr ' ' '\\n' | sort",
    # cd: a special builtin of the shell itself.
    "mkdir -p d/e && cd d && cd e && echo deep > f.txt && cat f.txt && cat ../../lines.txt | head -1",
    "cd nowhere_zz; echo rc=$?",
    "cd lines.txt || echo not a folder",
]

#: stdout compared with every number replaced by N: ``$$`` is a process id.
PIDS = [
    "echo $$",
    "echo \"pid $$\"",
    "X=$$; test \"$X\" -gt 0 && echo positive $X",
    "printf '%s\\n' \"$$\" >&2",
]

#: Commands neither has: exit 127, and the message names the command.
MISSING = [
    ("nosuch_cmd_zz", "nosuch_cmd_zz"),
    ("nosuch_cmd_zz --flag arg", "nosuch_cmd_zz"),
    ("echo a && nosuch_cmd_zz", "nosuch_cmd_zz"),
    ("/usr/bin/nosuch_cmd_zz", "/usr/bin/nosuch_cmd_zz"),
    ("echo a | nosuch_cmd_zz", "nosuch_cmd_zz"),
]

#: Constructs the lab does not implement: it must refuse them, not do something else.
KNOWN_LIMITS = [
    "echo a &",
    "sleep 1 & wait",
    "f() { echo hi; }; f",
    "while true; do echo x; exit 0; done",
    "until true; do echo x; done",
    "case a in a) echo a;; esac",
    "(echo sub)",
    "{ echo group; }",
    "cat <<EOF\nx\nEOF",
    "echo ${X:-default}",
    "echo $((1 + 2))",
    "echo `echo back`",
    "exec >&2",
    "exec 2>&1",
    "echo a 3>x.txt",
    "echo $1",
    "echo \"$@\"",
    "X=1 echo $X",
]


def _lab(tmp_path: Path) -> Shell:
    root = tmp_path / "lab"
    home = root / HOME.lstrip("/")
    home.mkdir(parents=True)
    for name, text in FILES.items():
        (home / name).write_text(text)
    return Shell(root, {"sha256sum": b_sha256sum}, flavor="linux", home=HOME, user="backup")


def _real(tmp_path: Path, line: str) -> Result:
    folder = tmp_path / "real"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    done = subprocess.run(
        ["sh", "-c", line],
        executable="/bin/sh",
        cwd=folder,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": HOME},
        timeout=10,
        check=False,
    )
    return Result(done.stdout, done.stderr, done.returncode)


needs_sh = pytest.mark.skipif(
    shutil.which("sh") is None or not Path("/bin/sh").exists(), reason="no /bin/sh"
)


@needs_sh
@pytest.mark.parametrize("line", EXACT)
def test_same_as_sh(tmp_path: Path, line: str) -> None:
    real = _real(tmp_path, line)
    lab = _lab(tmp_path).run(line)
    assert (lab.stdout, lab.stderr, lab.code) == (real.stdout, real.stderr, real.code)


def _numbers(text: str) -> str:
    return re.sub(r"\d+", "N", text)


@needs_sh
@pytest.mark.parametrize("line", PIDS)
def test_pid_is_a_number(tmp_path: Path, line: str) -> None:
    real = _real(tmp_path, line)
    lab = _lab(tmp_path).run(line)
    assert (_numbers(lab.stdout), _numbers(lab.stderr), lab.code) == (
        _numbers(real.stdout), _numbers(real.stderr), real.code,
    )
    assert re.search(r"\d", real.stdout + real.stderr)


@needs_sh
@pytest.mark.parametrize(("line", "name"), MISSING)
def test_missing_command(tmp_path: Path, line: str, name: str) -> None:
    real = _real(tmp_path, line)
    lab = _lab(tmp_path).run(line)
    assert real.code == lab.code == 127
    assert f"sh: 1: {name}: not found" in real.stderr
    assert f"sh: 1: {name}: not found" in lab.stderr
    assert lab.stdout == real.stdout


@pytest.mark.parametrize("line", KNOWN_LIMITS)
def test_known_limits_are_refused(tmp_path: Path, line: str) -> None:
    shell = _lab(tmp_path)
    lab = shell.run(line)
    assert (lab.stdout, lab.code) == ("", 2)
    assert lab.stderr.startswith("sh: 1: syntax not supported by the lab: ")
    assert not shell.mutated
    assert sorted(p.name for p in (tmp_path / "lab" / HOME.lstrip("/")).iterdir()) == sorted(FILES)
