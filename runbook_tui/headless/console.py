"""The headless face: live progress on a terminal, or the event stream as JSON lines,
and gates answered at the terminal prompt.

Output, values and messages can carry terminal control sequences (a remote ``ESC ] 0 ;`` title,
an ``ESC [ 2J`` clear): every text from an event or a gate is written through ``printable``, so
the terminal shows them and obeys none. The JSON stream is escaped by ``json.dumps`` (ASCII output: DEL and beyond as ``\\u`` escapes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import GateAnswer, GateRequest
from runbook_tui.headless.journal import truncation_text
from runbook_tui.textsafe import printable

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_D = TypeVar("_D", bound="DataclassInstance")

MARKS = {
    "ok": "✓", "failed": "✗", "skipped": "–", "blocked": "■", "would-run": "◌",
    "unproven": "?", "undone": "↶", "cancelled": "⨯",
}


def _safe(value: Any) -> Any:
    """``value`` with every string in it made printable; the same object when nothing changed."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, (list, tuple)):
        items = [_safe(v) for v in value]
        return value if all(a is b for a, b in zip(items, value)) else type(value)(items)
    if isinstance(value, dict):
        pairs = [(_safe(k), _safe(v)) for k, v in value.items()]
        same = all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, value.items()))
        return value if same else dict(pairs)
    return value


def _safe_fields(obj: _D) -> _D:
    """A copy of a dataclass (an event, a gate request) whose texts are printable."""
    changes = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        safe = _safe(value)
        if safe is not value:
            changes[f.name] = safe
    return dataclasses.replace(obj, **changes) if changes else obj


def write_or_drop(out: TextIO, text: str) -> bool:
    """Write TEXT; when the reader has gone (``run --json | head``), stop writing and say so.

    A reporter never breaks the run it reports: the run goes on, the journal keeps the record,
    and a change is never cut off halfway because a pipe closed. Returns False once dropped."""
    try:
        out.write(text)
        return True
    except BrokenPipeError:
        import os

        try:  # later writes, and the interpreter's last flush, go nowhere instead of failing
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        except (OSError, ValueError):
            pass
        return False


Part = str | tuple[str, str]  # plain text, or (rich style, text)


class ConsoleReporter:
    """A status line per step, output prefixed with the step id, a summary table at the end.
    ``quiet`` (for cron): only failures and the outcome line.

    Written through rich, so whether to colour is rich's decision: a terminal, not ``TERM=dumb``,
    no ``NO_COLOR`` (no-color.org), honouring ``FORCE_COLOR``; ``color`` True or False (``--no-color``)
    overrides. Colourless output is plain text with no escape at all (rich's NO_COLOR alone would
    keep bold and dim). rich is imported at the first styled line printed, not at start-up."""

    def __init__(self, out: TextIO | None = None, *, color: bool | None = None, quiet: bool = False):
        self.out = out or sys.stdout
        self._wanted = color
        self._rich: Any = None  # the rich Console, made at the first line
        self._wraps: dict[str, tuple[str, str]] = {}
        self.quiet = quiet
        self.titles: dict[str, str] = {}
        self.finished: list[ev.StepFinished] = []
        self.width = 12

    @property
    def color(self) -> bool:
        if self._rich is None:
            from rich.console import Console

            self._rich = Console(
                file=self.out, force_terminal=True if self._wanted else None,
                no_color=True if self._wanted is False else None,
                color_system="standard" if self._wanted else "auto",
                highlight=False, markup=False, emoji=False, soft_wrap=True,
            )
        return self._rich.color_system is not None and not self._rich.no_color

    def _print(self, *parts: Part) -> None:
        # Only a styled part needs rich's decision: --quiet's plain lines never import rich (~20 ms).
        color = any(isinstance(p, tuple) for p in parts) and self.color
        text = "".join(p if isinstance(p, str) else self._styled(*p) if color else p[1] for p in parts)
        # Written by write_or_drop, not by rich: rich's own write ends the process on a closed
        # pipe, and a reporter never breaks the run it reports.
        write_or_drop(self.out, text + "\n")

    def _styled(self, style: str, text: str) -> str:
        """TEXT in STYLE as rich renders it for this terminal; each style is rendered by rich
        once (around a placeholder) and reused, so a flood of output lines stays cheap."""
        wrap = self._wraps.get(style)
        if wrap is None:
            from rich.text import Text

            with self._rich.capture() as captured:
                self._rich.print(Text("\0", style=style), end="")
            before, _, after = captured.get().partition("\0")
            wrap = self._wraps[style] = (before, after)
        return wrap[0] + text + wrap[1]

    def __call__(self, event: ev.Event) -> None:
        if self.quiet:
            self._quiet(event)
            return
        self._verbose(event)

    def _quiet(self, event: ev.Event) -> None:
        if isinstance(event, ev.StepFinished) and event.status in ("failed", "blocked"):
            event = _safe_fields(event)
            message = event.message.splitlines()[0] if event.message else ""
            self._print(f"{event.step_id} {event.status}" + (f": {message}" if message else ""))
        elif isinstance(event, ev.Notice) and event.level == "error":
            self._print(printable(event.text))
        elif isinstance(event, ev.RunFinished):
            event = _safe_fields(event)
            self._print(f"{event.outcome.upper()}" + (f": {event.message}" if event.message else ""))

    def _verbose(self, event: ev.Event) -> None:
        if isinstance(event, ev.OutputLine):  # the hot path: only what is printed
            self._print("  ", ("dim", printable(event.step_id).ljust(self.width)), f" │ {printable(event.text)}")
            return
        event = _safe_fields(event)
        if isinstance(event, ev.RunStarted):
            self.titles = {s["id"]: s["title"] for s in event.steps}
            self.width = max([len(s) for s in self.titles] + [8])
            mode = {"live": "LIVE", "dry-run": "DRY-RUN", "offline": "DRY-RUN (offline)", "lab": "LAB"}[event.mode]
            self._print(("bold", f"{event.title} [{mode}]"), f"  run {event.run_id}  by {event.operator}")
            if event.resumed:
                self._print("  resuming: steps already done are not repeated")
        elif isinstance(event, ev.StepStarted):
            where = f" [{event.target}]" if event.target else ""
            again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            verb = "undo" if event.phase == "undo" else "▶"
            first = event.rendered.splitlines()[0] if event.rendered else ""
            self._print(f"{verb} ", ("bold", event.step_id), f"{where}{again}  ", ("cyan", first))
        elif isinstance(event, ev.GuardEvaluated):
            if not event.passed:
                self._print(f"  {event.guard} not met: {event.expression}" + (f" ({event.detail})" if event.detail else ""))
        elif isinstance(event, ev.GateAnswered):
            verdict = "yes" if event.approved else "no"
            extra = f" ({event.choice})" if event.choice else ""
            why = f": {event.reason}" if event.reason else ""
            self._print(f"  gate {event.gate} answered {verdict}{extra} by {event.who}{why}")
        elif isinstance(event, ev.Notice):
            style = {"error": "red", "warning": "yellow"}.get(event.level, "")
            self._print((style, f"! {event.text}"))
        elif isinstance(event, ev.OutputTruncated):
            self._print(f"  {event.step_id}: {truncation_text(event.to_dict())}")
        elif isinstance(event, ev.StepFinished):
            self.finished.append(event)
            mark = MARKS.get(event.status, "·")
            style = {"ok": "green", "failed": "red", "blocked": "red", "would-run": "yellow",
                     "unproven": "yellow"}.get(event.status, "")
            message = event.message.splitlines()[0] if event.message and event.status != "would-run" else ""
            self._print((style, mark), f" {event.step_id} {event.status} {event.duration:.2f}s"
                        + (f"  {message}" if message else ""))
            if event.status == "would-run":
                for line in event.rendered.splitlines():
                    self._print(f"    would run: {line}")
                for line in (event.message or "").splitlines()[:60]:
                    self._print(f"    {line}")
        elif isinstance(event, ev.RunFinished):
            self._summary(event)

    def _summary(self, event: ev.RunFinished) -> None:
        self._print("")
        self._print(f"{'STEP'.ljust(self.width)}  {'STATUS':<10} {'TIME':>7}  NOTE")
        last: dict[str, ev.StepFinished] = {}
        for f in self.finished:
            last[f.step_id] = f
        for sid, f in last.items():
            note = (f.message or "").splitlines()[0][:70] if f.message and f.status != "would-run" else ""
            self._print(f"{sid.ljust(self.width)}  {f.status:<10} {f.duration:>6.2f}s  {note}")
        self._print("")
        self._print(("green" if event.outcome == "succeeded" else "red", event.outcome.upper()),
                    f": {event.message}" if event.message else "")


