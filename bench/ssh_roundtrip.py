"""Per-command latency against a real sshd: driver shells vs a channel per command vs a fresh
`ssh` per command, measured in the same run, rounds alternating between the ways.

Starts Debian's OpenSSH sshd on 127.0.0.1 (as tests/test_ssh_openssh.py does; needs the
openssh-server package and root or a user sshd accepts), then prints the figures and the goal
of issue 12 (10 commands on one target, after connect, <= 150 ms):

    .venv/bin/python bench/ssh_roundtrip.py [--commands 10] [--rounds 5]

"After connect" starts once ``SSHPool.probe`` returned: login and host key check done, and (with
driver shells) the first driver started, which connecting includes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from sshhosts import OpenSSHServer

from runbook_tui.transports.ssh import SSHPool
from runbook_tui.transports.ssh.pool import MAX_DRIVERS

COMMAND = "true"
GOAL_MS = 150.0  # 10 sequential commands after connect (issue 12)
WAYS = {"driver shells": MAX_DRIVERS, "a channel per command": 0}


def _ssh_argv(server: OpenSSHServer) -> list[str]:
    return [
        "ssh", "-F", "/dev/null", "-T", "-i", str(server.key_path), "-p", str(server.port),
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={server.known_hosts_path}",
        f"{server.user}@127.0.0.1", COMMAND,
    ]


async def _one_round(server: OpenSSHServer, max_drivers: int, commands: int) -> tuple[float, list[float]]:
    """(connect seconds, each of ``commands`` sequential commands' seconds) on a new pool."""
    pool = SSHPool({"bench": server.target()}, max_drivers=max_drivers)
    try:
        start = time.perf_counter()
        status = await pool.probe("bench")
        connect = time.perf_counter() - start
        assert status.error is None, status.error
        times = []
        for _ in range(commands):
            start = time.perf_counter()
            result = await pool.run("bench", COMMAND)
            times.append(time.perf_counter() - start)
            assert result.exit_code == 0, result
        return connect, times
    finally:
        await pool.close()


async def _concurrent(server: OpenSSHServer, max_drivers: int, commands: int, rounds: int) -> float:
    """Median seconds for ``commands`` commands issued at once on one connected pool."""
    pool = SSHPool({"bench": server.target()}, max_drivers=max_drivers)
    try:
        await pool.probe("bench")
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            results = await asyncio.gather(*(pool.run("bench", COMMAND) for _ in range(commands)))
            times.append(time.perf_counter() - start)
            assert all(r.exit_code == 0 for r in results), results
        return statistics.median(times)
    finally:
        await pool.close()


def _time_fresh_ssh(server: OpenSSHServer, n: int) -> list[float]:
    argv = _ssh_argv(server)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


async def _bench(server: OpenSSHServer, commands: int, rounds: int) -> None:
    connects: dict[str, list[float]] = {way: [] for way in WAYS}
    totals: dict[str, list[float]] = {way: [] for way in WAYS}
    each: dict[str, list[float]] = {way: [] for way in WAYS}
    for _ in range(rounds):  # alternating, so that load on the machine hits both ways alike
        for way, max_drivers in WAYS.items():
            connect, times = await _one_round(server, max_drivers, commands)
            connects[way].append(connect)
            totals[way].append(sum(times))
            each[way].extend(times)
    fresh = _time_fresh_ssh(server, commands * rounds)
    concurrent = {}
    for most in sorted({8, MAX_DRIVERS, 4, 1, 0}, reverse=True):
        label = {0: "a channel per command", 1: "1 driver shell, a channel when busy"}.get(
            most, f"up to {most} driver shells{' (the default)' if most == MAX_DRIVERS else ''}")
        concurrent[label] = await _concurrent(server, most, commands, rounds)

    load = os.getloadavg()[0]
    print(f"[ssh] OpenSSH sshd on 127.0.0.1:{server.port}, user {server.user}, command {COMMAND!r}, "
          f"{rounds} alternating rounds (load average {load:.2f} on {os.cpu_count()} CPUs)")
    for way in WAYS:
        print(f"  {way}:")
        print(f"    connect (login{' + first driver' if WAYS[way] else ''}), median  "
              f"{statistics.median(connects[way]) * 1000:8.1f} ms")
        print(f"    per command after connect, median      {statistics.median(each[way]) * 1000:8.1f} ms")
        print(f"    {commands} commands after connect, median     {statistics.median(totals[way]) * 1000:8.1f} ms")
        whole = [c + t for c, t in zip(connects[way], totals[way], strict=True)]
        print(f"    connect and {commands} commands, median      {statistics.median(whole) * 1000:8.1f} ms")
    print(f"  a fresh ssh process per command, median  {statistics.median(fresh) * 1000:8.1f} ms")
    print(f"  {commands} commands issued at once, median:")
    for label, seconds in concurrent.items():
        print(f"    {label:<38} {seconds * 1000:8.1f} ms")
    figure = statistics.median(totals["driver shells"]) * 1000
    before = statistics.median(totals["a channel per command"]) * 1000
    verdict = "met" if figure <= GOAL_MS else "NOT met"
    print(f"  {commands} commands on one OpenSSH target, after connect: {figure:.1f} ms "
          f"(a channel each: {before:.1f} ms)   goal <= {GOAL_MS:.0f} ms  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = OpenSSHServer(Path(tmp)).start()
        try:
            asyncio.run(_bench(server, args.commands, args.rounds))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
