"""The strategy memo: its sections, segment cards, authorship labels, charts and safe writing.

Analyses come from the synthetic generator (tests.llm.writer_helpers.small_analysis, shared and
cached); writings are deterministic drafts (a client without a model) or scripted by the fake
model, so no test loads an LLM.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from copilot.core.errors import InputError
from copilot.llm import display_names as segment_names
from copilot.llm.client import Authorship, LLMClient
from copilot.llm.writing import Writing, write_all
from copilot.report.memo import MemoFiles, render_memo, write_memo
from copilot.report.trace import untraceable_numbers
from tests.llm.writer_helpers import answer_writer, fake_client, small_analysis

GOAL = "Reduce churn"
SECTIONS = ("## Goal", "## Data and quality", "## Method", "## Segments", "## Strategy",
            "## How to operationalise", "## Appendix")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")


@pytest.fixture(scope="module")
def analysis():
    return small_analysis()


@pytest.fixture(scope="module")
def drafts(analysis) -> Writing:
    """Everything a deterministic draft: what the "none" provider gives."""
    return write_all(analysis, LLMClient(None, provider="none", model=None), goal=GOAL)


@pytest.fixture(scope="module")
def scripted(analysis) -> Writing:
    """Mixed authorship: the first name after one re-ask, the last plan a draft (script ends)."""
    n = len(analysis.profiles)
    bad_name = {"names": ["Segment Crowd"]}
    plans = min(3, sum(p.segment >= 0 for p in analysis.profiles))
    # names (the first re-asked), the k pick and reason, narratives, fits, all plans but the last
    script = [bad_name] + [answer_writer] * (n + 2 + n + 1 + plans - 1)
    client, _ = fake_client(script)
    return write_all(analysis, client, goal=GOAL)


@pytest.fixture(scope="module")
def other_shapes():
    """An HDBSCAN run (with unassigned customers) and a run on a table without outcomes."""
    from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
    from fixtures.customers import make_customers

    frame = make_customers(500, 3, seed=4).frame
    hdbscan = run_segmentation(frame, SegmentSettings(id_column="customer_id",
                                                      algorithm="hdbscan")).analysis
    bare = run_segmentation(frame.drop(columns=["churned", "revenue_12m"]),
                            SegmentSettings(id_column="customer_id", k=3)).analysis
    return hdbscan, bare


def _card(memo: str, segment: int) -> str:
    start = memo.index(f"### Segment {segment}:")
    end = memo.find("\n### ", start + 1)
    return memo[start:end if end > 0 else None]


# --- content ---------------------------------------------------------------------------------------

def test_every_section_is_present_in_order(analysis, drafts):
    memo = render_memo(analysis, drafts, goal=GOAL)
    assert memo.startswith("# Segment strategy memo")
    positions = [memo.index(f"\n{heading}\n") for heading in SECTIONS]
    assert positions == sorted(positions)
    for piece in ("### Fit matrix", "### Opportunity ranking", "### Plan for segment",
                  "**Holdout experiment**", "### Who wrote what", "### Settings and versions"):
        assert piece in memo


def test_summary_names_k_algorithm_and_the_biggest_opportunity(analysis, drafts):
    memo = render_memo(analysis, drafts, goal=GOAL)
    summary = memo.split("\n\n")[1]
    top = drafts.strategy.opportunities[0]
    assert f"into {analysis.choice.k} segments" in summary
    assert "Gaussian mixture" in summary
    assert top.initiative in summary and top.name in summary


def test_each_segment_card_shows_its_name_size_traits_rules_and_outcomes(analysis, drafts):
    memo = render_memo(analysis, drafts, goal=GOAL)
    names = {n.segment: n.name for n in drafts.narratives}
    for p in analysis.profiles:
        card = _card(memo, p.segment)
        assert card.startswith(f"### Segment {p.segment}: {names[p.segment]}")
        assert f"**Size:** {p.size:,} customers ({100 * p.share:.1f}% of all)" in card
        assert p.top_features[0].phrase in card
        rule = next(s.rules[0] for s in analysis.rules.segments if s.segment == p.segment)
        assert f"`{rule.text}`" in card
        for v in analysis.validation:
            assert f"| {v.name} (" in card
        assert "to " in card  # the interval column


def test_the_method_shows_the_sweep_table_and_marks_the_chosen_k(analysis, drafts):
    memo = render_memo(analysis, drafts, goal=GOAL)
    method = memo[memo.index("## Method"):memo.index("## Segments")]
    assert analysis.choice.reason in method
    chosen = [line for line in method.splitlines() if "**chosen**" in line]
    assert len(chosen) == 1 and chosen[0].startswith(f"| {analysis.choice.k} |")
    rows = [line for line in method.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) == len(analysis.sweep.for_algorithm(analysis.choice.algorithm))


def test_deterministic_drafts_are_labelled_everywhere(analysis, drafts):
    memo = render_memo(analysis, drafts, goal=GOAL)
    assert "No LLM text was written" in memo.split("\n\n")[1]
    for p in analysis.profiles:
        assert "deterministic draft written from templates" in _card(memo, p.segment)
    assert memo.count("_Deterministic draft written from templates, not by the LLM") == len(
        drafts.strategy.plans)
    table = memo[memo.index("| Piece |"):]
    # The k advice; per segment its name, its narrative and its fit ratings; the plans.
    assert table.count("| deterministic draft |") == 1 + 3 * len(analysis.profiles) + len(
        drafts.strategy.plans)


def test_llm_text_is_credited_with_its_writer_and_reasks(analysis, scripted):
    memo = render_memo(analysis, scripted, goal=GOAL)
    assert scripted.narratives[0].author.status == "after re-ask"
    assert "written by fake/scripted, after re-ask (2 calls)" in _card(memo, 0)
    assert "written by fake/scripted, first try" in _card(memo, 1)
    assert "**k recommendation** (fake/scripted, first try)" in memo
    last = scripted.strategy.plans[-1]
    assert last.author.status == "fallback"  # the script ran out: a labelled draft
    plan = memo[memo.index(f"### Plan for segment {last.segment},"):]
    assert plan.split("\n\n")[1].startswith("_Deterministic draft")
    assert "| Plan, segment" in memo and "fake/scripted, first try" in memo


def test_without_writing_names_are_drafts_and_no_llm_text_is_claimed(analysis):
    memo = render_memo(analysis, None, goal=None)
    names = segment_names(analysis, None)
    assert len(set(names.values())) == len(names)
    for p in analysis.profiles:
        card = _card(memo, p.segment)
        assert card.startswith(f"### Segment {p.segment}: {names[p.segment]}")
        assert "deterministic draft" in card and "**Narrative.**" not in card
    assert "No LLM text was written" in memo
    assert "No LLM pass was run" in memo
    assert "No strategy was drafted" in memo and "No goal was given" in memo


def test_a_name_the_user_gave_is_labelled_as_the_users(analysis, drafts):
    user = Authorship(writer="user", provider=None, model=None, prompt_id="rename",
                      prompt_version=0, attempts=0, status="first try")
    renamed = drafts.model_copy(update={"narratives": (
        drafts.narratives[0].model_copy(update={"name": "Loyal Power Users", "author": user}),
        *drafts.narratives[1:])})
    memo = render_memo(analysis, renamed, goal=GOAL)
    card = _card(memo, 0)
    assert card.startswith("### Segment 0: Loyal Power Users")
    # The user gave the name only: the narrative keeps its own author.
    assert ("_Named by the user; narrative: deterministic draft written from templates, not by "
            "the LLM._") in card
    assert "| Name, segment 0 | named by the user |" in memo
    assert "| Narrative, segment 0 | deterministic draft |" in memo


def test_an_llm_k_that_differs_from_the_engine_is_stated(analysis, scripted):
    other = next(c for c in analysis.choice.shortlist
                 if (c.algorithm, c.k) != (analysis.choice.algorithm, analysis.choice.k))
    rec = scripted.recommendation.model_copy(update={"algorithm": other.algorithm, "k": other.k})
    memo = render_memo(analysis, scripted.model_copy(update={"recommendation": rec}), goal=GOAL)
    assert "rather than the engine's" in memo
    assert f"`--k {other.k} --algorithm {other.algorithm}`" in memo
    assert "The LLM agrees" not in memo


def test_unassigned_customers_get_their_own_card_and_count(other_shapes, tmp_path):
    analysis = other_shapes[0]
    assert analysis.confidence.unassigned > 0
    writing = write_all(analysis, LLMClient(None, provider="none", model=None), goal=GOAL)
    memo = write_memo(analysis, writing, tmp_path / "memo.md", goal=GOAL).memo.read_text()
    assert f"{analysis.confidence.unassigned:,} customers (" in memo.split("\n\n")[1]
    card = memo[memo.index("### Unassigned customers"):]
    assert "_Customers no segment claims" in card.split("\n\n")[1]
    assert "| unassigned |" in memo and "Plan, segment -1" not in memo
    # Nobody's audience: the unassigned customers are neither rated nor planned for.
    assert all(r.segment >= 0 for r in writing.strategy.ratings)
    assert all(o.segment >= 0 for o in writing.strategy.opportunities)
    assert "Fit ratings, segment unassigned" not in memo and "Plan for the unassigned" not in memo
    assert untraceable_numbers(memo, analysis.model_dump(mode="json"),
                               writing.model_dump(mode="json")) == []


def test_a_table_without_outcomes_gets_no_outcome_chart_or_table(other_shapes, tmp_path):
    analysis = other_shapes[1]
    assert analysis.validation == ()
    files = write_memo(analysis, None, tmp_path / "memo.md", goal=None)
    assert sorted(p.name for p in files.charts) == ["k_sweep.png", "segment_map.png",
                                                    "segment_sizes.png"]
    memo = files.memo.read_text()
    assert "**Outcomes**" not in memo and "Do the segments differ" not in memo
    assert "over k = 3, fitted on" in memo  # the user's k: a single value, not "3 to 3"
    assert untraceable_numbers(memo, analysis.model_dump(mode="json")) == []


def test_text_from_the_data_cannot_inject_markup(analysis, drafts):
    evil = drafts.narratives[0].model_copy(
        update={"narrative": "<script>alert(1)</script> pipes | break\ntables"})
    writing = drafts.model_copy(update={"narratives": (evil, *drafts.narratives[1:])})
    memo = render_memo(analysis, writing, goal=GOAL)
    assert "<script>" not in memo and "&lt;script>" in memo
    assert "pipes \\| break tables" in memo


def test_a_narrative_cannot_put_a_remote_image_or_link_in_the_memo(analysis, drafts):
    """Memo text from a model or a file is plain text: an image would be fetched (a tracking
    pixel) when the memo is opened."""
    import markdown_it

    evil = drafts.narratives[0].model_copy(update={
        "narrative": "Loyal buyers ![x](http://evil.example/pixel.png) see [here](http://e.x)."})
    writing = drafts.model_copy(update={"narratives": (evil, *drafts.narratives[1:])})
    memo = render_memo(analysis, writing, goal=GOAL)
    html = markdown_it.MarkdownIt().render(memo)
    assert "evil.example" not in "".join(IMAGE.findall(memo))
    assert "<img" not in html and 'href="http://e.x"' not in html
    assert "Loyal buyers" in memo


def test_render_is_pure_and_shows_no_charts_without_links(analysis, drafts):
    first = render_memo(analysis, drafts, goal=GOAL)
    assert first == render_memo(analysis, drafts, goal=GOAL)
    assert "![" not in first


# --- files ---------------------------------------------------------------------------------------------

def test_write_memo_writes_png_charts_linked_by_relative_paths(analysis, drafts, tmp_path):
    files = write_memo(analysis, drafts, tmp_path / "memo.md", goal=GOAL)
    assert isinstance(files, MemoFiles) and files.memo == tmp_path / "memo.md"
    assert len(files.charts) == 4
    assert {p.parent for p in files.charts} == {tmp_path / "memo_files"}
    for chart in files.charts:
        assert chart.read_bytes()[:8] == PNG_MAGIC
    memo = files.memo.read_text()
    links = IMAGE.findall(memo)
    assert len(links) == len(files.charts)
    for link in links:
        assert not link.startswith("/") and not Path(link).is_absolute()
        assert (files.memo.parent / unquote(link)).resolve() in {c.resolve() for c in files.charts}
    assert not list(tmp_path.glob(".*.tmp")) and not list((tmp_path / "memo_files").glob(".*"))


def test_links_resolve_for_a_memo_name_with_spaces_in_a_new_folder(analysis, drafts, tmp_path):
    files = write_memo(analysis, drafts, tmp_path / "q3 review" / "my memo.md", goal=GOAL)
    links = IMAGE.findall(files.memo.read_text())
    assert links and all(" " not in link for link in links)
    for link in links:
        assert (files.memo.parent / unquote(link)).is_file()


def test_charts_are_deterministic(analysis, drafts, tmp_path):
    one = write_memo(analysis, drafts, tmp_path / "a.md", goal=GOAL)
    two = write_memo(analysis, drafts, tmp_path / "b.md", goal=GOAL)
    assert [p.read_bytes() for p in one.charts] == [p.read_bytes() for p in two.charts]


def test_write_memo_without_charts(analysis, drafts, tmp_path):
    files = write_memo(analysis, drafts, tmp_path / "memo.md", goal=GOAL, charts=False)
    assert files.charts == () and not (tmp_path / "memo_files").exists()
    assert "![" not in files.memo.read_text()


def _one_sentence(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert message.endswith(".") and "\n" not in message and "Traceback" not in message
    return message


def test_an_unwritable_place_is_one_sentence_and_leaves_nothing(analysis, drafts, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where a folder is needed")
    with pytest.raises(InputError) as err:
        write_memo(analysis, drafts, blocker / "memo.md", goal=GOAL)
    assert "memo" in _one_sentence(err)
    with pytest.raises(InputError) as err:
        write_memo(analysis, drafts, blocker / "memo.md", goal=GOAL, charts=False)
    assert "memo" in _one_sentence(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder"]


def test_a_folder_as_the_memo_path_is_refused(analysis, drafts, tmp_path):
    with pytest.raises(InputError) as err:
        write_memo(analysis, drafts, tmp_path, goal=GOAL)
    assert "folder" in _one_sentence(err)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="permissions do not stop root (or a non-POSIX system) from writing")
def test_a_read_only_folder_is_one_sentence(analysis, drafts, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(InputError) as err:
            write_memo(analysis, drafts, locked / "memo.md", goal=GOAL)
        _one_sentence(err)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_a_failed_write_keeps_the_previous_memo_whole(analysis, drafts, tmp_path, monkeypatch):
    out = tmp_path / "memo.md"
    out.write_text("the previous memo\n")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    # fsync is called after the new text is written and before the rename: fail right there.
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(InputError) as err:
        write_memo(analysis, drafts, out, goal=GOAL)
    assert "No space left on device" in _one_sentence(err)
    assert out.read_text() == "the previous memo\n"
    assert not list(tmp_path.glob(".memo.md.*"))


def test_a_one_two_coded_outcome_is_named_with_its_positive_label_in_the_memo():
    # 1/2 does not say which value is "yes": the memo's tables say "credit_risk = 2 (rate)".
    import numpy as np

    from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
    from fixtures.customers import make_customers

    frame = make_customers(400, 3, seed=5).frame.drop(columns=["revenue_12m"])
    frame["credit_risk"] = np.where(frame.pop("churned") == "Yes", 2, 1)
    a = run_segmentation(frame, SegmentSettings(id_column="customer_id", k=3,
                                                outcomes=("credit_risk",))).analysis
    memo = render_memo(a, None, goal=None)
    assert "credit_risk = 2 (rate)" in memo
    assert "credit_risk (rate)" not in memo
    assert any(line.startswith("- credit_risk = 2 ") for line in memo.splitlines())
