"""Import rules, checked in fresh interpreters: the core never pulls in the UI, and the CLI's
start-up path pulls in nothing heavy. New modules are covered as soon as they exist."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "runbook_tui"
HEAVY = ("textual", "kubernetes", "asyncssh")
CORE_PACKAGES = ("engine", "actions", "transports", "parsers", "lab")


def modules_under(package: str) -> list[str]:
    root = PACKAGE / package
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def imported_after(code: str) -> set[str]:
    """The top-level names in sys.modules after running ``code`` in a new interpreter."""
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_model_loader_templating_and_cli_import_nothing_heavy() -> None:
    loaded = imported_after(
        "import runbook_tui.language.model, runbook_tui.language.loader, runbook_tui.language.templating, runbook_tui.cli,"
        " runbook_tui.language.graph, runbook_tui.language.schema, runbook_tui.language.yaml_source"
    )
    assert "pydantic" in loaded and "jinja2" in loaded  # the probe really imported them
    assert loaded.isdisjoint(HEAVY), loaded & set(HEAVY)


def test_validating_procedures_imports_nothing_heavy() -> None:
    samples = Path(__file__).parent / "data" / "procedures"
    loaded = imported_after(
        f"from runbook_tui.language.catalog import Catalog\nprocs, problems = Catalog({str(samples)!r}).load_all()\n"
        "assert procs and not problems, problems"
    )
    assert loaded.isdisjoint(HEAVY), loaded & set(HEAVY)


def test_cli_help_stays_lean() -> None:
    loaded = imported_after(
        "from runbook_tui.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
    )
    assert loaded.isdisjoint(HEAVY + ("pydantic", "yaml", "jinja2", "aiohttp")), loaded


@pytest.mark.parametrize("package", CORE_PACKAGES)
def test_core_packages_never_import_textual(package: str) -> None:
    modules = modules_under(package)
    assert modules, f"runbook_tui/{package} has no modules"
    loaded = imported_after("\n".join(f"import {name}" for name in modules))
    assert "textual" not in loaded, f"something under runbook_tui/{package} imports textual"


def test_the_glob_sees_every_module() -> None:
    # The parametrised test above covers each file under the core packages, not a fixed list.
    assert "runbook_tui.parsers" in modules_under("parsers")
    assert len(modules_under("parsers")) > 1
