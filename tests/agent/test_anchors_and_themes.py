"""The chat's anchors and free text: choose the anchors and text columns (the segments and their
names stay), ask what customers say or how an anchor spreads, and segment within an anchor,
all without a model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from copilot.agent.agent import Agent
from copilot.agent.router import route_pattern
from copilot.agent.session import Session
from copilot.llm.providers import LLMSettings
from copilot.segmentation.analysis.pipeline import SegmentSettings
from fixtures.feedback import make_feedback

SETTINGS = SegmentSettings(id_column="customer_id", k=3, algorithm="kmeans", seed=0)
NO_LLM = LLMSettings(provider="none")


@pytest.fixture(scope="module")
def feedback():
    return make_feedback(600, 3, seed=5)


@pytest.fixture(scope="module")
def feedback_csv(feedback, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "accounts.csv"
    feedback.frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def analysed(feedback_csv, tmp_path_factory) -> Path:
    """A session folder with segments, drafted names and a strategy (made once)."""
    session = Session(tmp_path_factory.mktemp("session") / "work", settings=SETTINGS, llm=NO_LLM)
    assert session.load(feedback_csv) is not None
    Agent(session).handle("Reduce churn among small accounts")
    assert session.analysis is not None and session.writing is not None
    return session.session_dir


@pytest.fixture
def agent(analysed, tmp_path) -> Agent:
    """The analysed session, resumed from a copy of its folder: each test may change it."""
    folder = tmp_path / "work"
    shutil.copytree(analysed, folder)
    return Agent(Session.resume(folder, llm=NO_LLM))


@pytest.mark.parametrize(("message", "tool", "args"), [
    ("segment within industry", "segment_within_anchor", {"column": "industry"}),
    ("Cluster each company size separately", "segment_within_anchor",
     {"column": "company_size"}),
    ("please split them per region.", "segment_within_anchor", {"column": "region"}),
    ("use company size as an anchor", "set_roles", {"anchors": ["company_size"]}),
    ("compare the segments by industry and region", "set_roles",
     {"anchors": ["industry", "region"]}),
    ("find the themes in feedback", "set_roles", {"text_columns": ["feedback"]}),
    ("the feedback column is free text", "set_roles", {"text_columns": ["feedback"]}),
    ("/anchor industry", "set_roles", {"anchors": ["industry"]}),
    ("/anchor none", "set_roles", {"anchors": []}),
    ("/text none", "set_roles", {"text_columns": []}),
    ("/within region", "segment_within_anchor", {"column": "region"}),
])
def test_anchor_and_text_phrasings_route_without_a_model(agent, message, tool, args):
    routed = route_pattern(message, agent.session)
    assert routed is not None and (routed.tool, routed.args) == (tool, args)


@pytest.mark.parametrize("message", ["segment within planets", "use the moon as an anchor",
                                     "find the themes in the sky"])
def test_a_column_the_table_lacks_is_not_taken_for_one(agent, message):
    assert route_pattern(message, agent.session) is None


def test_choosing_anchors_keeps_the_segments_and_their_names(agent):
    s = agent.session
    labels = s.labels().copy()
    names = s.segment_names()
    writing = s.writing
    reply = agent.handle("/anchor region")
    assert "region" in reply and s.writing is writing and s.segment_names() == names
    np.testing.assert_array_equal(s.labels(), labels)
    assert [x.column for x in s.analysis.anchors.anchors] == ["region"]
    assert s.settings.anchors == ("region",) and s.settings.k == 3
    saved = json.loads((s.session_dir / "analysis.json").read_text())
    assert [x["column"] for x in saved["anchors"]["anchors"]] == ["region"]
    # The chat app's memo and CRM file see the new report and the same customers.
    assert agent.handle("/anchor none").startswith("The same segments")
    assert s.analysis.anchors is None and s.segment_names() == names


def test_questions_about_what_customers_say_are_answered_from_the_themes(agent):
    s = agent.session
    reply = agent.handle("What do customers say in their feedback?")
    assert "feedback" in reply
    names = s.segment_names()
    assert all(f"{n}:" in reply for n in names.values())
    # The terms shown are the analysis's own, for every segment that has some.
    (report,) = s.analysis.themes
    for seg in report.segments:
        if seg.terms:
            line = next(x for x in reply.splitlines() if x.strip().startswith(
                f"{names.get(seg.segment, 'Unassigned')}:"))
            assert f"'{seg.terms[0].term}'" in line
    first = min(names)
    one = agent.handle(f"what does segment {first} complain about?")
    assert f"{names[first]}:" in one
    assert not any(f"{n}:" in one for seg, n in names.items() if seg != first)


def test_anchor_questions_name_the_test_or_say_how_to_add_the_anchor(agent):
    s = agent.session
    agent.handle("/anchor industry")
    reply = agent.handle("How is industry spread across the segments?")
    (industry,) = s.analysis.anchors.anchors
    assert industry.column == "industry" and industry.significant  # planted per segment
    # The test's sentence, with the segment known by its name rather than its number.
    names = s.segment_names()
    summary = " ".join(reply.split())
    assert summary.startswith("ANCHORS") and "chi-square p" in summary
    over = [n for n in names.values() if f"over-represented in {n} (" in summary]
    assert over and "over-represented in Segment" not in summary
    other = agent.handle("and how about region, do the segments differ by it?")
    assert "region is not compared" in other and "/anchor industry region" in other


def test_without_a_text_column_a_feedback_question_says_how_to_name_one(agent):
    agent.handle("/text none")
    assert agent.session.analysis.themes == ()
    reply = agent.handle("what do they say in the reviews?")
    assert reply.startswith("No free-text column") and "/text" in reply


def test_segmenting_within_an_anchor_writes_levels_and_keeps_the_session_segments(agent):
    s = agent.session
    before = (s.analysis.choice.k, s.segment_names(), s.labels().copy())
    reply = agent.handle("segment within industry")
    out = s.within_path("industry")
    anchored = json.loads((out / "anchored.json").read_text())
    assert anchored["anchor_column"] == "industry" and anchored["n_segments"] >= 2
    assignments = pd.read_csv(out / "assignments.csv", keep_default_na=False)
    assert len(assignments) == s.rows()
    for level, folder in anchored["folders"].items():
        assert (out / folder / "model" / "bundle.json").is_file()
        assert f"{level} / Segment 0" in reply
    assert str(out) in reply
    assert (s.analysis.choice.k, s.segment_names()) == before[:2]
    np.testing.assert_array_equal(s.labels(), before[2])
    # A second time into the same folder: the per-level results are rewritten, not refused.
    again = agent.handle("/within industry")
    assert f"The per-level results are in {out}." in again
    assert json.loads((out / "anchored.json").read_text()) == anchored


@pytest.mark.parametrize(("message", "needle"), [
    ("/within customer_id", "customer_id"),
    ("/anchor nosuchcolumn", "nosuchcolumn"),
    ("/within", "/within industry"),
])
def test_bad_anchor_requests_are_one_sentence_and_change_nothing(agent, message, needle):
    s = agent.session
    settings = s.settings
    reply = agent.handle(message)
    assert needle in reply and "\n" not in reply.strip() and "Traceback" not in reply
    assert s.settings == settings


def test_anchors_can_be_chosen_again_after_a_resume(agent):
    # The fixture resumed the session: the labels come from its folder's assignments.csv.
    s = agent.session
    assert s.run is None
    names = s.segment_names()
    reply = agent.handle("use company size as an anchor")
    assert "company_size" in reply and s.segment_names() == names
    assert [x.column for x in s.analysis.anchors.anchors] == ["company_size"]


def test_a_question_that_only_uses_the_word_say_is_not_taken_for_one_about_feedback(agent):
    reply = agent.handle("What does the data say about churn?")
    churn = next(v for v in agent.session.analysis.validation if "churn" in v.name.casefold())
    assert reply.startswith(churn.summary) and "WHAT CUSTOMERS SAY" not in reply
