"""Where the caches live: ``$XDG_CACHE_HOME/runbook-tui/<part>``, else ``~/.cache/runbook-tui/<part>``.
Deleting any of them is always safe; they only save time."""

from __future__ import annotations

import os
from pathlib import Path


def cache_folder(part: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative value is to be ignored
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "runbook-tui" / part
