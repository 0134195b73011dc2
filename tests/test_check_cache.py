"""The check cache: a second start takes checked procedures from the user cache folder instead of
checking them again, and never at the cost of a problem: a changed file, inventory or callee is
checked afresh, and a damaged or foreign entry is ignored."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runbook_tui.errors import ProcedureError
from runbook_tui.language import check_cache
from runbook_tui.language.catalog import Catalog
from runbook_tui.language.inventory import Inventory
from runbook_tui.language.inventory_loader import known_inventory, load_inventory
from runbook_tui.language.listing import Listing
from runbook_tui.language.loader import load_procedure, load_procedure_text
from runbook_tui.language.model import Procedure

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(__file__).parent / "data" / "procedures"
SITE = SAMPLES / "inventory" / "site.yaml"

GREET = textwrap.dedent("""\
    id: greet
    title: Say hello
    inputs:
      name: {default: world}
    steps:
      - id: hello
        local: echo hello {{ inputs.name }}
        undo:
          local: echo bye
      - id: again
        needs: [hello]
        local: echo again
""")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "runbook-tui" / "checked"


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.json")) if cache.is_dir() else []


def locations(procedure: Procedure) -> list[object]:
    out: list[object] = [procedure.path, procedure.field_loc("id"), procedure.inputs["name"]._loc]
    for step in procedure.steps:
        out += [step._loc, step._field_locs]
        if step.undo is not None:
            out += [step.undo._loc, step.undo._field_locs]
    return out


def test_a_valid_procedure_is_kept_and_read_back_the_same(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "greet.yaml"
    path.write_text(GREET)
    fresh = load_procedure(path)
    assert len(entries(cache)) == 1
    again = load_procedure(path)
    assert again is not fresh
    assert again.model_dump() == fresh.model_dump()
    assert locations(again) == locations(fresh)
    assert again.step("again").field_loc("local") == (str(path), 12, 12)  # type: ignore[union-attr]


def test_a_second_start_does_not_check_again(tmp_path: Path, cache: Path) -> None:
    """In a fresh interpreter with the cache filled, loading the sample folder imports no Jinja2:
    the template checks did not run."""
    probe = (
        "import sys\nfrom runbook_tui.language.catalog import Catalog\n"
        f"procs, problems = Catalog({str(SAMPLES)!r}).load_all()\n"
        "assert len(procs) == 3 and not problems, problems\n"
        "print('jinja2' in sys.modules)\n"
    )
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    runs = [subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
            for _ in range(2)]
    assert [r.stdout.strip() for r in runs] == ["True", "False"], [r.stderr for r in runs]


def test_a_changed_file_is_checked_again_and_its_error_names_file_and_line(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "greet.yaml"
    path.write_text(GREET)
    load_procedure(path)
    path.write_text(GREET.replace("{{ inputs.name }}", "{{ inputs.nmae }}"))
    with pytest.raises(ProcedureError) as caught:
        load_procedure(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:7:33: 'local' in step 'hello' uses 'inputs.nmae', but the procedure has no input 'nmae'"
        " (did you mean 'name'?)"
    ]
    assert len(entries(cache)) == 1  # an invalid file is never kept: its problems are found each time


def test_damaged_entries_are_ignored_and_replaced(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "greet.yaml"
    path.write_text(GREET)
    fresh = load_procedure(path)
    [entry] = entries(cache)
    whole = json.loads(entry.read_text())
    for damage in ("", "{", "[]", "null", "\x00\xff", json.dumps(dict(whole, text="0" * 64))):
        entry.write_text(damage, encoding="utf-8", errors="surrogateescape")
        loaded = load_procedure(path)
        assert loaded.model_dump() == fresh.model_dump() and locations(loaded) == locations(fresh)
        assert json.loads(entry.read_text()) == whole  # checked afresh, and written again


def test_an_entry_never_says_what_a_file_holds(tmp_path: Path, cache: Path) -> None:
    """Whatever an entry holds, the procedure is what the file says: an entry made to look like
    another file's changes nothing that runs."""
    path = tmp_path / "greet.yaml"
    path.write_text(GREET)
    load_procedure(path)
    [entry] = entries(cache)
    other = GREET.replace("echo again", "rm -rf /tmp/not-what-the-file-says")
    other_path = tmp_path / "other.yaml"
    other_path.write_text(other)
    key = check_cache.key(check_cache.text_hash(other), str(other_path), None, None)
    forged = dict(json.loads(entry.read_text()), key=key, text=check_cache.text_hash(other))
    (cache / f"{key}.json").write_text(json.dumps(forged))
    assert load_procedure(other_path).step("again").local == "rm -rf /tmp/not-what-the-file-says"


