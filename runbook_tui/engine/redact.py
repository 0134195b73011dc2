"""What must not be shown or stored: secret inputs' values and sensitive steps' output.

Every event passes through ``Redactor.event`` on its way to the subscribers (screen, journal,
--json, report), so masking is decided in one place. Templates still render with the real
values: only the target receives them.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Iterable
from typing import Any

from runbook_tui.engine.events import field_names

MASK = "***"
_KEEP = frozenset({"run_id", "seq", "ts"})


class Redactor:
    def __init__(self, secrets: Iterable[Any] = ()):
        self.forms: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[Any]) -> None:
        forms = set(self.forms)
        for value in secrets:
            text = "" if value is None else str(value)
            if text:
                # As written into a command too: shell-quoting changes how a value looks.
                forms.update({text, shlex.quote(text)})
        self.forms = sorted(forms, key=len, reverse=True)  # longest first: a quoted form before its core

    def __bool__(self) -> bool:
        return bool(self.forms)

    def text(self, text: str) -> str:
        for form in self.forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def value(self, value: Any) -> Any:
        """A copy with every string masked (the engine's own dicts stay unmasked for templates)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value

    def event(self, event: Any) -> Any:
        """A copy of EVENT with every field masked (the engine's own stays as it was). Made as
        ``dataclasses.replace`` would, without calling ``__init__`` again: floods pass here."""
        masked = object.__new__(type(event))
        state = vars(masked)
        state.update(vars(event))
        for name in field_names(type(event)):
            if name not in _KEEP:
                state[name] = self.value(state[name])
        return masked


def digest_only(result: dict[str, Any]) -> dict[str, Any]:
    """A sensitive step's result for the record: what it printed as size and sha256 only; what
    its parser extracted is kept (the structure, e.g. HAProxy pools, not the file).
    ``redacted`` tells a resume that the step must run again for its output."""
    out = dict(result)
    for key in ("stdout", "stderr"):
        data = (out.get(key) or "").encode()
        out[key] = f"{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}" if data else ""
    out["lines"] = []
    out["redacted"] = True
    return out
