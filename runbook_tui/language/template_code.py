"""Compiled templates kept on disk by content hash, so that a run does not compile them again.

Compiling a template (lexing, parsing, generating Python, ``compile``) is most of what a
template costs, and a procedure's templates are the same from one run to the next: each distinct
source is compiled once and its code object kept, marshalled, as Python keeps a ``.pyc``. The key
is the source, its kind (shell command, text, expression) and everything the generated code
depends on: the Python and Jinja versions and this tool's templating code (by file size and
time, so an edit or upgrade makes every key new). Only what compiled without error is kept; a
source that fails compiles again every time, so its error is always fresh. An entry that cannot
be read is ignored and rewritten. What a cached code object does when it runs is what the freshly
compiled one would do: the sandbox, undefined names and limits live in the environment and its
runtime calls, not in the cache.

The folder is ``$XDG_CACHE_HOME/runbook-tui/jinja`` (else ``~/.cache/runbook-tui/jinja``);
deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from runbook_tui.user_cache import cache_folder, write_private

T = TypeVar("T")

FORMAT = "1"
# Entries are a few kB; past this many, a writer now and then removes the oldest half.
MAX_ENTRIES = 4096

_prefix: bytes | None = None


def folder() -> Path:
    return cache_folder("jinja")


def _fingerprint() -> bytes:
    global _prefix
    if _prefix is None:
        import jinja2

        parts = [FORMAT, sys.version, jinja2.__version__]
        # templating.py holds the environments, the code generator and the filters: named by
        # path, not imported (it imports this module).
        for path in (os.path.join(os.path.dirname(__file__), "templating.py"), __file__):
            try:
                st = os.stat(path)
                parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
            except OSError:
                parts.append(f"{path}:?")
        _prefix = "\0".join(parts).encode()
    return _prefix


def _path(kind: str, source: str) -> Path:
    digest = hashlib.sha256(_fingerprint() + b"\0" + kind.encode() + b"\0" + source.encode("utf-8", "surrogatepass"))
    return folder() / f"{digest.hexdigest()[:40]}.code"


def kept(kind: str, source: str, build: Callable[[], T], types: type | tuple[type, ...]) -> T:
    """What ``build()`` makes of SOURCE of KIND (a code object, or a marshallable value of TYPES):
    from the cache, else built (its errors pass through untouched) and kept for the next run."""
    path = _path(kind, source)
    try:
        loaded = marshal.loads(path.read_bytes())
        if isinstance(loaded, types):
            return loaded  # type: ignore[return-value]
    except (OSError, ValueError, EOFError, TypeError):
        pass
    built = build()
    _keep(path, built)
    return built


def _keep(path: Path, built: Any) -> None:
    try:
        write_private(path, marshal.dumps(built))  # readers see the whole entry or none
        if random.random() < 1 / 64:
            _prune(path.parent)
    except (OSError, ValueError):
        pass  # a read-only or full disk: compiling next time too is all it costs


def _prune(where: Path) -> None:
    entries = []
    for entry in os.scandir(where):
        try:
            entries.append((entry.stat().st_mtime_ns, entry.path))
        except OSError:
            pass
    if len(entries) > MAX_ENTRIES:
        for _, stale in sorted(entries)[: len(entries) // 2]:
            try:
                os.unlink(stale)
            except OSError:
                pass
