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


def write_private(path: Path, data: str | bytes) -> None:
    """DATA as the whole of PATH, readable by the user alone (folders 0700, file 0600), written
    beside it and renamed into place: a reader sees the old file or the whole new one, and two
    writers never share a temporary file. Raises OSError; nothing is left behind."""
    import tempfile  # only when writing: not at start-up

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
