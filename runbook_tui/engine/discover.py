"""Input defaults discovered from the targets, e.g. the Ready workers the cluster reports.

An input says ``discover: {target, kind, namespace?, label_selector?, value: EXPR}``; ``value``
sees ``items`` (the listed objects) and ``vars``.
"""

from __future__ import annotations

from typing import Any

from runbook_tui.errors import RunbookError
from runbook_tui.language.inventory import Inventory
from runbook_tui.language.model import Procedure
from runbook_tui.language.templating import evaluate
from runbook_tui.transports.pool import Transports


async def discover_inputs(procedure: Procedure, inventory: Inventory) -> dict[str, Any]:
    wanted = {name: spec.discover for name, spec in procedure.inputs.items() if spec.discover}
    if not wanted:
        return {}
    transports = Transports(inventory)
    found: dict[str, Any] = {}
    try:
        for name, query in wanted.items():
            try:
                client = transports.kube.client(query["target"])
                items = await client.list(query["kind"], namespace=query.get("namespace"),
                                          label_selector=query.get("label_selector"))
                found[name] = evaluate(query["value"], {"items": items, "vars": inventory.vars}, truth=False)
            except (RunbookError, KeyError):
                continue  # a default we cannot discover is simply not filled in
    finally:
        await transports.close()
    return found
