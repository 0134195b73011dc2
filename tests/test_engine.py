"""The engine against real parts: local subprocesses and a real SSH server on loopback.

Each test asserts the exact event sequence (like doit's FakeReporter tests) or what reached the
far side.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from engine_support import Recorder, Scripted, make, run
from sshhosts import SSHTestServer

from runbook_tui.engine import events as ev
from runbook_tui.engine.gates import AutoGates, GateAnswer
from runbook_tui.engine.runner import Engine
from runbook_tui.language.inventory import Inventory, Target


async def test_success_event_sequence():
    proc = make([
        {"id": "hello", "local": "echo hello", "mutates": False, "register": "h"},
        {"id": "check", "assert": "'hello' in h.stdout"},
    ])
    report, rec = await run(proc)
    assert report.outcome == "succeeded" and report.exit_code == 0
    assert rec.kinds(output=True) == [
        "run_started",
        "step_started:hello",
        "output:hello",
        "step_finished:hello:ok",
        "step_started:check",
        "step_finished:check:ok",
        "run_finished",
    ]
    seqs = [e.seq for e in rec.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert {e.run_id for e in rec.events} == {report.run_id}


async def test_require_blocks_and_is_not_overridden_without_a_person():
    proc = make([
        {"id": "guard", "local": "echo no", "mutates": False, "register": "g"},
        {"id": "change", "local": "echo changed", "require": "'yes' in g.stdout", "message": "not safe now"},
        {"id": "after", "local": "echo after", "mutates": False},
    ])
    report, rec = await run(proc)
    assert report.outcome == "failed" and report.exit_code == 1
    assert rec.kinds() == [
        "run_started",
        "step_started:guard",
        "step_finished:guard:ok",
        "guard:change",
        "gate_requested:change:override",
        "gate_answered:change:override",
        "step_finished:change:blocked",
        "gate_requested:change:failure",
        "gate_answered:change:failure",
        "run_finished",
    ]
    assert rec.of(ev.StepFinished)[-1].message == "not safe now"


async def test_override_needs_a_reason_and_records_it():
    proc = make([{"id": "change", "local": "echo ran", "require": "false", "mutates": False}])
    gates = Scripted(GateAnswer(True, reason="guard is stale: checked by hand"))
    report, rec = await run(proc, gates=gates)
    assert report.outcome == "succeeded"
    answered = rec.of(ev.GateAnswered)[0]
    assert answered.gate == "override" and answered.reason == "guard is stale: checked by hand"
    assert "@" in answered.who


async def test_retry_until_postcondition(tmp_path: Path):
    counter = tmp_path / "n"
    proc = make([{
        "id": "poll", "mutates": False,
        "local": f"echo x >> {counter}; wc -l < {counter}",
        "until": "result.stdout | int >= 3", "retry": {"attempts": 5, "delay": "10ms"},
    }])
    report, rec = await run(proc)
    assert report.outcome == "succeeded"
    assert [e.attempt for e in rec.of(ev.StepStarted)] == [1, 2, 3]
    assert [e.passed for e in rec.of(ev.GuardEvaluated)] == [False, False, True]


async def test_failure_then_undo_walks_back_in_reverse(tmp_path: Path):
    log = tmp_path / "log"
    proc = make([
        {"id": "one", "local": f"echo one >> {log}", "undo": {"local": f"echo undo-one >> {log}"}},
        {"id": "two", "local": f"echo two >> {log}", "undo": {"local": f"echo undo-two >> {log}"}},
        {"id": "three", "local": "exit 4"},
        {"id": "four", "local": f"echo four >> {log}"},
    ])
    report, rec = await run(proc, gates=AutoGates(yes=True, undo_on_failure=True))
    assert report.outcome == "failed"
    assert log.read_text().split() == ["one", "two", "undo-two", "undo-one"]
    assert [(e.step_id, e.status, e.phase) for e in rec.of(ev.StepFinished)] == [
        ("one", "ok", "do"), ("two", "ok", "do"), ("three", "failed", "do"),
        ("two", "undone", "undo"), ("one", "undone", "undo"),
    ]
    assert report.statuses == {"one": "undone", "two": "undone", "three": "failed"}


async def test_abort_runs_nothing_more(tmp_path: Path):
    marker = tmp_path / "later"
    proc = make([{"id": "bad", "local": "exit 1", "mutates": False}, {"id": "later", "local": f"touch {marker}"}])
    report, rec = await run(proc, gates=AutoGates(yes=True))
    assert report.outcome == "failed" and not marker.exists()
    assert "step_started:later" not in rec.kinds()


async def test_skip_with_reason_continues(tmp_path: Path):
    marker = tmp_path / "later"
    proc = make([{"id": "bad", "local": "exit 1", "mutates": False},
                 {"id": "later", "local": f"touch {marker}", "mutates": False}])
    report, _ = await run(proc, gates=Scripted(GateAnswer(True, choice="skip", reason="known flaky")))
    assert marker.exists() and report.statuses["bad"] == "skipped"


async def test_refused_confirm_changes_nothing(tmp_path: Path):
    marker = tmp_path / "changed"
    proc = make([{"id": "change", "local": f"touch {marker}", "confirm": "Really?"}])
    gates = Scripted(GateAnswer(True), GateAnswer.no())  # the plan yes, the step's own confirm no
    report, rec = await run(proc, gates=gates)
    assert report.outcome == "refused" and report.exit_code == 3
    assert not marker.exists()
    assert [r.kind for r in gates.asked] == ["plan", "confirm"]


async def test_plan_lists_mutations_once_before_the_first():
    proc = make([
        {"id": "read", "local": "echo r", "mutates": False},
        {"id": "w1", "local": "echo one"},
        {"id": "w2", "local": "echo two"},
    ])
    gates = Scripted(GateAnswer(True))
    report, rec = await run(proc, gates=gates)
    assert report.outcome == "succeeded"
    assert [r.kind for r in gates.asked] == ["plan"]
    assert gates.asked[0].details == ["w1 on local machine: echo one", "w2 on local machine: echo two"]
    kinds = rec.kinds()
    assert kinds.index("step_finished:read:ok") < kinds.index("gate_requested:w1:plan")


@pytest.mark.parametrize("typed, phrases, lab, approved", [
    ("pfsense", ("pfsense",), False, True),
    ("pfsense", ("pfsense ",), False, False),
    ("pfsense", (), True, True),
    ("pfsense", (), False, False),
])
async def test_typed_gate(tmp_path: Path, typed, phrases, lab, approved):
    marker = tmp_path / "m"
    proc = make([{"id": "x", "local": f"touch {marker}", "confirm": {"text": "Flip NAT", "typed": typed}}])
    report, _ = await run(proc, gates=AutoGates(yes=True, phrases=phrases, lab=lab))
    assert marker.exists() is approved
    assert report.exit_code == (0 if approved else 3)


async def test_no_tty_without_yes_fails_closed(tmp_path: Path):
    marker = tmp_path / "m"
    report, _ = await run(make([{"id": "x", "local": f"touch {marker}"}]), gates=AutoGates(yes=False))
    assert report.outcome == "refused" and not marker.exists()


async def test_dry_run_never_mutates_and_marks_downstream_unproven(tmp_path: Path):
    marker = tmp_path / "m"
    proc = make([
        {"id": "read", "local": "echo before", "mutates": False},
        {"id": "change", "local": f"touch {marker}"},
        {"id": "verify", "local": f"test -e {marker}", "mutates": False},
    ])
    report, rec = await run(proc, dry_run=True)
    assert not marker.exists()
    assert report.outcome == "succeeded"
    assert report.statuses == {"read": "ok", "change": "would-run", "verify": "unproven"}
    would = [e for e in rec.of(ev.StepFinished) if e.status == "would-run"][0]
    assert would.rendered == f"touch {marker}"
    assert not rec.of(ev.GateRequested)


async def test_offline_renders_everything_and_runs_nothing(tmp_path: Path):
    marker = tmp_path / "m"
    proc = make([{"id": "read", "local": f"touch {marker}", "mutates": False}])
    report, _ = await run(proc, dry_run=True, offline=True)
    assert not marker.exists() and report.statuses == {"read": "would-run"}


async def test_cancellation_kills_the_command_and_is_recorded(tmp_path: Path):
    pidfile = tmp_path / "pid"
    proc = make([{"id": "long", "local": f"echo $$ > {pidfile}; exec sleep 30", "mutates": False}])
    rec = Recorder()
    engine = Engine(proc, Inventory(), inputs={}, gates=AutoGates(yes=True), subscribers=[rec])
    task = asyncio.create_task(engine.run())
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pid = int(pidfile.read_text())
    await asyncio.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    assert rec.kinds()[-2:] == ["step_finished:long:cancelled", "run_finished"]
    assert rec.of(ev.RunFinished)[0].outcome == "aborted" and engine.report.exit_code == 3


async def test_foreach_runs_at_most_concurrency_items_at_once(tmp_path: Path):
    """Five items that each hold until released, two at a time: two start, no third starts while
    they hold, and once released every item runs to its end."""
    release = tmp_path / "release"
    proc = make([{
        "id": "each", "mutates": False, "foreach": "{{ [1, 2, 3, 4, 5] }}", "concurrency": 2, "register": "each",
        "local": f"echo begin; while [ ! -e {release} ]; do sleep 0.01; done; echo end",
    }, {"id": "all", "assert": "each.data | selectattr('ok') | map(attribute='lines') | list"
                               " == [['begin', 'end']] * 5"}])
    running: set[str] = set()
    begun: list[str] = []
    peak = 0

    def watch(event: ev.Event) -> None:  # each item says "[ITEM] begin" and "[ITEM] end"
        nonlocal peak
        if isinstance(event, ev.OutputLine) and event.step_id == "each":
            item, word = event.text.split()
            if word == "begin":
                running.add(item)
                begun.append(item)
                peak = max(peak, len(running))
            else:
                running.remove(item)

    task = asyncio.create_task(run(proc, subscribers=[watch]))
    for _ in range(1000):
        if len(begun) == 2:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # time enough for a third to start, were there no limit
    assert len(begun) == 2 and not task.done()
    release.touch()
    report, rec = await asyncio.wait_for(task, 30)
    assert report.outcome == "succeeded", report.message
    assert peak == 2 and not running
    assert sorted(begun) == ["[1]", "[2]", "[3]", "[4]", "[5]"]
    assert sorted(e.item for e in rec.of(ev.StepStarted) if e.step_id == "each") == [1, 2, 3, 4, 5]
    assert rec.kinds()[-3:] == ["step_started:all", "step_finished:all:ok", "run_finished"]


async def test_timeout_fails_the_step():
    proc = make([{"id": "slow", "local": "sleep 5", "timeout": "200ms", "mutates": False}])
    report, rec = await run(proc)
    assert report.outcome == "failed"
    assert rec.of(ev.StepFinished)[0].message == "timed out after 0.2 s"


async def test_independent_steps_run_concurrently():
    proc = make([
        {"id": "a", "local": "sleep 0.4", "mutates": False, "needs": []},
        {"id": "b", "local": "sleep 0.4", "mutates": False, "needs": []},
        {"id": "c", "local": "sleep 0.4", "mutates": False, "needs": []},
    ])
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    report, _ = await run(proc)
    assert report.outcome == "succeeded" and loop.time() - t0 < 1.0


# ---------------------------------------------------------------- after a failure: retry, undo, calls
async def test_failure_gate_retry_runs_the_step_again_and_the_run_goes_on(tmp_path: Path):
    marker, log = tmp_path / "tried", tmp_path / "log"
    proc = make([
        # Fails the first time (and leaves a marker), succeeds once the marker is there.
        {"id": "flaky", "mutates": False, "local": f"test -e {marker} || {{ touch {marker}; exit 1; }}"},
        {"id": "after", "mutates": False, "local": f"echo after >> {log}"},
    ])
    gates = Scripted(GateAnswer(True, choice="retry"))
    report, rec = await run(proc, gates=gates)
    assert report.outcome == "succeeded" and report.statuses == {"flaky": "ok", "after": "ok"}
    assert rec.kinds() == [
        "run_started",
        "step_started:flaky",
        "step_finished:flaky:failed",
        "gate_requested:flaky:failure",
        "gate_answered:flaky:failure",
        "step_started:flaky",
        "step_finished:flaky:ok",
        "step_started:after",
        "step_finished:after:ok",
        "run_finished",
    ]
    (asked,) = gates.asked
    assert asked.choices == ("retry", "skip", "undo", "abort") and asked.default == "abort"
    assert asked.details == ["flaky: exit code 1"]
    assert rec.of(ev.GateAnswered)[0].choice == "retry"
    assert log.read_text() == "after\n"


async def test_a_declined_undo_is_recorded_and_left_to_reverse_by_hand(tmp_path: Path):
    log = tmp_path / "log"
    proc = make([
        {"id": "one", "local": f"echo one >> {log}", "undo": {"local": f"echo undo-one >> {log}"}},
        {"id": "two", "local": f"echo two >> {log}", "undo": {"local": f"echo undo-two >> {log}"}},
        {"id": "three", "local": "exit 4", "mutates": False},
    ])
    # The plan yes; after the failure, undo; undo two no, undo one yes: a "no" does not stop the walk.
    gates = Scripted(GateAnswer(True), GateAnswer(True, choice="undo"), GateAnswer.no("leave it"), GateAnswer(True))
    report, rec = await run(proc, gates=gates)
    assert log.read_text().split() == ["one", "two", "undo-one"]
    assert [(r.kind, r.step_id) for r in gates.asked] == [
        ("plan", "one"), ("failure", "three"), ("undo", "two"), ("undo", "one")]
    assert gates.asked[2].details == [f"echo undo-two >> {log}"]
    assert [(e.step_id, e.status, e.phase, e.message) for e in rec.of(ev.StepFinished)][3:] == [
        ("two", "skipped", "undo", "undo declined"),
        ("one", "undone", "undo", ""),
    ]
    assert report.outcome == "failed" and report.statuses == {"one": "undone", "two": "ok", "three": "failed"}
    assert report.message == "step three failed; undid 1 step(s); reverse by hand: two"
    assert rec.of(ev.RunFinished)[0].message == report.message


async def test_a_failed_undo_stops_the_walk_back(tmp_path: Path):
    log = tmp_path / "log"
    proc = make([
        {"id": "one", "local": f"echo one >> {log}", "undo": {"local": f"echo undo-one >> {log}"}},
        {"id": "two", "local": f"echo two >> {log}", "undo": {"local": "echo cannot >&2; exit 3"}},
        {"id": "three", "local": "exit 4", "mutates": False},
    ])
    gates = AutoGates(yes=True, undo_on_failure=True)
    report, rec = await run(proc, gates=gates)
    assert log.read_text().split() == ["one", "two"]  # one's undo never ran
    assert [(r.kind, r.step_id) for r in gates.asked] == [("plan", "one"), ("failure", "three"), ("undo", "two")]
    assert rec.kinds()[-5:] == [
        "gate_requested:two:undo",
        "gate_answered:two:undo",
        "step_started:two",
        "step_finished:two:failed",
        "run_finished",
    ]
    undo = rec.of(ev.StepFinished)[-1]
    assert (undo.phase, undo.message, undo.exit_code) == ("undo", "undo failed: exit code 3", 3)
    assert report.outcome == "failed" and report.statuses == {"one": "ok", "two": "ok", "three": "failed"}
    assert report.message == ("step three failed; undid 0 step(s); reverse by hand: two; "
                              "not walked back (a failed undo stopped it): one")


CALLER = """\
id: outer
title: Calls another
steps:
  - id: hand-off
    call: inner
    with: {what: disk}
  - id: after
    local: echo after >> {log}
    mutates: false
