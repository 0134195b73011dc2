"""The lab's tiny shell: parsing, pipes, connectors, redirections and the text builtins."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from runbook_tui.lab.pfsense.php import PHPParseError, Script
from runbook_tui.lab.shell import Result, Shell
from runbook_tui.lab.shell.builtins import b_sha256, b_sha256sum


@pytest.fixture
def sh(tmp_path: Path) -> Shell:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/servers").write_text(
        "1\n# header\n6 bk_smtp 1 node1 10.0.20.101 2 0\n6 bk_smtp 2 node2 10.0.20.102 0 1\n"
    )
    return Shell(tmp_path, {"sha256": b_sha256, "sha256sum": b_sha256sum}, home="/root")


def run(sh: Shell, line: str) -> Result:
    return sh.run(line)


def test_quotes_pipes_and_awk(sh: Shell) -> None:
    r = run(sh, "cat /etc/servers | awk 'NR>2 {print $4, $6}'")
    assert r.stdout == "node1 2\nnode2 0\n"
    assert run(sh, "echo \"a  b\" 'c|d'").stdout == "a  b c|d\n"
    assert run(sh, "awk '$6 == 0 {print $NF}' /etc/servers").stdout == "1\n"


def test_grep_flags(sh: Shell) -> None:
    assert run(sh, "grep -c bk_smtp /etc/servers").stdout == "2\n"
    assert run(sh, "grep -E 'node(1|9)' /etc/servers").stdout.startswith("6 bk_smtp 1 node1")
    assert run(sh, "grep -v bk_ /etc/servers").stdout == "1\n# header\n"
    r = run(sh, "grep -q nothing /etc/servers")
    assert (r.code, r.stdout) == (1, "")
    assert run(sh, "grep x /nope").code == 2
    # Basic regexes treat | literally, like grep without -E.
    assert run(sh, "grep 'node1|node2' /etc/servers").code == 1


def test_connectors_and_status(sh: Shell) -> None:
    assert run(sh, "false && echo no || echo yes").stdout == "yes\n"
    assert run(sh, "true; echo $?; false; echo \"rc=$?\"").stdout == "0\nrc=1\n"
    assert run(sh, "echo '$?'").stdout == "$?\n"
    r = run(sh, "nosuch --flag")
    first, lab_line = r.stderr.splitlines()
    assert (r.code, first) == (127, "sh: nosuch: not found")
    # Then the lab says what it fakes instead.
    assert lab_line.startswith("runbook-tui lab: nosuch: not found; this lab's shell fakes: ")
    faked = lab_line.split("fakes: ", 1)[1].split(", ")
    assert {"grep", "awk", "echo", "exit", "exec"} <= set(faked) and "nosuch" not in faked


def test_files_and_mutation(sh: Shell, tmp_path: Path) -> None:
    r = run(sh, "echo hello > /tmp/a.txt && cat /tmp/a.txt")
    assert r.stdout == "hello\n" and sh.mutated
    assert (tmp_path / "tmp/a.txt").read_text() == "hello\n"
    run(sh, "cp /tmp/a.txt /tmp/b.txt; mv /tmp/b.txt /tmp/c.txt")
    assert run(sh, "ls -1 /tmp").stdout == "a.txt\nc.txt\n"
    assert run(sh, "test -f /tmp/c.txt && [ -d /tmp ] && echo ok").stdout == "ok\n"
    assert run(sh, "rm /tmp/missing").code == 1
    assert run(sh, "rm -f /tmp/missing /tmp/c.txt").code == 0
    assert not (tmp_path / "tmp/c.txt").exists()
    run(sh, "cat /etc/servers")
    assert not sh.mutated  # reads do not count as changes
    assert run(sh, "ls /tmp/*.txt").stdout == "/tmp/a.txt\n"


def test_paths_never_escape_the_root(sh: Shell, tmp_path: Path) -> None:
    outside = tmp_path.parent / "secret.txt"
    outside.write_text("secret")
    r = run(sh, f"cat ../../../../..{outside}")
    assert "secret" not in r.stdout and r.code == 1


def test_head_tail_wc_sort_cut_and_digests(sh: Shell, tmp_path: Path) -> None:
    assert run(sh, "head -n 1 /etc/servers").stdout == "1\n"
    assert run(sh, "tail -1 /etc/servers").stdout.startswith("6 bk_smtp 2")
    assert run(sh, "wc -l /etc/servers").stdout.split() == ["4", "/etc/servers"]
    assert run(sh, "printf '%s\\n' b a | sort").stdout == "a\nb\n"
    assert run(sh, "echo a,b,c | cut -d , -f 2").stdout == "b\n"
    digest = hashlib.sha256((tmp_path / "etc/servers").read_bytes()).hexdigest()
    assert run(sh, "sha256 -q /etc/servers").stdout == digest + "\n"
    assert run(sh, "sha256sum /etc/servers").stdout == f"{digest}  /etc/servers\n"


def test_syntax_errors_are_sh_errors(sh: Shell) -> None:
    r = run(sh, "echo 'unterminated")
    assert r.code == 2 and r.stderr.startswith("sh: ")
    assert run(sh, "| grep x").code == 2


def test_php_literals_and_parse_errors() -> None:
    s = Script("<?php\n$NODES = array('a' => '1', \"b\" => '2',);\nbuild_pool('p', 30125, $NODES);\n")
    assert s.var("NODES") == {"a": "1", "b": "2"}
    assert s.calls("build_pool") == [["p", 30125, None]]
    with pytest.raises(PHPParseError) as err:
        Script("<?php\n$NODES = [\n  'a' => '1'\n  'b' => '2',\n];\n")
    assert err.value.message("/tmp/x.php") == (
        'PHP Parse error:  syntax error, unexpected single-quoted string "b", expecting "]" '
        "in /tmp/x.php on line 4"
    )
    with pytest.raises(PHPParseError, match="unexpected end of file"):
        Script("<?php\nif (true) {\n  echo 'x';\n")
    assert Script("<?php\n$x = (int)$y;\nif ($a) $b = 1;\n").var("x") is None
