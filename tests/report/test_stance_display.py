"""Each segment's stance ("high value, at risk") where a product manager reads segments: the
plain-text summary, the writing summary and the memo; and the memo's labels of who wrote the
name and who wrote the narrative, the portfolio note and the campaign cap.

Analyses come from the synthetic generator; writings are deterministic drafts (no model), with
authors and strategy fields set by hand where a case needs them. Every memo is held to the
number trace.
"""

from __future__ import annotations

import re

import pytest

from copilot.core import count, percent
from copilot.llm.client import Authorship, LLMClient
from copilot.llm.writing import write_all
from copilot.report.memo import render_memo
from copilot.report.summary import render_summary
from copilot.report.trace import untraceable_numbers
from copilot.report.writing import render_writing
from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
from copilot.segmentation.analysis.stance import segment_stances
from fixtures.customers import make_customers

GOAL = "Reduce churn"
VALUE_COLUMNS = ["monthly_spend", "avg_order_value"]  # what value falls back on without outcomes
LLM = Authorship(writer="fake/scripted", provider="fake", model="scripted",
                 prompt_id="name_segment", prompt_version=3, attempts=1, status="first try")
USER = Authorship(writer="user", provider=None, model=None, prompt_id="rename",
                  prompt_version=0, attempts=0, status="first try")


@pytest.fixture(scope="module")
def analysis():
    """Three planted segments whose stances differ: loyal, high value at risk, low value leaving."""
    frame = make_customers(600, 3, seed=4).frame
    return run_segmentation(frame, SegmentSettings(id_column="customer_id", seed=0)).analysis


@pytest.fixture(scope="module")
def bare():
    """The same table with nothing to measure value or risk on: no stance at all."""
    frame = make_customers(600, 3, seed=4).frame
    frame = frame.drop(columns=["churned", "revenue_12m", *VALUE_COLUMNS])
    return run_segmentation(frame, SegmentSettings(id_column="customer_id", k=3, seed=0)).analysis


@pytest.fixture(scope="module")
def drafts(analysis):
    return write_all(analysis, LLMClient(None, provider="none", model=None), goal=GOAL)


def _labels(analysis) -> dict[int, str]:
    return {s.segment: s.label for s in segment_stances(analysis).segments if s.label}


def _card(memo: str, segment: int) -> str:
    start = memo.index(f"### Segment {segment}:")
    end = memo.find("\n### ", start + 1)
    return memo[start:end if end > 0 else None]


def _traced(memo: str, analysis, writing=None) -> list[str]:
    sources = [analysis.model_dump(mode="json")]
    sources += [writing.model_dump(mode="json")] if writing is not None else []
    return untraceable_numbers(memo, *sources)


def test_the_planted_table_has_stances_worth_showing(analysis):
    labels = set(_labels(analysis).values())
    assert len(labels) == len(analysis.profiles)  # one per segment, all different
    assert labels - {"typical value and risk"}, labels


# --- the plain-text summary -----------------------------------------------------------------------

def test_the_summary_gives_each_segment_its_stance_on_its_title_line(analysis):
    text = render_summary(analysis)
    segments = text[text.index("\nSEGMENTS\n"):text.index("\nOUTCOMES\n")]
    for p in analysis.profiles:
        label = _labels(analysis)[p.segment]
        title = next(line for line in segments.splitlines()
                     if line.startswith(f"  Segment {p.segment}: "))
        assert title.endswith(f" customers, {label}") or title.endswith(f"), {label}"), title
        assert f"{p.size:,} customers" in title


def test_the_summary_says_once_what_the_stance_is_measured_on(analysis):
    text = render_summary(analysis)
    header = text.index("\nSEGMENTS\n")
    flat = " ".join(text[header:].split())
    assert flat.startswith("SEGMENTS Stance: value is the mean revenue_12m and risk is the "
                           "churned rate, against the average customer.")
    assert text.count("Stance:") == 1


