"""Shell completion: the script `runbook-tui completion bash` prints, sourced into a real bash and
driven as bash drives it (COMP_WORDS, COMP_CWORD, the function `complete -F` names), completes
subcommands, procedure ids (the operator's too), run ids from the journal, options, and the
input names `--set` takes."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from support import cli_env, runbook

FUNCTION = "_runbook_tui_complete"


def complete(tmp_path: Path, line: str, env: dict[str, str]) -> list[str]:
    """What bash offers for LINE (a trailing space means a new, empty word)."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    program = f"""
source <(runbook-tui completion bash)
test "$(complete -p runbook-tui)" = "complete -F {FUNCTION} runbook-tui" || exit 9
COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE={shlex.quote(line)}
{FUNCTION}
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return [w for w in done.stdout.splitlines() if w]


def env_with_the_command(tmp_path: Path) -> dict[str, str]:
    env = cli_env(tmp_path)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # where runbook-tui is installed
    return env


def test_subcommands_procedures_and_options(tmp_path: Path) -> None:
    env = env_with_the_command(tmp_path)
    assert complete(tmp_path, "runbook-tui run va", env) == ["validate"]
    assert complete(tmp_path, "runbook-tui --lab run va", env) == ["validate"]
    assert complete(tmp_path, "runbook-tui re", env) == ["resume"]
    assert "completion" in complete(tmp_path, "runbook-tui ", env)
    assert complete(tmp_path, "runbook-tui run validate --dry", env) == ["--dry-run"]
    assert complete(tmp_path, "runbook-tui completion ", env) == ["bash", "zsh", "fish"]
    assert complete(tmp_path, "runbook-tui runs sh", env) == ["show"]


def test_set_offers_the_procedures_input_names(tmp_path: Path) -> None:
    env = env_with_the_command(tmp_path)
    assert complete(tmp_path, "runbook-tui run validate --set ", env) == ["path="]
    # An operator's procedure, from --procedures, with its own inputs.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "drain.yaml").write_text("id: drain\ntitle: Drain\ninputs:\n  node: {type: string}\n"
                                     "  reason: {type: string}\nsteps:\n  - {id: x, local: 'true'}\n")
    assert complete(tmp_path, "runbook-tui --procedures mine run dr", env) == ["drain"]
    assert complete(tmp_path, "runbook-tui run drain --procedures mine --set ", env) == ["node=", "reason="]
    assert complete(tmp_path, "runbook-tui run drain --procedures mine --set r", env) == ["reason="]
    assert complete(tmp_path, "runbook-tui run mine/drain.yaml --set n", env) == ["node="]


def test_run_ids_come_from_the_journal(tmp_path: Path) -> None:
    env = env_with_the_command(tmp_path)
    (tmp_path / "p.yaml").write_text("id: quick\ntitle: Quick\nsteps:\n  - {id: x, local: 'true', mutates: false}\n")
    ran = runbook("run", "p.yaml", cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr
    (run_id,) = [p.stem for p in (tmp_path / "state" / "runs").glob("*.jsonl")]
    assert complete(tmp_path, "runbook-tui resume ", env) == [run_id]
    assert complete(tmp_path, "runbook-tui runs show 2", env) == [run_id]


def test_the_other_shells_and_a_missing_one(tmp_path: Path) -> None:
    env = env_with_the_command(tmp_path)
    zsh = runbook("completion", "zsh", cwd=tmp_path, env=env)
    assert zsh.returncode == 0 and zsh.stdout.startswith("#compdef runbook-tui\n")
    assert f"complete -F {FUNCTION} runbook-tui" in zsh.stdout
    fish = runbook("completion", "fish", cwd=tmp_path, env=env)
    assert fish.returncode == 0
    assert "complete -c runbook-tui -n __fish_use_subcommand -a 'list validate" in fish.stdout
    assert "--candidates inputs" in fish.stdout
    missing = runbook("completion", cwd=tmp_path, env=env)
    assert (missing.returncode, missing.stderr) == (2, "runbook-tui completion: say which shell: bash, zsh, fish\n")


def test_fish_completes_through_its_own_machinery(tmp_path: Path) -> None:
    env = env_with_the_command(tmp_path)

    def fish(line: str) -> list[str]:
        done = subprocess.run(["fish", "--no-config", "-c", f"runbook-tui completion fish | source; "
                               f"complete -C {shlex.quote(line)}"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return [w.split("\t")[0] for w in done.stdout.splitlines()]

    assert fish("runbook-tui run va") == ["validate"]
    assert fish("runbook-tui run validate --set ") == ["path="]


def test_zsh_loads_it_under_compinit_and_offers_the_procedures(tmp_path: Path) -> None:
    # zsh runs the bash function through bashcompinit; its own matcher then narrows by the
    # prefix typed, so what the function offers must include the match.
    env = env_with_the_command(tmp_path)
    program = f"""
autoload -U compinit && compinit -u
source <(runbook-tui completion zsh)
COMP_WORDS=(runbook-tui run va)
COMP_CWORD=2
{FUNCTION}
print -l -- "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["zsh", "-f", "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "validate" in done.stdout.split() and "schema" not in done.stdout.split()


def test_set_reads_a_procedure_as_the_loader_does(tmp_path: Path) -> None:
    """A file the loader refuses (here: YAML aliases, the stuff of expansion bombs) offers no input
    names, rather than being expanded on a Tab press."""
    env = env_with_the_command(tmp_path)
    (tmp_path / "aliased.yaml").write_text("id: aliased\ntitle: A\nx: &names {node: {type: string}}\n"
                                           "inputs: *names\nsteps:\n  - {id: s, local: 'true'}\n")
    assert complete(tmp_path, "runbook-tui run aliased.yaml --set ", env) == []
