"""The theme: the one chosen is remembered across starts (in $XDG_CONFIG_HOME/runbook-tui, a bad
file ignored), and text reads at WCAG AA (4.5:1) in the light and the dark theme: the colours
measured are the ones the widgets are drawn with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.style import Style
from test_tui_support import home_ready, make_app, screen_is
from textual.color import Color
from textual.widgets import DataTable

from runbook_tui.tui.colours import contrast
from runbook_tui.tui.mode import Mode
from runbook_tui.tui.preferences import preferences_path
from runbook_tui.tui.widgets.mode_banner import ModeBanner

pytestmark = pytest.mark.usefixtures("at_root")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "runbook-tui" / "tui.json"


def test_the_preferences_live_in_the_user_config_folder(config: Path):
    assert preferences_path() == config


async def test_the_chosen_theme_is_remembered_across_starts(journal: Path, config: Path):
    app = make_app(journal, preferences=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await home_ready(pilot)
        assert app.theme == "textual-dark"
        app.theme = "textual-light"
        await pilot.pause()
    assert json.loads(config.read_text()) == {"theme": "textual-light"}
    again = make_app(journal, preferences=None)
    async with again.run_test(size=(80, 24)) as pilot:
        await home_ready(pilot)
        assert again.theme == "textual-light" and not again.current_theme.dark


@pytest.mark.parametrize("content", ["{not json", '["textual-light"]', '{"theme": "no-such-theme"}', "\xff\xfe"])
async def test_a_bad_preferences_file_is_ignored(journal: Path, config: Path, content: str):
    config.parent.mkdir(parents=True)
    config.write_bytes(content.encode("latin-1"))
    app = make_app(journal, preferences=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await home_ready(pilot)
        assert app.theme == "textual-dark" and app.workspace_error is None
        assert type(app.screen).__name__ == "HomeScreen"


async def test_a_config_folder_that_cannot_be_written_costs_only_the_preference(journal: Path, tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the config folder would be\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocked))
    app = make_app(journal, preferences=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await home_ready(pilot)
        app.theme = "textual-light"
        await pilot.pause()
        assert app.theme == "textual-light" and type(app.screen).__name__ == "HomeScreen"
        assert any("could not save the preferences" in n.message for n in app._notifications)
    assert blocked.read_text() == "a file where the config folder would be\n"


def test_wcag_contrast_is_computed_as_the_standard_says():
    assert contrast(Color(0, 0, 0), Color(255, 255, 255)) == pytest.approx(21)
    assert contrast(Color.parse("#777777"), Color.parse("#ffffff")) == pytest.approx(4.48, abs=0.01)
    assert contrast(Color.parse("#767676"), Color.parse("#ffffff")) >= 4.5


def colour(style: Style, attr: str) -> Color:
    value = getattr(style, attr)
    assert value is not None and value.triplet is not None, (style, attr)
    return Color(*value.triplet)


def cell_colour(table: DataTable, row: str, column: int) -> Color:
    cell = table.get_row(row)[column]
    return colour(cell.style if isinstance(cell.style, Style) else Style.parse(cell.style), "color")


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_text_reads_at_aa_in_the_light_and_the_dark_theme(journal: Path, theme: str):
    app = make_app(journal)
    app.theme = theme
    ratios: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await home_ready(pilot)
        home = app.screen
        variables = app.get_css_variables()
        ratios["foreground on background"] = contrast(Color.parse(variables["foreground"]),
                                                      Color.parse(variables["background"]))
        summary = home.query_one("#summary").rich_style  # $text-muted, as drawn
        ratios["muted text"] = contrast(colour(summary, "color"), colour(summary, "bgcolor"))
        heading = home.query_one(".section").rich_style
        ratios["section heading"] = contrast(colour(heading, "color"), colour(heading, "bgcolor"))
        banner = home.query_one(ModeBanner)
        for kind in (Mode(), Mode(dry_run=True), Mode(lab=True)):
            banner.mode = kind
            await pilot.pause()
            drawn = banner.rich_style
            ratios[f"{kind.kind} banner"] = contrast(colour(drawn, "color"), colour(drawn, "bgcolor"))
        table = home.query_one("#procedures", DataTable)
        backgrounds = [colour(table.rich_style, "bgcolor"),
                       colour(table.get_component_rich_style("datatable--even-row"), "bgcolor")]
        table.blur()
        await pilot.pause()
        backgrounds.append(colour(table.rich_style, "bgcolor"))
        for name, row, column in (("mutating", "change", 1), ("read-only", "hello", 1),
                                  ("failed outcome", "change", 2), ("succeeded outcome", "hello", 2),
                                  ("never run", "flood", 2)):
            ratios[name] = min(contrast(cell_colour(table, row, column), bg) for bg in backgrounds)
        app.show_runs()
        runs = await screen_is(pilot, "RunsScreen")
        await app.workers.wait_for_complete()
        runs_table = runs.query_one("#runs", DataTable)
        background = colour(runs_table.rich_style, "bgcolor")
        for run in runs.runs:
            ratios[f"{run.outcome} in the runs"] = contrast(cell_colour(runs_table, run.run_id, 3), background)
        assert len(runs.runs) == 2
    low = {name: round(ratio, 2) for name, ratio in ratios.items() if ratio < 4.5}
    assert not low, f"{theme}: below 4.5:1: {low}"


def test_every_theme_gets_readable_markers():
    """Whatever theme is picked from the palette, the markers read at 4.5:1 on its backgrounds."""
    from textual.app import App

    from runbook_tui.tui.colours import BACKGROUNDS, MARKERS, marker_variables

    app = App()
    for name in sorted(app.available_themes):
        app.theme = name
        variables = app.get_css_variables()
        markers = marker_variables(variables)
        assert set(markers) == {f"marker-{m}" for m in MARKERS}, name
        if name.startswith("ansi"):
            continue  # the terminal's own colours: nothing to measure
        for marker, value in markers.items():
            for background in BACKGROUNDS:
                ratio = contrast(Color.parse(value), Color.parse(variables[background]))
                assert ratio >= 4.5, (name, marker, background, round(ratio, 2))
