"""Feedback-text themes per segment: planted vocabulary is found, noise is not, empty input is
skipped with a reason, and results are deterministic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from copilot.segmentation.analysis import themes
from copilot.segmentation.analysis.themes import (
    detect_text_columns,
    empty_texts,
    segment_themes,
    theme_lines,
)
from fixtures.feedback import EMPTY_ANSWERS, THEMES, make_feedback, theme_words
from tests.conftest import shared_dataset


@pytest.fixture(scope="module")
def table():
    return make_feedback(2000, 4, seed=11)


@pytest.fixture(scope="module")
def report(table):
    return segment_themes(table.frame["feedback"], table.labels)


def _words(term: str) -> set[str]:
    return set(term.split())


def test_planted_vocabulary_is_recovered_per_segment(table, report):
    assert not report.skipped and report.column == "feedback"
    assert [s.segment for s in report.segments] == list(range(table.n_segments))
    for seg in report.segments:
        own = table.theme_words(seg.segment)
        others = set().union(*(theme_words(t) for t in THEMES if t != table.themes[seg.segment]))
        top = seg.terms[:5]
        assert len(top) == 5, (seg.segment, seg.note)
        for term in top:
            # Every top term is made of the segment's own planted theme, never of another
            # theme or of the filler every segment writes.
            assert _words(term.term) & own, (seg.segment, term.term)
            assert not _words(term.term) <= others - own, (seg.segment, term.term)


def test_term_figures_are_consistent(report):
    n_texts = report.n_texts
    for seg in report.segments:
        for t in seg.terms:
            assert t.segment_share == pytest.approx(t.n_texts / seg.n_texts)
            assert t.segment_share >= themes.MIN_TERM_RATIO * t.rest_share
            assert t.n_texts >= themes.MIN_TERM_TEXTS
            assert t.lift == pytest.approx(t.segment_share / t.overall_share)
            # overall share = (segment mentions + rest mentions) / all non-empty texts
            rest_mentions = t.rest_share * (n_texts - seg.n_texts)
            assert t.overall_share == pytest.approx((t.n_texts + rest_mentions) / n_texts)
        zs = [t.z for t in seg.terms]
        assert zs == sorted(zs, reverse=True)


def test_text_unrelated_to_segments_gives_no_terms(table):
    # The same texts with segment labels drawn at random: nothing distinguishes a segment,
    # and the false-discovery control keeps noise terms out.
    shuffled = np.random.default_rng(5).integers(0, 4, len(table.labels))
    report = segment_themes(table.frame["feedback"], shuffled)
    assert not report.skipped
    for seg in report.segments:
        assert seg.terms == ()
        assert "No term is clearly more common" in seg.note


def test_empty_answers_are_counted_not_themed(table, report):
    fb = table.frame["feedback"]
    placeholders = {str(v).strip().lower() for v in EMPTY_ANSWERS if isinstance(v, str)}
    expected = int(sum(pd.isna(v) or str(v).strip().lower() in placeholders for v in fb))
    assert expected > 0
    assert report.n_empty == expected
    assert report.n_texts + report.n_empty == len(fb)
    assert sum(s.n_empty for s in report.segments) == expected
    assert sum(s.n_texts for s in report.segments) == report.n_texts
    empty = empty_texts(pd.Series([None, "", "  ", "N/A", "-", "...", "none", "ok", "late"]))
    assert empty.tolist() == [True] * 7 + [False, False]


def test_a_rare_word_does_not_win(table):
    # A word only segment 0 uses, but in just three texts: it is in the vocabulary (three
    # texts is the minimum) yet three mentions are no evidence, so it is not listed.
    fb = table.frame["feedback"].copy()
    rows = np.flatnonzero((table.labels == 0) & ~empty_texts(fb))[:3]
    fb.iloc[rows] = fb.iloc[rows] + " zorblax."
    report = segment_themes(fb, table.labels)
    assert report.min_doc_count == 3
    listed = {t.term for s in report.segments for t in s.terms}
    assert not any("zorblax" in term for term in listed)


def test_bigrams_do_not_cross_sentences():
    texts = pd.Series(["Late delivery. Refund needed!"] * 30 + ["Great app, love it"] * 30)
    report = segment_themes(texts, np.array([0] * 30 + [1] * 30))
    terms = {t.term for t in report.segments[0].terms}
    assert {"late delivery", "refund needed"} <= terms
    assert "delivery refund" not in terms
    # "late" and "delivery" are said by "late delivery" in every text: not repeated alone.
    assert not {"late", "delivery"} & terms


def test_results_are_identical_across_runs(table, report):
    again = segment_themes(table.frame["feedback"], table.labels)
    assert again.model_dump() == report.model_dump()


def test_large_corpora_are_fitted_on_a_sample(table, monkeypatch):
    # Fewer fitted texts than texts: the vocabulary and topics come from a seeded sample, the
    # rest is transformed; the planted themes are still found and the result is reproducible.
    monkeypatch.setattr(themes, "FIT_SAMPLE", 600)
    first = segment_themes(table.frame["feedback"], table.labels, seed=3)
    second = segment_themes(table.frame["feedback"], table.labels, seed=3)
    assert first.fitted_on == 600 < first.n_texts
    assert first.model_dump() == second.model_dump()
    for seg in first.segments:
        assert seg.terms and _words(seg.terms[0].term) & table.theme_words(seg.segment)
    # Topic shares cover every non-empty text that uses a vocabulary word, sampled or not.
    assert sum(t.share for t in first.topics) == pytest.approx(1.0, abs=1e-6)


def test_topics_describe_the_corpus(table, report):
    assert themes.MIN_TOPICS <= len(report.topics) <= themes.MAX_TOPICS
    assert sum(t.share for t in report.topics) == pytest.approx(1.0, abs=1e-6)
    for seg in report.segments:
        assert [t.topic for t in seg.topics] == [t.topic for t in report.topics]
    # Most segments' most over-represented topic is about their own planted theme.
    own_topic = 0
    for seg in report.segments:
        best = max(seg.topics, key=lambda t: t.lift or 0.0)
        words = set(report.topics[best.topic].words)
        own_topic += bool(words & table.theme_words(seg.segment))
    assert own_topic >= len(report.segments) - 1
    fixed = segment_themes(table.frame["feedback"], table.labels, n_topics=3)
    assert len(fixed.topics) == 3


@pytest.mark.parametrize(
    ("texts", "labels", "needle"),
    [
        (pd.Series([None] * 50), np.zeros(50, int), "non-empty"),
        (pd.Series(["late delivery again"] * 20 + [""] * 30), np.arange(50) % 2, "non-empty"),
        (pd.Series(["the and of it"] * 40), np.arange(40) % 2, "recurring terms"),
        (pd.Series(["late delivery again"] * 40), np.zeros(40, int), "only one segment"),
    ],
)
def test_too_little_text_is_skipped_with_a_reason(texts, labels, needle):
    report = segment_themes(texts.rename("comment"), labels)
    assert report.skipped and needle in report.reason
    assert report.reason.endswith(".")
    assert report.segments == () and report.topics == ()
    (line,) = theme_lines(report)
    assert line.startswith("No themes from 'comment':") and needle in line


def test_a_tiny_segment_gets_a_note_instead_of_terms(table):
    labels = table.labels.copy()
    filled = np.flatnonzero(~empty_texts(table.frame["feedback"]))
    labels[filled[:3]] = 9  # a segment with three texts
    report = segment_themes(table.frame["feedback"], labels)
    tiny = next(s for s in report.segments if s.segment == 9)
    assert tiny.terms == () and "fewer than 5" in tiny.note


def test_unassigned_rows_are_reported_last(table):
    labels = table.labels.copy()
    labels[::10] = -1
    report = segment_themes(table.frame["feedback"], labels)
    assert [s.segment for s in report.segments] == [0, 1, 2, 3, -1]
    assert theme_lines(report)[-1].startswith("Unassigned: ")


def test_theme_lines_use_names_and_quote_terms(report):
    lines = theme_lines(report, {1: "Frustrated shippers"}, max_terms=3)
    assert len(lines) == len(report.segments)
    expected = ", ".join(f"'{t.term}'" for t in report.segments[1].terms[:3])
    assert lines[1] == f"Frustrated shippers: {expected}"
    assert lines[0].startswith("Segment 0: '")


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="one integer per row"):
        segment_themes(pd.Series(["a b c"] * 40), np.zeros(39, int))
    with pytest.raises(ValueError, match="max_terms"):
        segment_themes(pd.Series(["a b c"] * 40), np.zeros(40, int), max_terms=0)


def test_detect_text_columns_finds_free_text_only(table):
    df = table.frame.copy()
    n = len(df)
    df["contact_email"] = [f"user{i}@example.com" for i in range(n)]
    df["street_address"] = [f"{i} Main St 4{i % 90:02d}" for i in range(n)]
    df["full_name"] = [f"Ann Lee{i}" for i in range(n)]
    assert detect_text_columns(df) == ("feedback",)
    sparse = pd.DataFrame({"note": ["too few texts to mine here"] * 10 + [None] * 90,
                           "x": range(100)})
    assert detect_text_columns(sparse) == ()


# --------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_online_retail_postage_sets_foreign_customers_apart():
    # Per customer, the product descriptions they bought, as one text. In this dataset
    # customers outside the UK pay postage as an invoice line ("POSTAGE": about 73% of them
    # vs 2% of UK customers), so it must be a distinguishing term of the non-UK group only.
    path = shared_dataset("online_retail", "online_retail.csv.gz")
    raw = pd.read_csv(path, encoding="latin-1", usecols=["CustomerID", "Description", "Country"])
    raw = raw.dropna(subset=["CustomerID"])
    per = raw.groupby("CustomerID").agg(
        items=("Description", lambda s: ". ".join(s.dropna().astype(str).unique())),
        Country=("Country", "first"),
    )
    assert detect_text_columns(per.reset_index()) == ("items",)
    labels = (per["Country"] != "United Kingdom").astype(int).to_numpy()
    report = segment_themes(per["items"], labels)
    uk, foreign = report.segments
    foreign_terms = [t.term for t in foreign.terms]
    assert "postage" in foreign_terms[:3]
    assert "postage" not in {t.term for t in uk.terms}
    postage = next(t for t in foreign.terms if t.term == "postage")
    assert postage.segment_share > 0.6 and postage.rest_share < 0.05
    assert len(report.topics) == themes.MAX_TOPICS  # 4,372 texts: the cap applies
