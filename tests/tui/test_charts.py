"""The character charts, on their plain text: no app needed."""

from __future__ import annotations

from types import SimpleNamespace as Row

from copilot.tui.charts import (
    CHOSEN_MARK,
    UNASSIGNED_GLYPH,
    LegendEntry,
    map_legend,
    scatter_map,
    segment_glyph,
    sweep_chart,
)

ROWS = [Row(k=k, silhouette=s, stability=t) for k, s, t in
        [(5, 0.14, 0.51), (2, 0.23, 1.0), (3, 0.12, 0.55), (4, 0.13, 0.83), (10, 0.05, 0.4)]]


def k_and_marks(text: str) -> tuple[str, str]:
    lines = text.splitlines()
    return lines[-3], lines[-2]


def test_sweep_chart_marks_the_chosen_k_under_its_label():
    for chosen in (2, 3, 4, 5, 10):
        text = sweep_chart(ROWS, chosen, height=8).plain
        k_line, marks = k_and_marks(text)
        assert marks.count(CHOSEN_MARK) == 1
        col = marks.index(CHOSEN_MARK)
        assert k_line[col:col + 2].strip() == str(chosen), (chosen, k_line, marks)


def test_sweep_chart_orders_k_and_scales_bars_to_the_values():
    text = sweep_chart(ROWS, 3, height=10).plain
    k_line, _ = k_and_marks(text)
    assert k_line.split() == ["2", "3", "4", "5", "10"]
    bars = text.splitlines()[:10]
    assert all(len(line) == len(bars[0]) for line in bars)  # a rectangle: columns line up
    # Stability 1.0 at k=2 fills the top row; silhouette 0.23 stays below the middle.
    first = 5  # after the "1.0 ┤" axis
    assert bars[0][first + 2:first + 4] == "██"
    assert bars[4][first:first + 2] == "  " and bars[-1][first:first + 2] == "██"
    assert "silhouette" in text and "stability" in text


def test_sweep_chart_handles_missing_and_negative_values_and_empty_input():
    text = sweep_chart([Row(k=2, silhouette=-0.2, stability=None)], 2, height=4).plain
    bars = text.splitlines()[:4]
    assert all(set(line[5:]) <= {" "} for line in bars)  # nothing drawn, nothing raised
    assert CHOSEN_MARK in text and "k=2" in text
    assert "No sweep yet" in sweep_chart([], None).plain
    assert "not in this sweep" in sweep_chart(ROWS, 7).plain


def test_scatter_map_shows_every_segment_with_its_glyph_in_the_grid():
    x = [0.0, 1.0, 0.0, 1.0, 0.5, 0.51, 0.49]
    y = [0.0, 0.0, 1.0, 1.0, 0.5, 0.5, 0.5]
    labels = [0, 1, 2, 3, 11, 11, -1]
    text = scatter_map(x, y, labels, width=21, height=11).plain
    lines = text.splitlines()
    assert len(lines) == 11 and all(len(line) == 21 for line in lines)
    for label in set(labels) - {-1}:
        assert segment_glyph(label) in text
    # y points up: segment 2 (x=0, y=1) top-left, segment 1 (x=1, y=0) bottom-right.
    assert lines[0][0] == "2" and lines[-1][-1] == "1" and lines[-1][0] == "0"
    # The centre cell holds two points of segment 11 and one unassigned: the majority wins.
    assert lines[5][10] == "b" and UNASSIGNED_GLYPH not in text


def test_scatter_map_breaks_ties_by_the_lower_segment_and_handles_degenerate_input():
    assert scatter_map([1.0, 1.0], [2.0, 2.0], [4, 3], width=5, height=3).plain.strip() == "3"
    assert "No map yet" in scatter_map([], [], [], width=10, height=5).plain
    one = scatter_map([0.3], [0.7], [0], width=3, height=3).plain
    assert one.count("0") == 1


def test_segment_glyphs_and_legend():
    assert [segment_glyph(s) for s in (-1, 0, 9, 10, 35)] == [UNASSIGNED_GLYPH, "0", "9", "a", "z"]
    legend = map_legend([LegendEntry(0, "Power Users", 0.56), LegendEntry(-1, "Unassigned")])
    assert legend.plain.splitlines() == [" 0 Power Users (56%)", f" {UNASSIGNED_GLYPH} Unassigned"]
