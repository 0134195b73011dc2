"""What the run screen and the walkthrough share: a procedure run by the engine, shown as it goes.

The engine runs in an async worker. Its events are folded into a RunState by a plain subscriber;
a 20 fps timer redraws only what changed, so a flood of output never floods the UI. Each screen
built on this (``screens/run.py``, ``screens/walkthrough.py``) lays the widgets out itself; what it
asks of the engine it says in ``engine_options``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual import on
from textual.binding import Binding
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from runbook_tui.engine import events as ev
from runbook_tui.language.model import Procedure
from runbook_tui.textsafe import printable
from runbook_tui.tui.messages import RunsChanged
from runbook_tui.tui.mode import Mode
from runbook_tui.tui.run_state import RunFeed, RunState
from runbook_tui.tui.run_tools import RunTools, journal_notices
from runbook_tui.tui.sentences import error_sentence
from runbook_tui.tui.widgets.notices import NoticePanel
from runbook_tui.tui.widgets.output_view import OutputView
from runbook_tui.tui.widgets.run_summary import RunSummary, counts
from runbook_tui.tui.widgets.step_detail import StepDetail
from runbook_tui.tui.widgets.step_list import StepList, fmt_elapsed

if TYPE_CHECKING:
    from textual import getters

    from runbook_tui.language.model import Step
    from runbook_tui.tui.host import Host

FPS = 20
OUTCOME_STYLE = {"succeeded": "bold green", "failed": "bold red", "aborted": "bold red", "refused": "bold yellow"}
# A success that proved less than it says: steps not run for real, or not run at all.
UNPROVEN = ("would-run", "unproven", "skipped")


class RunScreenBase(RunTools):
    """The engine in a worker, its events in ``self.state``, redraws, search, follow, cancel and back.

    Expects a layout (``compose``) with a StepList, an OutputView, a StepDetail, ``#search``,
    ``#run-header`` and ``#run-status``.
    """

    if TYPE_CHECKING:
        app = getters.app(Host)  # RunbookApp, which screens do not import

    BINDINGS = [
        Binding("c", "cancel", "Cancel run (asks)"),
        Binding("f", "follow", "Follow running"),
        Binding("j", "jump_failed", "Jump to failed"),
        Binding("slash", "search", "Search all output"),
        Binding("f3", "next_match", "Next match", show=False),
        Binding("shift+f3", "previous_match", "Previous match", show=False),
        Binding("l", "wrap", "Wrap long lines", show=False),
        Binding("i", "timestamps", "Line timestamps", show=False),
        Binding("o", "open_output", "Full output (pager)"),
        Binding("k", "copy", "Copy command/selection"),
        Binding("escape", "back", "Back"),
        Binding("t,s,u,x", "decide", "Decide on the failed step"),
    ]

    def __init__(self, procedure: Procedure, inputs: dict[str, Any], *, mode: Mode, resume: Any = None) -> None:
        super().__init__()
        self.procedure = procedure
        self.inputs = inputs
        self.mode = mode
        self.resume = resume
        self.state = RunState()
        self.engine: Any = None
        self.gates: Any = None  # TuiGates, once the engine is made
        self.follow_running = True
        self._shown_step: str | None = None
        self._why = {s.id: s.why for s in procedure.steps}
        self.error: str | None = None
        self.stopping = False  # the operator is quitting once the running steps finish
        self._asking_cancel = False
        self._shown_header = ""

    def _header(self) -> str:
        run = f"  [dim]run {self.state.run_id}[/]" if self.state.run_id else ""
        took = self.state.run_elapsed()
        clock = f"  [b]{fmt_elapsed(took)}[/b]" if took is not None else ""
        return printable(f"[b]{self.procedure.title}[/b]  ({self.procedure.id}){run}{clock}")

    def on_mount(self) -> None:
        self.state.clock = getattr(self.app, "clock", self.state.clock)
        self.query_one("#search", Input).display = False
        self._seed_steps()
        self.set_interval(1 / FPS, self.flush)
        self.start()

    def _seed_steps(self) -> None:
        """Show the steps before the engine says anything: everything pending."""
        deps = self.procedure.dependencies()
        for s in self.procedure.steps:
            view = self.state.step(s.id)
            view.title, view.mutating, view.target, view.action = s.label, s.is_mutating, s.target_name, s.action
            view.needs, view.loc = deps[s.id], str(s.loc) if s.loc else None
            view.undoable = s.undo is not None
        state = getattr(self.resume, "state", None)
        if state is not None:  # a resume: what the journal says the earlier steps did
            self.state.seed_recorded(state.statuses, state.results)
            self._seed_notices(state.run_id)
        self.query_one(StepList).rebuild()
        self.query_one(StepList).focus()

    def _seed_notices(self, run_id: str) -> None:
        """A resume: the notices the run's journal holds now, read in a thread (a journal can be
        large); the resumed part appends its own after them, and they come as events."""
        import asyncio

        from runbook_tui.headless.journal import run_path

        try:
            path = run_path(run_id, self.app.workspace.journal_dir)
            size = path.stat().st_size
        except Exception:
            return  # no journal to read: the resume said why already, or will

        async def read() -> None:
            self.state.seed_notices(await asyncio.to_thread(journal_notices, path, size))

        self.run_worker(read(), group="notices", exit_on_error=False)

    # ------------------------------------------------------------------ run
    def make_engine(self) -> Any:
        from runbook_tui.tui.gates import TuiGates

        ws = self.app.workspace
        run_ids = getattr(self.app, "run_ids", None)
        options = self.engine_options()
        options["before_step"] = self._before_step(options.get("before_step"))
        gates = TuiGates(self.app, self._gate_screen, stopping=lambda: self.stopping)
        self.gates = gates
        return ws.engine(
            self.procedure, inputs=self.inputs, gates=gates,
            subscribers=[RunFeed(self.state, self.on_engine_event)],
            dry_run=self.mode.dry_run, offline=self.mode.offline, resume=self.resume,
            run_id=run_ids(self.procedure.id) if run_ids is not None else None,
            **options,
        )

    def _gate_screen(self, request: Any) -> Any:
        self.state.dirty_run = True  # the status line says what is asked
        return self.app.router.gate_screen(request, self.state)

    def _before_step(self, then: Callable[[Step], Awaitable[None]] | None) -> Callable[[Step], Awaitable[None]]:
        """The engine's hook before each step: once the operator chose to quit after the running
        steps, no other step starts (cleanup, ``always``, still does); else the screen's own hook."""
        from runbook_tui.engine.options import Stop

        async def before_step(step: Step) -> None:
            if self.stopping and not step.always:
                raise Stop("aborted", "stopped by the operator, who quit after the running step")
            if then is not None:
                await then(step)

        return before_step

    def stop_after_running_steps(self) -> None:
        """Let the steps running now finish, start no other (but cleanup), then end the run."""
        if self.running:
            self.stopping = True

    def engine_options(self) -> dict[str, Any]:
        """What a kind of run screen asks of the engine (the walkthrough: one step at a time)."""
        return {}

    def start(self) -> None:
        self.engine = self.make_engine()
        self.run_worker(self.engine.run(), name="engine", group="run", exclusive=True, exit_on_error=False)

    def on_engine_event(self, event: ev.Event) -> None:
        """Rare events (not output): called in the engine's loop, synchronously."""
        if isinstance(event, ev.RunFinished):
            self.app.post_message(RunsChanged())
        elif isinstance(event, ev.Notice) and event.level in ("warning", "error"):
            error = event.level == "error"
            self.notify(printable(event.text), title="The engine says", markup=False, timeout=20 if error else 12,
                        severity="error" if error else "warning")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place engine failures surface: as a sentence in the status line."""
        if event.worker.group != "run":
            return
        if event.state == WorkerState.ERROR:
            self.error = error_sentence(event.worker.error)
            self.notify(printable(self.error), title="The run stopped", severity="error", timeout=10)
        if event.state in (WorkerState.ERROR, WorkerState.CANCELLED, WorkerState.SUCCESS):
            self.flush()

    @property
    def running(self) -> bool:
        return any(w.group == "run" and not w.is_finished for w in self.run_workers)

    @property
    def run_workers(self) -> list[Worker]:
        return [w for w in self.app.workers if w.node is self and w.group == "run"]

    # --------------------------------------------------------------- redraw
    def flush(self) -> None:
        """Redraw what changed since the last frame (called at FPS)."""
        if not self.is_attached or not self.query(StepList):
            return  # the app is closing: nothing left to draw on
        rows, output, run = self.state.take_dirty()
        steps = self.query_one(StepList)
        if self.state.run_id and self.state.finished_at is None or run:
            header = self._header()  # the run's clock ticks, a tenth of a second at a time
            if header != self._shown_header:
                self._shown_header = header
                self.query_one("#run-header", Static).update(header)
        if run:
            self._update_status()
            for notices in self.query(NoticePanel):
                notices.show_for(self.state.notices)
            for summary in self.query(RunSummary):
                summary.show_for(self.state, dry_run=self.mode.dry_run)
        rows |= set(self.state.running)  # elapsed times tick
        if rows or run:
            steps.refresh_rows(rows if not run else None)
        following = self.state.following
        if self.follow_running and following and following != steps.highlighted_id:
            self._pick(following)
        if run and self.state.outcome and self.follow_running:
            self.follow_running = False  # the run is over: stay where the operator looks
            failed = [v.id for v in self.state if v.status in ("failed", "blocked")]
            if failed:
                self._pick(failed[-1])
        selected = steps.highlighted_id
        view = self.query_one(OutputView)
        if selected is not None:
            if selected != self._shown_step:
                self._shown_step = selected
                view.show(self.state.step(selected).output)
                self._show_detail(selected)
            else:
                if selected in output:
                    view.refresh_output()
                if selected in rows and selected not in self.state.running or run:
                    self._show_detail(selected)

    def _pick(self, sid: str) -> None:
        """Highlight SID for the operator (following): not a choice of theirs to stop following."""
        self.query_one(StepList).select_id(sid)

    def _show_detail(self, sid: str) -> None:
        view = self.state.step(sid)
        why = self._why.get(sid)
        self.query_one(StepDetail).show(view, self._render_why(why))
        self.query_one(OutputView).border_title = f"Output · {sid}"

    def _render_why(self, why: str | None) -> str | None:
        """A ``why`` with its templates filled in from what the run knows so far (``Engine.context``)."""
        if not why or "{" not in why or self.engine is None:
            return why
        from runbook_tui.language.templating import render_text

        try:
            return render_text(why, self.engine.context())
        except Exception:
            return why  # a why that cannot render yet is still worth reading

    def _update_status(self) -> None:
        s = self.state
        status = self.query_one("#run-status", Static)
        if s.outcome:
            style = OUTCOME_STYLE.get(s.outcome, "bold")
            tally = counts(s)
            said = ", ".join(f"{n} {k}" for k, n in tally.items())
            outcome = s.outcome.upper()
            if s.outcome == "succeeded" and (self.mode.dry_run or any(tally.get(k) for k in ("unproven", "skipped"))):
                # Not proven: amber, saying what was not done for real.
                style = "bold yellow"
                outcome = "DRY-RUN " + outcome if self.mode.dry_run else outcome
                said = ", ".join(f"{tally[k]} {k}" for k in UNPROVEN if tally.get(k)) or said
                said += " · nothing was changed" if self.mode.dry_run else ""
            message = f": {printable(s.message)}" if s.message else ""
            status.update(f"[{style}]{outcome}[/]{message}  [dim]({said}) · escape: back[/]")
        elif self.gates is not None and self.gates.set_aside is not None:
            sid = self.gates.set_aside[0].step_id
            status.update(printable(f"[bold red]{sid} failed: waiting for your decision[/] · t s u x: decide"))
        elif s.gate is not None:
            status.update(f"[yellow]waiting for an answer: {s.gate.gate} gate at {s.gate.step_id or 'the run'}[/]")
        else:
            status.update("[dim]running…[/]" if s.run_id else "[dim]starting…[/]")

    # -------------------------------------------------------------- actions
    @on(StepList.OptionHighlighted)
    def _highlighted(self, event: StepList.OptionHighlighted) -> None:
        if self.query_one(StepList).by_operator(event) and self.state.running:
            # The operator picked another step: stop following the running one until f.
            self.follow_running = event.option_id == self.state.following
        self.flush()

    def on_screen_resume(self) -> None:
        self.state.dirty_run = True  # back from a dialog: a question may have been set aside

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "decide":
            return self.gates is not None and self.gates.set_aside is not None
        return True

    def action_decide(self) -> None:
        """Back to the failed step's question, set aside to read the output."""
        if self.gates is not None and self.gates.reopen():
            self.state.dirty_run = True

    def action_follow(self) -> None:
        self.follow_running = True
        self.query_one(OutputView).action_follow()
        self.flush()

    @on(Input.Submitted, "#search")
    def _search(self, event: Input.Submitted) -> None:
        self.search_submitted(event)

    def action_cancel(self) -> None:
        """c: ask, then cancel (``cancel_run``)."""
        if not self.running or self._asking_cancel:
            return
        self._asking_cancel = True
        steps = [self.state.step(sid) for sid in self.state.running]

        def answered(cancel: bool | None) -> None:
            self._asking_cancel = False
            if cancel:
                self.cancel_run()

        self.app.push_screen(self.app.router.cancel_screen(steps), callback=answered)

    def cancel_run(self) -> None:
        """Cancel the run and return at once: a key's handler must not wait on the engine (its
        cleanup may ask a gate, answered on this same loop). The worker's end redraws."""
        if not self.running:
            return
        self.notify("Cancelling the running step…", timeout=3)
        for worker in self.run_workers:
            worker.cancel()

    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if search.display:
            search.display = False
            self.query_one(OutputView).focus()
            return
        if self.running:
            self.notify("A run is in progress: press c to cancel it first.", severity="warning", timeout=4)
            return
        self.app.pop_screen()
