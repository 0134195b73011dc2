"""The loader: every malformed file in tests/corpus gives exactly the problems its header
promises (``# expect: LINE:COL: message``), valid files give models that know where they came from."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runbook_tui.errors import ProcedureError
from runbook_tui.language.catalog import Catalog
from runbook_tui.language.inventory_loader import (
    check_inventory_files,
    find_inventory,
    load_inventory,
    load_inventory_text,
)
from runbook_tui.language.loader import (
    MAX_BYTES,
    ProcedureNotFound,
    default_procedures_dir,
    load_procedure,
    load_procedure_text,
)
from runbook_tui.language.model import ACTIONS, K8S_VERBS, SourceLoc

TESTS = Path(__file__).parent
CORPUS = TESTS / "corpus"
SAMPLES = TESTS / "data" / "procedures"
SITE = SAMPLES / "inventory" / "site.yaml"
CORPUS_FILES = sorted(CORPUS.rglob("*.yaml"))


def expected_lines(path: Path) -> list[str]:
    # latin-1 reads any byte, so the header of the non-UTF-8 file is readable too.
    text = path.read_bytes().decode("latin-1")
    return [line[len("# expect: ") :] for line in text.splitlines() if line.startswith("# expect: ")]


def problems_of(error: ProcedureError) -> list[str]:
    return [f"{p.line}:{p.col}: {p.message}" for p in error.problems]


@pytest.fixture(scope="module")
def site():
    return load_inventory(SITE)


def test_the_corpus_is_big_enough_and_covers_inventories() -> None:
    assert len(CORPUS_FILES) >= 30
    assert len([p for p in CORPUS_FILES if p.parent.name == "inventories"]) >= 8
    assert all(expected_lines(p) for p in CORPUS_FILES), "every corpus file says what it expects"


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_file_gives_exactly_the_expected_problems(
    path: Path, site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Relative paths, as an operator types them (and as messages naming the catalog show them).
    monkeypatch.chdir(TESTS.parent)
    path = path.relative_to(TESTS.parent)
    with pytest.raises(ProcedureError) as caught:
        if path.parent.name == "inventories":
            # What `validate` reports: the loader's problems and the files that are not there.
            try:
                load_inventory(path)
                problems = []
            except ProcedureError as exc:
                problems = exc.problems
            raise ProcedureError(problems + check_inventory_files(path))
        # A folder of its own (call-loop/) is its own catalog; the rest call the samples.
        own_folder = path.parent != CORPUS.relative_to(TESTS.parent)
        folder = path.parent if own_folder else SAMPLES.relative_to(TESTS.parent)
        load_procedure(path, inventory=site, catalog=Catalog(folder, inventory=site))
    assert problems_of(caught.value) == expected_lines(path)
    assert {p.file for p in caught.value.problems} == {str(path)}
    # The sentence the operator sees: one "file:line:col: message" line per problem.
    assert str(caught.value).splitlines() == [f"{path}:{line}" for line in expected_lines(path)]


def test_several_problems_are_reported_at_once(site) -> None:
    with pytest.raises(ProcedureError) as caught:
        load_procedure(CORPUS / "several.yaml", inventory=site, catalog=Catalog(SAMPLES))
    messages = [p.message for p in caught.value.problems]
    assert len(messages) == 8
    assert any("did you mean 'run'" in m for m in messages)
    assert any("did you mean 'restart'" in m for m in messages)
    assert any("'inputs.host'" in m for m in messages)


def test_target_problems_need_an_inventory() -> None:
    # Without an inventory nothing says which targets exist: the same file is valid.
    procedure = load_procedure(CORPUS / "unknown-target.yaml")
    assert [s.target_name for s in procedure.steps] == ["pfsens", "prod"]
    load_procedure(CORPUS / "vars-missing.yaml")


def test_calls_are_checked_only_with_a_catalog() -> None:
    with pytest.raises(ProcedureError) as caught:
        load_procedure(CORPUS / "call-unknown.yaml")
    # Calling itself is wrong whatever else exists; the rest needs the catalog.
    assert [p.message for p in caught.value.problems] == ["step 'three' calls its own procedure 'calls'"]


# ---------------------------------------------------------------- generated malformed input


def test_a_file_over_one_mebibyte_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"id: x\ntitle: [" + b"[" * MAX_BYTES + b"\n")
    started = time.monotonic()
    with pytest.raises(ProcedureError) as caught:
        load_procedure(path)
    assert time.monotonic() - started < 1.0
    assert problems_of(caught.value) == [
        f"1:1: file is {MAX_BYTES + 15} bytes, over the limit of {MAX_BYTES} bytes (1 MiB); refusing to read it"
    ]
    with pytest.raises(ProcedureError, match="over the limit"):
        load_procedure_text("#" * (MAX_BYTES + 1))
    with pytest.raises(ProcedureError, match="over the limit"):
        load_inventory(path)


def test_an_alias_bomb_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    started = time.monotonic()
    with pytest.raises(ProcedureError) as caught:
        load_procedure_text("\n".join(lines) + "\n", "bomb.yaml")
    assert time.monotonic() - started < 2.0
    assert len(caught.value.problems) == 81
    assert (
        caught.value.problems[0].message
        == "YAML aliases are not allowed ('*a0'); write the value out in full"
    )
    assert (caught.value.problems[0].line, caught.value.problems[0].col) == (2, 10)


def test_deep_nesting_is_a_problem_not_a_recursion_error() -> None:
    with pytest.raises(ProcedureError) as caught:
        load_procedure_text("id: x\nbody: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml")
    assert problems_of(caught.value) == ["2:70: nesting is deeper than 64 levels"]


def test_a_zero_byte_file_is_empty(tmp_path: Path) -> None:
    (tmp_path / "zero.yaml").write_bytes(b"")
    with pytest.raises(ProcedureError) as caught:
        load_procedure(tmp_path / "zero.yaml")
    assert problems_of(caught.value) == [
        "1:1: file is empty; expected a procedure: a mapping with 'id', 'title' and 'steps'"
    ]


def test_missing_files_and_folders_are_sentences(tmp_path: Path) -> None:
    with pytest.raises(ProcedureError) as caught:
        load_procedure(tmp_path / "nope.yaml")
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}:1:1: cannot read procedure: no such file"
    with pytest.raises(ProcedureError) as caught:
        load_inventory(tmp_path)
    assert (
        str(caught.value) == f"{tmp_path}:1:1: cannot read inventory: this is a folder, expected a YAML file"
    )


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfid: bom\ntitle: Caf\xc3\xa9\nsteps:\n  - id: one\n    local: 'true'\n")
    procedure = load_procedure(path)
    assert procedure.title == "Café"
    assert procedure.steps[0].loc == SourceLoc(str(path), 4, 5)


def test_keys_with_newlines_still_give_one_line_per_problem() -> None:
    with pytest.raises(ProcedureError) as caught:
        load_procedure_text('id: x\ntitle: y\nsteps: [{id: a, local: "true"}]\n"bad\\nkey": 1\n', "nl.yaml")
    assert problems_of(caught.value) == [
        "4:1: unknown key 'bad\\nkey' in the procedure (expected one of: id, title, summary, tags, inputs, steps)"
    ]
    assert len(str(caught.value).splitlines()) == 1


# ---------------------------------------------------------------- valid files


def test_samples_are_valid_and_cover_every_action_and_verb(site) -> None:
    catalog = Catalog(SAMPLES, inventory=site)
    procedures, problems = catalog.load_all()
    assert problems == []
    assert len(procedures) >= 3
    bodies = [b for p in procedures for s in p.steps for b in (s, s.undo) if b is not None]
    assert {b.action for b in bodies} == set(ACTIONS)
    assert {b.k8s for b in bodies if b.k8s} == set(K8S_VERBS)
    used = {
        key for p in procedures for s in p.steps for key in s.model_dump(exclude_defaults=True, by_alias=True)
    }
    for field in (
        "needs",
        "when",
        "require",
        "message",
        "expect",
        "until",
        "retry",
        "timeout",
        "mutates",
        "confirm",
        "register",
        "parse",
        "foreach",
        "concurrency",
        "undo",
        "why",
        "with",
    ):
        assert field in used, field


def test_models_know_where_they_came_from(site) -> None:
    path = SAMPLES / "reload-haproxy.yaml"
    procedure = load_procedure(path, inventory=site)
    file = str(path)
    assert procedure.path == file
    restart = procedure.step("restart")
    assert restart.loc == SourceLoc(file, 28, 5)
    assert restart.field_loc("run") == SourceLoc(file, 32, 10)
    assert restart.field_loc("confirm").line == 34
    assert restart.field_loc("title") == SourceLoc(file, 29, 12)
    assert restart.field_loc("undo") == restart.loc  # not written: the step's own place
    assert procedure.step("compare").field_loc("assert_") == procedure.step("compare").field_loc("assert")
    assert procedure.inputs["reason"].loc == SourceLoc(file, 8, 5)
    assert procedure.field_loc("steps").line == 11
    drain = load_procedure(SAMPLES / "drain-node.yaml", inventory=site).step("drain")
    assert drain.undo is not None and drain.undo.loc.line == drain.field_loc("undo").line
    assert drain.undo.field_loc("run").line == drain.undo.loc.line + 2


def test_a_model_error_is_at_the_field(site) -> None:
    text = (SAMPLES / "reload-haproxy.yaml").read_text().replace("delay: 3s}", "delay: 3 parsecs}", 1)
    with pytest.raises(ProcedureError) as caught:
        load_procedure_text(text, "edited.yaml", inventory=site)
    assert problems_of(caught.value) == [
        "44:34: 'retry.delay' in step 'listeners' must be a duration like 30s, 2m or 500ms, found '3 parsecs'"
    ]


def test_names_allowed_where_they_exist() -> None:
    text = """
