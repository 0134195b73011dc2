"""The headless commands: ``run``, ``runs``, ``resume``."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from runbook_tui.errors import ProcedureError, RunbookError, TransportError

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_ABORTED, EXIT_COULD_NOT_RUN = 0, 1, 2, 3, 4
EXIT_HELP = """exit codes:
  0  succeeded
  1  a check or a step failed
  2  invalid procedure, inventory, input or command line
  3  refused (a gate answered no, another run holds the targets) or aborted
  4  could not be carried out: a target unreachable or refusing us, the journal unwritable"""


def configure_tui(p: argparse.ArgumentParser) -> None:
    """The TUI takes only the shared options (cli_options)."""


def cmd_tui(args: argparse.Namespace) -> int:
    from runbook_tui.tui.app import RunbookApp

    if args.context or args.namespace:
        sys.stderr.write("--context and --namespace apply to `run` and `resume`; the terminal UI does not take them.\n")
        return EXIT_INVALID

    app = RunbookApp(inventory=args.inventory, procedures=args.procedures, lab=args.lab, faults=args.fault,
                     phase=args.phase, dry_run=args.dry_run, offline=args.offline,
                     accept_host_keys=args.accept_host_key)
    app.run()
    return app.return_code or 0


def configure_run(p: argparse.ArgumentParser) -> None:
    p.epilog, p.formatter_class = EXIT_HELP, argparse.RawDescriptionHelpFormatter
    p.add_argument("proc", metavar="PROC", help="procedure id or path to a YAML file")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="an input value")
    _add_answers(p)


def configure_resume(p: argparse.ArgumentParser) -> None:
    p.epilog, p.formatter_class = EXIT_HELP, argparse.RawDescriptionHelpFormatter
    p.add_argument("run_id", metavar="RUN_ID", help="the run to continue (see `runbook-tui runs`)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="an input value (a secret input is not journaled: give it again here)")
    _add_answers(p)


def configure_runs(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", choices=["list", "show", "report", "export"], default="list",
                   help="list runs (the default); show one's events; its Markdown report; export it as a "
                        "bundle (journal, report, manifest) to share in a post-mortem")
    p.add_argument("run_id", nargs="?", metavar="RUN_ID")
    p.add_argument("-o", "--output", help="with report: write the Markdown here; with export: the bundle's name")
    p.add_argument("--journal-dir", metavar="DIR",
                   help="read runs from DIR (a folder shared by a team) instead of your own journal")


def _add_answers(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", action="store_true", help="answer gates yes (needed without a TTY)")
    p.add_argument("--confirm", action="append", default=[], metavar="PHRASE",
                   help="the phrase a typed gate asks for (against real targets --yes alone does not pass them)")
    p.add_argument("--undo-on-failure", action="store_true", help="without a TTY: undo completed steps when one fails")
    p.add_argument("--json", action="store_true", help="print the event stream as JSON lines")
    p.add_argument("--quiet", action="store_true", help="print only failures and the outcome line (for cron)")
    p.add_argument("--no-color", action="store_true", help="no colour (also: NO_COLOR set, or TERM=dumb)")
    p.add_argument("--wait", action="store_true",
                   help="when another run is changing these targets, wait for it instead of refusing")
    p.add_argument("--metrics", metavar="FILE",
                   help="at the end, write the run's figures for Prometheus (node-exporter textfile format)")
    p.add_argument("--pushgateway", metavar="URL", help="at the end, push the same figures to a Pushgateway")


def _gates(args: argparse.Namespace, lab: bool):
    from runbook_tui.engine.gates import AutoGates
    from runbook_tui.headless.console import TerminalGates

    if args.yes or not sys.stdin.isatty():
        return AutoGates(yes=args.yes, phrases=tuple(args.confirm), lab=lab, undo_on_failure=args.undo_on_failure)
    return TerminalGates()


def _subscribers(args: argparse.Namespace) -> list:
    from runbook_tui.headless.console import ConsoleReporter, JsonReporter

    reporter = JsonReporter() if args.json else ConsoleReporter(color=False if args.no_color else None, quiet=args.quiet)
    recorder = getattr(args, "recorder", None)
    return [reporter] if recorder is None else [reporter, recorder]


def _with_metrics(args: argparse.Namespace, procedure: str, run) -> int:
    """Run, then write/push the run's figures when asked (also when it could not be carried out)."""
    if not (args.metrics or args.pushgateway):
        return run()
    from pathlib import Path

    from runbook_tui.headless import metrics

    args.recorder = recorder = metrics.MetricsRecorder(procedure)
    code = run()
    previous = metrics.previous_success(Path(args.metrics) if args.metrics else None, recorder.procedure)
    text = recorder.text(code, previous)
    try:
        if args.metrics:
            metrics.write_atomically(Path(args.metrics), text)
        if args.pushgateway:
            metrics.push(args.pushgateway, recorder.procedure, text)
    except metrics.MetricsError as exc:
        sys.stderr.write(f"metrics: {exc}\n")
    return code


