"""The run journal: one append-only JSONL file per run, the story of what happened.

Every event that changes state (a mutating step starting, any step finishing, a gate answered)
is written and fsynced before the engine goes on, so a crash or ``kill -9`` leaves a journal that ``resume``
continues from. Output lines, which can arrive by the hundred thousand, are written in batches
(at least every 50 ms) and fsynced at the next state event; each step keeps up to OUTPUT_CAP
bytes of output, then one ``output_truncated`` marker.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from runbook_tui.engine import events as ev
from runbook_tui.errors import RunbookError

OUTPUT_CAP = 10 * 1024 * 1024
FLUSH_EVERY = 0.05


class JournalError(RunbookError):
    title = "Journal"


def state_dir() -> Path:
    """Where runs are kept: $RUNBOOK_TUI_STATE_DIR, else the user state dir."""
    override = os.environ.get("RUNBOOK_TUI_STATE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_state_dir("runbook-tui"))


def runs_dir() -> Path:
    return state_dir() / "runs"


class Journal:
    """An engine subscriber that appends every event to ``DIR/RUN_ID.jsonl``."""

    def __init__(self, directory: Path | None = None, *, output_cap: int = OUTPUT_CAP):
        self.directory = Path(directory) if directory else runs_dir()
        self.output_cap = output_cap
        self.path: Path | None = None
        self._file = None
        self._out_bytes: dict[str, int] = {}
        self._cut: set[str] = set()
        self._last_flush = 0.0

    def __call__(self, event: ev.Event) -> None:
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.path = self.directory / f"{event.run_id}.jsonl"
            self._file = self.path.open("a", encoding="utf-8")
        if isinstance(event, ev.OutputLine):
            self._output(event)
            return
        self._file.write(json.dumps(event.to_dict(), default=str) + "\n")
        if _durable(event):
            self._sync()
        if isinstance(event, ev.RunFinished):
            self.close()

    def _output(self, event: ev.OutputLine) -> None:
        step = event.step_id
        if step in self._cut:
            return
        size = self._out_bytes.get(step, 0) + len(event.text) + 1
        self._out_bytes[step] = size
        if size > self.output_cap:
            self._cut.add(step)
            marker = ev.OutputTruncated(step_id=step, loc=event.loc, kept_bytes=size - len(event.text) - 1)
            marker.run_id, marker.seq = event.run_id, event.seq
            self._file.write(json.dumps(marker.to_dict()) + "\n")
            return
        # Hand-built: this is the hot path of a 200k-line flood.
        self._file.write(
            '{"event":"output","run_id":%s,"seq":%d,"ts":%.6f,"step_id":%s,"stream":"%s","text":%s}\n'
            % (json.dumps(event.run_id), event.seq, event.ts, json.dumps(step), event.stream, json.dumps(event.text))
        )
        now = time.monotonic()
        if now - self._last_flush > FLUSH_EVERY:
            self._file.flush()
            self._last_flush = now

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._last_flush = time.monotonic()

    def close(self) -> None:
        if self._file is not None:
            self._sync()
            self._file.close()
            self._file = None


def _durable(event: ev.Event) -> bool:
    """Events a resume depends on are fsynced before the engine goes on. A read-only step's
    start is not: re-running it after a crash is harmless."""
    if isinstance(event, ev.StepStarted):
        return event.mutating
    return not isinstance(event, (ev.GuardEvaluated, ev.OutputTruncated))


# --------------------------------------------------------------------- reading
def run_path(run_id: str, directory: Path | None = None) -> Path:
    directory = Path(directory) if directory else runs_dir()
    path = directory / f"{run_id}.jsonl"
    if path.exists():
        return path
    matches = sorted(directory.glob(f"*{run_id}*.jsonl")) if directory.exists() else []
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise JournalError(f"no run {run_id!r} in {directory}.")
    raise JournalError(f"{run_id!r} matches {len(matches)} runs; give more of the id.")


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """Every event of a journal; a line torn by a crash at the very end is skipped."""
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


@dataclass
class RunSummary:
    run_id: str
    procedure: str
    title: str
    mode: str
    operator: str
    started: float
    outcome: str  # succeeded | failed | aborted | refused | interrupted
    path: Path


def summarize(path: Path) -> RunSummary | None:
    start, outcome = None, "interrupted"
    for event in read_events(path):
        kind = event["event"]
        if kind == "run_started" and start is None:
            start = event
        elif kind == "run_started":
            outcome = "interrupted"  # resumed: the newest part decides
        elif kind == "run_finished":
            outcome = event["outcome"]
    if start is None:
        return None
    return RunSummary(start["run_id"], start["procedure"], start["title"], start["mode"],
                      start["operator"], start["ts"], outcome, path)


def list_runs(directory: Path | None = None) -> list[RunSummary]:
    directory = Path(directory) if directory else runs_dir()
    if not directory.exists():
        return []
    runs = [summarize(p) for p in directory.glob("*.jsonl")]
    return sorted((r for r in runs if r), key=lambda r: r.started, reverse=True)


def last_outcomes(directory: Path | None = None) -> dict[str, RunSummary]:
    """The newest run of each procedure (for the home screen)."""
    newest: dict[str, RunSummary] = {}
    for run in list_runs(directory):
        newest.setdefault(run.procedure, run)
    return newest


def resume_state(path: Path) -> tuple[dict[str, Any], "Any"]:
    """The run's start event and a ResumeState: finished steps, their results, what was in flight."""
    from runbook_tui.engine.runner import ResumeState

    start, statuses, results, started, last_seq = None, {}, {}, {}, 0
    finished = None
    for event in read_events(path):
        last_seq = max(last_seq, event.get("seq", 0))
        kind = event["event"]
        if kind == "run_started":
            start = start or event
            finished = None
        elif kind == "run_finished":
            finished = event
        elif kind == "step_started" and event.get("phase", "do") == "do":
            started[event["step_id"]] = event
        elif kind == "step_finished" and event.get("phase") == "undo":
            if event["status"] == "undone":  # walked back: it is not done any more
                statuses.pop(event["step_id"], None)
                results.pop(event["step_id"], None)
        elif kind == "step_finished":
            sid = event["step_id"]
            begun = started.pop(sid, None)
            if event["status"] == "cancelled" and begun and begun.get("mutating"):
                started[sid] = begun  # cut off mid-change: it may have half-applied, ask first
            elif event["status"] in ("ok", "skipped", "would-run", "unproven"):
                statuses[sid] = event["status"]
                if event.get("result") is not None:
                    results[sid] = event["result"]
            else:
                statuses.pop(sid, None)  # failed or blocked: it runs again
                results.pop(sid, None)
    if start is None:
        raise JournalError(f"{path} holds no run.")
    if finished is not None and finished["outcome"] == "succeeded":
        raise JournalError(f"run {start['run_id']} already succeeded; nothing to resume.")
    top = {sid for sid in started if "/" not in sid}
    return start, ResumeState(start["run_id"], last_seq + 1, {k: v for k, v in statuses.items() if "/" not in k},
                              {k: v for k, v in results.items() if "/" not in k}, sorted(top))