def test_a_table_without_value_or_risk_shows_no_stance(bare):
    assert all(s.label is None for s in segment_stances(bare).segments)
    text = render_summary(bare)
    assert "Stance" not in text
    for p in bare.profiles:
        assert re.search(rf"^  Segment {p.segment}: [\d,]+ customers \([\d.]+%\)$", text,
                         re.MULTILINE)


def test_the_writing_summary_lists_each_name_with_its_stance(analysis, drafts):
    text = render_writing(drafts, analysis)
    for n in drafts.narratives:
        assert re.search(rf"^  {n.segment}\. {re.escape(n.name)} \(\d+%, "
                         rf"{re.escape(_labels(analysis)[n.segment])}\) ", text, re.MULTILINE)


# --- the memo: stance in the overview and on each card --------------------------------------------

def test_the_memo_overview_has_a_stance_column(analysis, drafts):
    memo = render_memo(analysis, drafts, goal=GOAL)
    section = memo[memo.index("## Segments"):memo.index("## Strategy")]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert header[:5] == ["Segment", "Name", "Customers", "Share", "Stance"]
    for p in analysis.profiles:
        row = next(r for r in rows if r.startswith(f"| {p.segment} | "))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2:5] == [count(p.size), percent(p.share, 1), _labels(analysis)[p.segment]]
    assert _traced(memo, analysis, drafts) == []


def test_each_memo_card_shows_its_stance_and_the_basis_is_said_once(analysis, drafts):
    memo = render_memo(analysis, drafts, goal=GOAL)
    for p in analysis.profiles:
        assert f"\n**Stance:** {_labels(analysis)[p.segment]}\n" in _card(memo, p.segment)
    basis = segment_stances(analysis).basis_sentence()
    assert memo.count(basis) == 1
    assert memo.index(basis) < memo.index("| Segment | Name |")  # before the overview
    # Without a writing pass (names are drafts), the stance is still there.
    bare_memo = render_memo(analysis, None, goal=None)
    assert "**Stance:** " in _card(bare_memo, 0) and "| Stance |" in bare_memo
    assert _traced(bare_memo, analysis) == []


def test_a_memo_without_any_stance_has_no_stance_column_or_line(bare):
    memo = render_memo(bare, None, goal=None)
    assert "Stance" not in memo


def test_unassigned_customers_get_a_stance_cell_without_a_made_up_one():
    frame = make_customers(500, 3, seed=4).frame
    analysis = run_segmentation(frame, SegmentSettings(id_column="customer_id",
                                                       algorithm="hdbscan")).analysis
    assert any(p.segment < 0 for p in analysis.profiles)
    memo = render_memo(analysis, None, goal=None)
    row = next(line for line in memo.splitlines() if line.startswith("| unassigned |"))
    stance = segment_stances(analysis).of(-1)
    cell = [c.strip() for c in row.strip("|").split("|")][4]
    assert cell == (stance.label if stance and stance.label else "n/a")
    assert _traced(memo, analysis) == []


# --- the memo: who wrote the name, who wrote the narrative ----------------------------------------

def _with_authors(drafts, segment: int, name_author, narrative_author, **extra):
    narratives = tuple(
        n.model_copy(update={"author": name_author, "narrative_author": narrative_author, **extra})
        if n.segment == segment else n for n in drafts.narratives)
    return drafts.model_copy(update={"narratives": narratives})


def test_a_card_names_both_writers_when_name_and_narrative_differ(analysis, drafts):
    draft = drafts.narratives[0].narrative_author
    assert draft is not None and draft.status == "fallback"
    writing = _with_authors(drafts, 0, LLM, draft)
    memo = render_memo(analysis, writing, goal=GOAL)
    assert ("_Name: written by fake/scripted, first try; narrative: deterministic draft written "
            "from templates, not by the LLM._") in _card(memo, 0)
    assert "| Name, segment 0 | fake/scripted, first try |" in memo
    assert "| Narrative, segment 0 | deterministic draft |" in memo
    assert _traced(memo, analysis, writing) == []


