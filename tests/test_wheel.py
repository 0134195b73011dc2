"""A wheel that works: built from this checkout, installed into a fresh virtual environment, it
lists the shipped procedures and rehearses one on the lab, with no checkout in sight."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from support import ROOT


def test_the_wheel_ships_its_procedures_and_runs_on_the_lab(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("runbook_tui-*.whl")

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    installed = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                                "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    # The dependencies come from this environment's site-packages (not from a registry); the
    # editable checkout there is not on the path, because PYTHONPATH does not read .pth files.
    env = dict(os.environ, PYTHONPATH=sysconfig.get_paths()["purelib"],
               RUNBOOK_TUI_STATE_DIR=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    where = tmp_path / "elsewhere"
    where.mkdir()

    def tool(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(env_dir / "bin" / "runbook-tui"), *args], cwd=where, env=env,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

    origin = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import runbook_tui; print(runbook_tui.__file__)"],
                            cwd=where, env=env, capture_output=True, text=True, timeout=60)
    assert origin.stdout.startswith(str(env_dir)), origin.stdout + origin.stderr  # the wheel, not the checkout
    listed = tool("list")
    assert listed.returncode == 0, listed.stderr
    ids = {line.split()[0] for line in listed.stdout.splitlines()[1:]}
    assert ids == {p.stem for p in (ROOT / "runbook_tui" / "procedures").glob("*.yaml")}
    rehearsed = tool("run", "validate", "--lab", "--yes")
    assert rehearsed.returncode == 0, rehearsed.stdout[-2000:] + rehearsed.stderr
    assert "SUCCEEDED" in rehearsed.stdout
