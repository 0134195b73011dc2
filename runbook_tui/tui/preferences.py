"""What the TUI remembers between starts (the theme), in the user's configuration folder:
``$XDG_CONFIG_HOME/runbook-tui/tui.json``, by default ``~/.config/runbook-tui/tui.json``.

A preference is a convenience: a file that is missing, unreadable or not ours is ignored (the
defaults apply), and one that cannot be written costs the preference, never the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runbook_tui.user_cache import write_private

FILE = "tui.json"


def preferences_path() -> Path:
    import platformdirs  # XDG_CONFIG_HOME on Linux, as the inventory's folder is found

    return platformdirs.user_config_path("runbook-tui") / FILE


def load(path: Path | None = None) -> dict[str, Any]:
    """The saved preferences, or {} when there are none we can read."""
    try:
        data = json.loads((path or preferences_path()).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable, not JSON, not UTF-8
        return {}
    return data if isinstance(data, dict) else {}


def saved_theme(path: Path | None = None) -> str | None:
    theme = load(path).get("theme")
    return theme if isinstance(theme, str) and theme else None


def save(changes: dict[str, Any], path: Path | None = None) -> str | None:
    """Merge CHANGES into the saved preferences (written whole, then renamed into place, so a
    crash never leaves half a file). Returns why it could not be written, or None."""
    path = path or preferences_path()
    try:
        write_private(path, json.dumps({**load(path), **changes}, indent=2) + "\n")
    except OSError as exc:
        return f"could not save the preferences to {path}: {exc.strerror or exc}"
    return None
