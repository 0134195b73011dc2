"""A run's figures for Prometheus: the text exposition format that node-exporter's textfile
collector reads, written atomically at the end of a run (``--metrics FILE``) and/or pushed to a
Pushgateway (``--pushgateway URL``).

The outcome is a gauge per possible outcome (1 for the one that happened), so an alert can say
``runbook_tui_run_outcome{outcome="succeeded"} == 0``; the time of the last success survives
failed runs by being read back from the previous file (else from the journal).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

from runbook_tui.engine import events as ev

OUTCOMES = ("succeeded", "failed", "aborted", "refused", "invalid", "could_not_run")
# What an exit code says when the engine never reached its end (cli_run's exit codes).
_BY_EXIT = {0: "succeeded", 1: "failed", 2: "invalid", 3: "refused", 4: "could_not_run", 130: "aborted"}
LAST_SUCCESS = "runbook_tui_last_success_timestamp_seconds"


class MetricsError(OSError):
    pass


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _series(name: str, labels: dict[str, str], value: float) -> str:
    inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value:g}" if isinstance(value, int) else f"{name}{{{inner}}} {value:.6f}"


class MetricsRecorder:
    """An engine subscriber that keeps what the metrics need: the run's start and end, and each
    step's last status and time (retries and undo overwrite: the figure is the final state)."""

    def __init__(self, procedure: str):
        self.procedure = procedure
        self.started = time.time()
        self.outcome: str | None = None
        self.finished: float | None = None
        self._step_started: dict[str, float] = {}
        self.steps: dict[str, tuple[str, float]] = {}  # step -> (status, seconds)

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self.procedure, self.started = event.procedure, event.ts
        elif isinstance(event, ev.StepStarted):
            self._step_started[event.step_id] = event.ts
        elif isinstance(event, ev.StepFinished):
            begun = self._step_started.pop(event.step_id, event.ts)
            self.steps[event.step_id] = (event.status, event.duration or max(0.0, event.ts - begun))
        elif isinstance(event, ev.RunFinished):
            self.outcome, self.finished = event.outcome, event.ts

    def text(self, exit_code: int, previous_success: float | None) -> str:
        # Exit 4 (a target unreachable, the journal unwritable) ends the engine as "failed"; for an
        # alert it is another matter than a failed check, so the exit code decides.
        outcome = "could_not_run" if exit_code == 4 else self.outcome or _BY_EXIT.get(exit_code, "failed")
        end = self.finished or time.time()
        last_success = end if outcome == "succeeded" else previous_success
        proc = {"procedure": self.procedure}
        out = [
            "# HELP runbook_tui_run_outcome How the last run of the procedure ended (1: this outcome).",
            "# TYPE runbook_tui_run_outcome gauge",
            *(_series("runbook_tui_run_outcome", {**proc, "outcome": o}, int(o == outcome)) for o in OUTCOMES),
            "# HELP runbook_tui_run_exit_code The exit code of the last run.",
            "# TYPE runbook_tui_run_exit_code gauge",
            _series("runbook_tui_run_exit_code", proc, exit_code),
            "# HELP runbook_tui_run_duration_seconds How long the last run took.",
            "# TYPE runbook_tui_run_duration_seconds gauge",
            _series("runbook_tui_run_duration_seconds", proc, max(0.0, end - self.started)),
            "# HELP runbook_tui_run_timestamp_seconds When the last run ended (Unix time).",
            "# TYPE runbook_tui_run_timestamp_seconds gauge",
            _series("runbook_tui_run_timestamp_seconds", proc, end),
        ]
        if last_success is not None:
            out += [f"# HELP {LAST_SUCCESS} When the procedure last succeeded (Unix time).",
                    f"# TYPE {LAST_SUCCESS} gauge", _series(LAST_SUCCESS, proc, last_success)]
        if self.steps:
            out += ["# HELP runbook_tui_step_duration_seconds How long each step of the last run took.",
                    "# TYPE runbook_tui_step_duration_seconds gauge"]
            out += [_series("runbook_tui_step_duration_seconds", {**proc, "step": s}, secs)
                    for s, (_, secs) in self.steps.items()]
            out += ["# HELP runbook_tui_step_status How each step of the last run ended (1: this status).",
                    "# TYPE runbook_tui_step_status gauge"]
            out += [_series("runbook_tui_step_status", {**proc, "step": s, "status": status}, 1)
                    for s, (status, _) in self.steps.items()]
        return "\n".join(out) + "\n"


def previous_success(path: Path | None, procedure: str, journal_dir: Path | None = None) -> float | None:
    """The last success the previous metrics file recorded, else the newest succeeded run's start."""
    if path is not None:
        pattern = re.compile(rf'^{LAST_SUCCESS}\{{procedure="{re.escape(_label(procedure))}"\}} (\S+)$', re.M)
        try:
            found = pattern.search(Path(path).read_text(encoding="utf-8", errors="replace"))
            if found:
                return float(found.group(1))
        except (OSError, ValueError):
            pass
    from runbook_tui.headless.journal import list_runs

    try:
        runs = list_runs(journal_dir)
    except OSError:
        return None
    return next((r.started for r in runs if r.procedure == procedure and r.outcome == "succeeded"), None)


def write_atomically(path: Path, text: str) -> None:
    """Write then rename in the same folder: the collector never reads half a file."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        raise MetricsError(f"cannot write metrics to {path}: {exc.strerror or exc}.") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # the collector runs as another user
        os.replace(tmp, path)
    except OSError as exc:
        os.unlink(tmp)
        raise MetricsError(f"cannot write metrics to {path}: {exc.strerror or exc}.") from None


def push(url: str, procedure: str, text: str, timeout: float = 10.0) -> None:
    """POST the figures to a Pushgateway, grouped by job and procedure. POST replaces the
    metrics this push carries and keeps the others: a failed run carries no last-success time,
    and the one from the last success stays (a PUT would drop it, and an alert on its absence
    would fire at the first failure)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    target = f"{url.rstrip('/')}/metrics/job/runbook_tui/procedure/{urllib.parse.quote(procedure, safe='')}"
    request = urllib.request.Request(target, data=text.encode(), method="POST",
                                     headers={"Content-Type": "text/plain; version=0.0.4"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise MetricsError(f"the Pushgateway at {url} answered {exc.code} {exc.reason}.") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise MetricsError(f"cannot push metrics to {url}: {reason}.") from None
