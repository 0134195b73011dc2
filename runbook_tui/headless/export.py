"""A run as one file to share in a post-mortem: its journal, its Markdown report and a manifest,
in a gzipped tar. The journal is already redacted (secret inputs masked, sensitive output
digested), so the bundle carries nothing the journal does not."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import time
from pathlib import Path

from runbook_tui.headless.journal import JournalError, summarize
from runbook_tui.headless.report import markdown_report


def default_name(run_id: str) -> Path:
    return Path(f"runbook-tui-{run_id}.tar.gz")


def export_run(journal: Path, output: Path) -> Path:
    """Write the bundle of the run journaled at JOURNAL to OUTPUT (never over an existing file)."""
    journal, output = Path(journal), Path(output)
    if output.exists():
        raise JournalError(f"{output} exists already; give another name with -o.")
    try:
        data = journal.read_bytes()
        run = summarize(journal)
    except OSError as exc:
        raise JournalError(f"cannot read {journal}: {exc.strerror or exc}.") from None
    if run is None:
        raise JournalError(f"{journal} holds no run.")
    from runbook_tui import __version__

    # The folder is named after the file, not after what the file says: a journal from a shared
    # folder could carry a run_id like ../../somewhere.
    folder, now = re.sub(r"[^\w.-]", "_", journal.stem).lstrip(".") or "run", time.time()
    manifest = {
        "run_id": run.run_id, "procedure": run.procedure, "title": run.title, "mode": run.mode,
        "operator": run.operator, "started": run.started, "outcome": run.outcome,
        "journal_sha256": hashlib.sha256(data).hexdigest(), "journal_bytes": len(data),
        "exported_at": now, "tool": f"runbook-tui {__version__}",
    }
    members = {
        f"{folder}/journal.jsonl": data,
        f"{folder}/report.md": markdown_report(journal).encode(),
        f"{folder}/manifest.json": (json.dumps(manifest, indent=2) + "\n").encode(),
    }
    target = output.parent if str(output.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=".export-", dir=target)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for name, body in members.items():
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(body), int(now), 0o600
                tar.addfile(info, io.BytesIO(body))
        os.chmod(tmp, 0o600)  # as private as the journal it carries
        os.replace(tmp, output)
    except BaseException:
        os.unlink(tmp)
        raise
    return output
