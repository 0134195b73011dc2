"""One module per step kind. Each has ``render(step, context) -> Rendered`` and
``async execute(rendered, ActionContext) -> ActionResult``; ``upload`` also has ``preview``."""

from __future__ import annotations

import importlib
from types import ModuleType

_MODULES = {
    "ssh": "ssh",
    "upload": "upload",
    "k8s": "k8s",
    "local": "local",
    "tcp": "tcp",
    "manual": "manual",
    "assert": "assert_",
    "call": "call",
}


def action_module(action: str) -> ModuleType:
    return importlib.import_module(f"runbook_tui.actions.{_MODULES[action]}")
