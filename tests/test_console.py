"""The headless face on its own (doit's test_reporter): what an operator reads from
ConsoleReporter and JsonReporter fed the event streams of real engine runs (local commands, the
real journal), and TerminalGates answered at a real pseudo-terminal.

A console that mis-renders a gate is a safety bug: these tests read the screen, not the code.
"""

from __future__ import annotations

import asyncio
import codecs
import io
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest
from engine_support import Recorder, make, run
from support import raw_controls

from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import AutoGates
from runbook_tui.engine.runner import RunReport
from runbook_tui.headless.console import ConsoleReporter, JsonReporter, TerminalGates
from runbook_tui.headless.journal import Journal, read_events


def timeless(text: str) -> str:
    """Durations vary from run to run: each one as N.NN, its width kept."""
    return re.sub(r"\b\d+\.\d\ds\b", "N.NNs", text)


async def console(proc, subscribers: list = (), **kw) -> tuple[str, RunReport, Recorder]:
    """Run ``proc`` with a colourless ConsoleReporter: what it printed, the report, the events."""
    out = io.StringIO()
    report, rec = await run(proc, subscribers=[*subscribers, ConsoleReporter(out, color=False)], **kw)
    return out.getvalue(), report, rec


def who(rec: Recorder) -> str:
    return rec.of(ev.RunStarted)[0].operator


# ---------------------------------------------------------------- ConsoleReporter
async def test_a_live_run_reads_as_banner_steps_output_and_summary(tmp_path: Path):
    marker = tmp_path / "written"
    proc = make([
        {"id": "look", "local": "echo hello; echo there >&2", "mutates": False},
        {"id": "write", "local": f"touch {marker}\necho done"},
    ])
    text, report, rec = await console(proc)
    assert report.outcome == "succeeded" and marker.exists()
    assert timeless(text).splitlines() == [
        f"Test [LIVE]  run {report.run_id}  by {who(rec)}",
        "▶ look  echo hello; echo there >&2",
        "  look     │ hello",
        "  look     │ there",  # stderr too, under the step it came from
        "✓ look ok N.NNs",
        f"  gate plan answered yes by {who(rec)}",
        f"▶ write  touch {marker}",  # the first line of what runs
        "  write    │ done",
        "✓ write ok N.NNs",
        "",
        "STEP      STATUS        TIME  NOTE",
        "look      ok           N.NNs  ",
        "write     ok           N.NNs  ",
        "",
        "SUCCEEDED",
    ]


@pytest.mark.parametrize("options, banner", [
    ({}, "[LIVE]"),
    ({"lab": True}, "[LAB]"),
    ({"dry_run": True}, "[DRY-RUN]"),
    ({"dry_run": True, "offline": True}, "[DRY-RUN (offline)]"),
], ids=["live", "lab", "dry-run", "offline"])
async def test_the_banner_says_the_mode(options, banner):
    text, report, rec = await console(make([{"id": "look", "local": "true", "mutates": False}]), **options)
    assert text.splitlines()[0] == f"Test {banner}  run {report.run_id}  by {who(rec)}"


async def test_a_dry_run_shows_what_would_run_and_what_it_cannot_prove(tmp_path: Path):
    marker = tmp_path / "m"
    proc = make([
        {"id": "write", "local": f"touch {marker}\necho second line"},
        {"id": "check", "local": f"test -e {marker}", "mutates": False},
    ])
    text, report, rec = await console(proc, dry_run=True)
    assert not marker.exists() and report.outcome == "succeeded"
    assert timeless(text).splitlines()[1:] == [
        f"▶ write  touch {marker}",
        "◌ write would-run N.NNs",
        f"    would run: touch {marker}",  # every line of the command, not only the first
        "    would run: echo second line",
        f"▶ check  test -e {marker}",
        "? check unproven N.NNs  not provable in dry-run: exit code 1",
        "",
        "STEP      STATUS        TIME  NOTE",
        "write     would-run    N.NNs  ",
        "check     unproven     N.NNs  not provable in dry-run: exit code 1",
        "",
        "SUCCEEDED",
    ]


async def test_a_failure_then_undo_reads_as_it_happened(tmp_path: Path):
    log = tmp_path / "log"
    proc = make([
        {"id": "write", "local": f"echo write >> {log}", "undo": {"local": f"echo unwrite >> {log}"}},
        {"id": "check", "local": "echo broken; exit 4", "mutates": False},
    ])
    text, report, rec = await console(proc, gates=AutoGates(yes=True, undo_on_failure=True))
    op = who(rec)
    assert log.read_text().split() == ["write", "unwrite"]
    assert timeless(text).splitlines()[1:] == [
        f"  gate plan answered yes by {op}",
        f"▶ write  echo write >> {log}",
        "✓ write ok N.NNs",
        "▶ check  echo broken; exit 4",
        "  check    │ broken",
        "✗ check failed N.NNs  exit code 4",
        f"  gate failure answered yes (undo) by {op}",
        f"  gate undo answered yes by {op}",
        f"undo write  echo unwrite >> {log}",  # an undo is marked as one
        "↶ write undone N.NNs",
        "",
        "STEP      STATUS        TIME  NOTE",
        "write     undone       N.NNs  ",
        "check     failed       N.NNs  exit code 4",
        "",
        "FAILED: step check failed; undid 1 step(s)",
    ]


