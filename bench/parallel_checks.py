"""50 independent read-only checks in one run versus the slowest of them alone, on one lab.

Starts the rehearsal lab in its own process (`runbook-tui lab`) and generates procedures of
read-only steps against it: pfSense over SSH (sockstat, pfctl, the HAProxy runtime API) and the
cluster through the API (get, list, exec, logs). Each kind of check runs alone, then fifty of
them (the kinds in turn) run as one procedure whose steps need nothing of each other, at a
concurrency of 50 (the engine's default is 8). Every run is the Python entry's: a workspace on
the lab's inventory, an engine, a journal (unless --no-journal), fresh connections. Prints
medians and the ratio next to the goal, and the CPU the fifty-check runs cost per check: this
process's (time.process_time, every thread) and the lab process's (utime + stime from
/proc/PID/stat, in clock ticks); then the same on a lab with latency.

    .venv/bin/python bench/parallel_checks.py [--rounds 5] [--checks 50] [--latency 0.05] [--no-journal]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seed_oneliners import LabProcess, load

GOAL = 1.5  # all checks at once / the slowest one alone

K8S = '    k8s: {verb}\n    target: cluster\n    namespace: "{{{{ vars.namespace }}}}"\n'
CHECKS = {
    "sockstat": "    ssh: pfsense\n    run: sockstat -l\n    mutates: false\n",
    "pfctl": "    ssh: pfsense\n    run: pfctl -sn\n    mutates: false\n",
    "servers-state": ("    ssh: pfsense\n    run: echo 'show servers state' | socat {{ vars.haproxy_socket }} stdio\n"
                      "    mutates: false\n"),
    "get-deployment": K8S.format(verb="get") + "    kind: Deployment\n    name: \"{{ vars.deployment }}\"\n",
    "list-pods": K8S.format(verb="list") + "    kind: Pod\n",
    "exec-ss": (K8S.format(verb="exec") + "    name: \"deployment/{{ vars.deployment }}\"\n"
                "    container: \"{{ vars.container }}\"\n    command: [ss, -ltn]\n    mutates: false\n"),
    "logs-tail": (K8S.format(verb="logs") + "    name: \"deployment/{{ vars.deployment }}\"\n"
                  "    container: \"{{ vars.container }}\"\n    tail: 20\n"),
}


def cpu_seconds(pid: int) -> float | None:
    """CPU the process PID has used so far (utime + stime); None where /proc has no answer."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # fields 14, 15 of proc(5)


def procedure(pid: str, kinds: list[str]) -> str:
    text = f"id: {pid}\ntitle: {len(kinds)} read-only checks\nsteps:\n"
    for i, kind in enumerate(kinds):
        text += f"  - id: {kind}-{i}\n    title: {kind} {i}\n    needs: []\n" + CHECKS[kind]
    return text


async def timed_run(inventory: Path, folder: Path, pid: str, concurrency: int, journal: bool = True) -> float:
    from runbook_tui.engine.gates import AutoGates
    from runbook_tui.workspace import Workspace

    start = time.perf_counter()
    ws = await Workspace.open(inventory=str(inventory), procedures=str(folder))
    try:
        engine = ws.engine(ws.procedure(pid), inputs={}, gates=AutoGates(yes=True, lab=True), subscribers=[],
                           concurrency=concurrency, journal=journal)
        report = await engine.run()
    finally:
        await ws.close()
    elapsed = time.perf_counter() - start
    if report.outcome != "succeeded":
        raise SystemExit(f"{pid} did not succeed on the lab: {report.message}")
    return elapsed


async def bench(latency: float, rounds: int, checks: int, journal: bool) -> float:
    before = load()
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as tmp:
        state = Path(tmp)
        os.environ["RUNBOOK_TUI_STATE_DIR"] = str(state / "runbook-state")
        folder = state / "procedures"
        folder.mkdir()
        kinds = list(CHECKS)
        for kind in kinds:
            (folder / f"one-{kind}.yaml").write_text(procedure(f"one-{kind}", [kind]), encoding="utf-8")
        many = [kinds[i % len(kinds)] for i in range(checks)]
        (folder / "many.yaml").write_text(procedure("many", many), encoding="utf-8")
        lab = LabProcess(state / "lab", [f"latency={latency:g}"] if latency else [])
        inventory = lab.dir / "inventory.yaml"
        try:
            for kind in kinds:  # warm-up: imports, caches, the lab's first answers
                await timed_run(inventory, folder, f"one-{kind}", 1, journal)
            await timed_run(inventory, folder, "many", checks, journal)
            alone: dict[str, list[float]] = {kind: [] for kind in kinds}
            together: list[float] = []
            client_cpu = 0.0  # over the fifty-check runs only
            lab_cpu: float | None = 0.0  # None: /proc does not say
            for _ in range(rounds):  # alternating: every single kind, then all of them at once
                for kind in kinds:
                    alone[kind].append(await timed_run(inventory, folder, f"one-{kind}", 1, journal))
                client, lab_before = time.process_time(), cpu_seconds(lab.proc.pid)
                together.append(await timed_run(inventory, folder, "many", checks, journal))
                lab_after = cpu_seconds(lab.proc.pid)
                client_cpu += time.process_time() - client
                if lab_cpu is not None and lab_before is not None and lab_after is not None:
                    lab_cpu += lab_after - lab_before
                else:
                    lab_cpu = None
        finally:
            lab.stop()
    medians = {kind: statistics.median(times) for kind, times in alone.items()}
    slowest = max(medians, key=lambda k: medians[k])
    med_all = statistics.median(together)
    ratio = med_all / medians[slowest]
    where = f"lab with {latency * 1000:g} ms latency per command" if latency else "bare lab"
    kept = "journal on" if journal else "no journal"
    print(f"{checks} parallel read-only checks vs the slowest one alone, {where} ({rounds} rounds, {kept}; "
          f"{before} before, {load()} after)")
    for kind in kinds:
        print(f"  {kind:<16} alone, median        {medians[kind] * 1000:7.0f} ms")
    print(f"  all {checks} at once, median          {med_all * 1000:7.0f} ms")
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(f"  ratio all / slowest ({slowest})  {ratio:6.2f} x   goal <= {GOAL:.1f}x  {verdict}")
    per_check = 1000 / (rounds * checks)
    lab_said = f"{lab_cpu * per_check:5.2f} ms" if lab_cpu is not None else "  n/a"
    print(f"  CPU per check, all {checks} at once     client {client_cpu * per_check:5.2f} ms   lab {lab_said}")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--checks", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05, help="the second lab's latency (0: skip it)")
    parser.add_argument("--no-journal", action="store_true",
                        help="runs keep no journal (its fsync per finished step is then left out)")
    args = parser.parse_args()
    asyncio.run(bench(0.0, args.rounds, args.checks, not args.no_journal))
    if args.latency:
        asyncio.run(bench(args.latency, args.rounds, args.checks, not args.no_journal))


if __name__ == "__main__":
    main()
