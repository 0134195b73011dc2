"""Structured ``--set`` values are read like procedure files: a bad one is refused with one
sentence naming the input and the column, quickly, whatever it tries (aliases, tags, bombs)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support import ROOT, runbook

from runbook_tui.language.inputs import InputError, coerce
from runbook_tui.language.model import InputSpec

LIST = InputSpec(type="list")

# Nine levels of nine aliases: 9**9 (387 million) items once expanded.
LAUGHS = "[&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol], " + ", ".join(
    f"&l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)
) + "]"

BAD = {
    "unclosed": ("[unclosed", 10, "expected ',' or ']'"),
    "undefined alias": ("[*x]", 2, "aliases are not allowed ('*x')"),
    "python tag": ("[!!python/object/apply:os.system [touch pwned]]", 2, "tag '!!python/object/apply:os.system'"),
    "python tag on a mapping": ("{a: !!python/name:os.system ''}", 5, "tag '!!python/name:os.system'"),
    "billion laughs": (LAUGHS, LAUGHS.index("*") + 1, "aliases are not allowed ('*l0')"),
    "duplicate key": ("{w1: 10.0.0.1, w1: 10.0.0.2}", 16, "duplicate key 'w1'"),
    "deep nesting": ("[" * 200, 65, "nesting is deeper than 64 levels"),
}


@pytest.mark.parametrize("text, col, words", BAD.values(), ids=BAD.keys())
def test_a_bad_structured_value_is_one_sentence_with_its_column(text: str, col: int, words: str) -> None:
    started = time.monotonic()
    with pytest.raises(InputError) as err:
        coerce("nodes", LIST, text)
    assert time.monotonic() - started < 1
    message = str(err.value)
    assert message.startswith(f"input nodes, column {col}: ") and words in message
    assert "\n" not in message and message.endswith(".")


def test_good_structured_values_still_read() -> None:
    assert coerce("nodes", LIST, "{w1: 10.0.0.1, w2: 10.0.0.2}") == {"w1": "10.0.0.1", "w2": "10.0.0.2"}
    assert coerce("ports", LIST, "{smtp: 30025, imaps: 30993}") == {"smtp": 30025, "imaps": 30993}
    assert coerce("nodes", LIST, " [a, 'b c', 3]") == ["a", "b c", 3]
    assert coerce("nodes", LIST, "a, b") == ["a", "b"]
    # Text stays text, as in procedure files: no datetime from a date-like item.
    assert coerce("days", LIST, "[2024-01-01]") == ["2024-01-01"]
    assert coerce("nodes", LIST, "[]") == [] and coerce("nodes", LIST, "{}") == {}


def test_a_problem_on_a_later_line_names_the_line_too() -> None:
    with pytest.raises(InputError, match=r"^input nodes, line 2, column 3: .*aliases are not allowed"):
        coerce("nodes", LIST, "[a,\n  *b]")


@pytest.mark.parametrize("text, col, words", BAD.values(), ids=BAD.keys())
def test_the_cli_refuses_a_bad_set_value_with_exit_2(tmp_path: Path, env, text: str, col: int, words: str) -> None:
    started = time.monotonic()
    done = runbook("--inventory", str(ROOT / "inventory.example.yaml"), "run", "node-change", "--offline",
                   "--set", f"nodes={text}", "--set", "nodeports={smtp: 30025}", cwd=tmp_path, env=env)
    assert time.monotonic() - started < 20
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"input nodes, column {col}: ") and words in line
    assert not (tmp_path / "pwned").exists()