async def test_a_refused_gate_says_who_and_why_and_the_run_is_refused(tmp_path: Path):
    proc = make([{"id": "flip", "local": f"touch {tmp_path / 'm'}", "confirm": {"text": "Flip?", "typed": "flip"}}])
    text, report, rec = await console(proc)  # --yes alone does not pass a typed gate off the lab
    op = who(rec)
    assert report.exit_code == 3 and not (tmp_path / "m").exists()
    assert text.splitlines()[1:] == [
        f"  gate plan answered yes by {op}",
        f"  gate typed answered no by {op}: typed confirmation needs --confirm 'flip'",
        "",
        "STEP      STATUS        TIME  NOTE",
        "",
        "REFUSED: confirmation for step flip was refused",
    ]


async def test_a_notice_stands_out_and_the_run_stops_before_the_change(tmp_path: Path):
    not_a_folder = tmp_path / "runs"
    not_a_folder.write_text("")  # the journal's folder is a file: nothing can be recorded
    marker = tmp_path / "m"
    proc = make([
        {"id": "look", "local": "echo fine", "mutates": False},
        {"id": "write", "local": f"touch {marker}"},
    ])
    text, report, rec = await console(proc, subscribers=[Journal(not_a_folder)])
    assert not marker.exists() and report.outcome == "failed"
    (notice,) = rec.of(ev.Notice)
    sentence = notice.text
    assert notice.level == "error" and sentence.startswith(f"cannot write the journal {not_a_folder}")
    lines = timeless(text).splitlines()
    assert lines[4:] == [
        f"! {sentence}",
        "",
        "STEP      STATUS        TIME  NOTE",
        "look      ok           N.NNs  ",
        "",
        f"FAILED: {sentence} Stopped before step write; no change was made.",
    ]


async def test_colour_marks_status_and_notices_only_when_asked(tmp_path: Path):
    proc = make([{"id": "good", "local": "true", "mutates": False}, {"id": "bad", "local": "exit 1", "mutates": False}])
    plain = io.StringIO()
    await run(proc, subscribers=[ConsoleReporter(plain)])  # not a terminal: no colour by default
    assert "\x1b" not in plain.getvalue()
    coloured = io.StringIO()
    await run(proc, subscribers=[ConsoleReporter(coloured, color=True)])
    text = coloured.getvalue()
    assert "\x1b[32m✓\x1b[0m good ok" in text and "\x1b[31m✗\x1b[0m bad failed" in text
    assert text.rstrip().endswith("\n\n\x1b[31mFAILED\x1b[0m: step bad failed")


async def test_a_replayed_journal_says_how_much_output_was_not_kept(tmp_path: Path):
    """As `runbook-tui runs show` does: the journal's events through the console."""
    proc = make([{"id": "flood", "local": "seq 1 500", "mutates": False}])
    live = io.StringIO()
    journal = Journal(tmp_path / "runs", step_cap=2000)
    report, _ = await run(proc, subscribers=[journal, ConsoleReporter(live, color=False)])
    assert report.outcome == "succeeded"
    assert "  flood    │ 500" in live.getvalue()  # live, every line is shown
    stored = list(read_events(journal.path))
    (cut,) = [e for e in stored if e["event"] == "output_truncated"]
    kept = sum(1 for e in stored if e["event"] == "output")
    assert 0 < kept < 500 and cut["dropped_lines"] == 500 - kept

    replayed = io.StringIO()
    reporter = ConsoleReporter(replayed, color=False)
    for data in stored:
        reporter(ev.event_from_dict(data))
    lines = timeless(replayed.getvalue()).splitlines()
    assert f"  flood: {500 - kept} more output lines ({cut['dropped_bytes']} bytes) not journaled" in lines
    assert lines[-5:] == ["", "STEP      STATUS        TIME  NOTE", "flood     ok           N.NNs  ", "",
                          "SUCCEEDED"]