def test_an_entry_made_for_other_text_is_not_trusted(tmp_path: Path, cache: Path) -> None:
    """Even under the key of the new text, an entry that says it was made for other text is
    ignored: the new text is checked, and its problem reported."""
    path = tmp_path / "greet.yaml"
    path.write_text(GREET)
    load_procedure(path)
    [entry] = entries(cache)
    broken = GREET.replace("needs: [hello]", "needs: [helo]")
    path.write_text(broken)
    key = check_cache.key(check_cache.text_hash(broken), str(path), None, None)
    (cache / f"{key}.json").write_text(json.dumps(dict(json.loads(entry.read_text()), key=key)))
    with pytest.raises(ProcedureError, match=r"greet\.yaml:11:13: step 'again' needs 'helo'"):
        load_procedure(path)


def test_the_inventory_is_part_of_the_key(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "uses-vars.yaml"
    path.write_text("id: v\ntitle: V\nsteps:\n  - id: one\n    local: echo {{ vars.vlan_ip }}\n")
    load_procedure(path, inventory=Inventory(vars={"vlan_ip": "10.0.20.1"}))
    with pytest.raises(ProcedureError, match=r"uses-vars\.yaml:5:25: .*'vars\.vlan_ip', which the inventory's vars do not define"):
        load_procedure(path, inventory=Inventory(vars={"other": 1}))


def test_a_changed_callee_is_seen_by_its_caller(tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "procedures"
    folder.mkdir()
    (folder / "greet.yaml").write_text(GREET)
    caller = folder / "caller.yaml"
    caller.write_text("id: caller\ntitle: C\nsteps:\n  - id: call\n    call: greet\n    with: {name: you}\n")
    procedures, problems = Catalog(folder).load_all()
    assert len(procedures) == 2 and problems == []
    (folder / "greet.yaml").write_text(GREET.replace("name: {default: world}", "who: {default: world}")
                                       .replace("inputs.name", "inputs.who"))
    procedures, problems = Catalog(folder).load_all()
    assert [p.id for p in procedures] == ["greet"]
    assert [str(p) for p in problems] == [
        f"{caller}:6:12: 'with' in step 'call' gives 'name', but procedure 'greet' has no input 'name'"
    ]


def test_a_cache_that_cannot_be_written_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    path = tmp_path / "greet.yaml"
    path.write_text(GREET)
    assert load_procedure(path).model_dump() == load_procedure_text(GREET, str(path)).model_dump()
    assert load_procedure(path).id == "greet"


def test_the_cache_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert check_cache.folder() == tmp_path / "runbook-tui" / "checked"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec: only absolute paths count
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert check_cache.folder() == tmp_path / "home" / ".cache" / "runbook-tui" / "checked"


def test_listing_from_the_cache_is_what_loading_gives(tmp_path: Path, cache: Path) -> None:
    """list and validate read listings: the same from a warm cache as from loading, duplicate
    ids included, and a damaged listing only means loading again."""
    folder = tmp_path / "procedures"
    shutil.copytree(SAMPLES, folder, ignore=shutil.ignore_patterns("inventory"))
    (folder / "zz-same-id.yaml").write_text(GREET.replace("id: greet", "id: drain-node"))
    inventory = load_inventory(SITE)
    procedures, problems = Catalog(folder, inventory=inventory).load_all()
    expected = [Listing.of(p) for p in procedures]
    assert len(expected) == 3 and [str(p) for p in problems] == [
        f"{folder / 'zz-same-id.yaml'}:1:5: procedure id 'drain-node' is also used by {folder / 'drain-node.yaml'}:1"
    ]
    assert Catalog(folder, inventory=inventory).listing() == (expected, problems)  # from the cache
    assert all(Listing.from_json(e.to_json(), e.path) == e for e in expected)
    for entry in entries(cache):
        entry.write_text(json.dumps(dict(json.loads(entry.read_text()), listing={"id": 3})))
    assert Catalog(folder, inventory=inventory).listing() == (expected, problems)  # loaded again


def test_list_from_a_warm_cache_builds_no_model(tmp_path: Path) -> None:
    probe = (
        "import contextlib, io, sys\nfrom runbook_tui.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()) as out:\n    main(['--procedures', {str(SAMPLES)!r}, 'list'])\n"
        "assert 'drain-node' in out.getvalue(), out.getvalue()\n"
        "print('pydantic' in sys.modules)\n"
    )
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    runs = [subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
            for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    assert [r.stdout.strip() for r in runs] == ["True", "False"]


def test_a_known_inventory_builds_its_models_only_for_a_procedure_to_check(tmp_path: Path, cache: Path) -> None:
    inventory_file = tmp_path / "site.yaml"
    inventory_file.write_text(SITE.read_text())
    folder = tmp_path / "procedures"
    shutil.copytree(SAMPLES, folder, ignore=shutil.ignore_patterns("inventory"))
    assert known_inventory(inventory_file) is None  # never loaded: nothing known
    expected = Catalog(folder, inventory=load_inventory(inventory_file)).listing()
    known = known_inventory(inventory_file)
    assert known is not None and known._built is None
    assert Catalog(folder, inventory=known).listing() == expected and known._built is None  # all from the cache
    drain = folder / "drain-node.yaml"
    drain.write_text(drain.read_text() + "# edited\n")
    assert Catalog(folder, inventory=known).listing()[1] == []  # checked again, against the real inventory
    assert known._built is not None
    drain.write_text(drain.read_text().replace("vars.", "vars.no_such_"))
    listings, problems = Catalog(folder, inventory=known_inventory(inventory_file)).listing()
    assert problems and all(p.file == str(drain) and "which the inventory's vars do not define" in p.message
                            for p in problems)


def test_an_edited_inventory_is_not_known(tmp_path: Path, cache: Path) -> None:
    inventory_file = tmp_path / "site.yaml"
    inventory_file.write_text(SITE.read_text())
    load_inventory(inventory_file)
    assert known_inventory(inventory_file) is not None
    inventory_file.write_text(SITE.read_text().replace("vlan_ip:", "vlan_address:"))
    assert known_inventory(inventory_file) is None
    with pytest.raises(ProcedureError, match=r"uses-vars\.yaml:5:25: .*'vars\.vlan_ip'"):
        path = tmp_path / "uses-vars.yaml"
        path.write_text("id: v\ntitle: V\nsteps:\n  - id: one\n    local: echo {{ vars.vlan_ip }}\n")
        load_procedure(path, inventory=known_inventory(inventory_file) or load_inventory(inventory_file))


def test_validate_from_a_warm_cache_builds_no_model(tmp_path: Path) -> None:
    """The shipped procedures against the example inventory (its infra checkout made here)."""
    infra = tmp_path / "infra"
    text = (ROOT / "inventory.example.yaml").read_text().replace("/home/viktor/code/infra", str(infra))
    for script in re.findall(rf"{re.escape(str(infra))}\S*\.php", text):
        Path(script).parent.mkdir(parents=True, exist_ok=True)
        Path(script).write_text("<?php\n")
    config = tmp_path / "config" / "runbook-tui"
    config.mkdir(parents=True)
    (config / "inventory.yaml").write_text(text)
    probe = (
        "import contextlib, io, sys\nfrom runbook_tui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n    code = main(['validate'])\n"
        "print(code, 'pydantic' in sys.modules)\n"
    )
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    runs = [subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60,
                           cwd=tmp_path) for _ in range(2)]
    assert [r.stdout.strip() for r in runs] == ["0 True", "0 False"], [r.stderr for r in runs]
