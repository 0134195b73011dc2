"""Listing runs with 200 MB of journals (issue: speed). Prints figures; asserts nothing.

Builds a journal folder of several hundred runs (most small, a few of tens of MB, as a flood
leaves them; some finished, some interrupted), then times `list_runs()`, `last_outcomes()` (what
the runs screen and home call) and the whole `runbook-tui runs` process. Goal: ≤ 0.3 s each.

Run: .venv/bin/python bench/journal_listing.py [--runs 400] [--mbytes 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runbook_tui.headless.journal import last_outcomes, list_runs

GOAL = 0.3


def write_run(folder: Path, i: int, size: int) -> None:
    run_id = f"20261130T000000-{i:05d}-bench"
    start = {"event": "run_started", "run_id": run_id, "seq": 1, "ts": 1_790_000_000.0 + i,
             "procedure": f"proc-{i % 9}", "title": "Bench run", "mode": "lab", "operator": "op@host",
             "path": "bench.yaml", "inputs": {}, "plan": []}
    line = json.dumps({"event": "output", "run_id": run_id, "seq": 2, "ts": 0.0, "step_id": "s",
                       "stream": "stdout", "text": "x" * 200}) + "\n"
    with (folder / f"{run_id}.jsonl").open("w") as f:
        f.write(json.dumps(start) + "\n")
        f.write(line * max(1, size // len(line)))
        if i % 7:  # every seventh run was interrupted
            f.write(json.dumps({"event": "run_finished", "run_id": run_id, "seq": 3, "ts": 0.0,
                                "outcome": "succeeded" if i % 3 else "failed"}) + "\n")


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--mbytes", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        folder = state / "runs"
        folder.mkdir(parents=True)
        big, total = 4, args.mbytes * 1024 * 1024
        small = total // 2 // (args.runs - big)
        for i in range(args.runs):
            write_run(folder, i, total // 2 // big if i < big else small)
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"journals: {args.runs} runs, {size / 1e6:.0f} MB (4 of {total // 2 // big / 1e6:.0f} MB); "
              f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        listing = timed(lambda: list_runs(folder), args.repeat)
        newest = timed(lambda: last_outcomes(folder), args.repeat)
        env = {**os.environ, "RUNBOOK_TUI_STATE_DIR": str(state)}
        cli = timed(lambda: subprocess.run([sys.executable, "-m", "runbook_tui", "runs"], env=env, check=True,
                                           stdout=subprocess.DEVNULL), args.repeat)
        for name, figure in (("list_runs()", listing), ("last_outcomes() (home)", newest),
                             ("`runbook-tui runs` (whole process)", cli)):
            verdict = "ok" if figure <= GOAL else "MISSED"
            print(f"{name:<36} {figure:6.3f} s  (goal ≤ {GOAL} s) {verdict}")


if __name__ == "__main__":
    main()