async def _run_engine(engine) -> int:
    """Run with Ctrl+C handling: the first cancels cleanly (remote commands are stopped and the
    cancellation journaled); a second kills what still runs on the targets, at once, and exits
    (within 3 s); a third exits without waiting."""
    from runbook_tui.importing import started
    from runbook_tui.transports.ssh.process import stop_all

    loop = asyncio.get_running_loop()
    started("run")  # the start-up is through: collection resumes (or once the clients are in)
    task = asyncio.ensure_future(engine.run())
    presses = 0

    async def last_resort() -> None:
        try:
            await stop_all(timeout=3.0)
        finally:
            os._exit(130)

    def interrupt() -> None:
        nonlocal presses
        presses += 1
        if presses > 2:
            os._exit(130)
        if presses == 2:
            sys.stderr.write("\nKilling what still runs on the targets, then exiting…\n")
            loop.create_task(last_resort())
            return
        sys.stderr.write("\nCancelling the running step… (Ctrl+C again to kill it and exit now)\n")
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, interrupt)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        report = await task
    except asyncio.CancelledError:
        report = getattr(engine, "report", None)
        if report is None:
            return EXIT_ABORTED
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
    return report.exit_code


def _no_inventory(exc: ProcedureError) -> RunbookError:
    from runbook_tui.language.inputs import InputError
    from runbook_tui.language.inventory_loader import INVENTORY_FILE, user_inventory_path

    return InputError(f"no inventory found in ./{INVENTORY_FILE} or {user_inventory_path()}: give --inventory "
                      f"FILE (see inventory.example.yaml), or --lab to rehearse on the lab "
                      f"({len(exc.problems)} problem(s) of the procedure come from that).")


def _fail(exc: RunbookError) -> int:
    from runbook_tui.textsafe import printable

    sys.stderr.write(f"{printable(str(exc))}\n")
    if isinstance(exc, ProcedureError):
        sys.stderr.write(f"{len(exc.problems)} problem(s).\n")
    from runbook_tui.engine.locks import LockHeld
    from runbook_tui.headless.journal import RunNotFound
    from runbook_tui.language.inputs import InputError

    if isinstance(exc, RunNotFound):
        return EXIT_INVALID
    if isinstance(exc, LockHeld):
        return EXIT_ABORTED
    if isinstance(exc, TransportError):
        return EXIT_COULD_NOT_RUN
    return EXIT_INVALID if isinstance(exc, (ProcedureError, InputError)) else EXIT_FAILED


async def _run(args: argparse.Namespace) -> int:
    from runbook_tui.language.inputs import parse_sets, resolve
    from runbook_tui.workspace import Workspace

    ws = await Workspace.open(inventory=args.inventory, procedures=args.procedures, lab=args.lab,
                              faults=args.fault, phase=args.phase, accept_host_keys=args.accept_host_key,
                              context=args.context, namespace=args.namespace, warm=not args.offline)
    try:
        try:
            procedure = ws.procedure(args.proc)
        except ProcedureError as exc:
            from runbook_tui.language.loader import ProcedureNotFound

            about_inventory = all("inventory" in p.message for p in exc.problems)
            if ws.inventory_path is None and not ws.is_lab and about_inventory and not isinstance(exc, ProcedureNotFound):
                raise _no_inventory(exc) from None  # the problems would be every variable, one by one
            raise
        given = parse_sets(args.set)
        missing = [n for n, s in procedure.inputs.items() if s.discover and n not in given]
        discovered = await ws.discover(procedure) if missing and not args.offline else {}
        inputs = resolve(procedure, given, discovered)
        engine = ws.engine(procedure, inputs=inputs, gates=_gates(args, ws.is_lab), subscribers=_subscribers(args),
                           dry_run=args.dry_run, offline=args.offline, wait_for_lock=args.wait)
        code = await _run_engine(engine)
        if not (args.json or args.quiet):
            from runbook_tui.headless.console import write_or_drop

            write_or_drop(sys.stderr, f"journal: runbook-tui runs show {engine.run_id}\n")
        return code
    finally:
        await ws.close()


def cmd_run(args: argparse.Namespace) -> int:
    from runbook_tui.importing import hold_collection, started

    hold_collection("run")

    def run() -> int:
        try:
            return asyncio.run(_run(args))
        except RunbookError as exc:
            return _fail(exc)
        finally:
            started("run")  # also when the run never began

    # Until the run starts (and names its procedure), a procedure given as a file is labelled
    # by the file's name.
    label = args.proc if "/" not in args.proc and not args.proc.endswith((".yaml", ".yml")) else \
        os.path.splitext(os.path.basename(args.proc))[0]
    return _with_metrics(args, label, run)


