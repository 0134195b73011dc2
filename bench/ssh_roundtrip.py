"""Per-command latency against a real sshd: one reused connection vs a fresh `ssh` per command.

Starts Debian's OpenSSH sshd on 127.0.0.1 (as tests/test_ssh_openssh.py does; needs the
openssh-server package and root or a user sshd accepts), then prints figures, no verdicts:

    .venv/bin/python bench/ssh_roundtrip.py [--commands 10] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from sshhosts import OpenSSHServer

from runbook_tui.transports.ssh import SSHPool

COMMAND = "true"


def _ssh_argv(server: OpenSSHServer) -> list[str]:
    return [
        "ssh", "-F", "/dev/null", "-T", "-i", str(server.key_path), "-p", str(server.port),
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={server.known_hosts_path}",
        f"{server.user}@127.0.0.1", COMMAND,
    ]


async def _time_pool_sequential(pool: SSHPool, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        result = await pool.run("bench", COMMAND)
        times.append(time.perf_counter() - start)
        assert result.exit_code == 0, result
    return times


def _time_fresh_ssh(server: OpenSSHServer, n: int) -> list[float]:
    argv = _ssh_argv(server)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


async def _bench(server: OpenSSHServer, commands: int, rounds: int) -> None:
    pool = SSHPool({"bench": server.target()})
    try:
        start = time.perf_counter()
        await pool.run("bench", COMMAND)  # connect + first command
        connect = time.perf_counter() - start

        reused = await _time_pool_sequential(pool, commands * rounds)
        fresh = _time_fresh_ssh(server, commands * rounds)

        start = time.perf_counter()
        await asyncio.gather(*(pool.run("bench", COMMAND) for _ in range(commands)))
        concurrent = time.perf_counter() - start
    finally:
        await pool.close()

    med_reused, med_fresh = statistics.median(reused), statistics.median(fresh)
    print(f"sshd: OpenSSH on 127.0.0.1:{server.port}, command {COMMAND!r}, "
          f"{commands * rounds} samples each")
    print(f"  first use (connect + auth + command)   {connect * 1000:8.1f} ms")
    print(f"  reused connection, median per command  {med_reused * 1000:8.1f} ms")
    print(f"  fresh ssh process, median per command  {med_fresh * 1000:8.1f} ms")
    print(f"  {commands} commands, reused, one by one     {med_reused * commands * 1000:8.1f} ms")
    print(f"  {commands} commands, reused, concurrently   {concurrent * 1000:8.1f} ms")
    print(f"  {commands} commands, fresh ssh each        {med_fresh * commands * 1000:8.1f} ms")
    print(f"  ratio fresh/reused (one by one)        {med_fresh / med_reused:8.1f} x")
    print(f"  ratio fresh/reused-concurrent          {med_fresh * commands / concurrent:8.1f} x")


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
