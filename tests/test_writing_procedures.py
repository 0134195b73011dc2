"""docs/writing-procedures.md cannot rot: its worked example is taken from the page and rehearsed
on the lab; the JSON Schema describes every property and lists the parsers `parse:` accepts;
the shipped procedures' README names only files that are in the repository."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import ROOT, cli_env, runbook
from test_cli_validate import SchemaError, check

from runbook_tui.parsers import PARSER_NAMES

DOC = ROOT / "docs" / "writing-procedures.md"


def example(name: str) -> str:
    """The ```yaml block that follows ``<!-- example: NAME -->`` in the page."""
    match = re.search(rf"<!-- example: {name} -->\n```yaml\n(.*?)\n```\n", DOC.read_text(), re.S)
    assert match, f"no example {name} in {DOC}"
    return match.group(1) + "\n"


def test_the_worked_example_rehearses_on_the_lab(tmp_path: Path) -> None:
    mine = tmp_path / "config" / "runbook-tui" / "procedures"  # where the page says to save it
    mine.mkdir(parents=True)
    (mine / "maintenance-note.yaml").write_text(example("maintenance-note"))
    env = cli_env(tmp_path)
    done = runbook("run", "maintenance-note", "--lab", "--yes", "--set", "reason=disk swap", cwd=tmp_path, env=env,
                   timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "SUCCEEDED" in done.stdout
    assert re.search(r"read-back +ok", done.stdout) and re.search(r"tidy +ok", done.stdout)
    # A dry run shows the change without making it, and skips the read-back.
    dry = runbook("run", "maintenance-note", "--lab", "--dry-run", "--yes", "--set", "reason=x", cwd=tmp_path, env=env,
                  timeout=180)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr
    assert re.search(r"read-back +skipped", dry.stdout)


def test_every_step_kind_and_context_name_the_engine_has_is_on_the_page() -> None:
    from runbook_tui.language.model import ACTIONS, K8S_VERBS

    text = DOC.read_text()
    for word in (*ACTIONS, *K8S_VERBS, *PARSER_NAMES, "inputs", "vars", "targets", "result", "item", "run.dry_run",
                 "needs", "when", "require", "expect", "until", "retry", "foreach", "register", "confirm", "typed",
                 "undo", "always", "sensitive"):
        assert re.search(rf"`[^`]*(?<![\w.-]){re.escape(word)}(?![\w-])[^`]*`", text), word


def properties_without_description(node: Any, where: str = "$") -> list[str]:
    missing = []
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            if not (isinstance(prop, dict) and prop.get("description")):
                missing.append(f"{where}.properties.{name}")
        for key, value in node.items():
            missing += properties_without_description(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            missing += properties_without_description(value, f"{where}[{i}]")
    return missing


@pytest.mark.parametrize("kind", ["procedure", "inventory"])
def test_every_property_in_the_schema_has_a_description(tmp_path: Path, kind: str) -> None:
    done = runbook("schema", kind, cwd=tmp_path, env=cli_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert properties_without_description(json.loads(done.stdout)) == []


def test_parse_is_an_enum_of_the_parsers(tmp_path: Path) -> None:
    schema = json.loads(runbook("schema", cwd=tmp_path, env=cli_env(tmp_path)).stdout)
    assert schema["$defs"]["Step"]["properties"]["parse"]["anyOf"][0] == {"enum": list(PARSER_NAMES)}
    step = {"id": "x", "ssh": "pfsense", "run": "sockstat -l", "parse": "freebsd.sockstat"}
    check(schema, {"id": "p", "title": "P", "steps": [step]}, schema)
    with pytest.raises(SchemaError, match="anyOf"):
        check(schema, {"id": "p", "title": "P", "steps": [{**step, "parse": "freebsd.sockstats"}]}, schema)
    # The shipped procedures and the worked example fit the schema, parsers and all.
    for path in [*sorted((ROOT / "runbook_tui" / "procedures").glob("*.yaml"))]:
        check(schema, yaml.safe_load(path.read_text()), schema, path.name)
    check(schema, yaml.safe_load(example("maintenance-note")), schema, "the example")


def test_the_procedures_readme_names_only_files_in_the_repository() -> None:
    readme = ROOT / "runbook_tui" / "procedures" / "README.md"
    # Paths into the repository and documents; not the firewall's own files (/cf/conf/config.xml).
    named = {w for w in re.findall(r"`([^`\s]+)`", readme.read_text())
             if not w.startswith("/") and ("/" in w or re.search(r"\.(md|ya?ml|py|txt|csv)$", w))}
    assert named, "the README names no files: the check below would prove nothing"
    missing = sorted(w for w in named if not (ROOT / w).exists() and not (readme.parent / w).exists())
    assert missing == []
