"""run_segmentation with free-text themes and firmographic anchors: planted themes and planted
industries are recovered per segment, the settings switch them on and off, bad column names are
one sentence before any work, and analyses saved before these fields existed still load."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from copilot.core.errors import ColumnError
from copilot.segmentation.analysis.pipeline import (
    SegmentAnalysis,
    SegmentSettings,
    check_settings,
    run_segmentation,
)
from fixtures.customers import make_customers
from fixtures.feedback import THEMES, make_feedback
from tests.conftest import REPO

#: A found segment is matched to the planted one most of its rows come from; the fixture's
#: segments are well separated, so a match should hold most of the found segment's rows.
MIN_PURITY = 0.8


@pytest.fixture(scope="module")
def table():
    return make_feedback(1000, 3, seed=21)


@pytest.fixture(scope="module")
def run(table):
    stages: list[str] = []
    result = run_segmentation(table.frame, progress=lambda stage, f, msg: stages.append(stage))
    return result, stages


def _planted_match(table, labels: np.ndarray) -> dict[int, int]:
    """Found segment -> the planted segment most of its rows come from (checked to be pure)."""
    out = {}
    for s in np.unique(labels[labels >= 0]):
        planted = table.labels[labels == s]
        best = int(np.bincount(planted).argmax())
        assert np.mean(planted == best) >= MIN_PURITY, (s, np.bincount(planted))
        out[int(s)] = best
    return out


def test_themes_recover_each_segments_planted_vocabulary(table, run):
    result, stages = run
    (report,) = result.analysis.themes
    assert report.column == "feedback" and not report.skipped
    match = _planted_match(table, result.labels)
    for seg in report.segments:
        theme = table.themes[match[seg.segment]]
        # Every word of the phrases planted for this segment ("took" and "weeks" included:
        # "onboarding took weeks" gives the bigram "took weeks").
        planted = {w for phrase in THEMES[theme] for w in re.findall(r"[a-z]+", phrase)}
        assert len(seg.terms) >= 3, (seg.segment, seg.note)
        for term in seg.terms[:3]:
            assert set(term.term.split()) <= planted, (theme, term.term)
    assert "themes" in stages and "anchors" in stages
    assert {"themes", "anchors"} <= set(result.analysis.seconds)


def test_anchors_report_the_planted_industry_of_each_segment(table, run):
    result, _ = run
    report = result.analysis.anchors
    # Nothing named them: the suggested anchors are compared.
    assert [a.column for a in report.anchors] == ["industry", "company_size", "region"]
    industry, _, region = report.anchors
    assert industry.significant and industry.magnitude in ("medium", "large")
    match = _planted_match(table, result.labels)
    for seg in industry.segments:
        top = max(seg.levels, key=lambda r: r.segment_share)
        assert top.level == table.dominant_industry[match[seg.segment]]
    # Region is drawn independently of the segments: a negligible association at most.
    assert region.cramers_v < 0.1 < industry.cramers_v


def test_settings_name_or_switch_off_anchors_and_text(table):
    frame = table.frame
    named = run_segmentation(frame, SegmentSettings(k=3, anchors=("region",),
                                                    text_columns=("feedback",))).analysis
    assert [a.column for a in named.anchors.anchors] == ["region"]
    assert [t.column for t in named.themes] == ["feedback"]
    off = run_segmentation(frame, SegmentSettings(k=3, anchors=(), text_columns=())).analysis
    assert off.anchors is None and off.themes == ()


def test_a_table_without_free_text_gets_no_themes():
    frame = make_customers(300, 3, seed=2).frame
    analysis = run_segmentation(frame, SegmentSettings(k=3)).analysis
    assert analysis.themes == ()
    # make_customers has a region column: suggested and reported, independent of the segments.
    assert [a.column for a in analysis.anchors.anchors] == ["region"]


def test_json_round_trip_keeps_themes_and_anchors(run):
    analysis = run[0].analysis
    again = SegmentAnalysis.model_validate_json(analysis.model_dump_json())
    assert again == analysis
    assert again.themes[0].segments[0].terms == analysis.themes[0].segments[0].terms


def _old_json(analysis: SegmentAnalysis) -> dict:
    """The analysis as an engine without themes and anchors wrote it."""
    data = json.loads(analysis.model_dump_json())
    for key in ("themes", "anchors"):
        data.pop(key)
    for key in ("anchors", "text_columns"):
        data["settings"].pop(key)
    return data


def test_an_analysis_saved_before_themes_and_anchors_still_loads(run):
    old = SegmentAnalysis.model_validate(_old_json(run[0].analysis))
    assert old.themes == () and old.anchors is None
    assert old.settings.anchors is None and old.settings.text_columns is None
    assert old.profiles == run[0].analysis.profiles


def test_loading_works_whichever_engine_module_is_imported_first(run, tmp_path):
    # anchors imports pipeline; pipeline's analysis model names anchors' report type. Both
    # import orders must give a model that validates a saved analysis with an anchor report.
    path = tmp_path / "analysis.json"
    path.write_text(run[0].analysis.model_dump_json())
    for first in ("copilot.segmentation.analysis.anchors", "copilot.segmentation.analysis.pipeline"):
        code = (f"import {first}, pathlib\n"
                "from copilot.segmentation.analysis.pipeline import SegmentAnalysis\n"
                f"a = SegmentAnalysis.model_validate_json(pathlib.Path({str(path)!r}).read_text())\n"
                "print(type(a.anchors).__name__, a.anchors.anchors[0].column)\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=REPO, check=True)
        assert out.stdout.split() == ["AnchorReport", "industry"], (first, out.stderr)


def _one_sentence(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert text.endswith(".") and "\n" not in text, text
    return text


def test_named_columns_that_cannot_be_used_are_refused_before_any_work(table):
    frame = table.frame
    with pytest.raises(ColumnError) as err:
        check_settings(frame, SegmentSettings(anchors=("Industry",)))
    assert "'Industry' is not in the table" in _one_sentence(err)
    with pytest.raises(ColumnError) as err:
        check_settings(frame, SegmentSettings(anchors=("customer_id",)))
    assert "at most" in _one_sentence(err)  # an ID has far too many levels to compare
    with pytest.raises(ColumnError) as err:
        check_settings(frame, SegmentSettings(text_columns=("comments",)))
    assert "'comments' is not in the table" in _one_sentence(err)
    with pytest.raises(ColumnError):
        run_segmentation(frame, SegmentSettings(anchors=("sector",)))
