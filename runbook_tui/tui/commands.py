"""The command palette: every procedure (run, dry-run, walk through) and the app's actions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider


class RunbookCommands(Provider):
    def _commands(self) -> Iterator[tuple[str, Callable[[], Any], str]]:
        app: Any = self.app
        ws = getattr(app, "workspace", None)
        router = app.router
        yield "Keys: help for this screen", app.action_help, "every key of the screen you are on (? or F1)"
        yield "Runs: the journal", router.show_runs, "past runs, their timelines, reports and resume"
        home = app.screen_stack[0] if app.screen_stack else None  # home is the bottom screen
        if home is not None and hasattr(home, "action_probe"):
            yield "Probe targets", home.action_probe, "check SSH reachability, host keys and the clusters again"
        if ws is None:
            return
        for proc in getattr(home, "procedures", []) or []:
            kind = "mutating" if proc.mutating else "read-only"
            yield f"Run {proc.id}", partial(router.start_procedure, proc.id), f"{proc.title} ({kind})"
            yield f"Dry-run {proc.id}", partial(router.start_procedure, proc.id, dry_run=True), proc.title
            yield f"Walk through {proc.id}", partial(router.start_procedure, proc.id, walkthrough=True), proc.title

    async def discover(self) -> Hits:
        for text, command, help in self._commands():
            yield DiscoveryHit(text, command, help=help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, help=help)