def test_one_writer_for_both_keeps_the_single_label_but_lists_both_pieces(analysis, drafts):
    story = LLM.model_copy(update={"prompt_id": "narrate_segment", "prompt_version": 1})
    writing = _with_authors(drafts, 0, LLM, story)
    memo = render_memo(analysis, writing, goal=GOAL)
    assert "_Name and narrative written by fake/scripted, first try._" in _card(memo, 0)
    assert "| Narrative, segment 0 | fake/scripted, first try | `narrate_segment` version 1 |" \
        in memo


def test_the_writing_summary_labels_a_narrative_written_by_someone_else(analysis, drafts):
    draft = drafts.narratives[0].narrative_author
    text = render_writing(_with_authors(drafts, 0, LLM, draft), analysis)
    block = text[text.index("  0. "):text.index("  1. ")]
    assert block.splitlines()[0].endswith(" [fake/scripted]")
    assert " ".join(block.split()).endswith("[deterministic draft]")
    # One author for both: no second label.
    same = render_writing(_with_authors(drafts, 0, LLM, LLM), analysis)
    assert "[deterministic draft]" not in same[same.index("  0. "):same.index("  1. ")]


def test_a_session_saved_before_the_split_keeps_one_piece_per_segment(analysis, drafts):
    writing = _with_authors(drafts, 0, LLM, None)
    memo = render_memo(analysis, writing, goal=GOAL)
    assert "_Name and narrative written by fake/scripted, first try._" in _card(memo, 0)
    assert "| Name and narrative, segment 0 | fake/scripted, first try |" in memo
    assert "| Narrative, segment 0 |" not in memo and "| Name, segment 1 |" in memo


def test_a_rename_of_such_a_session_does_not_credit_the_user_with_the_narrative(analysis, drafts):
    writing = _with_authors(drafts, 0, USER, None, name="Loyal Power Users")
    card = _card(render_memo(analysis, writing, goal=GOAL), 0)
    assert "_Named by the user._" in card and "narrative:" not in card


# --- the memo: the strategy's portfolio note and campaign cap -------------------------------------

def _strategy(drafts, **update):
    return drafts.model_copy(update={"strategy": drafts.strategy.model_copy(update=update)})


def test_the_portfolio_note_is_printed_after_the_ranking(analysis, drafts):
    name = drafts.narratives[0].name
    note = (f"{name} holds more than one of the top ranks: its next initiative scores "
            f"{drafts.strategy.opportunities[1].score}, at least twice the best of any segment "
            "not yet listed.")
    writing = _strategy(drafts, portfolio_note=note)
    memo = render_memo(analysis, writing, goal=GOAL)
    strategy = memo[memo.index("### Opportunity ranking"):]
    assert note in strategy and strategy.index(note) < strategy.index("### Plan for")
    assert _traced(memo, analysis, writing) == []
    assert "holds more than one of the top ranks" not in render_memo(
        analysis, _strategy(drafts, portfolio_note=None), goal=GOAL)


@pytest.mark.parametrize(("cap", "n_plans", "sentence"), [
    (2, 2, "The goal allows at most 2 campaigns, so 2 plans are drafted."),
    (1, 1, "The goal allows at most 1 campaign, so 1 plan is drafted."),
    (3, 3, "The goal allows at most 3 campaigns, so 3 plans are drafted."),
    (2, 1, "The goal allows at most 2 campaigns; one plan is drafted."),
    (5, 3, None),  # the cap did not limit anything: three plans is the default
    (None, 3, None),
])
def test_the_campaign_cap_is_stated_when_it_set_the_number_of_plans(analysis, drafts, cap,
                                                                     n_plans, sentence):
    assert len(drafts.strategy.plans) >= n_plans
    writing = _strategy(drafts, campaign_cap=cap, plans=drafts.strategy.plans[:n_plans])
    memo = render_memo(analysis, writing, goal=GOAL)
    if sentence is None:
        assert "The goal allows at most" not in memo
    else:
        assert sentence in memo
        assert memo.index(sentence) < memo.index("### Plan for")
    assert _traced(memo, analysis, writing) == []
