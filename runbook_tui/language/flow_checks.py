"""Checks of how a procedure flows: its ``needs`` graph, and what its ``call`` steps call (a
static name, a procedure that exists and takes those inputs, no loop across files)."""

from __future__ import annotations

import graphlib
from typing import Any

from runbook_tui.language.check_context import (
    Context,
)
from runbook_tui.language.pydantic_problems import (
    did_you_mean,
    show,
)
from runbook_tui.language.templating import is_template
from runbook_tui.language.yaml_source import Path


def check_call(body: dict[str, Any], path: Path, ctx: Context) -> None:
    called = body.get("call")
    if not isinstance(called, str):
        return
    src = ctx.source
    where = ctx.subject(path)
    if is_template(called):
        # Which procedure runs must be known before the run: for loops, inputs and review.
        ctx.add(
            src.value(path + ("call",)),
            f"'call' in {where} is a template ({show(called)}); name the procedure itself, so that"
            " what a run calls is known before it starts",
        )
        return
    if called == ctx.procedure_id:
        ctx.add(src.value(path + ("call",)), f"{where} calls its own procedure '{called}'")
        return
    if ctx.callee is None:
        return
    callee = ctx.callee(called)
    if callee is None or isinstance(callee, str):
        reason = callee if isinstance(callee, str) else "which is not a known procedure"
        ctx.add(src.value(path + ("call",)), f"{where} calls '{called}', {reason}")
        return
    loop = ctx.call_loop(ctx.procedure_id, called) if ctx.call_loop is not None else None
    if loop and loop[0] == ctx.procedure_id:
        ctx.add(src.value(path + ("call",)), f"procedures call each other in a loop: {' -> '.join(loop)}")
    elif loop:
        ctx.add(
            src.value(path + ("call",)),
            f"{where} calls '{called}', which never finishes: procedures call each other in a loop:"
            f" {' -> '.join(loop)}",
        )
    given = body.get("with")
    given = given if isinstance(given, dict) else {}
    for key in given:
        if key not in callee.inputs:
            hint = did_you_mean(key, callee.inputs)
            ctx.add(
                src.key(path + ("with", key)),
                f"'with' in {where} gives '{key}', but procedure '{called}' has no input '{key}'{hint}",
            )
    for name, spec in callee.inputs.items():
        if spec.required and spec.default is None and spec.discover is None and name not in given:
            ctx.add(
                src.value(path + ("call",)), f"{where} calls '{called}' without its required input '{name}'"
            )


def check_graph(steps: list[Any], ctx: Context) -> None:
    src = ctx.source
    first: dict[str, int] = {}
    for i, step in enumerate(steps):
        step_id = step.get("id") if isinstance(step, dict) else None
        if not isinstance(step_id, str):
            continue
        if step_id in first:
            line = src.value(("steps", first[step_id], "id"))[0]
            ctx.add(src.value(("steps", i, "id")), f"duplicate step id '{step_id}' (first at line {line})")
        else:
            first[step_id] = i
    deps: dict[str, list[str]] = {}
    previous: str | None = None
    for i, step in enumerate(steps):
        step_id = step.get("id") if isinstance(step, dict) else None
        needs = step.get("needs") if isinstance(step, dict) else None
        mine: list[str] = []
        if isinstance(needs, list):
            for j, need in enumerate(needs):
                if not isinstance(need, str):
                    continue
                if need in first:
                    mine.append(need)
                else:
                    hint = did_you_mean(need, first)
                    ctx.add(
                        src.value(("steps", i, "needs", j)),
                        f"{ctx.subject(('steps', i))} needs '{need}', which is not a step in this procedure{hint}",
                    )
        elif needs is None and previous is not None:
            mine.append(previous)
        if isinstance(step_id, str) and first.get(step_id) == i:
            deps[step_id] = mine
            previous = step_id
    try:
        graphlib.TopologicalSorter(deps).prepare()
    except graphlib.CycleError as exc:
        cycle = list(reversed(exc.args[1]))
        # Report at the cycle's step that comes first in the file.
        start = min(cycle[:-1], key=lambda s: first[s])
        k = cycle.index(start)
        ordered = cycle[k:-1] + cycle[:k] + [start]
        i = first[start]
        at = (
            src.key(("steps", i, "needs"))
            if isinstance(steps[i].get("needs"), list)
            else src.value(("steps", i))
        )
        ctx.add(at, f"steps need each other in a cycle: {' -> '.join(ordered)}")
