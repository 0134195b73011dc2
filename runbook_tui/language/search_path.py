"""Where procedures are found: the shipped ones, then the operator's own folder, then each
``--procedures DIR``; one catalog over all of them, so an operator's procedure can ``call:`` a
shipped one (and the same id in two places is an error naming both files, see Catalog)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

PathLike = str | os.PathLike[str]


def user_procedures_dir() -> Path:
    """The operator's own procedures: ``$XDG_CONFIG_HOME/runbook-tui/procedures`` (by default
    ``~/.config/runbook-tui/procedures``), beside the user inventory."""
    import platformdirs

    return platformdirs.user_config_path("runbook-tui") / "procedures"


def shipped_procedures_dir() -> Path:
    """``runbook_tui/procedures``, package data (loader.default_procedures_dir, without
    importing the loader: the command line decides its search path before anything heavy).
    Package data, so a wheel or a pipx install has them too; read as files (setuptools installs
    packages unzipped), which Catalog and the loader's positions need."""
    from importlib.resources import files

    return Path(str(files("runbook_tui") / "procedures"))


def procedure_folders(extra: PathLike | Iterable[PathLike] | None = None) -> list[Path]:
    """The search path, in order, each folder once (``--procedures`` naming the shipped folder
    itself, as tests and old scripts do, adds nothing)."""
    given = [extra] if isinstance(extra, str | os.PathLike) else list(extra or ())
    folders: list[Path] = []
    seen: set[Path] = set()
    for folder in [shipped_procedures_dir(), user_procedures_dir(), *map(Path, given)]:
        key = folder.resolve()
        if key not in seen:
            seen.add(key)
            folders.append(folder)
    return folders
