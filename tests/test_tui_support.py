"""Helpers for the TUI's Pilot and snapshot tests: a deterministic app and ways to wait for it.

(No tests here; the name keeps it with the TUI's test files.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Switch

from runbook_tui.headless.journal import read_events
from runbook_tui.tui.app import RunbookApp

PROCEDURES = "tests/data/tui"  # relative: paths shown on screen must not depend on the checkout


def make_app(journal: Path, **kwargs: Any) -> RunbookApp:
    """An app over the small local procedures, with a frozen clock and fixed run ids."""
    kwargs.setdefault("procedures", PROCEDURES)
    kwargs.setdefault("preferences", Path(journal) / "preferences.json")  # not the user's saved theme
    return RunbookApp(
        journal_dir=journal,
        clock=lambda: 0.0,
        run_ids=lambda proc: f"20250101-120000-{proc}-000001",
        **kwargs,
    )


async def wait_for(pilot: Pilot, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Let the app run until ``predicate()`` is truthy; fail with what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what or predicate}")


async def wait_for_workers(pilot: Pilot) -> None:
    """Wait until no worker is running (harlequin's fixture), then for the screen to settle."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def home_ready(pilot: Pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.workspace is not None or app.workspace_error, what="the workspace")
    assert app.workspace_error is None, app.workspace_error
    await wait_for(pilot, lambda: getattr(app.screen, "procedures", None), what="the procedures")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def screen_is(pilot: Pilot, name: str, timeout: float = 10.0) -> Any:
    screen = await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == name and pilot.app.screen,
                            timeout, what=f"screen {name}")
    await pilot.pause()
    return screen


async def run_finished(pilot: Pilot, timeout: float = 15.0) -> Any:
    run = next(s for s in reversed(pilot.app.screen_stack) if hasattr(s, "state"))
    await wait_for(pilot, lambda: run.state.outcome and not run.running, timeout, what="the run to finish")
    run.flush()
    await pilot.pause()
    return run


async def start(pilot: Pilot, proc: str, *, dry_run: bool | None = None, walkthrough: bool = False,
                typed: dict[str, str] | None = None) -> Any:
    """From home: open the inputs form, fill it, start; returns the run screen."""
    pilot.app.start_procedure(proc, dry_run=dry_run, walkthrough=walkthrough)
    form = await screen_is(pilot, "InputsScreen")
    for name, value in (typed or {}).items():
        widget = form.query_one(f"#in-{name}")
        widget.value = value.lower() in ("true", "yes") if isinstance(widget, Switch) else value
    await pilot.pause()
    form.action_start()
    return await screen_is(pilot, "WalkthroughScreen" if walkthrough else "RunScreen")


def no_blink(app: RunbookApp) -> None:
    """Snapshots: a blinking cursor would make them flaky."""
    for screen in app.screen_stack:
        for widget in screen.query(Input):
            widget.cursor_blink = False


async def settle(pilot: Pilot) -> None:
    """Before a screenshot: every run screen redrawn from its latest state, no blinking cursor."""
    await asyncio.sleep(0.05)
    await pilot.pause()
    from runbook_tui.tui.widgets.step_detail import StepDetail

    for screen in pilot.app.screen_stack:
        if hasattr(screen, "flush"):
            screen.flush()
        for detail in screen.query(StepDetail):
            await detail.settled()
    no_blink(pilot.app)
    await pilot.pause()
    await pilot.pause()


# ---- shared by the snapshot tests (their fixtures, fixed_world and journal, are in conftest.py)
SIZE = (120, 40)


async def gate_of(pilot, kind: str):
    return await wait_for(pilot, lambda: getattr(pilot.app.screen, "request", None) is not None
                          and pilot.app.screen.request.kind == kind and pilot.app.screen, what=f"{kind} gate")


async def to_gate(pilot, kind: str, **inputs: str):
    """Start `change` and answer yes until the gate of ``kind`` is showing."""
    await home_ready(pilot)
    await start(pilot, "change", typed={"note": "hi", **inputs})
    for step in ("plan", "confirm", "typed"):
        gate = await gate_of(pilot, step)
        if step == kind:
            return gate
        if step == "typed":
            gate.query_one("#gate-phrase", Input).value = "commit"
            await pilot.pause()
            await pilot.click("#yes")
        else:
            await pilot.press("y")


def events(journal: Path, kind: str | None = None) -> list[dict]:
    (path,) = journal.glob("*.jsonl")
    return [e for e in read_events(path) if kind is None or e["event"] == kind]
