"""A hostile template or input pattern ends with one sentence, quickly: templates have size and
time limits, and an input pattern that backtracks forever is stopped by the same timer."""

from __future__ import annotations

import resource
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from support import runbook

from runbook_tui.language import templating
from runbook_tui.language.inputs import InputError, coerce
from runbook_tui.language.model import InputSpec
from runbook_tui.language.templating import (
    TemplateProblem,
    evaluate,
    render_command,
    render_text,
    render_value,
)

# Each would be harmless on its own, but over the limit: building it is refused up front.
TOO_BIG = {
    "string repetition": ("{{ 'A' * 2000000 }}", "the result of '*' would be 2,000,000 characters"),
    "list repetition": ("{{ [0] * 2000000 }}", "the result of '*' would be 2,000,000 items"),
    "power": ("{{ 2 ** 2000000 }}", "the result of '**' would be 4,000,000 bits"),
    "doubling with +": (
        "{% set ns = namespace(s='x') %}{% for i in range(30) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        "the result of '+' would be 1,048,576 characters",
    ),
    "doubling with ~": (
        "{% set ns = namespace(s='x') %}{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "the result of '~' would be 1,048,576 characters",
    ),
    "output of nested loops": (
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        "the output would be over the limit of 1,000,000 characters",
    ),
}
# Writes nothing and builds nothing: only the clock can stop it.
SPIN = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}done"
BACKTRACKS = InputSpec(pattern="(a+)+$")


@pytest.mark.parametrize("template, words", TOO_BIG.values(), ids=TOO_BIG.keys())
def test_a_result_over_the_size_limit_is_refused_before_it_is_built(template: str, words: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateProblem) as err:
        render_command(template, {})
    assert time.monotonic() - started < 1
    assert words in str(err.value) and "over the limit" in str(err.value)


def test_expressions_have_the_size_limits_too() -> None:
    with pytest.raises(TemplateProblem, match=r"the result of '\*' would be 2,000,000 items"):
        render_value("{{ [0] * 2000000 }}", {})
    with pytest.raises(TemplateProblem, match=r"the result of '\*\*' would be 2,199,023,255,552 bits"):
        evaluate("2 ** (2 ** 40)", {})


def test_a_render_over_the_time_limit_is_stopped(monkeypatch) -> None:
    monkeypatch.setattr(templating, "TIME_LIMIT", 0.3)
    started = time.monotonic()
    with pytest.raises(TemplateProblem, match=r"^rendering '.*done' took longer than 0.3 s, so it was stopped$"):
        render_text(SPIN, {})
    assert time.monotonic() - started < 2


def test_an_evaluation_over_the_time_limit_is_stopped(monkeypatch) -> None:
    monkeypatch.setattr(templating, "TIME_LIMIT", 0.3)
    started = time.monotonic()
    with pytest.raises(TemplateProblem, match="took longer than 0.3 s"):
        evaluate("x|string == 'never'", {"x": _Slow()})
    assert time.monotonic() - started < 2


class _Slow:
    """A context value whose rendering spins: stands for any slow work inside an expression."""

    def __str__(self) -> str:
        while True:
            pass


def test_an_input_pattern_that_backtracks_forever_is_stopped(monkeypatch) -> None:
    monkeypatch.setattr(templating, "TIME_LIMIT", 0.3)
    started = time.monotonic()
    with pytest.raises(InputError, match=r"^input name: matching \(a\+\)\+\$ took longer than 0.3 s"):
        coerce("name", BACKTRACKS, "a" * 40 + "!")
    assert time.monotonic() - started < 2
    assert coerce("name", BACKTRACKS, "aaaa") == "aaaa"
    with pytest.raises(InputError, match="does not match"):
        coerce("name", BACKTRACKS, "aab")


