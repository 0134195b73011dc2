"""Regenerate ``screenshots/*.svg``: every screen, driven by Pilot against the rehearsal lab.

    python -m runbook_tui.tui.screenshots [--out screenshots] [--only NAME ...]

Each scene starts a fresh app on a fresh lab (so faults stay in their scene), drives it to the
screen to show and saves an SVG (at 120x40 unless the scene says otherwise). The runs screen
comes last and shows the scenes' own runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from runbook_tui.tui.app import RunbookApp

SIZE = (120, 40)
Scene = Callable[[Pilot], Awaitable[None]]


async def _until(pilot: Pilot, predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await pilot.pause(0.05)
    raise TimeoutError(f"gave up waiting for {what}")


async def _home(pilot: Pilot) -> None:
    app: Any = pilot.app
    await _until(pilot, lambda: app.workspace is not None or app.workspace_error, what="the lab")
    if app.workspace_error:
        raise RuntimeError(app.workspace_error)
    await _until(pilot, lambda: getattr(app.screen, "procedures", None), what="the procedures")
    await app.workers.wait_for_complete()
    await pilot.pause()


async def _start(pilot: Pilot, proc: str, *, dry_run: bool | None = None, walkthrough: bool = False) -> Any:
    app: Any = pilot.app
    await _home(pilot)
    app.start_procedure(proc, dry_run=dry_run, walkthrough=walkthrough)
    form = await _until(pilot, lambda: type(app.screen).__name__ == "InputsScreen" and app.screen, what="inputs")
    await app.workers.wait_for_complete()  # discovered defaults
    await pilot.pause(0.2)
    form.action_start()
    kind = "WalkthroughScreen" if walkthrough else "RunScreen"
    return await _until(pilot, lambda: next((s for s in app.screen_stack if type(s).__name__ == kind), None),
                        what=kind)


def _gate(pilot: Pilot) -> Any:
    return getattr(pilot.app.screen, "request", None)


async def _answer_until(pilot: Pilot, kind: str, timeout: float = 60.0) -> None:
    """Say yes to every gate (typing phrases, giving Done) until one of ``kind`` is showing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = _gate(pilot)
        if request is not None and request.kind == kind:
            return
        if request is not None and request.kind in ("plan", "confirm", "manual", "typed", "choose", "undo"):
            screen: Any = pilot.app.screen  # the gate's screen
            await pilot.pause(0.1)  # as a person would: after it has drawn
            if request.kind == "typed":
                screen.query_one("#gate-phrase", Input).value = request.phrase or ""
                await pilot.pause()
            screen.action_approve()
            await _until(pilot, lambda: pilot.app.screen is not screen, what="the gate to close")  # noqa: B023 (awaited here)
            continue
        if request is not None:
            raise RuntimeError(f"stopped at a {request.kind} gate: {request.title}")
        await pilot.pause(0.05)
    raise TimeoutError(f"no {kind} gate")


async def _finished(pilot: Pilot, timeout: float = 60.0) -> Any:
    """Wait for the run to end, approving the plan and confirmations on the way."""
    run = next(s for s in reversed(pilot.app.screen_stack) if hasattr(s, "state"))
    deadline = time.monotonic() + timeout
    while not (run.state.outcome and not run.running):
        if time.monotonic() > deadline:
            raise TimeoutError("gave up waiting for the run to end")
        request = _gate(pilot)
        if request is not None and request.kind in ("plan", "confirm"):
            screen: Any = pilot.app.screen  # the gate's screen
            screen.action_approve()
            await _until(pilot, lambda: pilot.app.screen is not screen, what="the gate to close")  # noqa: B023 (awaited here)
        await pilot.pause(0.05)
    return run


# ------------------------------------------------------------------ scenes
async def home(pilot: Pilot) -> None:
    await _home(pilot)


async def inputs(pilot: Pilot) -> None:
    app: Any = pilot.app
    await _home(pilot)
    app.start_procedure("node-change")
    await _until(pilot, lambda: type(app.screen).__name__ == "InputsScreen", what="inputs")
    await app.workers.wait_for_complete()


async def run(pilot: Pilot) -> None:
    await _start(pilot, "validate")
    await _finished(pilot)


async def dry_run(pilot: Pilot) -> None:
    await _start(pilot, "reload", dry_run=True)
    await _finished(pilot)


async def gate_plan(pilot: Pilot) -> None:
    await _start(pilot, "reload")
    await _answer_until(pilot, "plan")


async def gate_confirm(pilot: Pilot) -> None:
    await _start(pilot, "reload")
    await _answer_until(pilot, "confirm")


