"""Charts drawn with characters: the k-sweep bars and the 2D segment map.

Pure functions from engine results to ``rich.text.Text`` (no app, no widget), so they are tested
on their plain text. The widgets in ``panels.py`` only choose the size and show the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from rich.text import Text

from copilot.core import percent

# Eighths of a cell, from empty to full: bars grow in steps of 1/8 of a row.
_EIGHTHS = " ▁▂▃▄▅▆▇█"
SILHOUETTE_STYLE = "bold dodger_blue2"
STABILITY_STYLE = "bold green3"
CHOSEN_MARK = "▲"
UNASSIGNED_GLYPH = "·"
# One colour per segment, cycled; segment -1 (unassigned) is drawn dim.
PALETTE = ("dodger_blue2", "orange1", "green3", "red1", "medium_purple1", "gold1", "deep_pink2",
           "turquoise2", "chartreuse3", "salmon1")
_AXIS = 5  # "1.0 ┤"
_GROUP = 6  # per k: a 2-cell silhouette bar, a 2-cell stability bar, 2 cells of gap


class SweepPoint(Protocol):
    """What the chart reads of a ``SweepRow``."""

    k: int
    silhouette: float | None
    stability: float | None


def _bar_cell(value: float | None, row: int, height: int) -> str:
    """The glyph of a bar of ``value`` (0-1) in ``row`` (0 is the top) of a ``height``-row chart."""
    if value is None:
        return " "
    level = max(0.0, min(1.0, value)) * height - (height - 1 - row)
    return _EIGHTHS[round(max(0.0, min(1.0, level)) * 8)]


def sweep_chart(rows: Iterable[SweepPoint], chosen_k: int | None, *, height: int = 10) -> Text:
    """Silhouette and stability by k as vertical bars (both on a 0-1 scale), chosen k marked.

    Each k has a group of columns: the silhouette bar (blue), the stability bar (green), a gap.
    Under the bars: the k values, then ``▲`` under the chosen k. A negative silhouette is drawn
    as an empty bar (the table beside the chart has the figure); a missing metric is blank.

    >>> from types import SimpleNamespace as Row
    >>> text = sweep_chart([Row(k=2, silhouette=0.5, stability=1.0)], 2, height=2).plain
    >>> CHOSEN_MARK in text
    True
    """
    points = sorted(rows, key=lambda r: r.k)
    if not points:
        return Text("No sweep yet: load a table and run /sweep.", style="dim")
    height = max(2, height)
    out = Text(no_wrap=True, overflow="crop")
    for row in range(height):
        if row == 0:
            axis = "1.0 ┤"
        elif row == height - 1:
            axis = "0.0 ┤"
        elif row == height // 2 and height >= 4:
            axis = "0.5 ┤" if height % 2 == 0 else "    │"
        else:
            axis = "    │"
        out.append(axis, style="dim")
        for p in points:
            out.append(_bar_cell(p.silhouette, row, height) * 2, style=SILHOUETTE_STYLE)
            out.append(_bar_cell(p.stability, row, height) * 2, style=STABILITY_STYLE)
            out.append("  ")
        out.append("\n")
    out.append("    └" + "─" * (_GROUP * len(points)) + "\n", style="dim")
    labels = " " * _AXIS
    marks = " " * _AXIS
    for p in points:
        label = f"k={p.k}" if len(points) <= 1 else str(p.k)
        labels += label.center(4)[:4].ljust(_GROUP)
        marks += (CHOSEN_MARK if p.k == chosen_k else " ").center(4).ljust(_GROUP)
    out.append(labels.rstrip() + "\n")
    out.append(marks.rstrip(), style="bold yellow")
    if chosen_k is not None and all(p.k != chosen_k for p in points):
        out.append(f"(the chosen k={chosen_k} is not in this sweep)", style="dim")
    out.append("\n")
    out.append("██", style=SILHOUETTE_STYLE)
    out.append(" silhouette   ")
    out.append("██", style=STABILITY_STYLE)
    out.append(" stability   ")
    out.append(CHOSEN_MARK, style="bold yellow")
    out.append(" chosen k")
    return out


def segment_glyph(segment: int) -> str:
    """The character of a segment on the map: its number (0-9), then letters; ``·`` unassigned."""
    if segment < 0:
        return UNASSIGNED_GLYPH
    if segment < 10:
        return str(segment)
    return chr(ord("a") + (segment - 10) % 26)


def segment_style(segment: int) -> str:
    return "dim" if segment < 0 else f"bold {PALETTE[segment % len(PALETTE)]}"


def scatter_map(x: Sequence[float], y: Sequence[float], labels: Sequence[int], *,
                width: int, height: int) -> Text:
    """The 2D projection as a ``width`` x ``height`` grid of segment glyphs.

    A cell with points shows the glyph of the segment with most points in it (ties: the lower
    number), so small segments stay visible where they are dense and the picture does not depend
    on the order of the points. The y axis points up.
    """
    n = min(len(x), len(y), len(labels))
    if n == 0 or width < 1 or height < 1:
        return Text("No map yet: it appears once the segments exist.", style="dim")
    xs, ys = list(x[:n]), list(y[:n])
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (width - 1) / (x1 - x0) if x1 > x0 else 0.0
    sy = (height - 1) / (y1 - y0) if y1 > y0 else 0.0
    counts: dict[tuple[int, int], dict[int, int]] = {}
    for px, py, label in zip(xs, ys, labels[:n], strict=True):
        col = round((px - x0) * sx) if sx else width // 2
        row = height - 1 - (round((py - y0) * sy) if sy else height // 2)
        cell = counts.setdefault((row, col), {})
        cell[int(label)] = cell.get(int(label), 0) + 1
    out = Text(no_wrap=True, overflow="crop")
    for row in range(height):
        for col in range(width):
            cell = counts.get((row, col))
            if not cell:
                out.append(" ")
                continue
            label = min(cell, key=lambda s: (-cell[s], s))
            out.append(segment_glyph(label), style=segment_style(label))
        if row < height - 1:
            out.append("\n")
    return out


@dataclass(frozen=True)
class LegendEntry:
    segment: int
    name: str
    share: float | None = None


def map_legend(entries: Iterable[LegendEntry]) -> Text:
    """One line per segment: its glyph in its colour, its name and share."""
    out = Text()
    for i, e in enumerate(entries):
        if i:
            out.append("\n")
        out.append(f" {segment_glyph(e.segment)} ", style=segment_style(e.segment))
        out.append(e.name)
        if e.share is not None:
            out.append(f" ({percent(e.share)})", style="dim")
    return out
