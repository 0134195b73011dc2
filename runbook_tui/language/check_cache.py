"""Procedures already checked, kept by content hash so that the next start skips the checks.

Reading and checking the procedures (YAML, then every template and the step graph) was most of
a start. What a check finds depends only on the file's text and name, the inventory, the other
procedures of the catalog (``call`` steps look into them), and this tool's code and libraries,
so that is the key. An entry says only that a file passed (and what ``list`` shows of it):
loading still reads the procedure from the file itself, so an entry can skip checks but never
change what runs. A file with problems is checked again every time, so its messages name file
and line as fresh. An entry that cannot be read, or that was made for other text, is ignored.

The folder is ``$XDG_CACHE_HOME/runbook-tui`` (else ``~/.cache/runbook-tui``); deleting it is
always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_tui.user_cache import cache_folder, write_private

if TYPE_CHECKING:
    from runbook_tui.language.catalog import Catalog
    from runbook_tui.language.inventory import Inventory

FORMAT = "3"
# Entries are small (under a kB); past this many, the oldest half goes when a new one is written.
MAX_ENTRIES = 512

_code: str | None = None
_catalogs: weakref.WeakKeyDictionary[Catalog, str] = weakref.WeakKeyDictionary()


def folder() -> Path:
    return cache_folder("checked")


def _stamp(path: str | os.PathLike[str] | None) -> tuple[str, int, int]:
    try:
        st = os.stat(path) if path else None
    except OSError:
        st = None
    return (str(path), st.st_size, st.st_mtime_ns) if st else (str(path), -1, -1)


def _code_fingerprint() -> str:
    """This tool's checking code and the libraries it stands on, by file size and time: any
    edit or upgrade makes every key new (a version number would miss a changed checkout)."""
    global _code
    if _code is None:
        from runbook_tui import __version__

        here = Path(__file__).resolve().parent
        ours = [*sorted(here.glob("*.py")), here.parent / "errors.py", here.parent / "parsers" / "__init__.py"]
        theirs = []
        for name in ("yaml", "jinja2", "pydantic", "pydantic_core"):
            spec = find_spec(name)
            theirs.append(spec.origin if spec is not None else None)
        stamps = [_stamp(p) for p in ours + theirs]
        _code = repr((FORMAT, __version__, sys.version, stamps))
    return _code


@dataclass
class KnownInventory:
    """An inventory file that was valid before with this very text: what the procedures' keys
    need of it (its fingerprint) without building its models; ``load`` builds them when a
    procedure must be checked after all. ``validate`` stands on it to start without pydantic."""

    fingerprint: str
    build: Callable[[], Inventory]
    _built: Inventory | None = field(default=None, repr=False)

    def load(self) -> Inventory:
        if self._built is None:
            self._built = self.build()
        return self._built


def inventory_fingerprint(inventory: Inventory | KnownInventory | None) -> str:
    if inventory is None:
        return "-"
    if isinstance(inventory, KnownInventory):
        return inventory.fingerprint
    return hashlib.sha256(inventory.model_dump_json().encode()).hexdigest()


def inventory_key(text_sha: str, filename: str) -> str:
    """The key of an inventory file's entry: its text and name, and the home folder its ``~``
    paths expand to."""
    parts = (_code_fingerprint(), "inventory", text_sha, filename, os.path.expanduser("~"))
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _catalog_fingerprint(catalog: Catalog | None) -> str:
    """Every file a ``call`` may look into, by name and content (a Catalog is a snapshot: it
    keeps its index of ids for its lifetime, and so does this)."""
    if catalog is None:
        return "-"
    known = _catalogs.get(catalog)
    if known is None:
        digest = hashlib.sha256(repr(getattr(catalog, "directories", [catalog.directory])).encode())
        for path in catalog.files():
            try:
                content = path.read_bytes()
            except OSError:
                content = b"\0unreadable"
            digest.update(f"\0{path}\0{len(content)}\0".encode())
            digest.update(content)
        known = _catalogs[catalog] = digest.hexdigest()
    return known


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def key(text_sha: str, filename: str, inventory: Inventory | KnownInventory | None, catalog: Catalog | None) -> str:
    parts = (_code_fingerprint(), text_sha, filename, inventory_fingerprint(inventory), _catalog_fingerprint(catalog))
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def load(entry_key: str, text_sha: str) -> dict[str, Any] | None:
    """The entry stored under ``entry_key`` when it is whole and made for this text, else None."""
    try:
        with open(folder() / f"{entry_key}.json", "rb") as handle:
            entry = json.loads(handle.read())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != entry_key or entry.get("text") != text_sha:
        return None
    return entry


def store(entry_key: str, text_sha: str, payload: dict[str, Any]) -> None:
    """Write the entry atomically (a reader sees the old file or the whole new one); a cache
    that cannot be written is no error: the next start checks again."""
    where = folder()
    entry = {"key": entry_key, "text": text_sha, **payload}
    try:
        write_private(where / f"{entry_key}.json", json.dumps(entry, separators=(",", ":")))
    except (OSError, ValueError, TypeError):  # ValueError/TypeError: data JSON cannot hold
        return
    _prune(where)


def _prune(where: Path) -> None:
    try:
        entries = [(p.stat().st_mtime_ns, p) for p in where.glob("*.json")]
        if len(entries) > MAX_ENTRIES:
            for _, path in sorted(entries)[: len(entries) - MAX_ENTRIES // 2]:
                path.unlink(missing_ok=True)
    except OSError:
        pass