id: scopes
title: Names in their places
inputs: {host: {}}
steps:
  - id: first
    local: echo {{ inputs.host }} {{ run.id }}
    register: first
    expect: "{{ result.exit_code == 0 and first is defined }}"
  - id: each
    local: echo {{ item }} {{ first.stdout }}
    foreach: [a, b]
    until: result.exit_code == 0
    undo: {local: "echo {{ result.stdout }} {{ item }}"}
  - id: loop
    local: "{% for x in [1, 2] %}{{ x }}{% endfor %}{% set y = 3 %}{{ y }} {{ range(3) | list }}"
"""
    procedure = load_procedure_text(text)
    assert procedure.step("each").undo.local == "echo {{ result.stdout }} {{ item }}"


# ---------------------------------------------------------------- inventory


def test_the_site_inventory_loads() -> None:
    inventory = load_inventory(SITE)
    assert inventory.targets["pfsense"].kind == "ssh"
    assert inventory.targets["pfsense"].ssh.host == "10.0.20.1"
    assert inventory.targets["cluster"].kind == "kubernetes"
    assert inventory.vars["nodeports"]["smtp"] == 30125


def test_inventory_text_problems_have_positions() -> None:
    with pytest.raises(ProcedureError) as caught:
        load_inventory_text("targets:\n  a: {ssh: {host: h, prot: 22}}\n", "inv.yaml")
    assert str(caught.value) == "inv.yaml:2:22: unknown key 'ssh.prot' in target 'a' (did you mean 'port'?)"


def test_find_inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert find_inventory("elsewhere.yaml") == Path("elsewhere.yaml")
    assert find_inventory(None) is None
    user = tmp_path / "config" / "runbook-tui" / "inventory.yaml"
    user.parent.mkdir(parents=True)
    user.write_text("targets: {}\n")
    assert find_inventory(None) == user
    (tmp_path / "inventory.yaml").write_text("targets: {}\n")
    assert find_inventory(None) == Path("inventory.yaml")


# ---------------------------------------------------------------- catalog


def test_default_procedures_dir_is_the_shipped_folder() -> None:
    shipped = Path(__file__).resolve().parent.parent / "runbook_tui" / "procedures"
    assert default_procedures_dir() == shipped
    assert (shipped.parent.parent / "procedures").resolve() == shipped  # the repository's link to it


def test_catalog_finds_procedures_by_id_and_by_path(site) -> None:
    catalog = Catalog(SAMPLES, inventory=site)
    assert catalog.ids() == ["drain-node", "reload-haproxy", "restore-bootstrap"]
    assert catalog.get("reload-haproxy").title == "Reload HAProxy on pfSense"
    assert catalog.get(str(SAMPLES / "drain-node.yaml")).id == "drain-node"
    assert catalog.get("reload-haproxy") is catalog.get("reload-haproxy")
    with pytest.raises(ProcedureNotFound) as caught:
        catalog.get("reload-haprxy")
    assert str(caught.value) == f"no procedure 'reload-haprxy' in {SAMPLES} (did you mean 'reload-haproxy'?)"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_load_all_reports_invalid_files_duplicates_and_call_loops(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "id: a\ntitle: A\nsteps:\n  - id: go\n    call: b\n")
    write(tmp_path / "b.yaml", "id: b\ntitle: B\nsteps:\n  - id: back\n    call: a\n")
    write(tmp_path / "c.yaml", "id: c\ntitle: C\nsteps: []\n")
    write(tmp_path / "d.yml", "id: a\ntitle: Another a\nsteps:\n  - {id: x, local: 'true'}\n")
    write(tmp_path / "e.yaml", "id: e\ntitle: E\nsteps:\n  - {id: x, local: 'true'}\n")
    write(tmp_path / "notes.txt", "not a procedure")
    procedures, problems = Catalog(tmp_path).load_all()
    assert [p.id for p in procedures] == ["e"]
    # a.yaml is invalid at its call (the loop), b.yaml at its call of the id two files claim
    # (neither silently wins), d.yml at the id it shares with a.yaml.
    assert [str(p) for p in problems] == [
        f"{tmp_path / 'a.yaml'}:5:11: procedures call each other in a loop: a -> b -> a",
        f"{tmp_path / 'b.yaml'}:5:11: step 'back' calls 'a', which is the id of two procedures: "
        f"{tmp_path / 'a.yaml'}:1 and {tmp_path / 'd.yml'}:1",
        f"{tmp_path / 'c.yaml'}:3:8: 'steps' in the procedure must not be empty",
        f"{tmp_path / 'd.yml'}:1:5: procedure id 'a' is also used by {tmp_path / 'a.yaml'}:1",
    ]


def test_a_call_to_an_invalid_procedure_says_so(tmp_path: Path) -> None:
    write(tmp_path / "broken.yaml", "id: broken\ntitle: Broken\nsteps: []\n")
    caller = write(tmp_path / "caller.yaml", "id: caller\ntitle: C\nsteps:\n  - id: go\n    call: broken\n")
    with pytest.raises(ProcedureError) as caught:
        Catalog(tmp_path).get(str(caller))
    assert problems_of(caught.value) == [
        f"5:11: step 'go' calls 'broken', which is invalid itself (see the problems in {tmp_path / 'broken.yaml'})"
    ]


def test_a_missing_folder_is_an_empty_catalog(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "missing")
    assert catalog.ids() == []
    assert catalog.load_all() == ([], [])
