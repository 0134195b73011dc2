"""The run screen's reading tools: search across every step's output, wrap, timestamps, copy,
the full output of a step in a pager, and the jump to a failed step.

The base of ``RunScreenBase`` (run_base.py), which has the state, the step list and the output
view these work on. The UI keeps only the last lines of each step; the pager reads the step's
whole output from the run's journal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import TYPE_CHECKING, Any

from textual.screen import Screen
from textual.widgets import Input

from runbook_tui.textsafe import printable
from runbook_tui.tui.run_state import RunState
from runbook_tui.tui.widgets.output_view import OutputView
from runbook_tui.tui.widgets.step_list import StepList

if TYPE_CHECKING:
    from textual import getters

    from runbook_tui.tui.host import Host

FAILED = ("failed", "blocked")


def find_matches(state: RunState, text: str) -> list[tuple[str, int]]:
    """Every line of every step's kept output that contains TEXT (case-insensitive), in step
    order: (step id, line number counted from the step's first line, dropped ones included)."""
    needle = text.lower()
    found = []
    for view in state:
        out = view.output
        found += [(view.id, out.dropped + i) for i, line in enumerate(out.lines) if needle in printable(line).lower()]
    return found


def journal_output(path: Any, step_id: str) -> list[str]:
    """A step's whole output as the journal kept it, with a line where the journal stopped keeping."""
    from runbook_tui.headless.journal import read_events, truncation_text

    lines = []
    for e in read_events(path):
        if e.get("step_id") != step_id:
            continue
        if e["event"] == "output":
            lines.append(e.get("text", ""))
        elif e["event"] == "output_truncated":
            lines.append(f"… {truncation_text(e)}")
    return lines


def journal_notices(path: Any, upto: int) -> list[tuple[str, str]]:
    """The notices (text, level) among a journal's first UPTO bytes: what a resumed run said
    before this part of it, which appends to the same journal."""
    import json

    with open(path, "rb") as f:
        data = f.read(upto)
    notices = []
    for line in data.splitlines():
        if b'"notice"' not in line:
            continue  # the cheap test first: a journal is mostly output lines
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line torn by a crash
        if isinstance(event, dict) and event.get("event") == "notice":
            notices.append((str(event.get("text", "")), str(event.get("level", "warning"))))
    return notices


class RunTools(Screen):
    """The base of ``RunScreenBase``, which has the state, the layout and the redraw."""

    if TYPE_CHECKING:
        app = getters.app(Host)

    state: RunState
    follow_running: bool

    @property
    def running(self) -> bool:
        """Whether the engine is still at work (``RunScreenBase.running``)."""
        return False

    def flush(self) -> None:
        """Redraw what changed (``RunScreenBase.flush``)."""

    matches: list[tuple[str, int]] = []
    match_index = -1

    # ---------------------------------------------------------------- search
    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = True
        search.focus()

    def search_submitted(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.query_one(OutputView).focus()
        text = event.value
        self.matches = find_matches(self.state, text) if text else []
        self.match_index = -1
        self.query_one(OutputView).query_text = text
        if not text:
            self._show_count()
            return
        if not self.matches:
            self.notify(printable(f"{text!r} is in no step's output"), severity="warning", timeout=3)
            self._show_count()
            return
        # The first match at or after the step shown; else the first of all.
        ids = list(self.state.steps)
        shown = self.query_one(StepList).highlighted_id
        here = ids.index(shown) if shown in ids else 0
        self.match_index = next((i for i, (sid, _) in enumerate(self.matches) if ids.index(sid) >= here), 0) - 1
        self.action_next_match()

    def action_next_match(self) -> None:
        self._move_match(1)

    def action_previous_match(self) -> None:
        self._move_match(-1)

    def _move_match(self, step: int) -> None:
        if not self.matches:
            self.notify("No search yet: press / to search every step's output.", timeout=3)
            return
        self.match_index = (self.match_index + step) % len(self.matches)
        sid, number = self.matches[self.match_index]
        out = self.state.step(sid).output
        index = number - out.dropped
        if not 0 <= index < len(out.lines):
            self.notify("That line has scrolled out of the kept output; o opens it all.", timeout=3)
            return
        self.follow_running = False  # reading a match: the run must not pull the view away
        self.query_one(StepList).select_id(sid)
        self.flush()
        self.query_one(OutputView).goto_line(index)
        self._show_count()

    def _show_count(self) -> None:
        view = self.query_one(OutputView)
        matches = self.matches
        if not view.query_text:
            view.border_subtitle = ""
        elif not matches:
            view.border_subtitle = printable(f"no match for {view.query_text!r}")
        else:
            steps = len({sid for sid, _ in matches})
            view.border_subtitle = printable(
                f"match {self.match_index + 1} of {len(matches)} in {steps} step(s) · F3 next · shift+F3 previous")

    # ------------------------------------------------------------ the view
    def action_wrap(self) -> None:
        view = self.query_one(OutputView)
        view.set_wrap(not view.wrap)
        self.notify("Long lines wrap." if view.wrap else "Long lines scroll sideways.", timeout=2)

    def action_timestamps(self) -> None:
        view = self.query_one(OutputView)
        view.set_timestamps(not view.timestamps)

    def action_jump_failed(self) -> None:
        """The next failed or blocked step after the one shown (from the top again at the end)."""
        failed = [v.id for v in self.state if v.status in FAILED or v.history[-1:] == ["undo failed"]]
        if not failed:
            self.notify("No step has failed.", timeout=3)
            return
        steps = self.query_one(StepList)
        shown = steps.highlighted_id
        after = failed[(failed.index(shown) + 1) % len(failed)] if shown in failed else failed[0]
        self.follow_running = False
        steps.select_id(after)
        self.flush()

    # ------------------------------------------------------------------ copy
    def action_copy(self) -> None:
        """The lines selected in the output (or any text selected on screen), else the shown
        step's command."""
        text = self.query_one(OutputView).selected_text() or (self.get_selected_text() or "")
        what = "the selected text"
        if not text.strip():
            sid = self.query_one(StepList).highlighted_id
            text = self.state.step(sid).rendered if sid else ""
            what = f"the command of {sid}"
        if not text.strip():
            self.notify("Nothing to copy: select lines in the output, or pick a step that runs a command.", timeout=4)
            return
        self.app.copy_to_clipboard(text)
        self.notify(printable(f"Copied {what} ({len(text.splitlines())} line(s))."), timeout=3)

    # ------------------------------------------------------------- full output
    def action_open_output(self) -> None:
        sid = self.query_one(StepList).highlighted_id
        if sid is None:
            return
        self.run_worker(self._open_output(sid), group="pager", exclusive=True, exit_on_error=False)

    async def _open_output(self, sid: str) -> None:
        import asyncio

        from runbook_tui.headless.journal import run_path

        lines: list[str]
        try:
            path = run_path(self.state.run_id, self.app.workspace.journal_dir)
            lines = await asyncio.to_thread(journal_output, path, sid)
        except Exception:
            lines = list(self.state.step(sid).output.lines)  # no journal (not yet written): what is kept
        self.show_full_output(sid, [printable(line) for line in lines])

    def show_full_output(self, sid: str, lines: list[str]) -> None:
        """In $PAGER (or less) with the app suspended; while the run goes on (a suspended app would
        hold up the engine, whose timeouts keep counting), where the terminal cannot be handed
        over, or with no pager, in a full-screen view."""
        from textual.app import SuspendNotSupported

        pager = os.environ.get("PAGER") or shutil.which("less") or ""
        if pager and not self.app.is_headless and not self.running:
            with tempfile.NamedTemporaryFile("w", suffix=f"-{sid.replace('/', '_')}.txt", delete=False) as f:
                f.write("\n".join(lines) + "\n")
            try:
                with self.app.suspend():
                    subprocess.run([*pager.split(), f.name], check=False)
                return
            except (SuspendNotSupported, OSError):
                pass
            finally:
                os.unlink(f.name)
        self.app.push_screen(self.app.router.full_output_screen(sid, lines))
