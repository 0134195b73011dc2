"""One key map across the app: a key means one thing on every screen.

Every Screen and widget class the TUI defines, and the app itself, is walked for its BINDINGS; a
key bound to two different actions anywhere fails, unless it is one of the exceptions written
down below, each with its reason. Escape is every screen's "close the innermost thing / go
back", so its action differs by screen, but it may never be one that decides something.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict

from textual.binding import Binding
from textual.dom import DOMNode

import runbook_tui.tui
from runbook_tui.tui.app import RunbookApp

# (class name, key): why that binding may mean something else than the same key elsewhere.
EXCEPTIONS = {
    ("GateScreen", "y"): "a modal question: y answers yes",
    ("GateScreen", "n"): "a modal question: n answers no",
    ("CancelScreen", "y"): "a modal question (cancel the run?): y answers yes",
    ("CancelScreen", "n"): "a modal question (cancel the run?): n answers no",
    ("QuitScreen", "s"): "the quit dialog's own letters: stay",
    ("QuitScreen", "w"): "the quit dialog's own letters: wait for the step, then quit",
    ("QuitScreen", "c"): "the quit dialog's own letters: cancel the step and quit",
}
# Enter acts on the highlighted row: home runs the procedure, the runs screen resumes the run.
ENTER = {"run", "resume", "start"}
# The failure's letters on the run screen reopen the same choice (the failure screen makes it).
SAME_ACTION = {"decide": "choose"}
# What Escape must never do: each of these decides something.
DECIDES = {"approve", "refuse", "cancel", "quit", "decide", "start", "run", "resume"}
DECIDING_CHOICES = ("retry", "skip", "undo", "abort", "cancel", "wait", "True")


def classes() -> list[type[DOMNode]]:
    """The app and every DOMNode subclass defined in runbook_tui.tui (imported to be found)."""
    found: dict[str, type[DOMNode]] = {"RunbookApp": RunbookApp}
    for module in pkgutil.walk_packages(runbook_tui.tui.__path__, "runbook_tui.tui."):
        if module.name.endswith("screenshots"):
            continue
        for name, cls in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(cls, DOMNode) and cls.__module__.startswith("runbook_tui.tui"):
                found[name] = cls
    return list(found.values())


def bindings(cls: type[DOMNode]) -> list[Binding]:
    """The class's own BINDINGS (inherited ones are counted on the class that declares them)."""
    own = cls.__dict__.get("BINDINGS", [])
    return list(Binding.make_bindings(own))


def base(action: str) -> str:
    name = action.removeprefix("app.").removeprefix("screen.").split("(")[0]
    return SAME_ACTION.get(name, name)


def test_the_walk_finds_the_screens_and_widgets():
    names = {cls.__name__ for cls in classes()}
    assert {"RunbookApp", "HomeScreen", "RunsScreen", "InputsScreen", "QuitScreen", "HelpScreen",
            "GateScreen", "FailureScreen", "RunScreenBase"} <= names


def test_no_key_means_two_things_across_screens():
    meanings: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for cls in classes():
        for binding in bindings(cls):
            if (cls.__name__, binding.key) in EXCEPTIONS or binding.key in ("escape", "enter"):
                continue
            meanings[binding.key][base(binding.action)].append(cls.__name__)
    clashes = {key: dict(actions) for key, actions in meanings.items() if len(actions) > 1}
    assert not clashes, f"keys with two meanings (action: classes): {clashes}"


def test_enter_acts_on_the_highlighted_row():
    for cls in classes():
        for binding in bindings(cls):
            if binding.key == "enter":
                assert base(binding.action) in ENTER, (cls.__name__, binding.action)


def test_escape_closes_or_goes_back_and_never_decides():
    seen = []
    for cls in classes():
        for binding in bindings(cls):
            if binding.key != "escape":
                continue
            seen.append(cls.__name__)
            action = binding.action
            assert base(action) not in DECIDES, (cls.__name__, action)
            assert not any(f"'{c}'" in action or f"({c})" in action for c in DECIDING_CHOICES), (cls.__name__, action)
    assert {"RunsScreen", "InputsScreen", "HelpScreen", "QuitScreen"} <= set(seen)


def test_the_global_keys_are_not_rebound():
    app_keys = {b.key: base(b.action) for b in bindings(RunbookApp)}
    assert {k: app_keys[k] for k in ("q", "ctrl+c", "question_mark", "f1")} == {
        "q": "quit", "ctrl+c": "quit", "question_mark": "help", "f1": "help"}
    for cls in classes():
        if cls is RunbookApp:
            continue
        for binding in bindings(cls):
            if binding.key in app_keys:
                assert base(binding.action) == app_keys[binding.key], (cls.__name__, binding.key, binding.action)


def test_home_and_runs_keys_are_the_table():
    by_class = {cls.__name__: {b.key: b.action for b in bindings(cls)} for cls in classes()}
    assert by_class["HomeScreen"] == {"enter": "run", "d": "dry_run", "w": "walkthrough", "p": "probe", "r": "runs"}
    assert by_class["RunsScreen"] == {"enter": "resume", "e": "export", "g": "reload", "escape": "app.pop_screen"}
