"""Themes and anchors in the memo and the plain-text summary: shown from the reports with the
segment names, every number traceable to the analysis JSON, and nothing when absent."""

from __future__ import annotations

import pandas as pd
import pytest

from copilot.llm import display_names as segment_names
from copilot.report.memo import render_memo
from copilot.report.summary import render_summary
from copilot.report.trace import untraceable_numbers
from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
from copilot.segmentation.analysis.themes import segment_themes, theme_lines
from fixtures.feedback import make_feedback


@pytest.fixture(scope="module")
def analysis():
    table = make_feedback(900, 3, seed=8)
    return run_segmentation(table.frame, SegmentSettings(k=3)).analysis


@pytest.fixture(scope="module")
def bare(analysis):
    """The same analysis as one without a text column or an anchor would be."""
    return analysis.model_copy(update={"themes": (), "anchors": None})


def _flat(text: str) -> str:
    """Whitespace collapsed: the summary wraps long sentences over lines."""
    return " ".join(text.split())


def _section(memo: str, start: str, end: str) -> str:
    i = memo.index(start)
    return memo[i:memo.index(end, i + 1)]


def test_the_memo_lists_what_each_segment_says_under_its_name(analysis):
    memo = render_memo(analysis, None, goal=None)
    names = segment_names(analysis, None)
    (report,) = analysis.themes
    segments = _section(memo, "## Segments", "\n### Segment 0")
    assert "**What customers say** in `feedback`" in segments
    assert f"{report.n_texts:,} non-empty texts of {report.n_rows:,}" in segments
    for line in theme_lines(report, names):
        assert f"- {line}" in segments
    for seg in report.segments:
        name = names[seg.segment]
        assert f"- {name}: '{seg.terms[0].term}'" in segments
        card = _section(memo + "\n### ", f"### Segment {seg.segment}:", "\n### ")
        top = seg.terms[0]
        assert (f"'{top.term}' ({100 * top.segment_share:.1f}% of its texts vs "
                f"{100 * top.rest_share:.1f}% of the others')") in card


def test_the_memo_states_each_anchor_test_and_the_levels_segments_over_represent(analysis):
    memo = render_memo(analysis, None, goal=None)
    names = segment_names(analysis, None)
    anchors = _section(memo, "**Firmographic anchors**", "\n### Segment 0")
    report = analysis.anchors
    assert [a.column for a in report.anchors] == ["industry", "company_size", "region"]
    for assoc in report.anchors:
        assert f"- {assoc.summary}" in anchors
    industry = report.anchors[0]
    assert industry.significant  # planted: each segment has a dominant industry
    over = [seg for seg in industry.segments if seg.over_represented]
    assert over
    for seg in over:
        r = next(r for r in seg.levels if r.level == seg.over_represented[0])
        assert (f"**{names[seg.segment]}** (segment {seg.segment}) over-represents "
                f"{r.level}: {100 * r.segment_share:.1f}% of the segment vs "
                f"{100 * r.overall_share:.1f}% overall, {r.lift:.1f}× as common") in anchors
    # The clustering used industry too: the memo says so, since that inflates the association.
    assert "`industry` is also a clustering feature" in anchors


def test_every_number_in_the_memo_traces_to_the_analysis(analysis):
    memo = render_memo(analysis, None, goal=None)
    assert untraceable_numbers(memo, analysis.model_dump(mode="json")) == []


def test_a_made_up_number_in_the_new_sections_is_caught(analysis):
    # The trace is not vacuous here: a share the reports do not hold is flagged.
    memo = render_memo(analysis, None, goal=None).replace(
        "**Firmographic anchors**", "**Firmographic anchors** (73.9% of 1,234 customers)")
    assert {"73.9%", "1,234"} <= set(untraceable_numbers(memo, analysis.model_dump(mode="json")))


def test_the_summary_shows_themes_and_anchors(analysis):
    text = render_summary(analysis)
    flat = _flat(text)
    assert "\nWHAT CUSTOMERS SAY\n" in text and "\nANCHORS" in text
    for line in theme_lines(analysis.themes[0]):
        assert _flat(line) in flat
    for assoc in analysis.anchors.anchors:
        assert _flat(assoc.summary) in flat
    industry = analysis.anchors.anchors[0]
    seg = next(seg for seg in industry.segments if seg.over_represented)
    assert f"Segment {seg.segment}: industry {seg.over_represented[0]} " in flat


def test_nothing_is_shown_without_themes_or_anchors(bare):
    memo = render_memo(bare, None, goal=None)
    assert "What customers say" not in memo and "Firmographic anchors" not in memo
    summary = render_summary(bare)
    assert "WHAT CUSTOMERS SAY" not in summary and "ANCHORS" not in summary


def test_a_skipped_theme_report_says_why_in_both(analysis):
    few = pd.Series(["late again"] * 10 + [None] * 890, name="notes")
    skipped = segment_themes(few, pd.Series(range(900)).mod(3).to_numpy())
    assert skipped.skipped
    shown = analysis.model_copy(update={"themes": (skipped,)})
    memo = render_memo(shown, None, goal=None)
    assert f"**What customers say.** No themes from 'notes': {skipped.reason}" in memo
    assert untraceable_numbers(memo, shown.model_dump(mode="json")) == []
    assert _flat(f"No themes from 'notes': {skipped.reason}") in _flat(render_summary(shown))


def test_the_appendix_records_the_anchor_and_text_settings(analysis):
    memo = render_memo(analysis, None, goal=None)
    assert "| Anchors | suggested by the engine |" in memo
    assert "| Text columns | detected by the engine |" in memo
    named = analysis.model_copy(update={"settings": analysis.settings.model_copy(
        update={"anchors": ("industry",), "text_columns": ()})})
    memo = render_memo(named, None, goal=None)
    assert "| Anchors | `industry` |" in memo and "| Text columns | none |" in memo
