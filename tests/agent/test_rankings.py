"""Ranking questions are answered by code from the table (issue 14's first part): the segment,
its number and its figure, whichever words name the measure; routed without a model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from copilot.agent.agent import Agent
from copilot.agent.rankings import answer_ranking, is_ranking_question
from copilot.agent.router import route_pattern
from copilot.agent.session import Session
from copilot.llm.providers import LLMSettings
from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
from fixtures.customers import make_customers


@pytest.fixture(scope="module")
def analysis():
    table = make_customers(900, 4, seed=41)
    return run_segmentation(table.frame, SegmentSettings(id_column="customer_id", k=4,
                                                         algorithm="kmeans", seed=0)).analysis


def _outcome(a, name):
    v = next(v for v in a.validation if v.name == name)
    return {s.segment: s.value for s in v.segments if s.value is not None}


def _first_segment(answer: str) -> int:
    return int(re.search(r"\(segment (-?\d+)\)", answer).group(1))


@pytest.mark.parametrize(("question", "pick"), [
    ("which segment churns the most?", max),
    ("Which group leaves least?", min),
    ("what segment has the highest churn rate?", max),
    ("how many customers are in the highest churn segment and what is their churn rate?", max),
])
def test_churn_rankings_name_the_right_segment_and_figure(analysis, question, pick):
    rates = _outcome(analysis, "churned")
    answer = answer_ranking(question, analysis, {})
    want = pick(rates, key=rates.get)
    assert _first_segment(answer) == want
    assert f"{rates[want]:.0%}" in answer or f"{rates[want]:.1%}" in answer
    if question.startswith("how many"):
        size = next(s.n for s in analysis.sizes if s.segment == want)
        assert f"{size:,} customers" in answer


def test_revenue_size_and_top_n(analysis):
    revenue = _outcome(analysis, "revenue_12m")
    answer = answer_ranking("which segment spends least?", analysis, {})
    assert _first_segment(answer) == min(revenue, key=revenue.get)
    sizes = {s.segment: s.n for s in analysis.sizes if s.segment >= 0}
    assert _first_segment(answer_ranking("which segment is largest?", analysis, {})) == \
        max(sizes, key=sizes.get)
    top = answer_ranking("top 2 segments by revenue", analysis, {})
    listed = [int(x) for x in re.findall(r"^\d\. .*\(segment (-?\d+)\)", top, re.MULTILINE)]
    assert listed == sorted(revenue, key=revenue.get, reverse=True)[:2]


@pytest.mark.parametrize(("text", "ranking"), [
    ("which segment churns the most?", True),
    ("top 3 by revenue", True),
    ("what are the biggest opportunities for segment 2?", False),  # the strategy's answer
    ("tell me about segment 2", False),
    ("why k=5?", False),
])
def test_ranking_questions_are_told_apart(text, ranking):
    assert is_ranking_question(text) is ranking


def test_a_ranking_question_is_routed_to_code_and_answered_first_by_ask(tmp_path: Path):
    data = tmp_path / "customers.csv"
    make_customers(400, 3, seed=5).frame.to_csv(data, index=False)
    s = Session(tmp_path / "work", settings=SegmentSettings(id_column="customer_id", k=3,
                                                            algorithm="kmeans", seed=0),
                llm=LLMSettings(provider="none"))
    routed = route_pattern("which segment churns the most?", s)
    assert routed is not None and routed.tool == "answer_question"
    s.load(data)
    result = Agent(s).ask("which segment churns the most?")
    rates = _outcome(s.analysis, "churned")
    assert result.ok and s.goal is None  # a question, not a goal
    assert _first_segment(result.answer.splitlines()[0]) == max(rates, key=rates.get)


@pytest.mark.integration
def test_ask_answers_the_telco_churn_question_first_through_the_cli(tmp_path: Path):
    """The issue's Telco case: `ask "which segment churns the most?"` took the question as
    the goal and never answered it."""
    import json

    from tests.cli_helpers import run_cli
    from tests.conftest import shared_dataset

    telco = shared_dataset("telco_churn", "WA_Fn-UseC_-Telco-Customer-Churn.csv")
    # k-means only: the answer, not the sweep, is under test (CI time).
    proc = run_cli("ask", "which segment churns the most?", "--data", str(telco), "--json",
                   "--provider", "none", "--algorithm", "kmeans", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["goal"] is None
    analysis = json.loads((tmp_path / out["session_dir"] / "analysis.json").read_text())
    churn = next(v for v in analysis["validation"] if v["name"] == "Churn")
    rates = {s["segment"]: s["value"] for s in churn["segments"] if s["value"] is not None}
    top = max(rates, key=rates.get)
    assert out["ranking"]["top"]["segment"] == top
    assert out["ranking"]["top"]["value"] == pytest.approx(rates[top])
    assert out["answer"].startswith(out["ranking"]["top"]["name"])
