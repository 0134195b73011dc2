"""Calls: a ``call`` step runs another procedure as a child engine that shares the run (events,
transports, gates, the plan already approved)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook_tui.actions.base import ActionResult
from runbook_tui.language.inputs import resolve

if TYPE_CHECKING:
    from runbook_tui.engine.runner import Engine


class Calls:
    """Part of ``Engine`` (runner.py): its methods take the whole engine as ``self``."""

    async def _call(self: Engine, sid: str, procedure_id: str, given: dict[str, Any]) -> ActionResult:
        if self.catalog is None:
            return ActionResult(ok=False, message=f"cannot call {procedure_id}: no procedures folder")
        child_proc = self.catalog.get(procedure_id)
        child = type(self)(
            child_proc, self.inventory, inputs=resolve(child_proc, given), gates=self.gates,
            options=self.options, transports=self.transports, catalog=self.catalog,
            parent=self, prefix=f"{self._sid(sid)}/",
        )
        report = await child.run()
        self._plan_asked = self._plan_asked or child._plan_asked
        ok = report.outcome == "succeeded"
        return ActionResult(ok=ok, data=child.registered, message="" if ok else f"{procedure_id}: {report.message}")
