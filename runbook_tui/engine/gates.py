"""Gates: the questions the engine awaits an operator's answer to.

The engine only knows this interface; the TUI answers with modal screens, the headless runner on
the terminal, tests with scripted answers. Every gate defaults to "no".
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass, field
from typing import Literal, Protocol

GateKind = Literal["plan", "confirm", "typed", "manual", "choose", "failure", "override", "resume", "undo"]

FAILURE_CHOICES = ("retry", "skip", "undo", "abort")


@dataclass
class GateRequest:
    id: str
    kind: GateKind
    title: str
    text: str  # Markdown: what is asked, and why
    step_id: str = ""
    target: str | None = None
    details: list[str] = field(default_factory=list)  # exactly what will run / change
    phrase: str | None = None  # typed gates: what must be typed
    choices: tuple[str, ...] = ()
    needs_reason: bool = False
    default: str | None = None  # the default choice, where there are choices


@dataclass
class GateAnswer:
    approved: bool
    choice: str | None = None
    reason: str | None = None
    typed: str | None = None

    @classmethod
    def no(cls, reason: str | None = None) -> "GateAnswer":
        return cls(False, reason=reason)


class Gates(Protocol):
    async def ask(self, request: GateRequest) -> GateAnswer: ...


def operator() -> str:
    """Who answers: user@host, recorded with every answer; a browser session (``serve``) names
    its operator in RUNBOOK_TUI_OPERATOR, since they all run as the server's user."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    here = f"{user}@{socket.gethostname()}"
    named = os.environ.get("RUNBOOK_TUI_OPERATOR", "").strip()
    return f"{named} via {here}" if named else here


class AutoGates:
    """Answers without a person: for `run` without a TTY and for tests.

    Fails closed unless ``yes``. Typed gates also need the phrase among ``phrases``, except in the
    lab, where ``--yes`` answers them (a rehearsal). A blocked guard is never overridden here:
    that takes a person with a reason.
    """

    def __init__(
        self,
        *,
        yes: bool = False,
        phrases: tuple[str, ...] = (),
        lab: bool = False,
        undo_on_failure: bool = False,
    ):
        self.yes = yes
        self.phrases = tuple(phrases)
        self.lab = lab
        self.undo_on_failure = undo_on_failure
        self.asked: list[GateRequest] = []

    async def ask(self, request: GateRequest) -> GateAnswer:
        self.asked.append(request)
        if request.kind == "failure":
            return GateAnswer(True, choice="undo" if self.undo_on_failure else "abort")
        if request.kind == "undo":
            approved = self.undo_on_failure or self.yes
            return GateAnswer(approved, reason=None if approved else "no TTY and --undo-on-failure not given")
        if request.kind == "override":
            return GateAnswer.no("no operator to override a blocked guard")
        if request.kind == "resume":
            return GateAnswer(self.yes, reason=None if self.yes else "not confirmed")
        if not self.yes:
            return GateAnswer.no("no TTY and --yes not given")
        if request.kind == "typed":
            if request.phrase in self.phrases:
                return GateAnswer(True, typed=request.phrase)
            if self.lab:
                return GateAnswer(True, typed=request.phrase, reason="lab rehearsal: --yes")
            return GateAnswer.no(f"typed confirmation needs --confirm {request.phrase!r}")
        if request.kind == "manual" and not self.lab:
            # Nobody at the keyboard did the manual work: never journal it as done.
            return GateAnswer.no("a manual step needs a person: run it at a terminal")
        if request.kind == "choose":  # no one to choose: the default, if there is one
            return GateAnswer(request.default is not None, choice=request.default)
        return GateAnswer(True)
