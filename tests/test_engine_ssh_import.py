"""asyncssh is imported off the event loop: while it loads (~0.1 s), the run's other first steps
(a Kubernetes exec, the team lock) go on."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import asyncio, sys, time
from runbook_tui.engine.steps import _ssh_library_loaded

assert "asyncssh" not in sys.modules

async def main():
    ticks = 0
    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.002)
            ticks += 1
    beat = asyncio.create_task(ticker())
    await asyncio.gather(_ssh_library_loaded(), _ssh_library_loaded())  # two steps at once
    beat.cancel()
    import asyncssh
    print(ticks, hasattr(asyncssh, "connect"))

asyncio.run(main())
"""


def test_the_event_loop_runs_on_while_asyncssh_is_imported() -> None:
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    ticks, imported = done.stdout.split()
    assert imported == "True", done.stderr
    assert int(ticks) >= 3, f"the loop ticked {ticks} times while asyncssh was imported"
