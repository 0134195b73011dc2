"""The run screen at 3 a.m., under Pilot against real local commands and the real journal: parsed
HAProxy data as a table, following parallel steps, search across steps, wrap and timestamps, copy,
the full output from the journal, jump to a failed step, a dry run's amber ending and what it
would have changed, an undo's history and what is left to reverse by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_tui_support import events, home_ready, make_app, run_finished, screen_is, start, wait_for
from textual.widgets import Button

from runbook_tui.tui.widgets.output_view import OutputView
from runbook_tui.tui.widgets.step_detail import StepDetail
from runbook_tui.tui.widgets.step_list import StepList

pytestmark = pytest.mark.usefixtures("at_root")

CAPTURED_STAT = Path("tests/data/captured/haproxy-2.6_show_stat.csv").resolve()  # from a real haproxy 2.6

HEALTH = f"""\
id: health
title: Backend health
steps:
  - id: stat
    title: Show stat
    local: cat {CAPTURED_STAT}
    mutates: false
    parse: haproxy.stat
    register: stat
  - id: all-up
    title: Every server is UP
    assert: "stat.data.servers | selectattr('status', 'eq', 'DOWN') | list == []"
"""

PARALLEL = "id: parallel\ntitle: Steps side by side\nsteps:\n" + "".join(
    f"  - id: p{i}\n    local: sleep {i * 0.25}; echo done {i}\n    mutates: false\n    needs: []\n" for i in range(1, 9)
) + """\
  - id: bad
    local: echo 'needle in bad'; exit 2
    mutates: false
    needs: [p1, p2, p3, p4, p5, p6, p7, p8]
"""

OUTPUTS = """\
id: outputs
title: Much output
steps:
  - id: many
    title: Many lines
    local: seq 6000; echo needle one
    mutates: false
  - id: wide
    title: A long line
    local: printf '%0300d\\n' 7; echo needle two
    mutates: false
  - id: broken
    title: Fails
    local: echo broken; exit 3
    mutates: false
