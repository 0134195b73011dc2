"""Errors as the TUI shows them: one sentence each, wherever they surface (a worker, a lookup)."""

from __future__ import annotations

from runbook_tui.errors import RunbookError


def error_sentence(error: BaseException | None) -> str:
    """An error as the operator sees it: our errors' own sentence, else the exception's text."""
    if error is None:
        return "unknown error"
    if isinstance(error, RunbookError):
        return str(error)
    return f"{type(error).__name__}: {error}"
