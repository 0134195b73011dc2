"""The lab's record of everything its servers received: one JSON line per command or write."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path


class CommandLog:
    """Append-only JSONL: ``{"time", "target", "command", "mutating"[, "note"]}`` per line."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()  # the API server may write from another thread

    def record(self, target: str, command: str, mutating: bool, note: str | None = None) -> None:
        """``note`` marks what the lab did instead of running it (e.g. a dropped connection)."""
        entry = {"time": time.time(), "target": target, "command": command, "mutating": mutating}
        if note:
            entry["note"] = note
        line = json.dumps(entry)
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
