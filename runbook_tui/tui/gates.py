"""The engine's gates answered with modal screens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.app import App
from textual.screen import Screen

from runbook_tui.engine.gates import GateAnswer, GateRequest


class TuiGates:
    """Each question becomes a modal; the engine awaits the operator's answer.

    A callback resolves a future rather than ``push_screen(wait_for_dismiss=True)``, so a gate may
    be asked from any task the engine starts. If the run is cancelled while a modal is open, the
    modal goes away with it. ``screen_for`` makes the modal for a question (the app's router knows
    which screen answers which kind).
    """

    def __init__(self, app: App, screen_for: Callable[[GateRequest], Screen[GateAnswer | None]], *,
                 stopping: Callable[[], bool] = lambda: False) -> None:
        self.app = app
        self.screen_for = screen_for
        self.stopping = stopping  # the operator is quitting: a failure is not asked about, it aborts
        self.asked: list[GateRequest] = []
        self.set_aside: tuple[GateRequest, Callable[[GateAnswer | None], None]] | None = None

    async def ask(self, request: GateRequest) -> GateAnswer:
        self.asked.append(request)
        if request.kind == "failure" and self.stopping():
            return GateAnswer(True, choice="abort", reason="the operator is quitting")
        future: asyncio.Future[GateAnswer] = asyncio.get_running_loop().create_future()

        def answered(answer: GateAnswer | None) -> None:
            if answer is None and request.kind == "failure" and not future.done():
                self.set_aside = (request, answered)  # closed to read the output: still undecided
                return
            self.set_aside = None
            if not future.done():
                future.set_result(answer if answer is not None else GateAnswer.no())

        self.app.push_screen(self.screen_for(request), callback=answered)
        try:
            return await future
        except asyncio.CancelledError:
            self.set_aside = None
            if self.app.is_running and getattr(self.app.screen, "request", None) is request:
                self.app.screen.dismiss(GateAnswer.no("the run was cancelled"))
            raise

    def reopen(self) -> bool:
        """Ask the question that was set aside again; False when there is none."""
        if self.set_aside is None:
            return False
        request, answered = self.set_aside
        self.set_aside = None
        self.app.push_screen(self.screen_for(request), callback=answered)
        return True
