"""The run journal: one append-only JSONL file per run, the story of what happened.

Every event that changes state (a mutating step starting, any step finishing, a gate answered)
is written before the engine goes on, so a crash or ``kill -9`` leaves a journal that ``resume``
continues from; all but a read-only step's end are fsynced then too. A read-only step's end is
fsynced with the next event that is (at the latest before the next change, gate or the run's
end): a machine that goes down first loses at most read-only results, which a resume re-runs.
Output lines, which can arrive by the hundred thousand, are written in batches (at least every
50 ms) and fsynced at the next state event.

Bounded by what it writes: each step keeps up to STEP_CAP bytes of output lines and the whole
run RUN_CAP; beyond that lines are counted, not kept, and the step's end says how many. The
journal is private (folders 0700, files 0600): it holds the commands and what targets said.
While a run writes its journal it holds ``RUN_ID.lock``, so two processes never write one run.
A journal that cannot be written (a full disk, a folder made read-only) does not raise into the
engine: it keeps the reason in ``failure`` and the engine stops before the next change.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _quote  # what json.dumps makes of a str
from pathlib import Path
from typing import Any

from runbook_tui.engine import events as ev
from runbook_tui.engine.locks import FileLock, Holder
from runbook_tui.errors import RunbookError

STEP_CAP = 10 * 1024 * 1024
RUN_CAP = 64 * 1024 * 1024
FLUSH_EVERY = 0.05
# Free space asked for before the first change: room for the run's output and its story.
ROOM_NEEDED = 2 * STEP_CAP
# json.dumps(..., default=str) builds an encoder per call; one made once writes the same bytes.
_encode = json.JSONEncoder(default=str).encode


class JournalError(RunbookError):
    title = "Journal"


class RunNotFound(JournalError):
    """The run id given matches no run, or several: a mistake on the command line."""


def state_dir() -> Path:
    """Where runs are kept: $RUNBOOK_TUI_STATE_DIR, else the user state dir."""
    override = os.environ.get("RUNBOOK_TUI_STATE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_state_dir("runbook-tui"))


def runs_dir() -> Path:
    return state_dir() / "runs"


def private_dir(path: Path) -> Path:
    """PATH (and its missing parents) as a folder only its owner can read: journals hold what
    targets printed. An existing folder of ours that is wider is narrowed."""
    path = Path(path)
    for folder in reversed([path, *path.parents]):
        if not folder.exists():
            folder.mkdir(mode=0o700)
    if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
        path.chmod(0o700)
    return path


def lock_for(path: Path) -> FileLock:
    """The lock a process holds while it writes (or resumes) the run journaled at PATH."""
    path = Path(path)
    return FileLock(path.with_suffix(".lock"), f"run {path.stem}")


def _sentence(exc: OSError, path: Path | None) -> str:
    return f"cannot write the journal {path}: {exc.strerror or exc}."


class Journal:
    """An engine subscriber that appends every event to ``DIR/RUN_ID.jsonl``."""

    def __init__(self, directory: Path | None = None, *, step_cap: int = STEP_CAP, run_cap: int = RUN_CAP,
                 lock: FileLock | None = None):
        self.directory = Path(directory) if directory else runs_dir()
        self.step_cap = step_cap
        self.run_cap = run_cap
        self.lock = lock  # held already when resuming; else taken when the file is opened
        self.path: Path | None = None
        self.failure: str | None = None
        self._file: Any = None
        self._closed = False
        self._step_bytes: dict[str, int] = {}
        self._run_bytes = 0
        self._dropped: dict[str, list[int]] = {}  # step -> [lines, bytes] not kept
        self._last_flush = 0.0
        self._read_only: set[str] = set()  # steps started as read-only: their end is not fsynced alone
        self._quoted: dict[str, str] = {}  # run and step ids as JSON strings: output lines repeat them

    def __call__(self, event: ev.Event) -> None:
        if self.failure is not None or self._closed:
            return
        try:
            self._write(event)
        except OSError as exc:
            self.failure = _sentence(exc, self.path or self.directory)
            self._abandon()

    def _open(self, run_id: str) -> None:
        private_dir(self.directory)
        self.path = self.directory / f"{run_id}.jsonl"
        if self.lock is None:
            from runbook_tui.engine.gates import operator

            self.lock = lock_for(self.path)
            self.lock.acquire(Holder(operator(), os.getpid(), time.time(), run_id))
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")

    def _write(self, event: ev.Event) -> None:
        if self._file is None:
            self._open(event.run_id)
        if isinstance(event, ev.OutputLine):
            self._output(event)
            return
        if isinstance(event, ev.StepFinished):
            self._summarise_dropped(event.step_id, event)
        elif isinstance(event, ev.RunFinished):
            for step in list(self._dropped):
                self._summarise_dropped(step, event)
        self._file.write(_encode(event.to_dict()) + "\n")
        if isinstance(event, ev.StepStarted):
            read_only = not event.mutating and event.phase == "do"
            (self._read_only.add if read_only else self._read_only.discard)(event.step_id)
        if isinstance(event, ev.StepFinished) and event.phase == "do" and event.step_id in self._read_only:
            self._file.flush()  # the OS has it: a killed process loses nothing
            self._last_flush = time.monotonic()
        elif _durable(event):
            self._sync()
        if isinstance(event, ev.RunFinished):
            self.close()

    def _output(self, event: ev.OutputLine) -> None:
        step = event.step_id
        quoted = self._quoted
        run_id = quoted.get(event.run_id) or quoted.setdefault(event.run_id, _quote(event.run_id))
        step_id = quoted.get(step) or quoted.setdefault(step, _quote(step))
        # Hand-built: this is the hot path of a 200k-line flood.
        line = '{"event":"output","run_id":%s,"seq":%d,"ts":%.6f,"step_id":%s,"stream":"%s","text":%s}\n' % (
            run_id, event.seq, event.ts, step_id, event.stream, _quote(event.text))
        size = len(line)  # json.dumps escapes to ASCII: characters are bytes
        kept = self._step_bytes.get(step, 0)
        if kept + size > self.step_cap or self._run_bytes + size > self.run_cap:
            dropped = self._dropped.setdefault(step, [0, 0])
            dropped[0] += 1
            dropped[1] += size
            return
        self._step_bytes[step] = kept + size
        self._run_bytes += size
        self._file.write(line)
        now = time.monotonic()
        if now - self._last_flush > FLUSH_EVERY:
            self._file.flush()
            self._last_flush = now

    def _summarise_dropped(self, step: str, before: ev.Event) -> None:
        dropped = self._dropped.pop(step, None)
        if dropped is None:
            return
        marker = ev.OutputTruncated(step_id=step, kept_bytes=self._step_bytes.get(step, 0),
                                    dropped_lines=dropped[0], dropped_bytes=dropped[1])
        marker.run_id, marker.seq, marker.ts = before.run_id, before.seq, before.ts
        self._file.write(json.dumps(marker.to_dict()) + "\n")

    def check_room(self, needed: int = ROOM_NEEDED) -> None:
        """Before the first change: the journal is being written and has room, else JournalError."""
        if self.failure is not None:
            raise JournalError(self.failure)
        try:
            free = shutil.disk_usage(self.directory).free
        except OSError as exc:
            raise JournalError(_sentence(exc, self.directory)) from None
        if free < needed:
            raise JournalError(
                f"the journal's disk ({self.directory}) has {free // 1024 // 1024} MiB free; "
                f"a run that changes things needs {needed // 1024 // 1024} MiB to keep its record."
            )

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._last_flush = time.monotonic()

    def _abandon(self) -> None:
        """After a write failed: let go of the file without another write (which would fail too)."""
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError:
                pass
        self._release()

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def close(self) -> None:
        self._closed = True
        if self._file is not None:
            try:
                self._sync()
                self._file.close()
            except OSError as exc:
                self.failure = self.failure or _sentence(exc, self.path)
            self._file = None
        self._release()


def truncation_text(e: dict[str, Any]) -> str:
    """An ``output_truncated`` event in words (console, report, runs screen)."""
    lines = e.get("dropped_lines")
    if lines:
        return f"{lines} more output lines ({e.get('dropped_bytes', 0)} bytes) not journaled"
    return f"output beyond {e['kept_bytes']} bytes not journaled"


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
        raise RunNotFound(f"no run {run_id!r} in {directory}.")
    raise RunNotFound(f"{run_id!r} matches {len(matches)} runs; give more of the id.")


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


# How much of a journal's head and tail a listing reads: the run_started line (which carries the
# inputs and the plan) and the last line. A listing never reads a whole journal.
HEAD_LIMIT = 1024 * 1024
TAIL_READ = 64 * 1024


def summarize(path: Path) -> RunSummary | None:
    """A run's summary from its first line (``run_started``) and its last line: a journal that
    ends in ``run_finished`` ended that way; anything else (output, a torn line, the
    ``run_started`` of a resume) is a run that did not finish. None: not a journal. Raises
    OSError when the file cannot be read."""
    # Non-blocking, and regular files only: a FIFO or a device in a shared folder must not hang
    # or flood the listing.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        head = f.readline(HEAD_LIMIT)
        f.seek(max(0, info.st_size - TAIL_READ))
        tail = f.read(TAIL_READ)
    start = _event(head)
    if start is None or start.get("event") != "run_started":
        return None
    last = _event(tail[:-1].rsplit(b"\n", 1)[-1]) if tail.endswith(b"\n") else None
    outcome = "interrupted"
    if last is not None and last.get("event") == "run_finished":
        outcome = str(last.get("outcome", "interrupted"))
    try:
        return RunSummary(str(start["run_id"]), str(start["procedure"]), str(start.get("title", "")),
                          str(start.get("mode", "")), str(start.get("operator", "")), float(start["ts"]),
                          outcome, Path(path))
    except (KeyError, TypeError, ValueError):
        return None


def _event(line: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:  # a torn line, binary garbage, not UTF-8
        return None
    return event if isinstance(event, dict) else None


def list_runs(directory: Path | None = None, *, unreadable: list[Path] | None = None) -> list[RunSummary]:
    """Every run in DIRECTORY, newest first. Files that are not journals are passed over; ones
    that cannot be read (another user's, a dangling link) go to UNREADABLE when given."""
    directory = Path(directory) if directory else runs_dir()
    if not directory.is_dir():
        return []
    runs = []
    for path in directory.glob("*.jsonl"):
        try:
            run = summarize(path)
        except OSError:
            if unreadable is not None:
                unreadable.append(path)
            continue
        if run is not None:
            runs.append(run)
    return sorted(runs, key=lambda r: r.started, reverse=True)


def last_outcomes(directory: Path | None = None) -> dict[str, RunSummary]:
    """The newest run of each procedure (for the home screen)."""
    newest: dict[str, RunSummary] = {}
    for run in list_runs(directory):
        newest.setdefault(run.procedure, run)
    return newest


def resume_state(path: Path) -> tuple[dict[str, Any], "Any"]:
    """The run's start event and a ResumeState: finished steps, their results, what was in flight."""
    from runbook_tui.engine.options import ResumeState

    statuses: dict[str, str]
    results: dict[str, dict[str, Any]]
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
            cut_off = event["status"] == "cancelled" or event.get("interrupted")
            if cut_off and begun and begun.get("mutating"):
                started[sid] = begun  # cut off mid-change (Ctrl+C, a drop, a timeout): ask first
            elif (event.get("result") or {}).get("redacted"):
                statuses.pop(sid, None)  # its output was not journaled: it runs again for it
                results.pop(sid, None)
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
