"""The sdist carries what its tests need: unpacked anywhere, `make test` has its tests, scripts,
Makefile, README, LICENSE and the shipped procedures."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from support import ROOT


def test_the_sdist_carries_the_tests_and_what_they_run_on(tmp_path: Path) -> None:
    # Built from a clean copy of the checkout: a left-over *.egg-info/SOURCES.txt in the working
    # tree would add its files to the sdist and hide a missing MANIFEST.in line.
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    source = tmp_path / "source"
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name, follow_symlinks=False)
    # setuptools' own PEP 517 hook, as `python -m build --sdist --no-isolation` calls it.
    built = subprocess.run([sys.executable, "-c", "import sys, setuptools.build_meta as b; "
                            "print(b.build_sdist(sys.argv[1]))", str(tmp_path)],
                           cwd=source, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    sdist = tmp_path / built.stdout.split()[-1]
    with tarfile.open(sdist) as tar:
        top, *_ = tar.getnames()[0].split("/")
        names = {name.removeprefix(top + "/") for name in tar.getnames()}
    shipped = {f"runbook_tui/procedures/{p.name}" for p in (ROOT / "runbook_tui" / "procedures").iterdir()
               if p.is_file()}
    wanted = {"README.md", "LICENSE", "Makefile", "pyproject.toml", "scripts/install-test-deps",
              "tests/conftest.py", "tests/support.py", "tests/test_sdist.py", "tests/sshhosts.py", *shipped}
    assert wanted <= names, sorted(wanted - names)
    # Every tracked test file, snapshots and sample corpora included.
    tracked = subprocess.run(["git", "ls-files", "tests", "scripts", "docs"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert set(tracked) <= names, sorted(set(tracked) - names)[:10]
    assert not [n for n in names if "__pycache__" in n]
