"""The headless console writes through rich, so rich decides when to colour (FORCE_COLOR,
NO_COLOR, TERM=dumb, a terminal or not) and --no-color overrides it; rich is loaded only when
the first line is printed, never at start-up."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from support import cli_env, runbook

from runbook_tui.headless.console import ConsoleReporter

PROC = "id: p\ntitle: P\nsteps:\n  - {id: look, local: 'echo hello', mutates: false}\n"


def test_force_color_colours_a_pipe_and_no_color_still_wins(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(PROC)
    env = cli_env(tmp_path)
    env.pop("NO_COLOR", None)
    plain = runbook("run", "p.yaml", cwd=tmp_path, env=env)
    assert plain.returncode == 0 and "\x1b[" not in plain.stdout  # a pipe: no colour
    forced = runbook("run", "p.yaml", cwd=tmp_path, env={**env, "FORCE_COLOR": "1"})
    assert forced.returncode == 0 and "\x1b[32m✓\x1b[0m look ok" in forced.stdout
    for extra, flags in (({"NO_COLOR": "1"}, []), ({}, ["--no-color"])):
        done = runbook("run", "p.yaml", *flags, cwd=tmp_path, env={**env, "FORCE_COLOR": "1", **extra})
        assert done.returncode == 0 and "SUCCEEDED" in done.stdout and "\x1b[" not in done.stdout, (extra, flags)


def test_rich_markup_in_output_is_shown_as_written() -> None:
    out = io.StringIO()
    reporter = ConsoleReporter(out, color=True)
    reporter._print("  ", ("dim", "step"), " │ [bold red]not markup[/] :smile:")
    assert out.getvalue() == "  \x1b[2mstep\x1b[0m │ [bold red]not markup[/] :smile:\n"


def test_rich_is_imported_only_when_printing_a_styled_line() -> None:
    code = ("import sys, io\nfrom runbook_tui.headless.console import ConsoleReporter\n"
            "r = ConsoleReporter(io.StringIO())\nprint('rich' in sys.modules)\n"
            "r._print('x')\nprint('rich' in sys.modules)\n"
            "r._print(('bold', 'x'))\nprint('rich' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    # A plain line (all that --quiet prints) needs no colour decision; the first styled one does.
    assert done.stdout.split() == ["False", "False", "True"], done.stderr