def test_the_timer_gives_back_an_alarm_that_was_already_set(monkeypatch) -> None:
    """pytest-timeout (and anyone else) keeps its SIGALRM handler and the time it had left."""
    monkeypatch.setattr(templating, "TIME_LIMIT", 0.2)
    fired: list[int] = []
    old_handler = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    old_timer = signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        with pytest.raises(TemplateProblem, match="took longer"):
            render_text(SPIN, {})
        assert render_text("{{ 6 * 7 }}", {}) == "42"
        assert 25 < signal.getitimer(signal.ITIMER_REAL)[0] < 30
        assert signal.getsignal(signal.SIGALRM) is not templating._expire and not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, *old_timer)
        signal.signal(signal.SIGALRM, old_handler)


def test_off_the_main_thread_the_size_limits_still_hold() -> None:
    results: list[object] = []

    def work() -> None:
        results.append(render_command("echo {{ a ~ b }}", {"a": "x", "b": "y z"}))
        try:
            render_command("{{ 'A' * 2000000 }}", {})
        except TemplateProblem as exc:
            results.append(str(exc))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(10)
    assert results[0] == "echo 'xy z'" and "over the limit" in str(results[1])


def test_ordinary_templates_are_unchanged() -> None:
    context = {"a": "x y", "b": 1, "n": 5, "l": [1], "amp": "&"}
    assert render_command("echo {{ a ~ '-' ~ b }} {{ n * 3 }} {{ l + [4] }} {{ 2 ** 10 }}", context) == (
        "echo 'x y-1' 15 1 4 1024"
    )
    assert render_text("{% macro m(v) %}{{ v ~ '!' }}{% endmacro %}{{ m('hi') }}", {}) == "hi!"
    assert render_text("{% autoescape true %}{{ '<' ~ amp }}{% endautoescape %}", context) == "&lt;&amp;"
    assert render_value("{{ [1, 2] + [3] }}", {}) == [1, 2, 3]
    assert render_value("{{ 'ab' * 3 }}", {}) == "ababab"
    assert evaluate("'a' ~ 'b' == 'ab'", {}) is True
    assert evaluate("{{ x * 2.5 }}", {"x": 2}, truth=False) == 5.0


# ---------------------------------------------------------------- the real CLI


def _cap_memory() -> None:
    # Should the limits ever go, the child fails with MemoryError instead of taking the machine.
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def cli(tmp_path: Path, env, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = runbook("run", *args, cwd=tmp_path, env=env, preexec_fn=_cap_memory)
    return done, time.monotonic() - started


def procedure(tmp_path: Path, command: str) -> Path:
    path = tmp_path / "hostile.yaml"
    path.write_text(
        "id: hostile\ntitle: A hostile template\n"
        "inputs:\n  name: {prompt: A name, pattern: '(a+)+$', default: aaa}\n"
        "steps:\n  - id: hostile\n    why: Hangs or eats memory without limits.\n"
        f"    local: \"{command}\"\n    mutates: false\n"
    )
    return path


@pytest.mark.parametrize("command, words", [
    ("echo {{ 'A' * 2**33 }}", "the result of '*' would be 8,589,934,592 characters, over the limit of 1,000,000"),
    (f"echo {SPIN}", "took longer than 2 s, so it was stopped"),
], ids=["huge repetition", "endless loop"])
def test_the_cli_run_fails_with_a_sentence(tmp_path: Path, env, command: str, words: str) -> None:
    done, took = cli(tmp_path, env, str(procedure(tmp_path, command)))
    assert took < 20
    assert done.returncode == 1, done.stdout + done.stderr
    assert words in done.stdout and "Traceback" not in done.stdout + done.stderr


def test_the_cli_refuses_a_set_value_that_its_pattern_cannot_judge_in_time(tmp_path: Path, env) -> None:
    done, took = cli(tmp_path, env, str(procedure(tmp_path, "echo {{ inputs.name }}")), "--offline",
                     "--set", "name=" + "a" * 40 + "!")
    assert took < 20
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "input name: matching (a+)+$ took longer than 2 s, so it was stopped; "
        "the pattern backtracks too much for this value."
    ]
