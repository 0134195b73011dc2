"""Colours that carry meaning (mutating, read-only, a run's outcome), readable in every theme.

Rich's named colours ("yellow", "green") are the terminal palette's, whatever the theme: yellow
on a light theme's grey reads at 2:1. Instead each marker is a CSS variable of the app
(``$marker-mutating`` ...), taken from the theme's own text colours and pushed towards black or
white until it reads at WCAG AA (4.5:1) on the theme's background, surface and panel.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from rich.text import Text
from textual.color import BLACK, WHITE, Color

AA = 4.5  # WCAG 2 AA, normal text

# marker -> the theme variable it starts from
MARKERS = {
    "mutating": "text-warning",
    "read-only": "text-success",
    "good": "text-success",
    "bad": "text-error",
    "caution": "text-warning",
    "odd": "text-secondary",
    "muted": "foreground-muted",
    "accent": "text-accent",  # section headings
}
# a run's outcome -> its marker
OUTCOMES = {"succeeded": "good", "failed": "bad", "aborted": "bad", "refused": "caution", "interrupted": "odd"}
# What a marker is drawn on: screens, tables (and their lighter even rows), panels.
BACKGROUNDS = ("background", "surface", "surface-lighten-1", "panel")


def luminance(colour: Color) -> float:
    """WCAG 2 relative luminance of an opaque colour."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.r) + 0.7152 * channel(colour.g) + 0.0722 * channel(colour.b)


def contrast(a: Color, b: Color) -> float:
    """WCAG 2 contrast ratio, 1 to 21."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def readable(colour: Color, backgrounds: list[Color], ratio: float = AA) -> Color:
    """COLOUR, or the least change of it towards black (light backgrounds) or white (dark ones)
    that reads at RATIO on every one of BACKGROUNDS."""
    towards = BLACK if sum(luminance(b) for b in backgrounds) / len(backgrounds) > 0.18 else WHITE
    for step in range(21):
        candidate = colour.blend(towards, step / 20)
        if all(contrast(candidate, b) >= ratio for b in backgrounds):
            return candidate
    return towards


def marker_variables(variables: Mapping[str, str]) -> dict[str, str]:
    """``marker-<word>`` for each of MARKERS, from the theme's VARIABLES."""
    backgrounds = [c for c in (_colour(variables.get(name)) for name in BACKGROUNDS) if c is not None]
    if not backgrounds:  # an ANSI theme: the terminal's own colours, which we cannot measure
        return {f"marker-{word}": variables.get(source) or variables.get("foreground") or "ansi_default"
                for word, source in MARKERS.items()}
    surface, foreground = _colour(variables.get("surface")), _colour(variables.get("foreground"))
    if surface is not None and foreground is not None:
        backgrounds.append(surface.blend(foreground, 0.05))  # a focused table's tint
    result = {}
    for word, source in MARKERS.items():
        start = _colour(variables.get(source), backgrounds[0]) or foreground or Color(128, 128, 128)
        result[f"marker-{word}"] = readable(start, backgrounds).hex
    return result


def _colour(value: str | None, under: Color | None = None) -> Color | None:
    """An opaque colour (a translucent one as drawn over UNDER), or None for what has no fixed
    one ("auto 87%", "ansi_default")."""
    try:
        colour = Color.parse(value) if value else None
    except Exception:
        return None
    if colour is None or colour.ansi is not None:
        return None
    if colour.a < 1:
        return under + colour if under is not None else None
    return colour


def marked(variables: Mapping[str, str], marker: str, text: str) -> Text:
    """TEXT in MARKER's colour (an outcome's name stands for its marker), for a table cell:
    shown as is, never read as markup."""
    colour = variables.get(f"marker-{OUTCOMES.get(marker, marker)}")
    return Text(text, style=Style(color=colour) if colour else Style())
