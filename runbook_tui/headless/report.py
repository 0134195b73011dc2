"""A run's journal as a Markdown post-mortem: timeline, commands as run, gate answers, output."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from runbook_tui.headless.journal import JournalError, read_events, truncation_text

EXCERPT = 12


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) + f".{int(ts % 1 * 1000):03d}"


def _fence(text: str) -> str:
    return "```\n" + text.rstrip("\n") + "\n```"


def markdown_report(path: Path) -> str:
    """The report of the run journaled at PATH; a journal this tool did not write (a shared
    folder holds others' files) is a JournalError naming what is missing, not a traceback."""
    try:
        return _report(path)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise JournalError(f"{path} is not a journal this version can report on ({type(exc).__name__}: {exc}).") \
            from None


def _report(path: Path) -> str:
    events = list(read_events(path))
    start = next((e for e in events if e["event"] == "run_started"), None)
    if start is None:
        return f"# Empty journal\n\n{path} holds no run.\n"
    finish = [e for e in events if e["event"] == "run_finished"]
    outcome = finish[-1]["outcome"] if finish else "interrupted"
    out: list[str] = [
        f"# {start['title']} — {outcome}",
        "",
        f"- Run: `{start['run_id']}`",
        f"- Procedure: `{start['procedure']}` ({start['path']})",
        f"- Mode: {start['mode']}",
        f"- Operator: {start['operator']}",
        f"- Inventory: {start.get('inventory') or '(none)'}",
        f"- Started: {_when(start['ts'])}",
        f"- Ended: {_when(finish[-1]['ts']) if finish else '(interrupted: no end recorded)'}",
    ]
    if finish and finish[-1].get("message"):
        out.append(f"- Outcome: {outcome}: {finish[-1]['message']}")
    if start.get("inputs"):
        out += ["", "## Inputs", ""] + [f"- `{k}` = `{v}`" for k, v in start["inputs"].items()]
    out += ["", "## Timeline", "", "| time | step | what |", "|---|---|---|"]
    output: dict[str, list[str]] = {}
    for e in events:
        kind, sid = e["event"], e.get("step_id", "")
        if kind == "output":
            output.setdefault(sid, []).append(e["text"])
            continue
        what = _describe(e)
        if what:
            out.append(f"| {_when(e['ts'])[11:]} | {sid or '—'} | {what} |")
    out += ["", "## Steps", ""]
    finished: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        if e["event"] == "step_finished":
            finished.setdefault(e["step_id"], []).append(e)
    for sid, rows in finished.items():
        last = rows[-1]
        out.append(f"### {sid} — {last['status']}" + (f" (exit {last['exit_code']})" if last.get("exit_code") is not None else ""))
        if last.get("loc"):
            out.append(f"Defined at `{last['loc']}`.")
        for row in rows:
            if row.get("rendered"):
                label = "Would run" if row["status"] == "would-run" else ("Undo ran" if row.get("phase") == "undo" else "Ran")
                out += ["", f"{label}:", "", _fence(row["rendered"])]
            if row.get("message"):
                out += ["", row["message"] if row["status"] != "would-run" else _fence(row["message"])]
        lines = output.get(sid, [])
        if lines:
            shown = lines if len(lines) <= 2 * EXCERPT else lines[:EXCERPT] + [f"… {len(lines) - 2 * EXCERPT} lines …"] + lines[-EXCERPT:]
            out += ["", "Output:", "", _fence("\n".join(shown))]
        out.append("")
    return "\n".join(out) + "\n"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _describe(e: dict[str, Any]) -> str:
    kind = e["event"]
    if kind == "run_started":
        return "run resumed" if e.get("resumed") else "run started"
    if kind == "run_finished":
        return f"run {e['outcome']}" + (f": {_md(e['message'])}" if e.get("message") else "")
    if kind == "step_started":
        again = f" (attempt {e['attempt']})" if e.get("attempt", 1) > 1 else ""
        phase = "undo " if e.get("phase") == "undo" else ""
        first = e["rendered"].splitlines()[0] if e.get("rendered") else ""
        return f"{phase}started{again}: `{_md(first)}`" + (f" on {e['target']}" if e.get("target") else "")
    if kind == "step_finished":
        return f"**{e['status']}**" + (f" in {e['duration']:.2f}s" if e.get("duration") else "") + (
            f": {_md(e['message'].splitlines()[0])}" if e.get("message") and e["status"] != "would-run" else "")
    if kind == "guard":
        return f"{e['guard']} {'held' if e['passed'] else 'failed'}: `{_md(e['expression'])}`"
    if kind == "gate_requested":
        return f"asked ({e['gate']}): {_md(e['text'])[:120]}"
    if kind == "gate_answered":
        answer = "yes" if e["approved"] else "no"
        return f"answered **{answer}**" + (f" ({e['choice']})" if e.get("choice") else "") + f" by {e['who']}" + (
            f": {_md(e['reason'])}" if e.get("reason") else "")
    if kind == "output_truncated":
        return truncation_text(e)
    return ""