# ---------------------------------------------------------------- JsonReporter
async def test_json_lines_parse_and_carry_run_id_and_seq(tmp_path: Path):
    proc = make([
        {"id": "say", "local": "printf 'caf\\303\\251 \\033[2J del\\177\\n'", "mutates": False},
        {"id": "write", "local": f"touch {tmp_path / 'm'}"},
    ])
    out = io.StringIO()
    report, rec = await run(proc, subscribers=[JsonReporter(out)])
    lines = out.getvalue().splitlines()
    assert len(lines) == len(rec.events)
    for line in lines:
        assert line.isascii() and not raw_controls(line), line  # one event a line, nothing a terminal obeys
    events = [json.loads(line) for line in lines]
    assert {e["run_id"] for e in events} == {report.run_id}
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["event"] for e in events] == [
        "run_started", "step_started", "output", "step_finished", "gate_requested", "gate_answered",
        "step_started", "step_finished", "run_finished",
    ]
    assert events[2]["step_id"] == "say" and events[2]["text"] == "café \x1b[2J del\x7f"  # the data, kept whole
    assert events[-1]["outcome"] == "succeeded" and events[-1]["counts"] == {"ok": 2}
    assert [ev.event_from_dict(e) for e in events] == rec.events


# ---------------------------------------------------------------- TerminalGates at a real terminal
class Terminal:
    """A real pseudo-terminal. The gates ask on its slave side, as on an operator's terminal
    (questions written to it, answers read from it as stdin); the test reads the screen and types
    at the master side, with the terminal's own line editing and echo."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.master, self.slave = os.openpty()
        self.out = open(self.slave, "w", encoding="utf-8", closefd=False)
        monkeypatch.setattr(sys, "stdin", open(self.slave, encoding="utf-8", closefd=False))
        self.screen = ""
        self._seen = 0
        self._decode = codecs.getincrementaldecoder("utf-8")().decode
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.master, self._read)

    def _read(self) -> None:
        try:
            data = os.read(self.master, 1 << 16)
        except OSError:
            self._loop.remove_reader(self.master)
            return
        self.screen += self._decode(data).replace("\r\n", "\n")

    async def answer(self, prompt: str, keys: str, task: asyncio.Task) -> None:
        """Once ``prompt`` is on the screen (after the last answer), type ``keys`` and Enter."""
        deadline = time.monotonic() + 10
        while (at := self.screen.find(prompt, self._seen)) < 0:
            if task.done() or time.monotonic() > deadline:
                raise AssertionError(f"{prompt!r} was never asked; the screen:\n{self.screen}")
            await asyncio.sleep(0.01)
        self._seen = at + len(prompt)
        os.write(self.master, keys.encode() + b"\n")

    def close(self) -> None:
        self._loop.remove_reader(self.master)
        # The master first: a gate still waiting for a line (a test that failed) gets EIO and lets
        # go of stdin, which could not be closed under it.
        os.close(self.master)
        sys.stdin.close()
        self.out.close()
        os.close(self.slave)


@pytest.fixture
async def terminal(monkeypatch: pytest.MonkeyPatch):
    term = Terminal(monkeypatch)
    yield term
    term.close()


async def at_terminal(term: Terminal, proc, *answers: tuple[str, str]) -> tuple[RunReport, Recorder]:
    """Run ``proc`` with TerminalGates on ``term``, typing each (prompt, keys) in turn."""
    task = asyncio.create_task(run(proc, gates=TerminalGates(term.out)))
    try:
        for prompt, keys in answers:
            await term.answer(prompt, keys, task)
        return await asyncio.wait_for(task, 30)
    finally:
        task.cancel()


GO = "Go ahead? [y/N] "
FAILED = "[r]etry, [s]kip, [u]ndo, [A]bort? "


def answered(rec: Recorder) -> list[tuple]:
    return [(a.gate, a.approved, a.choice, a.reason) for a in rec.of(ev.GateAnswered)]


async def test_a_plain_confirm_answered_y_goes_ahead(terminal: Terminal, tmp_path: Path):
    marker = tmp_path / "m"
    proc = make([{"id": "write", "title": "Write the marker", "local": f"touch {marker}",
                  "confirm": "Write {{ 'the' }} marker now?"}])
    report, rec = await at_terminal(terminal, proc, (GO, "y"), (GO, "y"))
    assert report.outcome == "succeeded" and marker.exists()
    assert answered(rec) == [("plan", True, None, None), ("confirm", True, None, None)]
    screen = terminal.screen.splitlines()
    plan = screen.index("Go ahead? [y/N] y")  # what was typed, echoed by the terminal
    assert screen[1].startswith("── Plan: what this run will change ───")
    assert screen[2].startswith("Test will now change things (live).")
    assert screen[3:plan] == [f"   write on local machine: touch {marker}"]
    assert screen[plan + 2].startswith("── Write the marker ───")
    assert screen[plan + 3:] == ["Write the marker now?", f"   touch {marker}", "Go ahead? [y/N] y"]


@pytest.mark.parametrize("keys", ["", "n", "sure"], ids=["enter", "n", "anything-else"])
async def test_enter_or_anything_but_yes_is_no(terminal: Terminal, tmp_path: Path, keys: str):
    marker = tmp_path / "m"
    report, rec = await at_terminal(terminal, make([{"id": "write", "local": f"touch {marker}"}]), (GO, keys))
    assert report.outcome == "refused" and not marker.exists()
    assert answered(rec) == [("plan", False, None, None)]


@pytest.mark.parametrize("typed, approved", [
    ("flip nat", True),
    ("Flip NAT", False),
    ("y", False),
    ("", False),
], ids=["exact", "other-case", "a-yes", "enter"])
async def test_a_typed_gate_needs_the_exact_phrase(terminal: Terminal, tmp_path: Path, typed: str, approved: bool):
    marker = tmp_path / "m"
    proc = make([{"id": "flip", "local": f"touch {marker}", "confirm": {"text": "Flip the NAT rule", "typed": "flip nat"}}])
    report, rec = await at_terminal(terminal, proc, (GO, "y"),
                                    ("Type 'flip nat' to go ahead (anything else refuses): ", typed))
    assert marker.exists() is approved
    assert report.outcome == ("succeeded" if approved else "refused")
    assert answered(rec)[1][:2] == ("typed", approved)
    assert "Flip the NAT rule" in terminal.screen


async def test_a_failure_gate_choosing_retry_runs_the_step_again(terminal: Terminal, tmp_path: Path):
    marker = tmp_path / "tried"
    proc = make([{"id": "flaky", "mutates": False, "local": f"test -e {marker} || {{ touch {marker}; exit 1; }}"}])
    report, rec = await at_terminal(terminal, proc, (FAILED, "r"))
    assert report.outcome == "succeeded"
    assert answered(rec) == [("failure", True, "retry", None)]
    assert [e.status for e in rec.of(ev.StepFinished)] == ["failed", "ok"]
    screen = terminal.screen.splitlines()
    assert screen[1].startswith("── A step failed ───")
    assert screen[2].startswith("Step flaky failed. Retry it, skip it (give a reason), undo")
    assert screen[3:] == ["   flaky: exit code 1", FAILED + "r"]


async def test_a_failure_gate_skip_asks_why_and_records_it(terminal: Terminal, tmp_path: Path):
    after = tmp_path / "after"
    proc = make([{"id": "bad", "local": "exit 1", "mutates": False},
                 {"id": "after", "local": f"touch {after}", "mutates": False}])
    report, rec = await at_terminal(terminal, proc, (FAILED, "s"), ("Why skip it? ", "known flaky"))
    assert report.outcome == "succeeded" and after.exists()
    assert answered(rec) == [("failure", True, "skip", "known flaky")]
    assert rec.of(ev.StepFinished)[1].message == "skipped after failing: known flaky"


async def test_a_skip_without_a_reason_aborts(terminal: Terminal, tmp_path: Path):
    after = tmp_path / "after"
    proc = make([{"id": "bad", "local": "exit 1", "mutates": False},
                 {"id": "after", "local": f"touch {after}", "mutates": False}])
    report, rec = await at_terminal(terminal, proc, (FAILED, "s"), ("Why skip it? ", ""))
    assert report.outcome == "failed" and not after.exists()
    assert report.statuses == {"bad": "failed"}


async def test_a_failure_gate_undo_asks_before_each_undo(terminal: Terminal, tmp_path: Path):
    log = tmp_path / "log"
    proc = make([
        {"id": "write", "local": f"echo write >> {log}", "undo": {"local": f"echo unwrite >> {log}"}},
        {"id": "check", "local": "exit 4", "mutates": False},
    ])
    report, rec = await at_terminal(terminal, proc, (GO, "y"), (FAILED, "u"), (GO, "y"))
    assert log.read_text().split() == ["write", "unwrite"]
    assert report.outcome == "failed" and report.message == "step check failed; undid 1 step(s)"
    assert answered(rec) == [("plan", True, None, None), ("failure", True, "undo", None), ("undo", True, None, None)]
    screen = terminal.screen.splitlines()
    undo = screen.index(FAILED + "u") + 2
    assert screen[undo].startswith("── Undo write ───")
    assert screen[undo + 1:] == ["Undo write: reverse this step", f"   echo unwrite >> {log}", GO + "y"]


@pytest.mark.parametrize("keys", ["a", "", "x"], ids=["a", "enter", "anything-else"])
async def test_a_failure_gate_aborts_by_default(terminal: Terminal, tmp_path: Path, keys: str):
    after = tmp_path / "after"
    proc = make([{"id": "bad", "local": "exit 1", "mutates": False},
                 {"id": "after", "local": f"touch {after}", "mutates": False}])
    report, rec = await at_terminal(terminal, proc, (FAILED, keys))
    assert report.outcome == "failed" and report.message == "step bad failed" and not after.exists()
    assert answered(rec) == [("failure", True, "abort", None)]
