"""A run's clients are imported in the background from the moment its inventory is read
(``Workspace.open(warm=True)``), only the ones its targets need, the Kubernetes client first; a
client that cannot be imported is left for the step that needs it to say so."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

CODE = """
import asyncio, sys, threading, time
from pathlib import Path
from runbook_tui.workspace import Workspace

async def main(inventory, warm):
    ws = await Workspace.open(inventory=inventory, procedures=str(Path(inventory).parent / "procedures"), warm=warm)
    for thread in threading.enumerate():
        if thread.name == "load-soon":
            thread.join(60)
    await ws.close()
    print(" ".join(name for name in ("kubernetes.client", "kubernetes.config", "asyncssh") if name in sys.modules))

asyncio.run(main(sys.argv[-2], sys.argv[-1] == "warm"))
"""


def _inventory(tmp_path: Path, targets: str) -> Path:
    (tmp_path / "procedures").mkdir(exist_ok=True)
    path = tmp_path / "inventory.yaml"
    path.write_text("targets:\n" + textwrap.indent(textwrap.dedent(targets), "  "), encoding="utf-8")
    return path


def imported(inventory: Path, mode: str, *extra: str) -> str:
    done = subprocess.run([sys.executable, *extra, "-c", CODE, str(inventory), mode],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


KUBE = """\
cluster:
  kubernetes:
    kubeconfig: /nonexistent/kubeconfig
    context: lab
    namespace: mailserver
"""
SSH = """\
pfsense:
  ssh:
    host: 127.0.0.1
    user: admin
"""


def test_only_the_clients_the_inventory_needs_are_imported(tmp_path: Path) -> None:
    assert imported(_inventory(tmp_path, KUBE), "warm") == "kubernetes.client kubernetes.config"
    assert imported(_inventory(tmp_path, SSH), "warm") == "asyncssh"
    assert imported(_inventory(tmp_path, KUBE + SSH), "warm") == "kubernetes.client kubernetes.config asyncssh"


def test_without_warm_nothing_is_imported_before_a_step_asks(tmp_path: Path) -> None:
    assert imported(_inventory(tmp_path, KUBE + SSH), "cold") == ""


def test_a_client_that_cannot_be_imported_is_passed_over(tmp_path: Path) -> None:
    """kubernetes made unimportable (a module of that name that raises): the thread moves on to
    asyncssh, and nothing is printed or raised where no step asked for it."""
    shadow = tmp_path / "shadow"
    (shadow / "kubernetes").mkdir(parents=True)
    (shadow / "kubernetes" / "__init__.py").write_text("raise ImportError('broken on purpose')\n", encoding="utf-8")
    inventory = _inventory(tmp_path, KUBE + SSH)
    code = f"import sys; sys.path.insert(0, {str(shadow)!r}); " + "exec(compile(open(sys.argv[1]).read(), 'x', 'exec'))"
    script = tmp_path / "script.py"
    script.write_text(CODE, encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", code, str(script), str(inventory), "warm"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.split() == ["asyncssh"]


FAIRNESS = """
import sys, threading, time
sys.path.insert(0, sys.argv[1])
from runbook_tui.importing import load, load_soon

load_soon([("slow_first",), ("slow_second",)])
time.sleep(0.05)  # the background thread is inside slow_first now
start = time.monotonic()
load("slow_first")
print(round(time.monotonic() - start, 2), getattr(sys.modules.get("slow_second"), "finished", False))
"""


def test_a_thread_waiting_for_a_client_does_not_wait_for_the_next_one(tmp_path: Path) -> None:
    """The Lease's thread asks for the Kubernetes client while the background thread imports it
    and then goes on to asyncssh: it must leave when the client is done, not after asyncssh (a
    plain lock let the thread that released it take it again first)."""
    (tmp_path / "slow_first.py").write_text("import time\ntime.sleep(0.4)\n", encoding="utf-8")
    (tmp_path / "slow_second.py").write_text("import time\ntime.sleep(1.5)\nfinished = True\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", FAIRNESS, str(tmp_path)], capture_output=True, text=True, timeout=60)
    waited, second_done = done.stdout.split()
    assert float(waited) < 1.0 and second_done == "False", done.stdout + done.stderr


def test_a_run_that_ends_at_once_exits_cleanly_while_the_clients_import(tmp_path: Path) -> None:
    """A run refused at once (a typed gate without --confirm: exit 3) ends while the background
    thread is still inside the clients' imports. A daemon thread stopped there by the exit
    aborted the process about once in thirty (exit 134, "FATAL: exception not rethrown"); forty
    runs catch that most of the time."""
    (tmp_path / "procedures").mkdir()
    (tmp_path / "procedures" / "typed.yaml").write_text(
        "id: typed\ntitle: A typed gate\nsteps:\n  - id: change\n    local: 'true'\n"
        "    confirm: {text: 'Change?', typed: 'do it'}\n", encoding="utf-8")
    inventory = _inventory(tmp_path, KUBE + SSH)
    argv = [sys.executable, "-m", "runbook_tui", "--procedures", str(tmp_path / "procedures"),
            "--inventory", str(inventory), "run", "typed", "--yes", "--quiet"]
    env = {"RUNBOOK_TUI_STATE_DIR": str(tmp_path / "state"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    codes = []
    for _ in range(40):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
        assert "FATAL" not in done.stderr, done.stderr
        codes.append(done.returncode)
    assert set(codes) == {3}, codes
