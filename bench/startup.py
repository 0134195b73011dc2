"""Start-up benchmark: `runbook-tui list`, `runbook-tui validate` and the TUI's first frame, each
as the wall time of a fresh process, median of several starts. Prints figures; asserts nothing.

    .venv/bin/python bench/startup.py [--runs 9]

Cold: an empty check cache (the first start after installing, or after editing the procedures
or the tool). Warm: the cache from an earlier start, the normal case, which the goals are for.
The starts alternate (list cold, list warm, validate cold, ...), so a burst of load elsewhere on
the machine falls on all of them alike; the load average is printed with the figures.

The first frame is measured from just before the process is spawned to the home screen's first
paint (headless, 120x40); the home screen lists the procedures after that, in a worker, and the
time until they are listed is shown too (no goal).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"list": 0.2, "validate": 0.2, "tui": 0.25}

FIRST_FRAME = textwrap.dedent("""
    import os, sys, time
    t0 = float(os.environ["BENCH_T0"])
    from runbook_tui.tui.app import RunbookApp

    class Probe(RunbookApp):
        def on_mount(self):
            super().on_mount()
            self.painted_at = None
            self.call_after_refresh(self.painted)
            self.set_interval(0.005, self.listed)

        def painted(self):
            if type(self.screen).__name__ != "HomeScreen":  # home not mounted yet: next frame
                self.call_after_refresh(self.painted)
                return
            self.painted_at = time.time() - t0

        def listed(self):
            if self.painted_at is not None and getattr(self.screen, "procedures", None):
                # fd 1 itself: Textual captures print() while the app runs
                os.write(1, f"{self.painted_at:.4f} {time.time() - t0:.4f}\\n".encode())
                os._exit(0)  # the figures are out; tearing the app down is not part of them

    Probe(procedures=sys.argv[1], journal_dir=sys.argv[2]).run(headless=True, size=(120, 40))
""")


def command() -> list[str]:
    script = Path(sys.executable).with_name("runbook-tui")  # the console script an operator runs
    return [str(script)] if script.exists() else [sys.executable, "-m", "runbook_tui"]


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_cli(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one start."""
    cpu = cpu_of_children()
    started = time.perf_counter()
    subprocess.run(command() + args, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started, cpu_of_children() - cpu


def timed_tui(env: dict[str, str], state: Path) -> tuple[float, float]:
    """Time to the first frame, and to the procedures listed (the child's CPU time is not
    comparable: it stops at the listing, not at the first frame)."""
    procedures = ROOT / "runbook_tui" / "procedures"
    env = dict(env, BENCH_T0=repr(time.time()))
    result = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME, str(procedures), str(state / "runs")],
        env=env, cwd=ROOT, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    painted, listed = result.stdout.split()
    return float(painted), float(listed)


def site_inventory(state: Path) -> None:
    """The example inventory as an operator's own (the user config folder's), with the infra
    checkout it names made under ``state``, so that every procedure is valid against it."""
    infra = state / "infra"
    text = (ROOT / "inventory.example.yaml").read_text(encoding="utf-8").replace("/home/viktor/code/infra", str(infra))
    for line in text.splitlines():
        value = line.partition(":")[2].strip()
        if value.startswith(str(infra)) and value.endswith(".php"):
            Path(value).parent.mkdir(parents=True, exist_ok=True)
            Path(value).write_text("<?php\n", encoding="utf-8")
    config = state / "config" / "runbook-tui"
    config.mkdir(parents=True)
    (config / "inventory.yaml").write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as tmp:
        state = Path(tmp)
        site_inventory(state)
        # Bytecode as an installed copy has it: a development shell may set PYTHONDONTWRITEBYTECODE,
        # and every start would then compile each module from source; kept in the bench's folder.
        base = dict(os.environ, XDG_CONFIG_HOME=str(state / "config"), RUNBOOK_TUI_STATE_DIR=str(state / "state"),
                    PYTHONPYCACHEPREFIX=str(state / "pycache"))
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        warm = dict(base, XDG_CACHE_HOME=str(state / "warm-cache"))

        def cold() -> dict[str, str]:
            return dict(base, XDG_CACHE_HOME=tempfile.mkdtemp(dir=tmp, prefix="cold-cache-"))

        measures: dict[str, Callable[[dict[str, str]], tuple[float, float]]] = {
            "list": lambda env: timed_cli(["list"], env),
            "validate": lambda env: timed_cli(["validate"], env),
            "tui": lambda env: timed_tui(env, state),
        }
        for measure in measures.values():  # fill the warm cache, and the OS's file cache
            measure(warm)
        floor = []
        figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
        load_before = os.getloadavg()
        for _ in range(args.runs):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            floor.append(time.perf_counter() - started)
            for name, measure in measures.items():
                figures.setdefault((name, "cold"), []).append(measure(cold()))
                figures.setdefault((name, "warm"), []).append(measure(warm))
        load_after = os.getloadavg()

    def median(name: str, cache: str, which: int = 0) -> float:
        return statistics.median(f[which] for f in figures[(name, cache)])

    print(f"start-up, wall time of the whole process, median of {args.runs} alternating starts; "
          f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in load_before)} before, "
          f"{' '.join(f'{x:.2f}' for x in load_after)} after")
    print(f"  python -c pass (the interpreter alone): {statistics.median(floor):.3f} s")
    labels = {"list": "list start-up", "validate": "validate start-up", "tui": "TUI first frame (home painted)"}
    for name, label in labels.items():
        goal = GOALS[name]
        figure = median(name, "warm")
        verdict = "ok" if figure <= goal else "MISSED"
        print(f"{label}: {figure:.3f} s (goal ≤ {goal} s, warm cache) {verdict}")
        print(f"  cold cache: {median(name, 'cold'):.3f} s (no goal: the first start after an edit)")
        if name != "tui":
            print(f"  CPU time (user + system): {median(name, 'warm', 1):.3f} s warm, "
                  f"{median(name, 'cold', 1):.3f} s cold")
        else:
            print(f"  procedures listed on home: {median(name, 'warm', 1):.3f} s warm, "
                  f"{median(name, 'cold', 1):.3f} s cold (no goal)")


if __name__ == "__main__":
    main()