async def gate_typed(pilot: Pilot) -> None:
    await _start(pilot, "rollback-nat")
    await _answer_until(pilot, "typed")
    screen: Any = pilot.app.screen
    screen.query_one("#gate-phrase", Input).focus()
    await pilot.press(*(screen.request.phrase or "")[:-3])


async def gate_manual(pilot: Pilot) -> None:
    app: Any = pilot.app
    await _home(pilot)
    app.start_procedure("rollback")
    form = await _until(pilot, lambda: type(app.screen).__name__ == "InputsScreen" and app.screen, what="inputs")
    await app.workers.wait_for_complete()
    await pilot.pause(0.2)
    form.query_one("#in-alias_method").value = "webui"  # by hand in the WebUI: a manual gate
    await pilot.pause()
    form.action_start()
    await _answer_until(pilot, "manual", timeout=90)


async def failure(pilot: Pilot) -> None:
    await _start(pilot, "backend-health")
    await _answer_until(pilot, "failure")


async def walkthrough(pilot: Pilot) -> None:
    walk = await _start(pilot, "rollback", walkthrough=True)
    seen: list[str] = []
    for _ in range(3):
        await _until(pilot, lambda: walk._go is not None and walk.current.id not in seen, what="Next")
        seen.append(walk.current.id)
        if len(seen) < 3:
            walk.action_next()


async def help_keys(pilot: Pilot) -> None:
    await _home(pilot)
    await pilot.press("question_mark")
    await _until(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen", what="the help")


async def runs(pilot: Pilot) -> None:
    app: Any = pilot.app
    await _home(pilot)
    app.show_runs()
    screen = await _until(pilot, lambda: type(app.screen).__name__ == "RunsScreen" and app.screen, what="runs")
    await _until(pilot, lambda: screen.runs, what="the journal")
    await app.workers.wait_for_complete()


SCENES: dict[str, tuple[Scene, dict[str, Any]]] = {
    "home": (home, {}),
    "inputs": (inputs, {}),
    "run": (run, {}),
    "dry-run": (dry_run, {}),
    "gate-plan": (gate_plan, {}),
    "gate-confirm": (gate_confirm, {}),
    "gate-typed": (gate_typed, {"phase": 5}),
    "gate-manual": (gate_manual, {}),
    "failure": (failure, {"faults": ["node-down=k8s-node2"]}),
    "walkthrough": (walkthrough, {}),
    "help": (help_keys, {}),
    "home-80x24": (home, {"size": (80, 24)}),
    "home-light": (home, {"theme": "textual-light"}),
    "lab-faults": (home, {"faults": ["latency=0.05"]}),
    "runs": (runs, {}),
    "runs-80x24": (runs, {"size": (80, 24)}),
}


async def shoot(name: str, scene: Scene, options: dict[str, Any], out: Path, journal: Path) -> None:
    options = dict(options)
    size, theme = options.pop("size", SIZE), options.pop("theme", None)
    # Preferences of their own: the screenshots never take the theme the user last chose.
    app = RunbookApp(lab=True, journal_dir=journal, preferences=journal / "preferences.json", **options)
    if theme is not None:
        app.theme = theme
    async with app.run_test(size=size) as pilot:
        try:
            await asyncio.wait_for(scene(pilot), 120)
            await pilot.pause(0.3)
            for screen in app.screen_stack:
                if hasattr(screen, "flush"):
                    screen.flush()
                for widget in screen.query(Input):
                    widget.cursor_blink = False
            await pilot.pause()
            app.save_screenshot(f"{name}.svg", str(out))
        finally:
            await app.stop_runs()
            await app.action_quit()


async def main_async(out: Path, only: list[str]) -> int:
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="runbook-tui-shots-") as tmp:
        for name, (scene, options) in SCENES.items():
            if only and name not in only:
                continue
            started = time.monotonic()
            try:
                await shoot(name, scene, options, out, Path(tmp))
                print(f"{out / (name + '.svg')}  ({time.monotonic() - started:.1f}s)")
            except Exception as exc:  # one scene failing should not lose the others
                failed += 1
                print(f"{name}: not taken: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runbook_tui.tui.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="screenshots", help="folder for the SVGs (default: screenshots)")
    parser.add_argument("--only", nargs="*", default=[], choices=list(SCENES), help="only these scenes")
    args = parser.parse_args(argv)
    return asyncio.run(main_async(Path(args.out), args.only))


if __name__ == "__main__":
    sys.exit(main())
