"""A foreach step's output in the output view says which item each line belongs to: scalar items,
dict items (labelled by their key, name or first value) and a mapping's entries (by key)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_support import home_ready, make_app, run_finished, start, wait_for

from runbook_tui.tui.widgets.output_view import OutputView
from runbook_tui.tui.widgets.step_list import StepList

pytestmark = pytest.mark.usefixtures("at_root")

EACH = """\
id: each
title: Items of every shape
summary: One read-only foreach step per item shape.
steps:
  - id: scalars
    title: Scalar items
    local: echo up {{ item }}
    mutates: false
    foreach: [web1, web2]
  - id: dicts
    title: Dict items
    local: echo port {{ item.port }}
    mutates: false
    foreach:
      - {name: mx1, port: 25}
      - {name: mx2, port: 587}
  - id: firsts
    title: Dict items without a name
    local: echo size {{ item.size }}
    mutates: false
    foreach:
      - {disk: ada0, size: 10}
      - {disk: ada1, size: 20}
  - id: mapping
    title: A mapping's entries
    local: echo value {{ item.value }}
    mutates: false
    foreach: "{{ {'alpha': 1, 'beta': 2} }}"
"""


async def test_each_output_line_names_its_item(tmp_path: Path):
    procedures = tmp_path / "procedures"
    procedures.mkdir()
    (procedures / "each.yaml").write_text(EACH)
    app = make_app(tmp_path / "journal", procedures=str(procedures))
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        await start(pilot, "each")
        run = await run_finished(pilot)
        assert run.state.outcome == "succeeded", run.state.message
        expected = {
            "scalars": ["[web1] up web1", "[web2] up web2"],
            "dicts": ["[mx1] port 25", "[mx2] port 587"],
            "firsts": ["[ada0] size 10", "[ada1] size 20"],
            "mapping": ["[alpha] value 1", "[beta] value 2"],
        }
        for sid, lines in expected.items():
            assert sorted(run.state.step(sid).output.lines) == lines, sid
        # And the output view shows them so.
        run.query_one(StepList).select_id("dicts")
        run.flush()
        view = run.query_one(OutputView)
        await wait_for(pilot, lambda: sorted(view.lines_text()) == expected["dicts"], what="the dicts' output")
