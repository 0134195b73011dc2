"""Compiled templates kept on disk: a later process (here: the in-memory caches cleared) renders
from the kept code exactly as from a fresh compile, sandbox and limits included."""

from __future__ import annotations

import marshal
import os
from pathlib import Path

import pytest

from runbook_tui.language import template_code, templating
from runbook_tui.language.templating import TemplateProblem, evaluate, render_command, render_value


def _forget_in_memory() -> None:
    """What a new process starts with: nothing compiled in memory, only the folder."""
    templating._compile.cache_clear()
    templating._compile_expression.cache_clear()
    templating._single_expression.cache_clear()


def _entries() -> list[Path]:
    where = template_code.folder()
    return sorted(where.glob("*.code")) if where.exists() else []


def test_a_second_run_renders_from_the_kept_code_alike() -> None:
    ctx = {"host": "a b;rm -rf /", "ports": [25, 587], "n": 3}
    first = (render_command("ping {{ host }} -c {{ n }}", ctx), evaluate("ports | length == 2", ctx),
             render_value("{{ ports }}", ctx), render_value("x{{ n }}", ctx))
    kept = [(e, e.stat().st_ino, e.stat().st_mtime_ns) for e in _entries()]
    assert len(kept) >= 4  # a command, an expression, a text, and which text is one expression
    _forget_in_memory()
    again = (render_command("ping {{ host }} -c {{ n }}", ctx), evaluate("ports | length == 2", ctx),
             render_value("{{ ports }}", ctx), render_value("x{{ n }}", ctx))
    assert again == first == ("ping 'a b;rm -rf /' -c 3", True, [25, 587], "x3")
    assert [(e, e.stat().st_ino, e.stat().st_mtime_ns) for e in _entries()] == kept  # read, not rewritten


def test_kept_code_still_runs_in_the_sandbox_with_its_limits() -> None:
    for _ in range(2):  # compiled, then from the folder
        _forget_in_memory()
        with pytest.raises(TemplateProblem, match="unsafe|not safely|access"):
            evaluate("''.__class__.__mro__", {})
        with pytest.raises(TemplateProblem, match="undefined"):
            evaluate("missing == 1", {})
        with pytest.raises(TemplateProblem, match="over the limit"):
            evaluate("'A' * n", {"n": 2**33})
    assert _entries()


def test_a_template_that_fails_to_compile_is_not_kept() -> None:
    for _ in range(2):
        _forget_in_memory()
        with pytest.raises(TemplateProblem, match="cannot evaluate 'ports |'"):
            evaluate("ports |", {"ports": []})
    # Only the answer to "is this text one {{ expression }}?" (no) is kept, no code.
    assert [marshal.loads(e.read_bytes()) for e in _entries()] == [None]


def test_an_unreadable_entry_is_compiled_again_and_rewritten() -> None:
    assert evaluate("n + 1 == 4", {"n": 3}) is True
    entries = _entries()
    assert len(entries) == 2  # the expression's code, and that it is not a {{ }} template
    for entry in entries:
        entry.write_bytes(b"not marshal data")
    _forget_in_memory()
    assert evaluate("n + 1 == 4", {"n": 3}) is True
    assert all(entry.read_bytes() != b"not marshal data" for entry in entries)


def test_an_unwritable_folder_costs_only_the_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    _forget_in_memory()
    assert evaluate("n * 2", {"n": 21}, truth=False) == 42
    assert not os.path.isdir(blocked)
