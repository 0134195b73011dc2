"""Text from procedures, targets and remote output, made safe to put on a terminal.

A remote command's output, a discovered value or a template's result may carry terminal control
sequences: ``ESC ] 0 ; title BEL`` retitles the window, ``ESC [ 2J`` clears the screen, a bare
``CR`` lets the rest of a line overwrite what came before it. ``printable`` shows every C0/C1
control character other than newline and tab, and DEL, as a visible escape instead (``\\x1b``,
``\\x07``, ``\\r``, ``\\x9b``), so the operator sees what arrived and the terminal obeys none of it.

Both faces use it: the headless console and the TUI. It is on the output path, so the common
case (nothing to escape) costs one C-level scan.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

_CONTROL = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_KEEP = {0x09, 0x0A}  # tab and newline lay text out; they move no cursor anywhere surprising
_NAMED = {0x0D: "\\r"}

#: ``str.translate`` table: each control character to its visible escape.
TABLE: dict[int, str] = {c: _NAMED.get(c, f"\\x{c:02x}") for c in _CONTROL if c not in _KEEP}

_FIND = re.compile("[" + "".join(re.escape(chr(c)) for c in TABLE) + "]")


def printable(text: str) -> str:
    """``text`` with control characters (but ``\\n`` and ``\\t``) shown as escapes."""
    if text.isprintable() or _FIND.search(text) is None:  # the fast path: nothing to escape
        return text
    return text.translate(TABLE)