"""


def procedures(tmp_path: Path, *texts: str) -> str:
    folder = tmp_path / "procedures"
    folder.mkdir(exist_ok=True)
    for text in texts:
        name = text.split("\n", 1)[0].removeprefix("id: ")
        (folder / f"{name}.yaml").write_text(text)
    return str(folder)


def app_for(tmp_path: Path, *texts: str):
    return make_app(tmp_path / "runs", procedures=procedures(tmp_path, *texts))


async def abort_failure(pilot) -> None:
    await screen_is(pilot, "FailureScreen")
    await pilot.press("x")
    await pilot.click("#abort-yes")


async def test_a_down_backend_reads_as_a_table(tmp_path: Path):
    app = app_for(tmp_path, HEALTH)
    async with app.run_test(size=(160, 48)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "health")
        failure = await screen_is(pilot, "FailureScreen")
        table = failure.query_one("#failure-data").source
        assert "8 not UP" in table and "| server | backend | state | last check |" in table
        assert "| k8s-node3 | mailserver_smtp_ipvANY | **DOWN** | L4CON Connection refused" in table
        assert table.index("**DOWN**") < table.index("| UP |")  # the DOWN ones first
        assert "pxname,svname" not in table
        await pilot.press("x")
        await pilot.click("#abort-yes")
        await run_finished(pilot)
        run.query_one(StepList).select_id("stat")
        run.flush()
        await run.query_one(StepDetail).settled()
        detail = run.query_one(StepDetail).source
        assert "| k8s-node4 | mailserver_imaps_ipvANY | **DOWN** | L4CON Connection refused" in detail


async def test_follow_running_keeps_to_a_running_step_and_ends_on_the_failed_one(tmp_path: Path):
    app = app_for(tmp_path, PARALLEL)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "parallel")
        steps = run.query_one(StepList)
        seen_running = 0
        while not (run.state.gate or run.state.outcome):
            await pilot.pause(0.03)
            assert run.follow_running, "following stopped without the operator choosing a step"
            if len(run.state.running) > 1:
                seen_running += 1
        assert seen_running > 3  # several ran side by side while it was watched
        await abort_failure(pilot)
        await run_finished(pilot)
        assert steps.highlighted_id == "bad"


async def test_search_wrap_timestamps_copy_pager_and_jump(tmp_path: Path):
    app = app_for(tmp_path, OUTPUTS)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "outputs")
        await abort_failure(pilot)
        await run_finished(pilot)
        steps, view = run.query_one(StepList), run.query_one(OutputView)
        assert steps.highlighted_id == "broken"
        assert re.search(r"\d+\.\ds\]?$", str(run.query_one("#run-header").render()))  # the run's time

        # Search: every step's output, with the count.
        steps.select_id("many")
        run.flush()
        await pilot.press("slash", *"needle", "enter")
        assert len(run.matches) == 2
        assert steps.highlighted_id == "many" and view.output.lines[view.match_line] == "needle one"
        assert "match 1 of 2 in 2 step(s)" in view.border_subtitle
        await pilot.press("f3")
        assert steps.highlighted_id == "wide" and "needle two" in view.output.lines[view.match_line]
        assert "match 2 of 2" in view.border_subtitle
        assert not run.follow_running

        # Wrap and timestamps.
        assert view.virtual_size.width >= 300
        await pilot.press("l")
        width = view.scrollable_content_region.width
        assert view.wrap and view.virtual_size.width <= width
        assert view.virtual_size.height == -(-300 // width) + 1
        await pilot.press("i")
        await pilot.pause()
        assert re.match(r"\d\d:\d\d:\d\d\.\d{3} 0000", view.render_line(0 - view.scroll_offset.y).text)

        # Copy: the step's command, with no lines selected.
        await pilot.press("k")
        assert app.clipboard == "printf '%0300d\\n' 7; echo needle two"

        # Jump to the failed step, then its full output.
        await pilot.press("j")
        assert steps.highlighted_id == "broken"
        steps.select_id("many")
        run.flush()
        assert run.state.step("many").output.dropped == 1001  # the UI keeps the last 5000
        await pilot.press("o")
        full = await screen_is(pilot, "FullOutputScreen")
        lines = full.output.lines
        assert len(lines) == 6001 and lines[0] == "1" and lines[-1] == "needle one"  # all of it, from the journal
        await pilot.press("escape")
        await screen_is(pilot, "RunScreen")


async def test_a_dry_run_ends_amber_with_what_would_have_changed(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "change", dry_run=True, typed={"note": "hi"})
        await run_finished(pilot)
        status = run.query_one("#run-status").render()
        assert "DRY-RUN SUCCEEDED" in str(status) and "2 would-run" in str(status) and "nothing was changed" in str(status)
        assert not any("green" in str(span.style) for span in status.spans)
        summary = run.query_one("#run-summary")
        assert summary.display
        assert "**write** on this machine" in summary.source and "for i in $(seq 2); do echo hi; done" in summary.source
        assert "**commit** on this machine" in summary.source and "echo committed" in summary.source


async def test_undo_keeps_history_and_lists_what_is_left_by_hand(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "change", typed={"note": "hi", "fail": "true"})
        for kind in ("plan", "confirm"):
            await wait_for(pilot, lambda k=kind: getattr(app.screen, "request", None) and app.screen.request.kind == k,
                           what=kind)
            await pilot.press("y")
        gate = await wait_for(pilot, lambda: getattr(app.screen, "request", None) and app.screen.request.kind == "typed"
                              and app.screen, what="typed")
        await pilot.press(*"commit", "enter")
        await screen_is(pilot, "FailureScreen")
        await pilot.press("u")
        undo = await wait_for(pilot, lambda: getattr(app.screen, "request", None) and app.screen.request.kind == "undo"
                              and app.screen, what="the first undo")
        assert undo.request.step_id == "commit" and gate is not undo
        await pilot.press("n")  # leave the commit in place
        await wait_for(pilot, lambda: app.screen.request.step_id == "write", what="the second undo")
        await pilot.press("y")
        await run_finished(pilot)
        write, commit = run.state.step("write"), run.state.step("commit")
        assert write.status == "undone" and write.story == "done → undone"
        assert commit.story == "done → undo declined" and commit.status == "ok"
        assert "by hand" in str(run.query_one(StepList).get_option_at_index(2).prompt)
        panel = run.query_one("#run-summary")
        assert panel.display and "Reverse by hand: 1 change(s) still in place" in panel.source
        assert "**commit** on this machine" in panel.source and "echo committed" in panel.source
        run.query_one(StepList).select_id("write")
        run.flush()
        await run.query_one(StepDetail).settled()
        assert "**History:** done → undone" in run.query_one(StepDetail).source
    assert [e["status"] for e in events(tmp_path, "step_finished") if e["step_id"] == "commit"] == ["ok", "skipped"]


async def test_cancel_asks_first_and_escape_keeps_running(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "sleepy", typed={"pidfile": str(tmp_path / "pid")})
        await wait_for(pilot, lambda: run.state.step("sleep").output.total, what="the sleep")
        await pilot.press("c")
        question = await screen_is(pilot, "CancelScreen")
        assert "step sleep on this machine" in str(question.query_one("#cancel-steps").render())
        assert app.focused is question.query_one("#no", Button)
        await pilot.press("escape")  # closes the question; the run goes on
        await screen_is(pilot, "RunScreen")
        assert run.running
        await pilot.press("c", "y")
        await run_finished(pilot)
        assert run.state.outcome == "aborted"


MANY = "id: many\ntitle: Many changes\nsteps:\n  - id: each\n    title: Touch each host\n    foreach: [" + ", ".join(
    f"host{i:02d}" for i in range(30)) + """]
    local: echo touching {{ item }}
  - id: never
    title: Not this time
    when: "{{ run.operator == 'nobody at all' }}"
    local: echo never
