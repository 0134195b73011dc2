"""The mode banner: LIVE (red), DRY-RUN (amber) or LAB (blue), with the targets, on every screen."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static

from runbook_tui.textsafe import printable
from runbook_tui.tui.mode import Mode


class ModeBanner(Static):
    DEFAULT_CSS = """
    ModeBanner {
        dock: top;
        height: 1;
        width: 100%;
        padding: 0 1;
        text-style: bold;
        color: white;
        background: $primary-darken-2;
    }
    ModeBanner.-live { background: #b01c1c; }
    ModeBanner.-dry-run { background: #8f5600; }  /* amber dark enough for white text at 4.5:1 */
    ModeBanner.-lab { background: #1f4fa8; }
    """

    mode: reactive[Mode] = reactive(Mode, always_update=True)

    def __init__(self, mode: Mode | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        # A run's banner keeps the run's mode; the others follow the app's.
        self.follows_app = mode is None
        if mode is not None:
            self.set_reactive(ModeBanner.mode, mode)

    def on_mount(self) -> None:
        if self.follows_app:
            self.set_reactive(ModeBanner.mode, getattr(self.app, "mode", Mode()))
        self.watch_mode(self.mode)

    def watch_mode(self, mode: Mode) -> None:
        for kind in ("live", "dry-run", "lab"):
            self.set_class(mode.kind == kind, f"-{kind}")
        targets = ", ".join(mode.targets) if mode.targets else "no targets"
        self.update(printable(f"● {mode.label}   targets: {targets}"))
