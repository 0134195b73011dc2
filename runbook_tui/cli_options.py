"""Options that mean the same before and after the subcommand.

``runbook-tui --dry-run run reload`` and ``runbook-tui run reload --dry-run`` must be one
request: a flag dropped because it stood on the wrong side of the subcommand once ran a
restart live. argparse lets a subparser's defaults overwrite what the top level parsed, so
each option is parsed into its own slot on each side (``dry_run`` and ``sub.dry_run``) and
``merge`` joins them: lists add up, equal values agree, different values are an error (exit 2).
Within one side, giving a valued option twice with different values is an error too.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

_SUB = "sub."  # the slot a subcommand's copy of an option parses into


@dataclass(frozen=True)
class Option:
    flag: str
    default: Any
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def kind(self) -> str:
        return self.kwargs.get("action", "store")


class _Once(argparse.Action):
    """``store`` that refuses a second, different value on the same side of the line."""

    def __call__(self, parser, namespace, values, option_string=None):
        before = getattr(namespace, self.dest, None)
        if before is not None and before is not argparse.SUPPRESS and before != values:
            parser.error(f"{option_string} was given twice with different values: {before} and {values}")
        setattr(namespace, self.dest, values)


OPTIONS: dict[str, Option] = {o.dest: o for o in (
    Option("--procedures", [], {"action": "append", "metavar": "DIR",
                                "help": "also find procedures in DIR, after the shipped ones and "
                                        "~/.config/runbook-tui/procedures; repeatable"}),
    Option("--inventory", None, {"metavar": "FILE",
                                 "help": "the inventory (default: ./inventory.yaml, else the user config folder's)"}),
    Option("--dry-run", False, {"action": "store_true", "help": "run read-only steps; show mutating ones as would-run"}),
    Option("--offline", False, {"action": "store_true", "help": "dry-run that connects to nothing: render every step"}),
    Option("--lab", False, {"action": "store_true", "help": "start the rehearsal lab in-process and run against it"}),
    Option("--fault", [], {"action": "append", "metavar": "F",
                           "help": "with --lab: inject a lab fault (see `lab --help`); repeatable"}),
    Option("--phase", None, {"type": int, "choices": (3, 5, 6),
                             "help": "with --lab: the migration phase the lab starts in (default 6)"}),
    Option("--accept-host-key", [], {"action": "append", "metavar": "TARGET",
                                     "help": "trust TARGET's unknown SSH host key and record it (a changed key is still refused)"}),
    Option("--context", None, {"metavar": "NAME",
                               "help": "the kubeconfig context of the inventory's Kubernetes target(s), as kubectl's"}),
    Option("--namespace", None, {"metavar": "NS",
                                 "help": "the default namespace of the inventory's Kubernetes target(s), as kubectl's"}),
)}
# --phase's default is applied after merging, so that `--phase 6` on one side and nothing on
# the other is not mistaken for a disagreement.
DEFAULTS = {"phase": 6}

PATHS = ("procedures", "inventory")
MODE = ("dry_run", "offline")
TARGETS = ("lab", "fault", "phase", "accept_host_key", "context", "namespace")


def add(parser: argparse.ArgumentParser, names: tuple[str, ...], *, sub: bool) -> None:
    """Add the named options: at the top level (``sub=False``) or after a subcommand."""
    for name in names:
        option = OPTIONS[name]
        kwargs = dict(option.kwargs)
        if option.kind == "store":
            kwargs["action"] = _Once
        dest = _SUB + option.dest if sub else option.dest
        # The top level keeps None ("not given") so merge can tell absence from a value.
        parser.add_argument(option.flag, dest=dest, default=argparse.SUPPRESS if sub else None, **kwargs)


def merge(args: argparse.Namespace, parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Join each option's two slots into one value; exit 2 when they disagree."""
    for name, option in OPTIONS.items():
        top = getattr(args, name, None)
        below = getattr(args, _SUB + name, None)
        if hasattr(args, _SUB + name):
            delattr(args, _SUB + name)
        if top is None:
            value = below
        elif below is None:
            value = top
        elif option.kind == "append":
            value = [*top, *below]
        elif top != below:
            parser.error(f"{option.flag} was given twice with different values: {top} and {below}")
        else:
            value = top
        if value is None:
            value = DEFAULTS.get(name, option.default)
            value = list(value) if isinstance(value, list) else value
        setattr(args, name, value)
    return args