"""

WALK = """\
id: walk
title: Look, maybe fix, then check
steps:
  - id: look
    title: Look
    local: echo 'state is steady'
    mutates: false
    register: look
  - id: maybe
    title: Fix it when broken
    when: "'broken' in look.stdout"
    local: echo fixing
    mutates: false
  - id: after
    title: Check again
    local: echo was {{ look.stdout | trim }}
    mutates: false
"""


async def test_the_plan_lists_every_item_and_leaves_out_a_step_that_will_be_skipped(tmp_path: Path):
    app = app_for(tmp_path, MANY)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        await start(pilot, "many")
        gate = await screen_is(pilot, "GateScreen")
        (each,) = gate.request.details
        assert each.startswith("each on local machine: for each of 30 item(s):\n  [host00] echo touching host00")
        assert each.count("echo touching") == 30 and "[host29] echo touching host29" in each
        assert "never" not in each and "Not listed: never (its `when` is false now" in gate.request.text
        body = gate.query_one("#gate-body")
        assert body.max_scroll_y > 0  # more than fits: it scrolls
        body.focus()
        await pilot.press("pagedown")
        await pilot.pause()
        assert app.focused is body and body.scroll_y > 0
        await pilot.press("n")
        await screen_is(pilot, "RunScreen")


async def test_the_walkthrough_skips_a_false_when_and_keeps_results(tmp_path: Path):
    app = app_for(tmp_path, WALK)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        walk = await start(pilot, "walk", walkthrough=True)
        await wait_for(pilot, lambda: walk.current and walk._go is not None, what="Next for look")
        await pilot.pause(0.1)
        assert "waiting for Next" in str(walk.query_one("#run-status").render())
        await pilot.press("ctrl+n")
        # maybe's when is false: the walkthrough goes straight on to after.
        await wait_for(pilot, lambda: walk.current.id == "after" and walk._go is not None, what="Next for after")
        await pilot.pause(0.1)
        assert walk.state.step("maybe").status == "skipped"
        assert "waiting for Next" in str(walk.query_one("#run-status").render())
        results = str(walk.query_one("#walk-results").render())
        assert "✓ look ok" in results and "– maybe skipped: when: 'broken' in look.stdout is false" in results
        current = walk.query_one("#walk-current").source
        assert "**look** · ok · exit code 0 · 1 line(s) of output" in current and "state is steady" in current
        assert '{"' not in current  # words, not a JSON dump
        await pilot.press("ctrl+n")
        await run_finished(pilot)
        assert walk.state.outcome == "succeeded"
        assert "✓ after ok" in str(walk.query_one("#walk-results").render())


async def test_copy_takes_the_selected_output_lines(tmp_path: Path):
    from textual.geometry import Offset
    from textual.selection import Selection

    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        run = await start(pilot, "hello")
        await run_finished(pilot)
        run.query_one(StepList).select_id("greet")
        run.flush()
        view = run.query_one(OutputView)
        run.selections = {view: Selection(Offset(0, 0), Offset(8, 1))}  # as a mouse drag makes it
        await pilot.pause()
        await pilot.press("k")
        assert app.clipboard == "hello\nfrom the"
        run.selections = {}
        await pilot.press("k")
        assert app.clipboard == "printf 'hello\\nfrom the\\nrunbook\\n'"
