"""Engine benchmarks (issue: the engine). Prints figures; asserts nothing.

1. Engine overhead per step versus a bare asyncssh call on the same connection (target ≤ 1 ms
   median added), against asyncssh's server on loopback, journal on.
2. Ten read-only commands as one procedure versus ten separate `ssh` invocations against the
   same OpenSSH sshd, in one run (ratio).
3. A 200k-line remote flood through the engine into the journal: lines/s (target ≥ 100k/s) and
   peak memory.

Run: .venv/bin/python bench/engine_overhead.py [--steps 300] [--lines 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from sshhosts import OpenSSHServer, SSHTestServer

from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import AutoGates
from runbook_tui.engine.runner import Engine
from runbook_tui.headless.journal import Journal
from runbook_tui.language.inventory import Inventory, Target
from runbook_tui.language.model import Procedure
from runbook_tui.transports.ssh import SSHPool


def procedure(commands: list[str], *, parallel: bool) -> Procedure:
    steps = []
    for i, command in enumerate(commands):
        step = {"id": f"s{i}", "ssh": "fw", "run": command, "mutates": False}
        if parallel:
            step["needs"] = []
        steps.append(step)
    return Procedure.model_validate({"id": "bench", "title": "Bench", "steps": steps})


class Clock:
    """Per-step wall time as the engine sees it: StepStarted to StepFinished."""

    def __init__(self):
        self.started: dict[str, float] = {}
        self.durations: list[float] = []
        self.lines = 0

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.OutputLine):
            self.lines += 1
        elif isinstance(event, ev.StepStarted):
            self.started[event.step_id] = time.perf_counter()
        elif isinstance(event, ev.StepFinished):
            self.durations.append(time.perf_counter() - self.started[event.step_id])


async def engine_run(inventory: Inventory, proc: Procedure, journal_dir: Path, *, transports=None) -> tuple[float, Clock]:
    clock = Clock()
    engine = Engine(proc, inventory, inputs={}, gates=AutoGates(yes=True),
                    subscribers=[clock, Journal(journal_dir)], transports=transports)
    t0 = time.perf_counter()
    report = await engine.run()
    elapsed = time.perf_counter() - t0
    assert report.outcome == "succeeded", report
    return elapsed, clock


async def overhead(steps: int, tmp: Path) -> None:
    server = SSHTestServer(tmp / "asyncssh")
    await server.start()
    try:
        inventory = Inventory(targets={"fw": Target(ssh=server.target())})
        pool = SSHPool({"fw": server.target()})
        await pool.run("fw", "echo warm")
        bare = []
        for _ in range(steps):
            t0 = time.perf_counter()
            await pool.run("fw", "echo x")
            bare.append(time.perf_counter() - t0)
        await pool.close()
        from runbook_tui.transports.pool import Transports

        transports = Transports(inventory)
        await transports.ssh.run("fw", "echo warm")  # same warm connection as the bare loop had
        _, clock = await engine_run(inventory, procedure(["echo x"] * steps, parallel=False), tmp / "j1",
                                    transports=transports)
        await transports.close()
        mb, me = statistics.median(bare), statistics.median(clock.durations)
        print(f"[overhead] {steps} sequential steps on one asyncssh connection (journal fsync on)")
        print(f"  bare asyncssh call   median {mb * 1000:.3f} ms")
        print(f"  engine step          median {me * 1000:.3f} ms")
        print(f"  added by the engine  median {(me - mb) * 1000:.3f} ms   (target <= 1 ms)")
    finally:
        await server.stop()


async def ten_commands(tmp: Path) -> None:
    if not os.path.exists("/usr/sbin/sshd"):
        print("[ten commands] skipped: /usr/sbin/sshd not installed (apt-get install openssh-server)")
        return
    sshd = OpenSSHServer(tmp / "openssh").start()
    try:
        commands = [f"echo check {i}" for i in range(10)]
        inventory = Inventory(targets={"fw": Target(ssh=sshd.target())})
        elapsed, _ = await engine_run(inventory, procedure(commands, parallel=True), tmp / "j2")
        t0 = time.perf_counter()
        for command in commands:
            subprocess.run(
                ["ssh", "-p", str(sshd.port), "-i", str(sshd.key_path), "-o", f"UserKnownHostsFile={sshd.known_hosts_path}",
                 "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", f"{sshd.user}@127.0.0.1", command],
                check=True, capture_output=True,
            )
        separate = time.perf_counter() - t0
        print("[ten commands] against OpenSSH sshd on loopback")
        print(f"  one procedure (one connection, concurrent)  {elapsed * 1000:.1f} ms")
        print(f"  ten separate ssh invocations                {separate * 1000:.1f} ms")
        print(f"  ratio                                       {separate / elapsed:.1f}x faster")
    finally:
        sshd.stop()


async def flood(lines: int, tmp: Path) -> None:
    server = SSHTestServer(tmp / "flood")
    await server.start()
    try:
        inventory = Inventory(targets={"fw": Target(ssh=server.target())})
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        elapsed, clock = await engine_run(inventory, procedure([f"lines {lines}"], parallel=False), tmp / "j3")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        size = sum(p.stat().st_size for p in (tmp / "j3").glob("*.jsonl"))
        print(f"[flood] {lines} lines from the remote, streamed through the engine into the journal")
        print(f"  lines seen by subscribers  {clock.lines}")
        print(f"  throughput                 {clock.lines / elapsed:,.0f} lines/s   (goal >= 200,000)")
        print(f"  journal size               {size / 1e6:.1f} MB")
        print(f"  peak RSS                   {peak / 1024:.0f} MiB (grew {(peak - before) / 1024:.0f} MiB during the flood)")
    finally:
        await server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        await overhead(args.steps, tmp)
        await ten_commands(tmp)
        await flood(args.lines, tmp)


if __name__ == "__main__":
    asyncio.run(main())
