"""What `validate` catches beyond the shape of a file: inventory files that are not there, hosts
that read as options, defaults an input's own type refuses, templated calls and call loops.

The exact messages and positions are pinned by the corpus (tests/corpus); these tests cover what a
corpus header cannot: home folders, the current folder, the lab's own inventory, and that the
default check and the run's ``coerce`` agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from runbook_tui.errors import ProcedureError
from runbook_tui.language.catalog import Catalog
from runbook_tui.language.inputs import InputError, coerce
from runbook_tui.language.inventory import Inventory, SSHTarget
from runbook_tui.language.inventory_loader import check_inventory_files, load_inventory
from runbook_tui.language.loader import default_procedures_dir, load_procedure_text
from runbook_tui.language.model import InputSpec

TESTS = Path(__file__).parent
SAMPLES = TESTS / "data" / "procedures"
SITE = SAMPLES / "inventory" / "site.yaml"
LOOPS = TESTS / "corpus" / "call-loop"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- inventory files


def test_missing_files_do_not_stop_loading_the_inventory(tmp_path: Path) -> None:
    # `run` and the TUI load it as before: the transport names a missing file when a step needs it.
    path = write(
        tmp_path / "inventory.yaml",
        "targets:\n  pf: {ssh: {host: 10.0.20.1, key: /nonexistent/key}}\n"
        "  cluster: {kubernetes: {kubeconfig: /nonexistent/kubeconfig}}\n",
    )
    inventory = load_inventory(path)
    assert inventory.targets["pf"].ssh.key == "/nonexistent/key"
    assert [(p.line, p.col) for p in check_inventory_files(path)] == [(2, 36), (3, 38)]


def test_home_is_expanded_as_the_transports_see_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write(tmp_path / "home" / ".ssh" / "id_pf", "key\n")
    path = write(
        tmp_path / "inventory.yaml",
        "targets:\n"
        "  pf: {ssh: {host: 10.0.20.1, key: ~/.ssh/id_pf}}\n"
        "  bk: {ssh: {host: 10.0.20.2, key: ~/.ssh/id_backup}}\n",
    )
    assert load_inventory(path).targets["pf"].ssh.key == str(tmp_path / "home" / ".ssh" / "id_pf")
    assert [str(p) for p in check_inventory_files(path)] == [
        f"{path}:3:36: 'ssh.key' in target 'bk' names the key file ~/.ssh/id_backup"
        f" ({tmp_path}/home/.ssh/id_backup), which does not exist: the SSH login would fail"
    ]


def test_the_default_known_hosts_may_be_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh machine has no ~/.ssh/known_hosts: naming it is the same as not naming it (the
    # transport starts from nothing trusted and writes it when a key is accepted).
    monkeypatch.setenv("HOME", str(tmp_path / "fresh"))
    path = write(
        tmp_path / "inventory.yaml",
        "targets:\n  pf: {ssh: {host: 10.0.20.1, known_hosts: ~/.ssh/known_hosts}}\n"
        "  bk: {ssh: {host: 10.0.20.2, known_hosts: ~/.ssh/known_host}}\n",
    )
    problems = check_inventory_files(path)
    assert [(p.line, p.message.split(" names ")[0]) for p in problems] == [
        (3, "'ssh.known_hosts' in target 'bk'")
    ]
    assert check_inventory_files(SITE) == []


def test_the_example_inventory_is_clean_on_a_fresh_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # It names ~/.ssh/known_hosts and ~/.kube/config: ssh's and kubectl's own places, the same as
    # naming nothing; a machine not set up for them yet hears it from the transport at first use.
    monkeypatch.setenv("HOME", str(tmp_path / "fresh"))
    example = Path(__file__).resolve().parent.parent / "inventory.example.yaml"
    assert example.is_file()
    # What it does name and a fresh machine lacks is the operator's own checkout (vars.*).
    problems = check_inventory_files(example)
    assert problems and all(p.message.startswith("'vars.") for p in problems), [p.message for p in problems]
    path = write(tmp_path / "inventory.yaml", "targets:\n  c: {kubernetes: {kubeconfig: ~/.kube/conf}}\n")
    assert [p.message.split(",")[0] for p in check_inventory_files(path)] == [
        f"'kubernetes.kubeconfig' in target 'c' names the kubeconfig ~/.kube/conf ({tmp_path}/fresh/.kube/conf)"
    ]


def test_relative_paths_are_from_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "keys" / "pf", "key\n")
    path = write(
        tmp_path / "inventory.yaml",
        "targets:\n  pf: {ssh: {host: 10.0.20.1, key: keys/pf}}\n  bk: {ssh: {host: 10.0.20.2, key: keys/bk}}\n",
    )
    assert [p.message for p in check_inventory_files(path)] == [
        f"'ssh.key' in target 'bk' names the key file keys/bk (relative to the current folder, {tmp_path}),"
        " which does not exist: the SSH login would fail"
    ]


def test_unreadable_inventories_have_no_file_problems(tmp_path: Path) -> None:
    assert check_inventory_files(tmp_path / "missing.yaml") == []
    assert check_inventory_files(write(tmp_path / "list.yaml", "- a\n")) == []
    assert check_inventory_files(write(tmp_path / "broken.yaml", "targets: {a: [\n")) == []


async def test_the_labs_own_inventory_is_valid(tmp_path: Path) -> None:
    from runbook_tui.lab import Lab

    async with Lab(tmp_path) as lab:
        load_inventory(lab.inventory_path)
        assert check_inventory_files(lab.inventory_path) == []


# ---------------------------------------------------------------- hosts that read as options


@pytest.mark.parametrize("host", ["-oProxyCommand=touch /tmp/x", "-p2222", " -v"])
def test_the_model_refuses_a_host_that_reads_as_an_option(host: str) -> None:
    with pytest.raises(ValidationError, match="must not start with '-'"):
        SSHTarget(host=host)
    with pytest.raises(ValidationError):
        Inventory.model_validate({"targets": {"pf": {"ssh": {"host": host}}}})


@pytest.mark.parametrize("host", ["edge-1.example.lan", "10.0.20.1", "fe80::1", "host-"])
def test_hosts_with_a_dash_inside_are_fine(host: str) -> None:
    assert SSHTarget(host=host).host == host


# ---------------------------------------------------------------- input defaults


DEFAULTS: list[tuple[dict[str, Any], Any]] = [
    ({"type": "int"}, 8),
    ({"type": "int"}, "80"),
    ({"type": "int"}, "eighty"),
    ({"type": "int"}, True),
    ({"type": "int"}, 2.5),
    ({"type": "bool"}, True),
    ({"type": "bool"}, "yes"),
    ({"type": "bool"}, "maybe"),
    ({"type": "bool"}, 0),
    ({"type": "ip"}, "10.0.20.1"),
    ({"type": "ip"}, "fe80::1"),
    ({"type": "ip"}, "10.0.20.300"),
    ({"type": "ip"}, "pfsense"),
    ({"type": "list"}, ["a", "b"]),
    ({"type": "list"}, "a, b"),
    ({"type": "list"}, 4),
    ({"type": "list"}, {"a": 1}),
    ({"type": "string"}, "anything"),
    ({"type": "string"}, 42),
    ({"type": "choice", "choices": ["patch", "script"]}, "patch"),
    ({"type": "choice", "choices": [25, 465]}, 25),
    ({"type": "string", "pattern": "k8s-node[0-9]+"}, "k8s-node2"),
    ({"type": "string", "pattern": "k8s-node[0-9]+"}, "node2"),
    ({"type": "int", "pattern": "[0-9]+"}, 7),
]


@pytest.mark.parametrize(("declared", "default"), DEFAULTS, ids=lambda v: repr(v))
def test_a_default_is_refused_exactly_when_the_run_would_refuse_it(declared: dict, default: Any) -> None:
    spec = {**declared, "default": default}
    try:
        coerce("x", InputSpec.model_validate(spec), default)
        run_refuses = False
    except InputError:
        run_refuses = True
    text = yaml.safe_dump({"id": "d", "title": "D", "inputs": {"x": spec}, "steps": [{"id": "a", "local": "true"}]})
    try:
        load_procedure_text(text, "d.yaml")
        messages: list[str] = []
    except ProcedureError as exc:
        messages = [p.message for p in exc.problems]
    assert bool(messages) == run_refuses, messages
    assert all(m.startswith("'default' in input 'x' ") for m in messages)


def test_a_default_is_only_checked_when_its_declaration_is_sound() -> None:
    # A bad type or pattern is reported as such, not again through the default.
    text = (
        "id: d\ntitle: D\ninputs:\n  a: {type: number, default: x}\n  b: {pattern: '([0-9', default: x}\n"
        "steps: [{id: s, local: 'true'}]\n"
    )
    with pytest.raises(ProcedureError) as caught:
        load_procedure_text(text, "d.yaml")
    assert [p.message.split(" ")[0] for p in caught.value.problems] == ["'type'", "'pattern'"]


# ---------------------------------------------------------------- calls


def test_a_templated_call_is_refused_without_a_catalog() -> None:
    text = "id: t\ntitle: T\nsteps:\n  - id: go\n    call: '{{ vars.next }}'\n"
    with pytest.raises(ProcedureError) as caught:
        load_procedure_text(text, "t.yaml")
    assert [(p.line, p.col) for p in caught.value.problems] == [(5, 11)]
    assert "is a template" in caught.value.problems[0].message


def test_call_loop_names_the_loop_from_the_caller() -> None:
    catalog = Catalog(LOOPS)
    assert catalog.call_loop("loop-a", "loop-b") == ["loop-a", "loop-b", "loop-a"]
    assert catalog.call_loop("ring-2", "ring-3") == ["ring-2", "ring-3", "ring-1", "ring-2"]
    # A caller outside the loop is told about the loop it would enter.
    assert catalog.call_loop("into-loop", "loop-a") == ["loop-a", "loop-b", "loop-a"]
    assert catalog.call_loop(None, "ring-1") == ["ring-1", "ring-2", "ring-3", "ring-1"]
    assert catalog.call_loop("into-loop", "no-such-procedure") is None


def test_calls_that_end_are_not_loops(tmp_path: Path) -> None:
    # A diamond: a calls b and c, both call d. Two ways to d is not a loop.
    write(tmp_path / "a.yaml", "id: a\ntitle: A\nsteps:\n  - {id: one, call: b}\n  - {id: two, call: c}\n")
    write(tmp_path / "b.yaml", "id: b\ntitle: B\nsteps:\n  - {id: one, call: d}\n")
    write(tmp_path / "c.yaml", "id: c\ntitle: C\nsteps:\n  - {id: one, call: d}\n")
    write(tmp_path / "d.yaml", "id: d\ntitle: D\nsteps:\n  - {id: one, local: 'true'}\n")
    catalog = Catalog(tmp_path)
    assert catalog.call_loop("a", "b") is None
    procedures, problems = catalog.load_all()
    assert (len(procedures), problems) == (4, [])
    assert Catalog(SAMPLES).call_loop("restore-bootstrap", "reload-haproxy") is None


def test_getting_a_procedure_in_a_loop_fails_before_anything_runs() -> None:
    # What `run` and the engine's own calls go through.
    with pytest.raises(ProcedureError) as caught:
        Catalog(LOOPS).get("loop-a")
    assert [p.message for p in caught.value.problems] == [
        "procedures call each other in a loop: loop-a -> loop-b -> loop-a"
    ]


def test_the_shipped_procedures_have_no_loops_and_static_calls() -> None:
    procedures, problems = Catalog(default_procedures_dir()).load_all()
    assert problems == []
    calls = [b.call for p in procedures for s in p.steps for b in (s, s.undo) if b is not None and b.call]
    assert calls and all("{" not in c for c in calls)
