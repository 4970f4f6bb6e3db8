"""Writer 1: the LLM recommends k, choosing only among the engine's shortlisted options.

The options are an enum in the answer schema, so llama.cpp's grammar cannot even produce an
option outside the shortlist; other providers are held to it by validation. The reason must
cite only figures from the options. When the model fails, the engine's own choice and reason
stand, labelled as the deterministic draft.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, create_model

from copilot.llm.client import DRAFT, Authorship, LLMClient
from copilot.llm.facts import ignorable_names, pct, sig
from copilot.llm.grounding import check_numbers, collect_numbers
from copilot.llm.prompts import load_prompt
from copilot.llm.prose import complete_sentences
from copilot.segmentation._base import Frozen
from copilot.segmentation.choose import ALGORITHM_NAMES
from copilot.segmentation.pipeline import SegmentAnalysis


class KRecommendation(Frozen):
    """The recommended number of segments, with the reason and who wrote it."""

    algorithm: str
    k: int
    reason: str
    engine_algorithm: str  # what the engine's rule picked, for comparison
    engine_k: int
    author: Authorship


def option_label(algorithm: str, k: int) -> str:
    return f"{ALGORITHM_NAMES.get(algorithm, algorithm)}, k={k}"


def recommend_facts(analysis: SegmentAnalysis, goal: str | None) -> dict[str, Any]:
    """The shortlist with its sweep metrics, the band, the goal and the engine's pick."""
    options = []
    for cand in analysis.choice.shortlist:
        row = analysis.sweep.row(cand.algorithm, cand.k)
        options.append(
            {
                "option": option_label(cand.algorithm, cand.k),
                "k": cand.k,
                "silhouette": sig(row.silhouette, 2),
                "stability": sig(row.stability, 2),
                "icl": sig(row.icl, 4) if row.icl is not None else None,
                "smallest_segment_pct": pct(row.min_share),
                "inside_preferred_range": row.in_band,
            }
        )
    lo, hi = analysis.sweep.band
    return {
        "goal": goal or "segments a product team can act on",
        "preferred_k_range": f"{lo} to {hi}",
        "engine_pick": option_label(analysis.choice.algorithm, analysis.choice.k),
        "options": options,
    }


def recommend_k(analysis: SegmentAnalysis, client: LLMClient, *, goal: str | None = None) -> KRecommendation:
    """Ask the model to pick one shortlisted option; fall back to the engine's choice."""
    prompt = load_prompt("recommend_k")
    choice = analysis.choice
    engine = {"engine_algorithm": choice.algorithm, "engine_k": choice.k}
    shortlist = list(choice.shortlist)
    facts = recommend_facts(analysis, goal)
    rendered = prompt.render(facts=facts)
    if len(shortlist) < 2:
        # The user fixed k (or only one option is eligible): nothing to choose between.
        author = Authorship(
            writer=DRAFT, provider=None, model=None, prompt_id=prompt.id,
            prompt_version=prompt.version, attempts=0, status="fallback",
            notice="Only one eligible option, so the engine's choice stands.",
        )
        return KRecommendation(algorithm=choice.algorithm, k=choice.k, reason=choice.reason,
                               author=author, **engine)
    labels = {option_label(c.algorithm, c.k): c for c in shortlist}
    schema = create_model(
        "RecommendK",
        option=(Literal[tuple(labels)], Field(description="one option label from DATA.options")),
        reason=(str, Field(min_length=20, max_length=500)),
    )
    numbers = collect_numbers(facts)
    ignore = ignorable_names(analysis) + tuple(labels)

    def check(answer: Any) -> list[str]:
        return check_numbers(answer.reason, numbers, ignore=ignore)

    client.on_event("Recommending k")
    answer = client.ask(rendered, schema, check, what="k recommendation",
                        # the length cap can stop the reason mid-sentence: keep whole sentences
                        repair=lambda a: a.model_copy(update={"reason": complete_sentences(a.reason, 3)}))
    author = client.authorship(rendered, answer)
    if answer.value is None:
        return KRecommendation(algorithm=choice.algorithm, k=choice.k, reason=choice.reason,
                               author=author, **engine)
    picked = labels[answer.value.option]
    return KRecommendation(algorithm=picked.algorithm, k=picked.k, reason=answer.value.reason.strip(),
                           author=author, **engine)
