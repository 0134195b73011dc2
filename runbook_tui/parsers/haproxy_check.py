"""``haproxy -c -f FILE`` (configuration check), stdout and stderr together.

Format (captured from HAProxy 2.6.12; same shape in 2.9): messages are
``[ALERT]    (pid) : config : [bad.cfg:12] : 'server bk/x' : unknown keyword ...``, older
releases say ``[ALERT] 123/456789 (pid) : parsing [bad.cfg:12] : ...``; continuation lines
start with ``|``. A valid file ends with ``Configuration file is valid`` (exit 0), an invalid
one with ``Fatal errors found in configuration.`` (exit 1). Captured examples:
``tests/data/captured/haproxy-2.6_check_*.txt``.
"""

from __future__ import annotations

import re
from typing import Any

from runbook_tui.parsers import ParseError
from runbook_tui.parsers._text import nonblank_lines, require_text

WHAT = "haproxy.check"

_MESSAGE = re.compile(r"^\[(?P<level>ALERT|WARNING|NOTICE|WARN|INFO|DIAG)\]\s*(?:\d+/\d+\s+)?\(\d+\)\s*:\s*(?P<body>.*)$")
_SECTION = re.compile(r"^(?P<section>[a-z][\w-]*)\s+:\s+(?P<rest>.*)$")
_PLACE = re.compile(r"^(?:parsing\s+)?\[(?P<file>[^\]]*):(?P<line>\d+)\]\s*:?\s*(?P<message>.*)$")
VALID = "Configuration file is valid"
FATAL = ("Fatal errors found in configuration", "Error(s) found in configuration file")


def _message(level: str, body: str) -> dict[str, Any]:
    section = None
    match = _SECTION.match(body)
    if match and not body.startswith("["):
        section, body = match["section"], match["rest"]
    place = _PLACE.match(body)
    if place:
        return {"level": level, "section": section, "file": place["file"], "line": int(place["line"]),
                "message": place["message"].strip()}
    return {"level": level, "section": section, "file": None, "line": None, "message": body.strip()}


def parse(text: str) -> dict[str, Any]:
    """-> ``{"valid": bool, "alerts": [{"file","line","message",...}], "warnings": [...]}``."""
    require_text(text, WHAT)
    messages: list[dict[str, Any]] = []
    said_valid = said_fatal = False
    for _number, line in nonblank_lines(text):
        stripped = line.strip()
        if stripped.startswith("|") and messages:
            messages[-1]["message"] += " " + stripped[1:].strip()
            continue
        match = _MESSAGE.match(stripped)
        if match:
            level = {"WARN": "WARNING"}.get(match["level"], match["level"])
            message = _message(level, match["body"])
            if level == "ALERT" and message["message"].startswith(FATAL):
                said_fatal = True  # the closing summary, not a problem of its own
            else:
                messages.append(message)
            continue
        if stripped.startswith(VALID):
            said_valid = True
        elif stripped.startswith(FATAL):
            said_fatal = True
    alerts = [m for m in messages if m["level"] == "ALERT"]
    if not said_valid and not said_fatal and not alerts:
        raise ParseError(
            "The `haproxy -c` output has neither 'Configuration file is valid' nor an [ALERT] line; "
            "was the check run without -q and with stderr captured?"
        )
    return {
        "valid": said_valid and not said_fatal and not alerts,
        "alerts": alerts,
        "warnings": [m for m in messages if m["level"] == "WARNING"],
        "notices": [m for m in messages if m["level"] not in ("ALERT", "WARNING")],
    }
