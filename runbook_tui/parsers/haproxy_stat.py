"""HAProxy runtime API ``show stat`` (CSV).

Format (haproxy ``doc/management.txt`` section "CSV format"): the first line is
``# pxname,svname,qcur,...`` naming the columns, then one CSV row per frontend (svname
``FRONTEND``), server, and backend (svname ``BACKEND``); the reply ends with an empty line.
Versions add columns (2.9 adds some after ``agg_check_status``), so rows are read by the
header's names, never by position. Captured example:
``tests/data/captured/haproxy-2.6_show_stat.csv``.
"""

from __future__ import annotations

import csv
from typing import Any

from runbook_tui.parsers import ParseError
from runbook_tui.parsers._text import clip, nonblank_lines, require_text, scalar

WHAT = "haproxy.stat"
PROXY_ROWS = ("FRONTEND", "BACKEND")


def _row(line: str, number: int) -> list[str]:
    # csv handles the quoting HAProxy applies to text columns that contain commas.
    try:
        return next(csv.reader([line], strict=True), [])
    except csv.Error as err:
        raise ParseError(f"Line {number} of `show stat` is not a well-formed CSV row ({str(err).split(' - ')[0]}).", line=number) from None


def parse(text: str) -> dict[str, Any]:
    """``show stat`` -> ``{"fields", "rows", "frontends", "backends", "servers"}``; rows are dicts
    keyed by column name with ints where numeric and None where empty."""
    require_text(text, WHAT)
    fields: list[str] | None = None
    rows: list[dict[str, Any]] = []
    for number, line in nonblank_lines(text):
        if fields is None:
            stripped = line.strip()
            if not stripped.startswith("#"):
                raise ParseError(
                    f"Line {number} of `show stat`: expected the CSV header '# pxname,svname,...', found {clip(stripped)!r}.",
                    line=number,
                )
            fields = [name.strip() for name in _row(stripped[1:].lstrip(), number)]
            if fields[:2] != ["pxname", "svname"]:
                raise ParseError(f"Line {number} of `show stat`: the header should start with pxname,svname.", line=number)
            continue
        if line.lstrip().startswith("#"):
            continue  # a repeated header from a concatenated second reply
        values = _row(line, number)
        if len(values) < 2 or not values[0] or not values[1]:
            raise ParseError(
                f"Line {number} of `show stat`: expected a CSV row starting with proxy and server names, found {clip(line)!r}.",
                line=number,
            )
        row: dict[str, Any] = {}
        for name, raw in zip(fields, values):
            if name and name != "-" and name not in row:  # unnamed placeholder columns carry nothing
                row[name] = scalar(raw)
        for name in fields[len(values):]:
            if name and name != "-":
                row.setdefault(name, None)
        rows.append(row)
    if fields is None:
        raise ParseError("The `show stat` output is empty: expected the CSV header '# pxname,svname,...'.")
    return {
        "fields": [name for name in fields if name and name != "-"],
        "rows": rows,
        "frontends": [row for row in rows if row["svname"] == "FRONTEND"],
        "backends": [row for row in rows if row["svname"] == "BACKEND"],
        "servers": [row for row in rows if row["svname"] not in PROXY_ROWS],
    }
