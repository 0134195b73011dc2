"""TUI benchmark: time to the first frame of the home screen, and key-press latency while a
200,000-line flood streams into the run screen. Prints figures; asserts nothing.

    .venv/bin/python bench/tui_flood.py [--lines 200000] [--presses 40]

The first-frame figure is measured in a fresh interpreter (imports included), from process
start to the home screen's first paint, headless. The flood is a local `seq` step.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

FLOOD = """\
id: flood
title: A flood of output
steps:
  - id: flood
    title: Print many lines
    local: seq {{ inputs.lines }}
    mutates: false
    timeout: 300s
inputs:
  lines: {type: int, default: 200000}
"""

FIRST_FRAME = textwrap.dedent("""
    import os, sys, time
    t0 = float(os.environ["BENCH_T0"])
    from runbook_tui.tui.app import RunbookApp

    class Probe(RunbookApp):
        def on_mount(self):
            self.call_after_refresh(self.painted)

        def painted(self):
            print(f"{time.time() - t0:.3f}")
            self.exit()

    Probe(procedures=sys.argv[1], journal_dir=sys.argv[2]).run(headless=True, size=(120, 40))
""")


def first_frame(procedures: Path, journal: Path, runs: int = 5) -> list[float]:
    out = []
    for _ in range(runs):
        env = dict(os.environ, BENCH_T0=repr(time.time()))
        result = subprocess.run([sys.executable, "-c", FIRST_FRAME, str(procedures), str(journal)],
                                capture_output=True, text=True, env=env, check=True)
        out.append(float(result.stdout.strip().splitlines()[-1]))
    return out


async def flood(procedures: Path, journal: Path, lines: int, presses: int) -> dict[str, float]:
    from textual import events

    from runbook_tui.tui.app import RunbookApp

    app = RunbookApp(procedures=str(procedures), journal_dir=journal)
    latencies: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        while app.workspace is None or not getattr(app.screen, "procedures", None):
            await pilot.pause(0.02)
        app.start_procedure("flood")
        while type(app.screen).__name__ != "InputsScreen":
            await pilot.pause(0.01)
        await pilot.pause(0.1)
        app.screen.query_one("#in-lines").value = str(lines)
        await pilot.pause()
        started = time.perf_counter()
        app.screen.action_start()
        while type(app.screen).__name__ != "RunScreen":
            await pilot.pause(0.01)
        run = app.screen
        handled: list[float] = []
        original = run.action_follow

        def follow() -> None:  # the key's action: note when it ran
            handled.append(time.perf_counter())
            original()

        run.action_follow = follow  # type: ignore[method-assign]
        while run.state.step("flood").output.total < 1000:
            await asyncio.sleep(0.005)
        for _ in range(presses):
            if run.state.outcome:
                break
            # As the terminal driver does: a Key event posted to the app (pilot.press would also
            # wait for the app to go idle, which it never does mid-flood).
            t0 = time.perf_counter()
            before = len(handled)
            app.post_message(events.Key("f", "f"))
            while len(handled) == before and not run.state.outcome:
                await asyncio.sleep(0.001)
            if len(handled) > before:
                latencies.append(handled[-1] - t0)
            await asyncio.sleep(0.02)
        pressed_while_running = len(latencies)
        while not run.state.outcome:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        total = run.state.step("flood").output.total
        await app.action_quit()
    latencies.sort()
    return {
        "lines": total,
        "seconds": elapsed,
        "lines_per_s": total / elapsed,
        "presses": pressed_while_running,
        "median_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p95_ms": latencies[min(len(latencies) - 1, math.ceil(len(latencies) * 0.95) - 1)] * 1000
        if latencies else float("nan"),
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--presses", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tui-bench-") as tmp:
        procedures = Path(tmp) / "procedures"
        procedures.mkdir()
        (procedures / "flood.yaml").write_text(FLOOD)
        journal = Path(tmp) / "runs"
        frames = first_frame(procedures, journal)
        print(f"first frame on home: median {statistics.median(frames):.3f} s, "
              f"min {min(frames):.3f} s, max {max(frames):.3f} s over {len(frames)} starts (goal <= 0.25 s; "
              f"bench/startup.py times it from the process's spawn)")
        r = asyncio.run(flood(procedures, journal, args.lines, args.presses))
        verdict = "met" if r["lines_per_s"] >= 100_000 else "NOT met"
        print(f"flood into the TUI: {r['lines']:.0f} lines in {r['seconds']:.2f} s ({r['lines_per_s']:.0f} lines/s), "
              f"journaled   goal >= 100,000 lines/s  {verdict}")
        print(f"key-press latency during the flood ({r['presses']:.0f} presses): median {r['median_ms']:.1f} ms, "
              f"p95 {r['p95_ms']:.1f} ms, max {r['max_ms']:.1f} ms")


if __name__ == "__main__":
    main()
