"""libyaml's C parser and PyYAML's pure one read every file the same: the same data, the same
position for every value and key, and the same problems in the same words."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_tui.language import yaml_compose
from runbook_tui.language.yaml_source import SourceError

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted({*ROOT.glob("tests/**/*.yaml"), *ROOT.glob("tests/**/*.yml"), *ROOT.glob("runbook_tui/procedures/*.yaml")})

BROKEN = [
    "id: x\nsteps: [a, b\n",  # an unclosed flow list
    "id: x\ntitle: a: b\n",  # ': ' inside a plain value
    "id: x\n\tsteps: []\n",  # a tab as indentation
    "id: x\ntitle: say\thello\n",  # a tab inside a plain value: the pure parser refuses it
    "id: &a x\ntitle: *a\n",  # an alias
    "id: x\n---\nid: y\n",  # two documents
    "id: x\nsteps:\n  - 'unterminated\n",
    "a: " + "[" * 70 + "]" * 70 + "\n",  # nesting past the limit
    "id: x\nid: y\n",  # a duplicate key
    "id: !!binary aGk=\n",  # a tag we refuse
    "- a\n- b\n",  # not a mapping
]


def read(text: str, *, libyaml: bool, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setattr(yaml_compose, "LIBYAML", libyaml)
    try:
        doc = yaml_compose.read_yaml(text, "f.yaml", expected="a mapping")
    except SourceError as exc:
        return [str(p) for p in exc.problems]
    return doc.data, doc.source.values, doc.source.keys, doc.source.block, doc.issues, doc.unreadable


def test_libyaml_is_there() -> None:
    assert yaml_compose.LIBYAML, "PyYAML was built without libyaml (Debian: python3-yaml, or pip's wheel)"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_reads_the_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = path.read_bytes().decode("utf-8", "replace")
    assert read(text, libyaml=True, monkeypatch=monkeypatch) == read(text, libyaml=False, monkeypatch=monkeypatch)


@pytest.mark.parametrize("text", BROKEN)
def test_every_problem_reads_the_same(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = read(text, libyaml=True, monkeypatch=monkeypatch)
    assert fast == read(text, libyaml=False, monkeypatch=monkeypatch)
    assert isinstance(fast, list) or fast[4], fast  # each of these is refused or has an issue
