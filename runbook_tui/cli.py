"""Command line: ``runbook-tui [--procedures DIR] [--inventory FILE] COMMAND ...``.

One function per subcommand, registered in ``COMMANDS`` with the function that adds its
arguments. Imports of the model, loader and anything heavier happen inside the command
functions, so ``runbook-tui --help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook_tui.errors import Problem
    from runbook_tui.language.catalog import Catalog
    from runbook_tui.language.check_cache import KnownInventory
    from runbook_tui.language.inventory import Inventory

from runbook_tui import cli_completion, cli_options, cli_run, cli_serve
from runbook_tui.lab import cli as lab_cli
from runbook_tui.textsafe import printable

PROG = "runbook-tui"


@dataclass(frozen=True)
class Command:
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    # Options also accepted before the command (cli_options); each means the same on either side.
    options: tuple[str, ...] = cli_options.PATHS


# ---------------------------------------------------------------- shared helpers


def catalog_for(
    args: argparse.Namespace, inventory: Inventory | KnownInventory | None = None, *also: Path
) -> Catalog:
    """The procedures on the search path (shipped, the operator's folder, each --procedures),
    then ALSO."""
    from runbook_tui.language.catalog import Catalog
    from runbook_tui.language.search_path import procedure_folders

    return Catalog(procedure_folders([*args.procedures, *also]), inventory=inventory)


def print_problems(problems: list[Problem]) -> None:
    for problem in sorted(set(problems), key=lambda p: (p.file, p.line, p.col, p.message)):
        print(printable(str(problem)), file=sys.stderr)


# ---------------------------------------------------------------- list


def configure_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )


def cmd_list(args: argparse.Namespace) -> int:
    catalog = catalog_for(args)
    procedures, problems = catalog.listing()  # from the check cache, no model built, when it can
    rows: list[dict[str, Any]] = []
    for procedure in sorted(procedures, key=lambda p: p.id):
        rows.append(
            {
                "id": procedure.id,
                "title": procedure.title,
                "mode": "mutating" if procedure.mutating else "read-only",
                "inputs": [
                    {"name": name, "type": spec.type, "required": spec.required, "default": spec.default}
                    for name, spec in procedure.inputs.items()
                ],
                "tags": procedure.tags,
                "path": procedure.path,
            }
        )
    if args.format == "json":
        print(json.dumps(rows, indent=2, default=str))
    elif rows:
        width_id = max(len("ID"), *(len(r["id"]) for r in rows))
        width_title = min(48, max(len("TITLE"), *(len(r["title"]) for r in rows)))
        print(f"{'ID':<{width_id}}  {'TITLE':<{width_title}}  {'MODE':<9}  INPUTS")
        for r in rows:
            title = r["title"] if len(r["title"]) <= width_title else r["title"][: width_title - 1] + "…"
            inputs = ", ".join(i["name"] + ("*" if i["required"] else "") for i in r["inputs"]) or "-"
            print(f"{r['id']:<{width_id}}  {title:<{width_title}}  {r['mode']:<9}  {inputs}")
    else:
        print(f"no procedures in {catalog.where}", file=sys.stderr)
    if problems:
        files = len({p.file for p in problems})
        print(
            f"{files} procedure file(s) in {catalog.where} are invalid; run '{PROG} validate' to see why",
            file=sys.stderr,
        )
        return 2
    return 0


# ---------------------------------------------------------------- validate


def configure_validate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="procedure files or folders (default: every folder of the search path)"
    )


def cmd_validate(args: argparse.Namespace) -> int:
    from runbook_tui.errors import ProcedureError
    from runbook_tui.language.catalog import Catalog
    from runbook_tui.language.inventory_loader import (
        check_inventory_files,
        find_inventory,
        known_inventory,
        load_inventory,
    )
    from runbook_tui.language.loader import load_procedure

    problems: list[Problem] = []
    invalid: set[str] = set()
    checked = 0
    inventory = None
    inventory_path = find_inventory(args.inventory)
    if inventory_path is not None:
        checked += 1
        try:
            # Known valid from an earlier start: no models built unless a procedure needs checking.
            inventory = known_inventory(inventory_path) or load_inventory(inventory_path)
        except ProcedureError as exc:
            problems.extend(exc.problems)
            invalid.add(str(inventory_path))
        # Named files that are missing: a problem here, not when loading (see check_inventory_files),
        # so the procedures are still checked against this inventory.
        missing = check_inventory_files(inventory_path)
        problems.extend(missing)
        invalid.update(p.file for p in missing)

    # Each file is checked in the context of the search path, so its calls to shipped
    # procedures resolve and an id it shares with another file is reported at it.
    if not args.paths:
        every = catalog_for(args, inventory)
        files = every.files()
        _, found = every.listing()
        problems.extend(found)
        invalid.update(p.file for p in found)
        checked += len(files)
    for raw in args.paths:
        path = Path(raw)
        folder = catalog_for(args, inventory, path if path.is_dir() else path.parent)
        files = Catalog(path).files() if path.is_dir() else [path]
        mine = {f.resolve() for f in files}
        for file in files:
            checked += 1
            try:
                load_procedure(file, inventory=inventory, catalog=folder)
            except ProcedureError as exc:
                problems.extend(exc.problems)
                invalid.add(str(file))
        clashes = [p for p in folder.clashes() if Path(p.file).resolve() in mine]
        problems.extend(clashes)
        invalid.update(p.file for p in clashes)

    print_problems(problems)
    if problems:
        count = len(set(problems))
        print(
            f"{checked} file(s) checked: {len(invalid)} invalid, {count} problem{'s' if count != 1 else ''}",
            file=sys.stderr,
        )
        return 2
    print(f"{checked} file(s) checked: all valid")
    return 0


# ---------------------------------------------------------------- graph


def configure_graph(parser: argparse.ArgumentParser) -> None:
    from_graph = ("text", "mermaid", "dot")  # runbook_tui.language.graph.FORMATS, without importing it
    parser.add_argument(
        "procedure", metavar="PROC", help="a procedure id (on the search path, see --procedures) or a path to its file"
    )
    parser.add_argument("--format", choices=from_graph, default="text", help="output format (default: text)")


def cmd_graph(args: argparse.Namespace) -> int:
    from runbook_tui.language.graph import render

    procedure = catalog_for(args).get(args.procedure)
    sys.stdout.write(render(procedure, args.format))
    return 0


# ---------------------------------------------------------------- schema


def configure_schema(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "kind",
        nargs="?",
        choices=("procedure", "inventory"),
        default="procedure",
        help="which file format (default: procedure)",
    )


def cmd_schema(args: argparse.Namespace) -> int:
    from runbook_tui.language.schema import SCHEMAS

    print(json.dumps(SCHEMAS[args.kind](), indent=2))
    return 0


# ---------------------------------------------------------------- the parser and main

RUN_OPTIONS = cli_options.PATHS + cli_options.MODE + cli_options.TARGETS
COMMANDS: dict[str, Command] = {
    "list": Command(
        "list the procedures: id, title, read-only or mutating, inputs", configure_list, cmd_list
    ),
    "validate": Command(
        "check procedure files and the inventory; exit 2 when any is invalid",
        configure_validate,
        cmd_validate,
    ),
    "graph": Command(
        "show a procedure's steps, guards and gates (text, mermaid or dot)", configure_graph, cmd_graph
    ),
    "schema": Command(
        "print the JSON Schema of procedure (or inventory) files", configure_schema, cmd_schema
    ),
    "run": Command(
        "run a procedure headless: live, --dry-run, --offline or --lab", cli_run.configure_run, cli_run.cmd_run,
        RUN_OPTIONS,
    ),
    "runs": Command(
        "list runs from the journal; show one; write its Markdown report", cli_run.configure_runs, cli_run.cmd_runs
    ),
    "resume": Command("continue an interrupted run from its journal", cli_run.configure_resume, cli_run.cmd_resume,
                      RUN_OPTIONS),
    "lab": Command(lab_cli.HELP, lab_cli.configure, lab_cli.run, cli_options.PATHS + ("fault", "phase")),
    "tui": Command("open the terminal UI (the default)", cli_run.configure_tui, cli_run.cmd_tui, RUN_OPTIONS),
    "serve": Command(cli_serve.HELP, cli_serve.configure, cli_serve.run,
                     cli_options.PATHS + cli_options.MODE + ("lab", "fault", "phase", "accept_host_key")),
    "completion": Command("print a shell completion script: bash, zsh or fish", cli_completion.configure,
                          lambda args: cli_completion.run(args, build_parser())),
}
# The command to run when none is given.
DEFAULT_COMMAND: str | None = "tui"


def build_parser() -> argparse.ArgumentParser:
    from runbook_tui import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, description="Run mail-edge runbooks as guarded, gated procedures."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    cli_options.add(parser, tuple(cli_options.OPTIONS), sub=False)  # `runbook-tui --lab`: the TUI on the lab
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        child = sub.add_parser(name, help=command.help, description=command.help)
        cli_options.add(child, command.options, sub=True)
        command.configure(child)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        # Start-up builds tens of thousands of objects that live as long as the process (the
        # clients' modules, the procedure): at the default threshold the collector walked them
        # again and again, 0.05-0.1 s of a validate run.
        import gc

        gc.set_threshold(10_000, 20, 20)
    code = _main(argv)
    if argv is None:
        # Run as the program, which exits next: tearing down the heap of the clients' modules
        # (kubernetes, asyncssh, pydantic) is 0.2-0.4 s of collector passes over objects the
        # OS frees anyway. Frozen, the collector skips them; atexit and thread joins still run.
        import gc

        gc.freeze()
    return code


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = cli_options.merge(parser.parse_args(argv), parser)
    from runbook_tui.language.search_path import procedure_folders

    # Every command, and the TUI, sees the whole search path: shipped, the operator's, --procedures.
    args.procedures = procedure_folders(args.procedures)
    name = args.command or DEFAULT_COMMAND
    if name is None:
        parser.print_help()
        return 0
    from runbook_tui.errors import ProcedureError, RunbookError

    try:
        return COMMANDS[name].run(args)
    except ProcedureError as exc:
        from runbook_tui.language.loader import ProcedureNotFound

        if isinstance(exc, ProcedureNotFound):
            print(f"{PROG}: {printable(str(exc))}", file=sys.stderr)  # a sentence, not a list of positions
        else:
            print_problems(exc.problems)
        return 2
    except RunbookError as exc:
        print(f"{PROG}: {exc.title}: {printable(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours. Point stdout at /dev/null so
        # the interpreter's final flush does not fail again, and exit as a killed writer would.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
