"""The number trace: which tokens a reader sees, what the JSON can produce, and real memos.

The trace must pass every real memo (no false alarm) and catch a number nobody computed.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from copilot.llm.client import LLMClient
from copilot.llm.writing import write_all
from copilot.report.memo import render_memo, write_memo
from copilot.report.trace import (
    CONSTANTS,
    derived_numbers,
    memo_numbers,
    renderings,
    source_tokens,
    untraceable_numbers,
)
from tests.conftest import REPO
from tests.llm.writer_helpers import (
    fake_client,
    good_name,
    good_plan,
    good_ratings,
    good_recommendation,
    small_analysis,
)

GOAL = "Reduce churn"


@pytest.fixture(scope="module")
def analysis():
    return small_analysis()


@pytest.fixture(scope="module")
def drafts(analysis):
    return write_all(analysis, LLMClient(None, provider="none", model=None), goal=GOAL)


@pytest.fixture(scope="module")
def scripted(analysis):
    n = len(analysis.profiles)
    client, _ = fake_client([good_recommendation, *[good_name] * n, *[good_ratings] * n,
                             *[good_plan] * 3])
    return write_all(analysis, client, goal=GOAL)


def _sources(analysis, writing=None) -> list:
    out = [analysis.model_dump(mode="json")]
    return out + [writing.model_dump(mode="json")] if writing is not None else out


# --- what a reader sees --------------------------------------------------------------------------

def test_memo_numbers_reads_figures_and_skips_syntax_links_paths_and_names():
    text = (
        "## 2 Heading\n"  # heading marks are syntax; the 2 is a figure
        "1. first item with 7,043 customers and 26.5% churn\n"
        "   2) second item: ICL -1,234.5 and a range 3-7, k=4, fit 3/5\n"
        "![Scores by k](memo_files/k_sweep_2.png) and [link](https://x.org/a/99)\n"
        "`/data/2024/customers_2019.csv` and sessions_30d, v1, Qwen2.5-Coder, 1.5B, x86\n"
        "engine 0.1.0 at 12:30; see out.2024.csv and 2023.xlsx.\n"
    )
    assert memo_numbers(text) == ["2", "7,043", "26.5%", "-1,234.5", "3", "7", "4", "3", "5",
                                  "0.1.0", "12", "30"]


def test_a_hyphen_is_a_sign_only_where_a_sign_can_be():
    assert memo_numbers("from 3-7 | -0.25 | (-4) | x = -2") == ["3", "7", "-0.25", "-4", "-2"]


# --- what the sources produce ----------------------------------------------------------------------

def test_renderings_follow_the_memos_formats_and_only_those():
    share = renderings(0.81571, "share")
    assert {"81.6%", "82%", "0.816", "0.82", "0.8"} <= share
    assert "81.57%" not in share and "81.6" not in share
    assert "81.6%" not in renderings(0.81571, "silhouette")  # only shares become percentages
    big = renderings(23002.08, "icl")
    assert {"23,002", "23002", "23,002.1"} <= big
    assert "23,000" not in big and "23" not in big
    assert {"7", "7,043"} <= renderings(7043, "n") | renderings(7, "k")
    assert "34.9%" in renderings(34.9, "baseline_pct")
    assert renderings(True, "significant") == set()


def test_numbers_inside_strings_count_but_hidden_numbers_do_not():
    source = {
        "rules": {"text": "tenure >= 12.5 and spend < 1,200"},
        "projection": {"x": [0.427, 1.5], "method": "pca 2"},
        "preparation": {"center": 17.25},
        "n": 300,
    }
    known = source_tokens(source)
    assert {"12.5", "1,200", "300", "2"} <= known
    assert "0.427" not in known and "42.7%" not in known and "17.25" not in known


def test_derived_numbers_are_counts_of_listed_items_only(analysis):
    data = analysis.model_dump(mode="json")
    derived = derived_numbers(data)
    assert str(len(analysis.roles.features)) in derived
    assert derived <= {str(n) for n in range(1000)}
    assert derived_numbers({"not": "an analysis"}) == set()
    assert set(CONSTANTS) == {"95%", "1", "5"}


# --- real memos --------------------------------------------------------------------------------------

def test_a_memo_of_deterministic_drafts_traces_completely(analysis, drafts, tmp_path):
    files = write_memo(analysis, drafts, tmp_path / "memo.md", goal=GOAL)
    memo = files.memo.read_text()
    assert len(memo_numbers(memo)) > 200
    assert untraceable_numbers(memo, *_sources(analysis, drafts)) == []


def test_a_memo_with_llm_text_traces_completely(analysis, scripted):
    memo = render_memo(analysis, scripted, goal=GOAL)
    assert untraceable_numbers(memo, *_sources(analysis, scripted)) == []


def test_a_numbers_only_memo_traces_against_the_analysis_alone(analysis):
    memo = render_memo(analysis, None, goal=None)
    assert untraceable_numbers(memo, *_sources(analysis)) == []


def test_a_changed_segment_size_is_caught(analysis, drafts):
    memo = render_memo(analysis, drafts, goal=GOAL)
    size = analysis.profiles[0].size
    original = f"**Size:** {size:,} customers"
    assert original in memo
    forged = memo.replace(original, f"**Size:** {size + 7:,} customers")
    assert untraceable_numbers(forged, *_sources(analysis, drafts)) == [f"{size + 7:,}"]


def test_a_made_up_percentage_in_a_narrative_is_caught(analysis, scripted):
    memo = render_memo(analysis, scripted, goal=GOAL)
    narrative = scripted.narratives[0].narrative
    assert narrative in memo
    forged = memo.replace(narrative, narrative + " Their churn is 42.7% lower.")
    assert untraceable_numbers(forged, *_sources(analysis, scripted)) == ["42.7%"]


def test_the_number_pool_stays_small_enough_to_catch_guesses(analysis, drafts):
    """A made-up percentage or three-decimal metric should rarely trace by accident."""
    sources = _sources(analysis, drafts)
    known = source_tokens(*sources) | derived_numbers(*sources) | set(CONSTANTS)
    rng = random.Random(0)
    percentages = [f"{rng.uniform(0, 100):.1f}%" for _ in range(2000)]
    metrics = [f"{rng.uniform(0, 1):.3f}" for _ in range(2000)]
    assert sum(p in known for p in percentages) / len(percentages) < 0.15
    assert sum(m in known for m in metrics) / len(metrics) < 0.2


def test_the_check_script_exits_1_on_a_forged_memo(analysis, drafts, tmp_path):
    files = write_memo(analysis, drafts, tmp_path / "memo.md", goal=GOAL, charts=False)
    (tmp_path / "analysis.json").write_text(analysis.model_dump_json())
    (tmp_path / "writing.json").write_text(drafts.model_dump_json())
    script = [sys.executable, str(REPO / "scripts" / "check_memo_numbers.py")]
    args = [str(files.memo), str(tmp_path / "analysis.json"), str(tmp_path / "writing.json")]
    ok = subprocess.run(script + args, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    files.memo.write_text(files.memo.read_text() + "\nWe expect 12,345 new customers.\n")
    bad = subprocess.run(script + args, capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "12,345" in bad.stdout


# --- the real Telco data -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def telco(telco_cli_explicit, tmp_path_factory):
    """The memo written from the analysis.json of the real Telco run (``segment --outcome
    Churn``, shared with test_real_datasets: same id column and outcome as an in-process
    run with SegmentSettings(id_column="customerID", outcomes=("Churn",)))."""
    from copilot.segmentation.analysis.pipeline import SegmentAnalysis

    proc = telco_cli_explicit["proc"]
    assert proc.returncode == 0, proc.stderr
    analysis = SegmentAnalysis.model_validate_json(
        (telco_cli_explicit["out"] / "analysis.json").read_text())
    assert analysis.roles.id_column == "customerID" and list(analysis.roles.outcomes) == ["Churn"]
    writing = write_all(analysis, LLMClient(None, provider="none", model=None), goal=GOAL)
    out = tmp_path_factory.mktemp("telco_memo") / "memo.md"
    return analysis, writing, write_memo(analysis, writing, out, goal=GOAL)


@pytest.mark.integration
@pytest.mark.xdist_group("telco")  # shares the Telco run with test_real_datasets
def test_every_number_in_the_telco_memo_comes_from_the_analysis(telco):
    analysis, writing, files = telco
    memo = files.memo.read_text()
    assert len(memo_numbers(memo)) > 300
    assert untraceable_numbers(memo, analysis.model_dump(mode="json"),
                               writing.model_dump(mode="json")) == []
    assert "Churn" in memo and "7,043" in memo
    assert len(files.charts) == 4 and all(Path(c).is_file() for c in files.charts)


def test_the_chat_line_after_writing_names_every_segment_and_counts_the_drafts(
        analysis, drafts, scripted):
    n = len(analysis.profiles)
    # Without a model every narrative is a deterministic draft, and the line says how many.
    assert drafts.headline.startswith(f"Named {n} segments and drafted a strategy: ")
    assert drafts.headline.endswith(f" ({n} deterministic drafts).")
    # The scripted model: every name is listed, in order, then the narratives it left drafts.
    names = ", ".join(narrative.name for narrative in scripted.narratives)
    left = sum(narrative.author.status == "fallback" for narrative in scripted.narratives)
    assert scripted.headline == (f"Named {n} segments and drafted a strategy: {names}"
                                 + (f" ({left} deterministic drafts)." if left else "."))
    assert all(narrative.name in drafts.headline for narrative in drafts.narratives)
