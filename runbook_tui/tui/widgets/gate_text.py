"""A gate's text, shown as the engine and the procedure wrote it.

The engine's gate texts are plain sentences; a procedure's confirmation text too, and it may hold
`<mailserver>` or `[mail]`, which Markdown or Rich markup would swallow. Only a manual step's text
is the procedure's Markdown (its checklist), so only that is rendered as such.
"""

from __future__ import annotations

from textual.widget import Widget
from textual.widgets import Markdown, Static

from runbook_tui.engine.gates import GateRequest
from runbook_tui.textsafe import printable


def gate_text(request: GateRequest) -> Widget:
    if request.kind == "manual":
        return Markdown(printable(request.text), id="gate-text")
    return Static(printable(request.text), id="gate-text", markup=False)
