"""Parsed data read as a table: HAProxy's servers (``show stat``, ``show servers state``) as
server, backend, state and last check, DOWN ones first, instead of the raw CSV.

Pure text (Markdown), for the step detail and the failure dialog alike.
"""

from __future__ import annotations

from typing import Any

from runbook_tui.textsafe import printable

NOT_UP_FIRST = {"DOWN": 0, "MAINT": 1, "DRAIN": 2, "NOLB": 3, "STARTING": 4, "STOPPING": 4}
MAX_ROWS = 40


def _cell(value: Any) -> str:
    text = printable("" if value is None else str(value)).replace("|", "\\|").replace("\n", " ")
    return text or "–"


def _server_rows(data: Any) -> list[tuple[str, str, str, str]] | None:
    """(server, backend, state, last check) per server, or None when DATA is no server table."""
    if not isinstance(data, dict) or not isinstance(data.get("servers"), list):
        return None
    rows = []
    for s in data["servers"]:
        if not isinstance(s, dict):
            return None
        if "svname" in s:  # show stat
            check = " ".join(str(v) for v in (s.get("check_status"), s.get("last_chk") or s.get("check_desc")) if v)
            if s.get("lastchg") is not None:
                check += f" (state for {s['lastchg']} s)"
            rows.append((s["svname"], s.get("pxname"), s.get("status"), check))
        elif "name" in s and "backend" in s:  # show servers state
            check = " ".join(str(v) for v in (s.get("check_status_name"), s.get("check_result_name")) if v)
            rows.append((s["name"], s["backend"], s.get("status"), check))
        else:
            return None
    return [tuple(_cell(v) for v in row) for row in rows]  # type: ignore[misc]


def servers_markdown(data: Any, title: str = "Servers") -> str | None:
    """A Markdown table of DATA's servers, those not UP first; None when DATA has none."""
    rows = _server_rows(data)
    if not rows:
        return None
    rows.sort(key=lambda r: NOT_UP_FIRST.get(r[2].split()[0] if r[2] else "", 9))
    down = sum(1 for r in rows if not r[2].startswith("UP"))
    head = f"**{title}:** {len(rows)} server(s), " + (f"**{down} not UP**" if down else "all UP")
    lines = [head, "", "| server | backend | state | last check |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | **{c}** | {d} |" if not c.startswith("UP") else f"| {a} | {b} | {c} | {d} |"
              for a, b, c, d in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        lines.append(f"\n… and {len(rows) - MAX_ROWS} more (all UP)" if down <= MAX_ROWS else f"\n… {len(rows) - MAX_ROWS} more")
    return "\n".join(lines)


def result_markdown(result: dict[str, Any] | None, title: str = "Servers") -> str | None:
    """The table for a step's recorded result, when its parsed data is one we can show so."""
    if not result:
        return None
    return servers_markdown(result.get("data"), title)
