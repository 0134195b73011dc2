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
from textual.screen import Screen
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from runbook_tui.engine import events as ev
from runbook_tui.language.model import Procedure
from runbook_tui.textsafe import printable
from runbook_tui.tui.messages import RunsChanged
from runbook_tui.tui.mode import Mode
from runbook_tui.tui.run_state import RunFeed, RunState
from runbook_tui.tui.sentences import error_sentence
from runbook_tui.tui.widgets.output_view import OutputView
from runbook_tui.tui.widgets.step_detail import StepDetail
from runbook_tui.tui.widgets.step_list import StepList

if TYPE_CHECKING:
    from textual import getters

    from runbook_tui.language.model import Step
    from runbook_tui.tui.host import Host

FPS = 20
OUTCOME_STYLE = {"succeeded": "bold green", "failed": "bold red", "aborted": "bold red", "refused": "bold yellow"}


class RunScreenBase(Screen):
    """The engine in a worker, its events in ``self.state``, redraws, search, follow, cancel and back.

    Expects a layout (``compose``) with a StepList, an OutputView, a StepDetail, ``#search``,
    ``#run-header`` and ``#run-status``.
    """

    if TYPE_CHECKING:
        app = getters.app(Host)  # RunbookApp, which screens do not import

    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next", show=False),
        Binding("N", "previous_match", "Prev", show=False),
        Binding("f", "follow", "Follow running"),
        Binding("c", "cancel", "Cancel run"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, procedure: Procedure, inputs: dict[str, Any], *, mode: Mode, resume: Any = None) -> None:
        super().__init__()
        self.procedure = procedure
        self.inputs = inputs
        self.mode = mode
        self.resume = resume
        self.state = RunState()
        self.engine: Any = None
        self.follow_running = True
        self._selecting = False
        self._shown_step: str | None = None
        self._why = {s.id: s.why for s in procedure.steps}
        self.error: str | None = None
        self.stopping = False  # the operator is quitting once the running steps finish

    def _header(self) -> str:
        run = f"  [dim]run {self.state.run_id}[/]" if self.state.run_id else ""
        return printable(f"[b]{self.procedure.title}[/b]  ({self.procedure.id}){run}")

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
        self.query_one(StepList).rebuild()
        self.query_one(StepList).focus()

    # ------------------------------------------------------------------ run
    def make_engine(self) -> Any:
        from runbook_tui.tui.gates import TuiGates

        ws = self.app.workspace
        run_ids = getattr(self.app, "run_ids", None)
        options = self.engine_options()
        options["before_step"] = self._before_step(options.get("before_step"))
        gates = TuiGates(self.app, lambda request: self.app.router.gate_screen(request, self.state), stopping=lambda: self.stopping)
        return ws.engine(
            self.procedure, inputs=self.inputs, gates=gates,
            subscribers=[RunFeed(self.state, self.on_engine_event)],
            dry_run=self.mode.dry_run, offline=self.mode.offline, resume=self.resume,
            run_id=run_ids(self.procedure.id) if run_ids is not None else None,
            **options,
        )

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
        if run:
            self.query_one("#run-header", Static).update(self._header())
            self._update_status()
        rows |= set(self.state.running)  # elapsed times tick
        if rows or run:
            steps.refresh_rows(rows if not run else None)
        following = self.state.following
        if self.follow_running and following and following != steps.highlighted_id:
            self._selecting = True
            steps.select_id(following)
            self._selecting = False
        if run and self.state.outcome and self.follow_running:
            self.follow_running = False  # the run is over: stay where the operator looks
            failed = [v.id for v in self.state if v.status in ("failed", "blocked")]
            if failed:
                steps.select_id(failed[-1])
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
            counts: dict[str, int] = {}
            for v in s:
                counts[v.status] = counts.get(v.status, 0) + 1
            tally = ", ".join(f"{n} {k}" for k, n in counts.items())
            message = f": {printable(s.message)}" if s.message else ""
            status.update(f"[{style}]{s.outcome.upper()}[/]{message}  [dim]({tally}) · escape: back · r on home: runs[/]")
        elif s.gate is not None:
            status.update(f"[yellow]waiting for an answer: {s.gate.gate} gate at {s.gate.step_id or 'the run'}[/]")
        else:
            status.update("[dim]running…[/]" if s.run_id else "[dim]starting…[/]")

    # -------------------------------------------------------------- actions
    @on(StepList.OptionHighlighted)
    def _highlighted(self) -> None:
        if not self._selecting and self.state.running and self.query_one(StepList).has_focus:
            # The operator picked another step: stop following the running one until f.
            self.follow_running = self.query_one(StepList).highlighted_id == self.state.following
        self.flush()

    def action_follow(self) -> None:
        self.follow_running = True
        self.query_one(OutputView).action_follow()
        self.flush()

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = True
        search.focus()

    @on(Input.Submitted, "#search")
    def _search(self, event: Input.Submitted) -> None:
        view = self.query_one(OutputView)
        found = view.search(event.value, start=0) if event.value != view.query_text else view.search(event.value)
        if not found and event.value:
            self.notify(f"{event.value!r} not found in this step's output", severity="warning", timeout=3)
        event.input.display = False
        view.focus()

    def action_next_match(self) -> None:
        self.query_one(OutputView).action_next_match()

    def action_previous_match(self) -> None:
        self.query_one(OutputView).action_previous_match()

    def action_cancel(self) -> None:
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
