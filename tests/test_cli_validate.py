"""The CLI as an operator runs it: ``python -m runbook_tui validate|list|graph|schema``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import ROOT

SAMPLES = "tests/data/procedures"
SITE = "tests/data/procedures/inventory/site.yaml"
CORPUS = "tests/corpus"


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runbook_tui", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def expected_lines(path: Path) -> list[str]:
    text = path.read_bytes().decode("latin-1")
    return [line[len("# expect: ") :] for line in text.splitlines() if line.startswith("# expect: ")]


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_help_lists_the_commands() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("list", "validate", "graph", "schema"):
        assert command in result.stdout


def test_validate_the_samples_with_their_inventory() -> None:
    result = cli("validate", SAMPLES, "--inventory", SITE)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "4 file(s) checked: all valid\n"


def test_validate_the_corpus_prints_one_line_per_problem() -> None:
    result = cli("--inventory", SITE, "validate", CORPUS, "--procedures", SAMPLES)
    assert result.returncode == 2
    *lines, summary = result.stderr.splitlines()
    files = sorted((ROOT / CORPUS).glob("*.yaml"))  # folders are not recursive: inventories/ is apart
    expected = [f"{CORPUS}/{f.name}:{line}" for f in files for line in expected_lines(f)]
    # The corpus names the samples' folder alone; here the search path is the shipped
    # procedures, --procedures and the folder being checked.
    expected = [line.replace(f"in {SAMPLES} (", f"in the shipped procedures, {SAMPLES} or {CORPUS} (")
                for line in expected]
    assert sorted(lines) == sorted(expected)
    assert summary == f"{len(files) + 1} file(s) checked: {len(files)} invalid, {len(expected)} problems"
    assert result.stdout == ""


def test_validate_one_file_and_an_invalid_inventory() -> None:
    inventory = f"{CORPUS}/inventories/both-kinds.yaml"
    result = cli("validate", f"{SAMPLES}/reload-haproxy.yaml", "--inventory", inventory)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{inventory}:{line}" for line in expected_lines(ROOT / inventory)
    ] + ["2 file(s) checked: 1 invalid, 1 problem"]


def test_validate_a_folder_of_call_loops() -> None:
    # A folder given alone is its own catalog: each file in a loop is invalid at its own call.
    folder = ROOT / CORPUS / "call-loop"
    result = cli("validate", f"{CORPUS}/call-loop")
    assert result.returncode == 2
    *lines, summary = result.stderr.splitlines()
    files = sorted(folder.glob("*.yaml"))
    expected = [f"{CORPUS}/call-loop/{f.name}:{line}" for f in files for line in expected_lines(f)]
    assert lines == sorted(expected)
    assert summary == f"{len(files)} file(s) checked: {len(files)} invalid, {len(expected)} problems"


def test_run_refuses_a_call_loop_before_running_anything(tmp_path: Path) -> None:
    # Before: loop-a's first step ran again at every level until Python's recursion limit.
    env = {**os.environ, "RUNBOOK_TUI_STATE_DIR": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "runbook_tui", "--procedures", str(ROOT / CORPUS / "call-loop"), "run", "loop-a",
         "--yes"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"{ROOT / CORPUS / 'call-loop' / 'loop-a.yaml'}:"
        + expected_lines(ROOT / CORPUS / "call-loop" / "loop-a.yaml")[0],
        "1 problem(s).",
    ]
    assert not (tmp_path / "ran-loop-a").exists()
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").rglob("*.jsonl"))
    # Calling into the loop is refused the same way.
    result = subprocess.run(
        [sys.executable, "-m", "runbook_tui", "--procedures", str(ROOT / CORPUS / "call-loop"), "run",
         "into-loop", "--yes"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "which never finishes: procedures call each other in a loop: loop-a -> loop-b -> loop-a" in result.stderr


@pytest.mark.parametrize("name", ["missing-files", "host-option"])
def test_validate_an_inventory_naming_missing_files_or_option_hosts(name: str, tmp_path: Path) -> None:
    inventory = f"{CORPUS}/inventories/{name}.yaml"
    result = cli("validate", str(tmp_path), "--inventory", inventory)  # an empty procedures folder
    assert result.returncode == 2
    expected = [f"{inventory}:{line}" for line in expected_lines(ROOT / inventory)]
    assert result.stderr.splitlines() == expected + [f"1 file(s) checked: 1 invalid, {len(expected)} problems"]


def test_missing_inventory_files_still_check_procedures_against_it(tmp_path: Path) -> None:
    # The inventory loads, so the procedures are still checked against its targets.
    inventory = write_file(
        tmp_path / "inventory.yaml",
        "targets:\n  pfsense: {ssh: {host: 10.0.20.1, key: /nonexistent/id_ed25519}}\n",
    )
    procedures = tmp_path / "procedures"
    write_file(procedures / "p.yaml", "id: p\ntitle: P\nsteps:\n  - {id: one, ssh: pfsens, run: 'true'}\n")
    result = cli("validate", str(procedures), "--inventory", str(inventory))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{inventory}:2:41: 'ssh.key' in target 'pfsense' names the key file /nonexistent/id_ed25519,"
        " which does not exist: the SSH login would fail",
        f"{procedures / 'p.yaml'}:4:20: unknown target 'pfsens' in step 'one' (did you mean 'pfsense'?)",
        "2 file(s) checked: 2 invalid, 2 problems",
    ]


def test_validate_the_shipped_procedures_without_an_inventory(tmp_path: Path) -> None:
    # No ./inventory.yaml and no user inventory: nothing names files, so nothing is missing.
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "runbook_tui", "validate", str(ROOT / "procedures")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.endswith("file(s) checked: all valid\n")


def test_validate_a_missing_path() -> None:
    result = cli("validate", "no/such/file.yaml", "--inventory", SITE)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "no/such/file.yaml:1:1: cannot read procedure: no such file"


def test_validate_defaults_to_every_folder_of_the_search_path(tmp_path: Path) -> None:
    # The shipped procedures, then --procedures; no inventory, so no vars are checked.
    shipped = len(list((ROOT / "runbook_tui" / "procedures").glob("*.yaml")))
    result = cli("--procedures", str(ROOT / SAMPLES), "validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{shipped + 3} file(s) checked: all valid\n"


def test_list_shows_ids_titles_modes_and_inputs() -> None:
    result = cli("list", "--procedures", SAMPLES)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["ID", "TITLE", "MODE", "INPUTS"]
    ids = [row.split()[0] for row in rows]
    assert ids == sorted(ids) and {"drain-node", "reload-haproxy", "restore-bootstrap", "validate"} <= set(ids)
    reload = rows[ids.index("reload-haproxy")]
    assert re.match(r"reload-haproxy\s+Reload HAProxy on pfSense\s+mutating\s+reason\*$", reload)
    data = json.loads(cli("list", "--procedures", SAMPLES, "--format", "json").stdout)
    samples = [row for row in data if row["path"].startswith(SAMPLES)]
    assert samples[1]["id"] == "reload-haproxy"
    assert samples[1]["inputs"] == [{"name": "reason", "type": "string", "required": True, "default": None}]
    assert {row["mode"] for row in samples} == {"mutating"}


def test_list_reports_invalid_files(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(
        "id: ok\ntitle: Fine\nsteps:\n  - {id: look, tcp: {host: h, port: 25}}\n"
    )
    (tmp_path / "bad.yaml").write_text("id: bad\n")
    result = cli("list", "--procedures", str(tmp_path))
    assert result.returncode == 2
    assert ["ok", "Fine", "read-only"] in [row.split()[:3] for row in result.stdout.splitlines()]
    assert "1 procedure file(s)" in result.stderr and "validate" in result.stderr


def test_graph_text_shows_order_needs_marks_and_gates() -> None:
    result = cli("graph", "reload-haproxy", "--procedures", SAMPLES)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("reload-haproxy: Reload HAProxy on pfSense (mutating)\n")
    assert "3. restart — Restart HAProxy  MUTATES\n     needs: before, config-valid\n" in text
    assert "     gate: confirm: Restart HAProxy on {{ targets.pfsense.ssh.host }}" in text
    assert "     retry: 10 attempts, 3s apart\n" in text
    assert "     parse freebsd.sockstat -> register listeners\n" in text
    assert text.index("1. before") < text.index("2. config-valid") < text.index("6. compare")


def test_graph_mermaid_and_dot_by_path() -> None:
    path = f"{SAMPLES}/drain-node.yaml"
    mermaid = cli("graph", path, "--format", "mermaid").stdout
    assert mermaid.startswith("flowchart TD\n")
    assert "  s2 --> s3\n" in mermaid
    assert re.search(r'  s3\{\{"drain<br/>.*MUTATES.*"\}\}:::mutating\n', mermaid)
    dot = cli("graph", path, "--format", "dot").stdout
    assert dot.startswith('digraph "drain-node" {\n') and dot.endswith("}\n")
    assert '  "service" -> "drain";\n' in dot
    assert dot.count("{") == dot.count("}")


def test_graph_of_an_unknown_procedure() -> None:
    result = cli("graph", "reload-haprxy", "--procedures", SAMPLES)
    assert result.returncode == 2
    assert (
        result.stderr
        == f"runbook-tui: no procedure 'reload-haprxy' in the shipped procedures or {SAMPLES}"
        " (did you mean 'reload-haproxy'?)\n"
    )


# ---------------------------------------------------------------- schema


class SchemaError(AssertionError):
    pass


def check(schema: dict[str, Any], value: Any, root: dict[str, Any], where: str = "$") -> None:
    """The parts of JSON Schema 2020-12 our generated schema uses (jsonschema is not a dependency)."""
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/$defs/"), ref
        check(root["$defs"][ref.split("/")[-1]], value, root, where)
    types = {
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
        "null": type(None),
        "array": list,
        "object": dict,
    }
    if "type" in schema:
        wanted = types[schema["type"]]
        ok = isinstance(value, wanted) and not (
            isinstance(value, bool) and schema["type"] in ("integer", "number")
        )
        if not ok:
            raise SchemaError(f"{where}: expected {schema['type']}, found {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError(f"{where}: {value!r} not in {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        raise SchemaError(f"{where}: {value!r} does not match {schema['pattern']}")
    if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
        raise SchemaError(f"{where}: {value} < {schema['minimum']}")
    if "maximum" in schema and isinstance(value, (int, float)) and value > schema["maximum"]:
        raise SchemaError(f"{where}: {value} > {schema['maximum']}")
    if "minItems" in schema and isinstance(value, list) and len(value) < schema["minItems"]:
        raise SchemaError(f"{where}: fewer than {schema['minItems']} items")
    if "not" in schema:
        try:
            check(schema["not"], value, root, where)
        except SchemaError:
            pass
        else:
            raise SchemaError(f"{where}: matches a 'not'")
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            passed = 0
            for option in schema[keyword]:
                try:
                    check(option, value, root, where)
                    passed += 1
                except SchemaError:
                    pass
            if passed == 0 or (keyword == "oneOf" and passed != 1):
                raise SchemaError(f"{where}: {passed} of the {keyword} options match")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                raise SchemaError(f"{where}: missing {key!r}")
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                check(props[key], item, root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                raise SchemaError(f"{where}: unknown key {key!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                check(schema["additionalProperties"], item, root, f"{where}.{key}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            check(schema["items"], item, root, f"{where}[{i}]")


@pytest.fixture(scope="module")
def procedure_schema() -> dict[str, Any]:
    result = cli("schema")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_schema_is_draft_2020_12_with_the_yaml_aliases(procedure_schema: dict[str, Any]) -> None:
    assert procedure_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert procedure_schema["required"] == ["id", "title", "steps"]
    step = procedure_schema["$defs"]["Step"]["properties"]
    assert {"assert", "with", "register"} <= set(step)
    assert not {"assert_", "with_", "register_"} & set(step)
    assert '"ge"' not in json.dumps(procedure_schema)


@pytest.mark.parametrize("name", ["drain-node", "reload-haproxy", "restore-bootstrap"])
def test_schema_accepts_the_samples(procedure_schema: dict[str, Any], name: str) -> None:
    data = yaml.safe_load((ROOT / SAMPLES / f"{name}.yaml").read_text())
    check(procedure_schema, data, procedure_schema)


def test_schema_rejects_what_the_loader_rejects(procedure_schema: dict[str, Any]) -> None:
    base = {"id": "x", "title": "X", "steps": [{"id": "a", "local": "true"}]}
    check(procedure_schema, base, procedure_schema)
    for step in (
        {"id": "a", "local": "true", "ssh": "pfsense"},  # two actions
        {"id": "a"},  # no action
        {"id": "a", "local": "true", "rnu": "x"},  # unknown key
        {"id": "A B", "local": "true"},  # not a slug
        {"id": "a", "local": "true", "timeout": "soon"},
    ):
        with pytest.raises(SchemaError):
            check(procedure_schema, {**base, "steps": [step]}, procedure_schema)


def test_inventory_schema_accepts_the_site_inventory() -> None:
    schema = json.loads(cli("schema", "inventory").stdout)
    check(schema, yaml.safe_load((ROOT / SITE).read_text()), schema)
    with pytest.raises(SchemaError):
        check(schema, {"targets": {"x": {"ssh": {"host": "h"}, "kubernetes": {}}}}, schema)
