"""``runbook-tui lab``: run the rehearsal lab in the foreground; ``lab log DIR`` reads its log.

``register(subparsers)`` adds the command; the parsed namespace's ``func(args) -> int`` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

from runbook_tui.errors import RunbookError
from runbook_tui.lab.command_log import CommandLog
from runbook_tui.lab.faults import FAULTS, LabError

HELP = "run the rehearsal lab (pfSense, backup host, Kubernetes API) on 127.0.0.1"

#: What stock kubectl cannot do against the lab's API server (each is run by a test against
#: the lab, so this list stays true). The lab speaks JSON and YAML, not protobuf.
KUBECTL_LIMITS = (
    ("kubectl create job|configmap|secret|namespace|deployment ..., create job --from=cronjob/NAME",
     "these send protobuf bodies, which the lab refuses (415, \"unknown format\"); write the"
     " object as YAML and use kubectl apply -f or create -f"),
    ("kubectl apply -f / create -f", "need --validate=false: the lab serves no OpenAPI documents"
     " (nor kubectl explain)"),
    ("kubectl scale", "the /scale subresource is not served; patch spec.replicas instead"),
    ("kubectl top", "there is no metrics API"),
    ("kubectl auth can-i", "there is no SelfSubjectAccessReview API"),
)


def configure(p: argparse.ArgumentParser) -> None:
    """The ``lab`` command's options, for a parser made elsewhere; ``run(args)`` runs it."""
    faults = "\n".join(f"  {name:<16} {help_}" for name, help_ in FAULTS.items())
    p.description = (
        "Start the rehearsal lab in the foreground: pfSense and the backup host as SSH\n"
        "servers and the cluster as a Kubernetes API, all on 127.0.0.1. Prints one line\n"
        "when ready; Ctrl+C or SIGTERM stops it."
    )
    limits = "\n".join(f"  {cmd}\n      {why}" for cmd, why in KUBECTL_LIMITS)
    p.epilog = (
        f"faults (--fault, repeatable):\n{faults}\n\n"
        "stock kubectl against the lab (KUBECONFIG=DIR/kubeconfig): get, describe, apply -f,\n"
        f"patch, label, delete, wait, logs, exec and rollout restart work; these do not:\n{limits}\n\n"
        "`runbook-tui lab log DIR` prints the command log of a lab folder."
    )
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--dir", type=Path, help="folder for the lab's files (default: a new temporary folder)")
    # --fault and --phase are the shared options of runbook_tui.cli_options (before or after `lab`).
    p.set_defaults(func=run)
    sub = p.add_subparsers(dest="lab_command", metavar="{log}")
    log = sub.add_parser("log", help="print a lab folder's command log")
    log.add_argument("log_dir", type=Path, metavar="DIR")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "lab_command", None) == "log":
        return run_log(args)
    return run_lab(args)


def run_lab(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_serve(args.dir, args.fault, args.phase))
    except RunbookError as err:
        print(f"runbook-tui lab: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl+C while starting, before the handlers are in place
        return 130


async def _serve(dir: Path | None, faults: list[str], phase: int) -> int:
    from runbook_tui.lab import Lab

    lab = Lab(dir, faults=faults, phase=phase)
    started = time.perf_counter()
    await lab.start()
    try:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        elapsed = time.perf_counter() - started
        print(f"{lab.summary()} [started in {elapsed:.2f}s; Ctrl+C stops it]", flush=True)
        await stop.wait()
    finally:
        await lab.stop()
    return 0


def format_log(entries: list[dict]) -> str:
    lines = []
    for e in entries:
        when = datetime.fromtimestamp(e.get("time", 0)).strftime("%H:%M:%S.%f")[:-3]
        kind = "MUTATING" if e.get("mutating") else "read"
        note = f"  [{e['note']}]" if e.get("note") else ""
        lines.append(f"{when}  {e.get('target', '?'):<12} {kind:<8}  {e.get('command', '')}{note}")
    return "\n".join(lines) + ("\n" if lines else "")


def run_log(args: argparse.Namespace) -> int:
    path = Path(args.log_dir) / "commands.log"
    try:
        if not path.is_file():
            raise LabError(f"There is no command log at {path}; is {args.log_dir} a lab folder?")
        sys.stdout.write(format_log(CommandLog(path).entries()))
    except RunbookError as err:
        print(f"runbook-tui lab log: {err}", file=sys.stderr)
        return 2
    return 0