class JsonReporter:
    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stdout

    def __call__(self, event: ev.Event) -> None:
        line = json.dumps(event.to_dict(), default=str)  # ASCII: every control, DEL too, is \u-escaped
        write_or_drop(self.out, line + "\n")


class TerminalGates:
    """Asks at the terminal. Every default is "no"."""

    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stderr

    async def _input(self, prompt: str) -> str:
        self.out.write(prompt)
        self.out.flush()
        # A daemon thread, not the default executor: after Ctrl+C the process must not wait for
        # a prompt nobody will answer.
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()

        def read() -> None:
            line = sys.stdin.readline()

            def give() -> None:
                if not answer.done():
                    answer.set_result(line)

            loop.call_soon_threadsafe(give)

        threading.Thread(target=read, daemon=True).start()
        return (await answer).strip()

    async def ask(self, request: GateRequest) -> GateAnswer:
        asked = request  # answers compare with, and choose from, what was asked
        request = _safe_fields(request)  # what is shown
        w = self.out.write
        w(f"\n── {request.title} " + "─" * max(4, 60 - len(request.title)) + "\n")
        w(request.text + "\n")
        for line in request.details:
            w(f"   {line}\n")
        if request.kind == "typed":
            typed = await self._input(f"Type {request.phrase!r} to go ahead (anything else refuses): ")
            return GateAnswer(typed == asked.phrase, typed=typed)
        if request.kind == "failure":
            answer = (await self._input("[r]etry, [s]kip, [u]ndo, [A]bort? ")).lower()
            choice = {"r": "retry", "s": "skip", "u": "undo"}.get(answer[:1], "abort")
            reason = await self._input("Why skip it? ") if choice == "skip" else None
            return GateAnswer(True, choice=choice, reason=reason)
        if request.kind == "choose":
            for i, choice in enumerate(request.choices, 1):
                w(f"  {i}. {choice}\n")
            hint = f" [{request.default}]" if request.default is not None else ""
            answer = await self._input(f"Choose 1-{len(request.choices)}{hint}: ")
            if not answer:
                return GateAnswer(asked.default is not None, choice=asked.default)
            if answer.isdigit() and 1 <= int(answer) <= len(asked.choices):
                return GateAnswer(True, choice=asked.choices[int(answer) - 1])
            return GateAnswer.no("no valid choice")
        question = {"manual": "Done? [y/N] ", "override": "Override the guard? [y/N] "}.get(request.kind, "Go ahead? [y/N] ")
        approved = (await self._input(question)).lower() in ("y", "yes")
        reason = None
        if approved and request.needs_reason:
            reason = await self._input("Reason (recorded): ")
            approved = bool(reason)
        return GateAnswer(approved, reason=reason)