async def _resume(args: argparse.Namespace) -> int:
    from runbook_tui.headless.journal import resume_state, run_path
    from runbook_tui.language.inputs import parse_sets
    from runbook_tui.workspace import Workspace

    start, _ = resume_state(run_path(args.run_id))
    inventory = args.inventory or start.get("inventory")
    ws = await Workspace.open(inventory=inventory, procedures=args.procedures, lab=args.lab,
                              faults=args.fault, phase=args.phase, accept_host_keys=args.accept_host_key,
                              context=args.context, namespace=args.namespace, warm=not args.offline)
    try:
        again = ws.resume(args.run_id, dry_run=args.dry_run, offline=args.offline, given=parse_sets(args.set))
        try:
            engine = ws.engine(again.procedure, inputs=again.inputs, gates=_gates(args, ws.is_lab),
                               subscribers=_subscribers(args), resume=again, wait_for_lock=args.wait)
        except BaseException:
            again.release()
            raise
        return await _run_engine(engine)
    finally:
        await ws.close()


def cmd_resume(args: argparse.Namespace) -> int:
    from runbook_tui.importing import hold_collection, started

    hold_collection("run")

    def run() -> int:
        try:
            return asyncio.run(_resume(args))
        except RunbookError as exc:
            return _fail(exc)
        finally:
            started("run")  # also when the run never began

    return _with_metrics(args, _resumed_procedure(args.run_id), run)


def _resumed_procedure(run_id: str) -> str:
    """The procedure of the run being resumed, for its metrics' label ("unknown" when the id
    names no run: the resume then says so and exits 2)."""
    from runbook_tui.headless.journal import run_path, summarize

    try:
        run = summarize(run_path(run_id))
    except (RunbookError, OSError):
        return "unknown"
    return run.procedure if run else "unknown"


def cmd_runs(args: argparse.Namespace) -> int:
    from pathlib import Path

    from runbook_tui.headless.journal import read_events, run_path

    directory = args.journal_dir
    try:
        if args.action == "list":
            return _list_runs(directory)
        if not args.run_id:
            sys.stderr.write(f"runs {args.action} needs a RUN_ID (see `runbook-tui runs`).\n")
            return EXIT_INVALID
        path = run_path(args.run_id, Path(directory) if directory else None)
        if args.action == "export":
            from runbook_tui.headless.export import default_name, export_run

            print(f"wrote {export_run(path, Path(args.output) if args.output else default_name(path.stem))}")
            return EXIT_OK
        if args.action == "report":
            from runbook_tui.headless.report import markdown_report

            text = markdown_report(path)
            if args.output:
                with open(args.output, "w", encoding="utf-8") as f:
                    f.write(text)
                print(f"wrote {args.output}")
            else:
                sys.stdout.write(text)
            return EXIT_OK
        from runbook_tui.engine.events import event_from_dict
        from runbook_tui.headless.console import ConsoleReporter

        reporter = ConsoleReporter()
        for data in read_events(path):
            reporter(event_from_dict(data))
        return EXIT_OK
    except RunbookError as exc:
        return _fail(exc)
    except BrokenPipeError:
        raise  # the reader went away (`| head`): main leaves quietly
    except OSError as exc:
        return _fail(RunbookError(f"cannot read {exc.filename or directory}: {exc.strerror or exc}."))


def _list_runs(directory: str | None) -> int:
    import time
    from pathlib import Path

    from runbook_tui.headless.journal import list_runs
    from runbook_tui.textsafe import printable

    unreadable: list[Path] = []
    runs = list_runs(Path(directory) if directory else None, unreadable=unreadable)
    if not runs:
        print("no runs yet" if directory is None else f"no runs in {directory}")
    else:
        print(f"{'RUN':<44} {'PROCEDURE':<22} {'MODE':<8} {'OPERATOR':<22} {'STARTED':<19} OUTCOME")
        for r in runs:
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started))
            # A shared folder holds others' files: what they wrote is shown, never obeyed.
            run_id, proc, mode, who, outcome = (printable(" ".join(v.split("\n"))) for v in (
                r.run_id, r.procedure, r.mode, r.operator[:22], r.outcome))
            print(f"{run_id:<44} {proc:<22} {mode:<8} {who:<22} {started:<19} {outcome}")
    for path in unreadable:
        sys.stderr.write(f"{printable(path.name)}: cannot be read (another user's, or a broken link); passed over.\n")
    return EXIT_OK
