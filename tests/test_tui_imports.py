"""The TUI's own shape, read from its source (imports inside functions count): screens know
neither one another nor the app, only the router opens them, no import cycles, and screens use
the engine through its public face only."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "runbook_tui"
TUI = "runbook_tui.tui"
SCREENS = f"{TUI}.screens"
# ``python -m runbook_tui.tui.screenshots`` starts the app, as the CLI does: an entry point.
ENTRY_POINTS = {f"{TUI}.screenshots"}
# What a screen may use of the engine: start it, ask for the template context, read the run id.
ENGINE_PUBLIC = {"run", "context", "run_id"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def tui_modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p))
            for p in sorted((PACKAGE / "tui").rglob("*.py"))}


def imports(tree: ast.Module, known: set[str]) -> set[str]:
    """Every runbook_tui module ``tree`` imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
    return {name for name in found if name.startswith("runbook_tui")}


def graph() -> dict[str, set[str]]:
    modules = tui_modules()
    known = set(modules)
    return {name: imports(tree, known) for name, tree in modules.items()}


def test_the_graph_sees_the_screens_and_the_router() -> None:
    edges = graph()
    assert f"{SCREENS}.run" in edges and f"{TUI}.router" in edges
    assert f"{SCREENS}.inputs" in edges[f"{TUI}.router"]


def test_no_screen_imports_another_screen() -> None:
    offending = {name: sorted(m for m in imported if m.startswith(SCREENS + "."))
                 for name, imported in graph().items() if name.startswith(SCREENS + ".")}
    assert {k: v for k, v in offending.items() if v} == {}


def test_only_the_router_knows_the_screens() -> None:
    knowing = {name for name, imported in graph().items()
               if not name.startswith(SCREENS) and any(m.startswith(SCREENS + ".") for m in imported)}
    assert knowing == {f"{TUI}.router"}


def test_nothing_in_the_tui_imports_the_app() -> None:
    importing = {name for name, imported in graph().items() if f"{TUI}.app" in imported}
    assert importing <= ENTRY_POINTS, importing - ENTRY_POINTS


def test_no_import_cycles_in_the_tui() -> None:
    tui = graph()
    edges = {name: imported & set(tui) for name, imported in tui.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), list(edges[start])
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(edges.get(node, ()))
        return False

    assert sorted(name for name in edges if reaches(name, name)) == []


def test_the_tui_uses_the_engine_by_its_public_methods_only() -> None:
    """``x.engine.attr`` (or ``engine.attr``) reads only ENGINE_PUBLIC and assigns nothing."""
    misuse = []
    for name, tree in tui_modules().items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            owner = node.value
            is_engine = (isinstance(owner, ast.Attribute) and owner.attr == "engine") or (
                isinstance(owner, ast.Name) and owner.id == "engine")
            if is_engine and (node.attr not in ENGINE_PUBLIC or isinstance(node.ctx, ast.Store)):
                misuse.append(f"{name}:{node.lineno} engine.{node.attr}")
    assert misuse == []
