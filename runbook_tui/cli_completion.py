"""``runbook-tui completion bash|zsh|fish``: a shell completion script, and the candidates it asks
for while the operator types.

The script knows the subcommands and their options (written into it from the parser, so it
cannot drift from the command line); what changes as work goes on — procedure ids, run ids, a
procedure's input names for ``--set`` — it asks ``runbook-tui completion --candidates KIND``,
which reads only what it must (ids from the files' ``id:`` lines, inputs from one file's YAML).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

PROG = "runbook-tui"
SHELLS = ("bash", "zsh", "fish")
KINDS = ("procedures", "runs", "inputs")
# Options whose value is a folder or a file: the shell completes paths there.
_FOLDERS = ("--procedures", "--journal-dir", "--lab-dir")
_FILES = ("--inventory", "--metrics", "-o", "--output")
# Subcommands whose first argument is a procedure, and those whose run id comes first or second.
_TAKES_PROCEDURE = ("run", "graph")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", nargs="?", choices=SHELLS, help="the shell to print a completion script for")
    # The script's helper: not for people, so not in --help.
    parser.add_argument("--candidates", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--of", metavar="PROC", default="", help=argparse.SUPPRESS)
    parser.epilog = (f"bash: add `source <({PROG} completion bash)` to ~/.bashrc; zsh: `source <({PROG} "
                     f"completion zsh)` in ~/.zshrc; fish: `{PROG} completion fish | source` in config.fish")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.candidates:
        for candidate in candidates(args.candidates, args.procedures, args.of):
            print(candidate)
        return 0
    if not args.shell:
        print(f"{PROG} completion: say which shell: {', '.join(SHELLS)}", file=sys.stderr)
        return 2
    sys.stdout.write(script(args.shell, parser))
    return 0


# ---------------------------------------------------------------- candidates


def candidates(kind: str, folders: list[Path], procedure: str = "") -> list[str]:
    """What to offer; nothing (never an error) when it cannot be read: a shell is waiting."""
    try:
        if kind == "procedures":
            from runbook_tui.language.catalog import Catalog

            return Catalog(folders).ids()
        if kind == "runs":
            from runbook_tui.headless.journal import list_runs

            return [run.run_id for run in list_runs()]
        return _input_names(folders, procedure)
    except Exception:  # a broken file must not print a traceback into the prompt
        return []


def _input_names(folders: list[Path], procedure: str) -> list[str]:
    from runbook_tui.language.catalog import Catalog
    from runbook_tui.language.yaml_compose import read_value

    path = Catalog(folders).path_of(procedure) or Path(procedure)
    if not procedure or not path.is_file():
        return []
    # Read as the loader reads files (no aliases, tags or runaway nesting): a Tab is no reason
    # to expand whatever a file holds.
    data: Any = read_value(path.read_text(encoding="utf-8"), str(path))
    inputs = data.get("inputs") if isinstance(data, dict) else None
    return [str(name) for name in inputs] if isinstance(inputs, dict) else []


# ---------------------------------------------------------------- the scripts


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> tuple[list[str], list[str]]:
    """Every option string of PARSER (hidden ones left out), and those that take a value."""
    every: list[str] = []
    valued: list[str] = []
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        every += action.option_strings
        if action.nargs != 0:
            valued += action.option_strings
    return every, valued


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    commands = _commands(parser)
    top, valued = _options(parser)
    per_command = []
    for name, child in commands.items():
        options, child_valued = _options(child)
        valued += child_valued
        per_command.append((name, options, child))
    valued = sorted(set(valued))
    if shell == "fish":
        return _fish(commands, per_command, top)
    cases = "\n".join(f"            {name}) opts=\"{' '.join(options)}\";;" for name, options, _ in per_command)
    choices = "\n".join(
        f"            {name}) words=\"{' '.join(_positional_choices(child))}\";;"
        for name, _, child in per_command if _positional_choices(child)
    )
    body = _BASH.format(prog=PROG, valued=" ".join(valued), commands=" ".join(commands), top=" ".join(top),
                        cases=cases, choices=choices, folders="|".join(_FOLDERS), files="|".join(_FILES),
                        procedure_commands="|".join(_TAKES_PROCEDURE))
    if shell == "zsh":
        return "#compdef runbook-tui\nautoload -U +X bashcompinit && bashcompinit\n" + body
    return body


def _positional_choices(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if not action.option_strings and action.choices and not isinstance(action, argparse._SubParsersAction):
            return [str(c) for c in action.choices]
    return []


_BASH = r"""# {prog} completion for bash and zsh: source <({prog} completion bash)
_runbook_tui_complete() {{
    [ -n "${{ZSH_VERSION-}}" ] && setopt local_options ksh_arrays
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="" w opts words i
    local -a positional=() given=()
    (( COMP_CWORD > 0 )) && prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local valued=" {valued} "
    for (( i=1; i < COMP_CWORD; i++ )); do
        w="${{COMP_WORDS[i]}}"
        [[ $w == --procedures ]] && given+=(--procedures "${{COMP_WORDS[i+1]}}")
        if [[ $valued == *" $w "* ]]; then (( i++ )); continue; fi
        [[ $w == -* ]] && continue
        positional+=("$w")
    done
    local cmd="${{positional[0]-}}" first="${{positional[1]-}}"
    case $prev in
        {folders}) COMPREPLY=($(compgen -d -- "$cur")); return;;
        {files}) COMPREPLY=($(compgen -f -- "$cur")); return;;
        --set)
            words=$({prog} "${{given[@]}}" completion --candidates inputs --of "$first" 2>/dev/null)
            type compopt >/dev/null 2>&1 && compopt -o nospace 2>/dev/null
            COMPREPLY=($(compgen -S = -W "$words" -- "$cur")); return;;
    esac
    [[ $valued == *" $prev "* ]] && return
    if [[ $cur == -* ]]; then
        opts="{top}"
        case $cmd in
{cases}
        esac
        COMPREPLY=($(compgen -W "$opts" -- "$cur")); return
    fi
    case $cmd in
        "") COMPREPLY=($(compgen -W "{commands}" -- "$cur")); return;;
        {procedure_commands})
            [[ ${{#positional[@]}} -eq 1 ]] && COMPREPLY=($(compgen -W \
                "$({prog} "${{given[@]}}" completion --candidates procedures 2>/dev/null)" -- "$cur"))
            return;;
        resume)
            [[ ${{#positional[@]}} -eq 1 ]] && COMPREPLY=($(compgen -W \
                "$({prog} completion --candidates runs 2>/dev/null)" -- "$cur"))
            return;;
        runs)
            if [[ ${{#positional[@]}} -eq 2 && $first != list ]]; then
                COMPREPLY=($(compgen -W "$({prog} completion --candidates runs 2>/dev/null)" -- "$cur"))
                return
            fi;;
        validate) COMPREPLY=($(compgen -f -- "$cur")); return;;
    esac
    if [[ ${{#positional[@]}} -eq 1 ]]; then
        words=""
        case $cmd in
{choices}
        esac
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    fi
}}
complete -F _runbook_tui_complete {prog}
"""


def _fish(commands: dict[str, argparse.ArgumentParser], per_command: list, top: list[str]) -> str:
    lines = [
        f"# {PROG} completion for fish: {PROG} completion fish | source",
        f"complete -c {PROG} -f",
        "function __runbook_tui_procedure",
        "    set -l words (commandline -opc)",
        "    for i in (seq 2 (count $words))",
        f"        if contains -- $words[$i] {' '.join(_TAKES_PROCEDURE)}",
        "            set -l next (math $i + 1)",
        "            test $next -le (count $words); and echo $words[$next]",
        "            return",
        "        end",
        "    end",
        "end",
        f"complete -c {PROG} -n __fish_use_subcommand -a '{' '.join(commands)}'",
        f"complete -c {PROG} -n '__fish_seen_subcommand_from {' '.join(_TAKES_PROCEDURE)}' "
        f"-a '({PROG} completion --candidates procedures)'",
        f"complete -c {PROG} -n '__fish_seen_subcommand_from resume runs' -a '({PROG} completion --candidates runs)'",
        f"complete -c {PROG} -n '__fish_seen_subcommand_from run resume' -l set -x "
        f"-a '({PROG} completion --candidates inputs --of (__runbook_tui_procedure))='",
    ]
    for name, options, _ in per_command:
        longs = sorted({o[2:] for o in options if o.startswith("--")} - {"set"})
        if longs:
            lines.append(f"complete -c {PROG} -n '__fish_seen_subcommand_from {name}' "
                         + " ".join(f"-l {o}" for o in longs))
    lines.append(f"complete -c {PROG} -n __fish_use_subcommand "
                 + " ".join(f"-l {o[2:]}" for o in top if o.startswith("--")))
    return "\n".join(lines) + "\n"