"""
CALLEE = """\
id: inner
title: Is called, and fails
inputs:
  what: {prompt: What to check, required: true}
steps:
  - id: check
    local: echo checking {{ inputs.what }}; exit 5
    mutates: false
"""


async def test_a_failing_called_procedure_fails_the_calling_step(tmp_path: Path):
    from runbook_tui.language.catalog import Catalog

    log = tmp_path / "log"
    (tmp_path / "outer.yaml").write_text(CALLER.replace("{log}", str(log)))
    (tmp_path / "inner.yaml").write_text(CALLEE)
    catalog = Catalog(tmp_path)
    report, rec = await run(catalog.get("outer"), catalog=catalog)
    assert rec.kinds(output=True) == [
        "run_started",
        "gate_requested:hand-off:plan",
        "gate_answered:hand-off:plan",
        "step_started:hand-off",
        "step_started:hand-off/check",
        "output:hand-off/check",
        "step_finished:hand-off/check:failed",
        "step_finished:hand-off:failed",
        "gate_requested:hand-off:failure",
        "gate_answered:hand-off:failure",
        "run_finished",
    ]
    assert rec.of(ev.OutputLine)[0].text == "checking disk"
    inner, outer = rec.of(ev.StepFinished)
    assert inner.message == "exit code 5" and inner.exit_code == 5
    assert outer.message == "inner: step check failed"
    assert report.outcome == "failed" and report.message == "step hand-off failed"
    assert report.statuses == {"hand-off": "failed"} and not log.exists()


# ---------------------------------------------------------------- over real SSH
@pytest.fixture
async def sshd(tmp_path: Path):
    server = SSHTestServer(tmp_path)
    await server.start()
    yield server
    await server.stop()


def ssh_inventory(server: SSHTestServer) -> Inventory:
    return Inventory(targets={"fw": Target(ssh=server.target())})


async def test_ssh_steps_share_one_connection(sshd):
    proc = make([{"id": f"s{i}", "ssh": "fw", "run": f"echo {i}", "mutates": False, "needs": []} for i in range(6)])
    report, rec = await run(proc, inventory=ssh_inventory(sshd))
    assert report.outcome == "succeeded"
    assert sshd.connections == 1 and len(sshd.commands) == 6
    assert sorted(e.text for e in rec.of(ev.OutputLine)) == [str(i) for i in range(6)]


async def test_hostile_input_reaches_the_server_as_one_argument(sshd):
    hostile = "x'; touch /tmp/pwned; echo \"$(id)\" `id` \n --rm"
    proc = make([{"id": "say", "ssh": "fw", "run": "echo {{ inputs.v }}", "mutates": False, "register": "said"}],
                v={"default": ""})
    report, rec = await run(proc, inventory=ssh_inventory(sshd), inputs={"v": hostile})
    assert report.outcome == "succeeded"
    import shlex

    assert shlex.split(sshd.commands[0]) == ["echo", hostile]


async def test_dry_run_sends_no_mutating_command(sshd):
    proc = make([
        {"id": "look", "ssh": "fw", "run": "hostname", "mutates": False},
        {"id": "change", "ssh": "fw", "run": "echo CHANGE"},
        {"id": "look-again", "ssh": "fw", "run": "hostname", "mutates": False},
    ])
    report, _ = await run(proc, inventory=ssh_inventory(sshd), dry_run=True)
    assert report.outcome == "succeeded"
    assert sshd.commands == ["hostname", "hostname"]


async def test_unreachable_target_is_one_sentence(tmp_path: Path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    inv = Inventory(targets={"fw": Target(ssh={"host": "127.0.0.1", "port": port, "known_hosts": str(tmp_path / "kh")})})
    report, rec = await run(make([{"id": "x", "ssh": "fw", "run": "true", "mutates": False}]), inventory=inv)
    message = rec.of(ev.StepFinished)[0].message
    assert report.outcome == "failed"
    assert "\n" not in message and "Traceback" not in message and str(port) in message


async def test_always_steps_clean_up_after_a_failure(tmp_path: Path):
    log = tmp_path / "log"
    proc = make([
        {"id": "create", "local": f"echo create >> {log}"},
        {"id": "check", "local": "exit 1", "mutates": False},
        {"id": "after", "local": f"echo after >> {log}"},
        {"id": "cleanup", "local": f"echo cleanup >> {log}", "always": True},
    ])
    report, rec = await run(proc)
    assert report.outcome == "failed" and report.exit_code == 1
    assert log.read_text().split() == ["create", "cleanup"]
    assert report.statuses == {"create": "ok", "check": "failed", "cleanup": "ok"}


async def test_always_steps_run_in_order_when_all_is_well(tmp_path: Path):
    log = tmp_path / "log"
    proc = make([
        {"id": "one", "local": f"echo one >> {log}"},
        {"id": "cleanup", "local": f"echo cleanup >> {log}", "always": True},
        {"id": "two", "local": f"echo two >> {log}"},
    ])
    report, _ = await run(proc)
    assert report.outcome == "succeeded" and log.read_text().split() == ["one", "cleanup", "two"]


async def test_message_is_a_template_and_dry_run_polls_once(tmp_path: Path):
    proc = make([
        {"id": "change", "local": "echo x"},
        {"id": "poll", "local": "exit 1", "mutates": False, "until": "result.exit_code == 0",
         "retry": {"attempts": 50, "delay": "1s"}},
        {"id": "guard", "local": "echo y", "mutates": False, "require": "false",
         "message": "node {{ 'k8s-node' ~ 2 }} is down"},
    ])
    report, rec = await run(proc, dry_run=True)
    assert report.statuses["poll"] == "unproven"
    assert len([e for e in rec.of(ev.StepStarted) if e.step_id == "poll"]) == 1
    report, rec = await run(make([proc.steps[2].model_dump(by_alias=True, exclude_none=True)]))
    assert rec.of(ev.StepFinished)[0].message == "node k8s-node2 is down"


async def test_a_choice_input_without_value_is_asked_for(tmp_path: Path):
    proc = make([{"id": "say", "local": "echo {{ inputs.how }}", "mutates": False, "register": "said"}],
                how={"type": "choice", "choices": ["patch", "terraform"]})
    gates = Scripted(GateAnswer(True, choice="terraform"))
    report, rec = await run(proc, gates=gates, inputs={"how": None})
    assert report.outcome == "succeeded" and [r.kind for r in gates.asked] == ["choose"]
    assert gates.asked[0].choices == ("patch", "terraform")
    assert [e.text for e in rec.of(ev.OutputLine)] == ["terraform"]
    refused, _ = await run(proc, gates=AutoGates(yes=True), inputs={"how": None})
    assert refused.outcome == "refused"


async def test_skip_is_on_the_record(tmp_path: Path):
    proc = make([{"id": "bad", "local": "exit 1", "mutates": False}])
    report, rec = await run(proc, gates=Scripted(GateAnswer(True, choice="skip", reason="known flaky")))
    finished = rec.of(ev.StepFinished)
    assert [(e.step_id, e.status) for e in finished] == [("bad", "failed"), ("bad", "skipped")]
    assert "known flaky" in finished[-1].message and report.outcome == "succeeded"


async def test_headless_gates_never_claim_a_manual_step_was_done():
    proc = make([{"id": "by-hand", "manual": "Delete the alias in the WebUI."}])
    report, rec = await run(proc, gates=AutoGates(yes=True))
    assert report.outcome == "failed"
    assert "did not confirm" in rec.of(ev.StepFinished)[0].message
    lab, _ = await run(proc, gates=AutoGates(yes=True, lab=True))
    assert lab.outcome == "succeeded"


async def test_a_filter_error_fails_the_step_and_cleanup_still_runs(tmp_path: Path):
    log = tmp_path / "log"
    proc = make([
        {"id": "parse", "local": "echo {{ 'not json' | from_json }}", "mutates": False, "needs": []},
        {"id": "port", "tcp": {"host": "127.0.0.1", "port": "{{ 'abc' }}"}, "needs": []},
        {"id": "cleanup", "local": f"echo cleanup >> {log}", "always": True, "needs": ["parse", "port"]},
    ])
    report, rec = await run(proc)
    messages = {e.step_id: e.message for e in rec.of(ev.StepFinished)}
    assert report.outcome == "failed" and log.read_text().split() == ["cleanup"]
    assert messages["parse"].startswith("cannot render") and "not a port number" in messages["port"]
    assert rec.kinds()[-1] == "run_finished"


async def test_cancel_still_runs_cleanup(tmp_path: Path):
    log = tmp_path / "log"
    proc = make([
        {"id": "long", "local": "sleep 30", "mutates": False},
        {"id": "cleanup", "local": f"echo cleanup >> {log}", "always": True},
    ])
    rec = Recorder()
    engine = Engine(proc, Inventory(), inputs={}, gates=AutoGates(yes=True), subscribers=[rec])
    task = asyncio.create_task(engine.run())
    while not rec.of(ev.StepStarted):
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log.read_text().split() == ["cleanup"]
    assert engine.report.outcome == "aborted"


async def test_resume_after_undo_runs_the_undone_step_again(tmp_path: Path):
    from runbook_tui.headless.journal import Journal, resume_state

    log = tmp_path / "log"
    proc = make([
        {"id": "change", "local": f"echo change >> {log}", "undo": {"local": f"echo undo >> {log}"}},
        {"id": "check", "local": f"test -e {tmp_path / 'ok'}", "mutates": False},
    ])
    journal = Journal(tmp_path / "runs")
    engine = Engine(proc, Inventory(), inputs={}, gates=AutoGates(yes=True, undo_on_failure=True),
                    subscribers=[journal])
    assert (await engine.run()).outcome == "failed"
    _, state = resume_state(journal.path)
    assert "change" not in state.statuses
    (tmp_path / "ok").touch()
    again = Engine(proc, Inventory(), inputs={}, gates=AutoGates(yes=True), resume=state)
    assert (await again.run()).outcome == "succeeded"
    assert log.read_text().split() == ["change", "undo", "change"]
