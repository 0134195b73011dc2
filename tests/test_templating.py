"""Values interpolated into shell commands are inert: proven by running the rendered command.

Each hostile value would create a file called ``pwned`` if the shell interpreted it; the
command records the arguments it received, which must be exactly the value, one argument.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_tui.errors import ProcedureError
from runbook_tui.language.loader import load_procedure_text
from runbook_tui.language.templating import (
    Raw,
    TemplateProblem,
    evaluate,
    render_command,
    render_value,
)

HOSTILE = [
    "; touch pwned",
    "$(touch pwned)",
    "`touch pwned`",
    "a\ntouch pwned",
    "a\r\ntouch pwned",
    "'; touch pwned; echo '",
    '"; touch pwned; echo "',
    "\\'; touch pwned; \\'",
    "&& touch pwned",
    "|| touch pwned",
    "| touch pwned",
    "> pwned",
    ">> pwned",
    "< /dev/null > pwned",
    "& touch pwned &",
    "${IFS}touch${IFS}pwned",
    "$(printf x > pwned)",
    "touch pwned #",
    "*",
    "pw*",
    "?????",
    "[p]wned",
    "~",
    "--flag",
    "-n",
    "-- -rf /",
    "$HOME",
    "\\",
    "",
    " ",
    "a b  c",
    "{{ 7 * 7 }}",
    "{% raw %}",
    "Grüße ☃ 𝔘 — ünïcödé",
    "\t tab",
    "'",
    '"',
    "\x1b[31mred",
]

# Records its arguments as JSON: what the shell actually passed.
ARGV = "import json, sys; open('args.json', 'w').write(json.dumps(sys.argv[1:]))"


def run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=10)


def received(cwd: Path) -> list[str]:
    return json.loads((cwd / "args.json").read_text())


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    # A file for globs to match, so an unquoted '*' would visibly expand.
    (tmp_path / "pwxyz").write_text("")
    return tmp_path


def argv_command(expression: str) -> str:
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(ARGV)} {expression}"


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_a_hostile_value_arrives_as_one_intact_argument(value: str, workdir: Path) -> None:
    command = render_command(argv_command("{{ inputs.value }}"), {"inputs": {"value": value}})
    result = run(command, workdir)
    assert result.returncode == 0, result.stderr
    assert not (workdir / "pwned").exists()
    # The shell may drop what a C string cannot hold; none of our values contain NUL.
    assert received(workdir) == [value.replace("\r\n", "\r\n")]


def test_a_list_value_becomes_one_argument_per_item(workdir: Path) -> None:
    values = ["; touch pwned", "a b", "*", "$(touch pwned)", ""]
    command = render_command(argv_command("{{ inputs.hosts }}"), {"inputs": {"hosts": values}})
    assert run(command, workdir).returncode == 0
    assert not (workdir / "pwned").exists()
    assert received(workdir) == values


def test_values_mixed_into_words_stay_values(workdir: Path) -> None:
    command = render_command(
        argv_command("bk_smtp/{{ node }}:{{ port }}"), {"node": "$(touch pwned)", "port": 25}
    )
    assert run(command, workdir).returncode == 0
    assert not (workdir / "pwned").exists()
    assert received(workdir) == ["bk_smtp/$(touch pwned):25"]


def test_scalars_render_as_the_shell_would_expect(workdir: Path) -> None:
    context = {"t": True, "f": False, "n": None, "i": 30125, "x": 1.5}
    command = render_command(argv_command("{{ t }} {{ f }} {{ n }} {{ i }} {{ x }}"), context)
    assert run(command, workdir).returncode == 0
    assert received(workdir) == ["true", "false", "", "30125", "1.5"]


def test_raw_really_is_raw(workdir: Path) -> None:
    command = render_command(
        argv_command("{{ inputs.value | raw }}"), {"inputs": {"value": "a b; touch pwned"}}
    )
    assert command.endswith(" a b; touch pwned")
    run(command, workdir)
    assert (workdir / "pwned").exists(), "| raw must hand the text to the shell unquoted"
    assert received(workdir) == ["a", "b"]


def test_raw_values_from_python_are_not_quoted_either() -> None:
    assert render_command("echo {{ v }}", {"v": Raw("$HOME")}) == "echo $HOME"
    assert render_command("echo {{ v | quote }}", {"v": "a b"}) == "echo 'a b'"


def test_quotes_around_an_interpolation_would_undo_the_quoting(workdir: Path) -> None:
    """Why the loader refuses ``'{{ x }}'`` in run/local: rendered, the value escapes."""
    command = render_command("echo '{{ v }}' > out.txt", {"v": "a; touch pwned; b"})
    run(command, workdir)
    assert (workdir / "pwned").exists()
    text = """
id: quoted
title: Quoted
steps:
  - id: one
    local: echo '{{ run.id }}'
"""
    with pytest.raises(ProcedureError, match="inside quotes"):
        load_procedure_text(text)


def test_undefined_names_are_errors_not_empty_strings() -> None:
    with pytest.raises(TemplateProblem, match="nope"):
        render_command("rm -rf /srv/{{ nope }}", {})
    with pytest.raises(TemplateProblem, match="missing"):
        render_command("echo {{ inputs.missing }}", {"inputs": {}})


def test_the_sandbox_refuses_python_internals() -> None:
    with pytest.raises(TemplateProblem):
        render_command("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})
    with pytest.raises(TemplateProblem):
        evaluate("run.__class__.__init__.__globals__", {"run": {"id": "x"}})


def test_values_are_not_templates_themselves() -> None:
    # A value that looks like a template is data: it is never rendered again.
    assert render_value("{{ v }}", {"v": "{{ 7 * 7 }}"}) == "{{ 7 * 7 }}"
    assert render_command("echo {{ v }}", {"v": "{{ 7 * 7 }}"}) == "echo '{{ 7 * 7 }}'"
