"""Heavy third-party packages (the Kubernetes client, asyncssh) imported lazily, often in
threads so the event loop keeps turning, and one at a time: their modules import each other in
cycles, and two threads importing different ones first can end in Python's _DeadlockError or a
half-initialised module. One lock for all of them, since they share dependencies (cryptography,
urllib3) and an import is CPU-bound anyway: nothing is lost by taking turns. Also what a run's
start-up asks of the garbage collector while it imports (``hold_collection``)."""

from __future__ import annotations

import gc
import importlib
import threading
from collections.abc import Sequence

_turn = threading.Condition()  # whose turn it is to import, and news of each import done
_importing = False
_done: set[str] = set()


def loaded(name: str) -> bool:
    """NAME was imported through ``load`` (and so is whole: no other thread is inside it)."""
    return name in _done


def load(*names: str) -> None:
    """Import NAMES (module paths) unless already done, one importing thread at a time. A thread
    waiting for its turn leaves as soon as what it asked for is done: it does not sit behind
    the next import of the thread that did it."""
    global _importing
    with _turn:
        while not _done.issuperset(names):
            if not _importing:
                _importing = True
                break
            _turn.wait()
        else:
            return
    try:
        for name in names:
            if name not in _done:
                importlib.import_module(name)
                with _turn:
                    _done.add(name)
                    _turn.notify_all()
    finally:
        with _turn:
            _importing = False
            _turn.notify_all()


def load_soon(groups: Sequence[Sequence[str]]) -> None:
    """Begin importing each group (as ``load``) in a background thread, in order. A run knows
    from its inventory which clients it will need well before its first step asks: imported
    meanwhile, they fill the moments the run spends waiting (a server's answer, the procedures
    being read) instead of standing in front of its first request. A group that fails to import
    is left for ``load`` to raise where it is needed. Not a daemon: one stopped by the exit in the
    middle of an extension's import aborts the process ("FATAL: exception not rethrown"), so a
    run that ends at once (a refused gate) waits the rest of the imports out."""
    if not groups:
        return
    holding("clients")

    def run() -> None:
        try:
            for names in groups:
                try:
                    load(*names)
                except Exception:  # said by the step that needs it, where it is needed
                    continue
        finally:
            started("clients")

    threading.Thread(target=run, name="load-soon").start()


# Start-up builds hundreds of thousands of objects (modules, classes, schemas) and frees next to
# none: the cyclic collector's passes over them are pure cost, ~10 % of a run's start. A run
# holds collection until each part of its start-up has ``started``; the objects made so far are
# then frozen (left out of every later pass) and collection resumes for the run itself.
_held: set[str] = set()
_held_lock = threading.Lock()


def hold_collection(*parts: str) -> None:
    """No collection until each of PARTS (and every ``holding`` part) has ``started``."""
    with _held_lock:
        if gc.isenabled():
            gc.disable()
            _held.update(parts)


def holding(part: str) -> None:
    """One more PART of a start-up whose collection is held (none held: nothing to wait for)."""
    with _held_lock:
        if not gc.isenabled() and _held:
            _held.add(part)


def started(part: str) -> None:
    """PART's start-up is done; the last one to finish resumes collection."""
    with _held_lock:
        if part not in _held:
            return
        _held.discard(part)
        if not _held:
            gc.freeze()
            gc.enable()
