"""Messages that cross screens."""

from __future__ import annotations

from textual.message import Message


class WorkspaceReady(Message):
    """The workspace (inventory, procedures, lab) is open: screens may fill in."""


class WorkspaceFailed(Message):
    """The workspace could not be opened; ``error`` is the sentence to show."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class RunsChanged(Message):
    """A run finished: last outcomes and the runs list are stale."""
