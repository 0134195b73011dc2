"""The official client's modules import each other in cycles: two threads importing different
ones first (a team Lease being taken while a step reads a Service) end in Python's
_DeadlockError or a half-initialised module. Every lazy import of it goes through load_client,
which imports it once, one thread at a time."""

from __future__ import annotations

import ast
import subprocess
import sys

from support import ROOT

from runbook_tui.transports.kube.threads import CORE_MODULES

MODULES = ["kubernetes.client.exceptions", "kubernetes.dynamic", "kubernetes.watch", "kubernetes.config",
           "kubernetes.client", "kubernetes.stream.ws_client"]
RACE = """
import sys, threading
from runbook_tui.transports.kube.threads import load_client
errors = []
def first_import(name):
    try:
        {prepare}
        __import__(name)
    except Exception as exc:
        errors.append(f"{{name}}: {{type(exc).__name__}}: {{exc}}")
threads = [threading.Thread(target=first_import, args=(m,)) for m in sys.argv[1:]]
for t in threads: t.start()
for t in threads: t.join()
print(errors)
"""


def race(prepare: str) -> list[str]:
    """Errors of one fresh process whose threads each import a different client module first."""
    failures = []
    for _ in range(8):
        done = subprocess.run([sys.executable, "-c", RACE.format(prepare=prepare), *MODULES], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        failures += [line for line in done.stdout.splitlines() if line != "[]"]
    return failures


def test_the_race_is_real_and_load_client_ends_it() -> None:
    assert race("pass"), "the client's modules imported from threads at once did not fail: is the race gone?"
    assert race("load_client()") == []


def test_every_lazy_import_of_the_client_comes_after_load_client() -> None:
    for path in sorted((ROOT / "runbook_tui" / "transports" / "kube").glob("*.py")):
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef) or func.name in ("load_client", "load_core"):
                continue
            inside = list(ast.walk(func))
            calls = [n for n in inside if isinstance(n, ast.Call)]
            loads = [n.lineno for n in calls if getattr(n.func, "id", "") == "load_client"]
            core_loads = [n.lineno for n in calls if getattr(n.func, "id", "") == "load_core"]
            for node in inside:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                if not any(n == "kubernetes" or n.startswith("kubernetes.") for n in names):
                    continue
                core = all(n in CORE_MODULES or n.startswith("kubernetes.config.") or n == "kubernetes"
                           for n in names)
                assert any(line < node.lineno for line in loads + (core_loads if core else [])), \
                    f"{path.name}:{node.lineno} imports the client before load_client() (load_core() for the core)"
