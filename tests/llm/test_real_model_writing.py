"""All three writers on the real embedded model: as a llama.cpp server on 127.0.0.1 through the
``openai-compatible`` provider, and in-process through the ``local`` provider.

A 1.5B model is allowed to fail a check (that is what re-asks and drafts are for); it is not
allowed to produce an unlabelled piece, a name that is not unique, a k outside the shortlist
or model-written prose that cites a figure the prompt did not hold.
"""

from __future__ import annotations

import pytest

from copilot.llm.client import DRAFT
from copilot.llm.context import WritingContext
from copilot.llm.facts import ignorable_names
from copilot.llm.grounding import check_numbers
from copilot.llm.naming import choose_names
from copilot.llm.providers import resolve_settings
from copilot.llm.recommend import recommend_k
from copilot.llm.writing import open_client, write_all
from tests.llm.servers import LlamaCppServer
from tests.llm.writer_helpers import small_analysis

pytestmark = [pytest.mark.llm, pytest.mark.slow]
INITIATIVES = ("Guided onboarding checklist", "Annual-plan discount")


def _assert_sound(writing, analysis, label: str, goal: str | None = None,
                  initiatives: tuple[str, ...] = ()) -> None:
    assert len(writing.narratives) == len(analysis.profiles)
    assert len({n.name.lower() for n in writing.narratives}) == len(writing.narratives)
    shortlist = {(c.algorithm, c.k) for c in analysis.choice.shortlist}
    assert (writing.recommendation.algorithm, writing.recommendation.k) in shortlist
    strategy = writing.strategy
    authors = [writing.recommendation.author, *(n.author for n in writing.narratives),
               *(strategy.rating_authors if strategy else ()),
               *((p.author for p in strategy.plans) if strategy else ())]
    assert all(a.writer in (label, DRAFT) for a in authors)
    assert all((a.writer == DRAFT) == (a.status == "fallback") for a in authors)
    assert any(a.writer == label for a in authors), "the model wrote nothing that passed"
    # A narrative may cite what its segment's entry in the prompt held (share, traits, outcomes,
    # size) and what the user gave (goal, initiatives); nothing else.
    ignore = ignorable_names(analysis)
    context = WritingContext(analysis, goal=goal, initiatives=initiatives)
    for n in writing.narratives:
        if n.author.writer == label:
            allowed = context.segment_numbers(n.segment)
            assert check_numbers(n.narrative, allowed, ignore=ignore) == [], n.narrative
    if strategy is not None:
        fits = [r.fit for r in strategy.ratings]
        assert len(fits) == len(INITIATIVES) * len(analysis.profiles)
        assert set(fits) <= {1, 2, 3, 4, 5}


def _settings(**flags):
    return resolve_settings(flags, env={"SEGMENT_COPILOT_CONFIG": "/nonexistent/config.toml"})


def test_writers_through_a_real_llama_cpp_server(local_model_path):
    analysis = small_analysis()
    with LlamaCppServer(local_model_path, alias="qwen-local", verbose=False) as server:
        client = open_client(_settings(provider="openai-compatible", base_url=server.base_url,
                                       model=server.model, timeout_s=180))
        writing = write_all(analysis, client, goal="Reduce churn", initiatives=INITIATIVES,
                            top_segments=1)
    _assert_sound(writing, analysis, "openai-compatible/qwen-local", goal="Reduce churn",
                  initiatives=INITIATIVES)


def test_names_and_k_in_process_on_the_embedded_model(local_model_path):
    # The names and the k recommendation in-process; narratives and the strategy have the same
    # prompts and checks on both routes and the server test above runs them (this saves the
    # suite about 2 min).
    analysis = small_analysis()
    client = open_client(_settings(provider="local", timeout_s=180))
    label = f"local/{client.model}"
    context = WritingContext(analysis)
    names = choose_names(context, client)
    recommendation = recommend_k(analysis, client, context=context)
    chosen = [name for name, _ in names.values()]
    assert len(chosen) == len(analysis.profiles)
    assert len({n.lower() for n in chosen}) == len(chosen)
    assert all(2 <= len(n.split()) <= 4 for n in chosen), chosen
    authors = [a for _, a in names.values()] + [recommendation.author]
    assert all((a.writer == DRAFT) == (a.status == "fallback") for a in authors)
    assert all(a.writer in (label, DRAFT) for a in authors)
    assert any(a.writer == label for a in authors), "the model wrote nothing that passed"
    shortlist = {(c.algorithm, c.k) for c in analysis.choice.shortlist}
    assert (recommendation.algorithm, recommendation.k) in shortlist
