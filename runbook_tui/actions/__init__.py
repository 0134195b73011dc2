"""The step kinds: one module each, each exporting ``ACTION`` (an ``Action``, see base.py).

``ACTIONS`` maps the YAML key that names a kind (``ssh``, ``upload``, ``k8s``...) to it.
"""

from __future__ import annotations

from runbook_tui.actions import assert_, call, k8s, local, manual, ssh, tcp, upload
from runbook_tui.actions.base import Action

ACTIONS: dict[str, Action] = {
    module.ACTION.name: module.ACTION for module in (ssh, upload, k8s, local, tcp, manual, assert_, call)
}
