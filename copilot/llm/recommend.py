"""Writer 1: the LLM recommends k, choosing only among the engine's shortlisted options.

The options are an enum in the answer schema, so llama.cpp's grammar cannot even produce an
option outside the shortlist; other providers are held to it by validation. The shared context
gives the options with their metrics and the computed comparisons ("silhouette 0.2
(highest)"), so the model need not infer which option wins where. The reason must cite only
figures of the options, and every comparison it makes ("higher than the other options", "the
best stability", "a lower ICL than k=5") must hold in the table (``meaning``). When the model
fails, the engine's own choice and reason stand, labelled as the deterministic draft.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, create_model

from copilot.core import Frozen
from copilot.llm.client import DRAFT, Authorship, LLMClient
from copilot.llm.context import WritingContext, option_label
from copilot.llm.facts import ignorable_names
from copilot.llm.grounding import check_numbers, collect_numbers
from copilot.llm.option_claims import check_option_claims
from copilot.llm.plan_checks import check_plumbing
from copilot.llm.prompts import load_prompt
from copilot.llm.prose import complete_sentences
from copilot.segmentation import SegmentAnalysis

__all__ = ["KRecommendation", "option_label", "recommend_k"]


REASON_TOKENS = 110


class ReasonAnswer(Frozen):
    reason: str = Field(min_length=20, max_length=600)


class KRecommendation(Frozen):
    """The recommended number of segments, with the reason and who wrote it."""

    algorithm: str
    k: int
    reason: str
    engine_algorithm: str  # what the engine's rule picked, for comparison
    engine_k: int
    author: Authorship


def recommend_k(analysis: SegmentAnalysis, client: LLMClient, *, goal: str | None = None,
                context: WritingContext | None = None) -> KRecommendation:
    """Ask the model to pick one shortlisted option; fall back to the engine's choice."""
    context = context or WritingContext(analysis, goal=goal)
    choice = analysis.choice
    engine = {"engine_algorithm": choice.algorithm, "engine_k": choice.k}
    shortlist = list(choice.shortlist)
    engine_pick = option_label(choice.algorithm, choice.k)
    if len(shortlist) < 2:
        # The user fixed k (or only one option is eligible): nothing to choose between.
        prompt = load_prompt("recommend_k")
        author = Authorship(
            writer=DRAFT, provider=None, model=None, prompt_id=prompt.id,
            prompt_version=prompt.version, attempts=0, status="fallback",
            notice="Only one eligible option, so the engine's choice stands.",
        )
        return KRecommendation(algorithm=choice.algorithm, k=choice.k, reason=choice.reason,
                               author=author, **engine)
    rendered = context.render("recommend_k", options="\n".join(context.option_lines()),
                              engine_pick=engine_pick)
    labels = {option_label(c.algorithm, c.k): c for c in shortlist}
    lines = dict(zip((o["option"] for o in context.options), context.option_lines(), strict=True))
    lo, hi = analysis.sweep.band
    in_band = [label for label, c in labels.items() if lo <= c.k <= hi]

    # 1. The pick: an enum, a few tokens. The reason is asked for apart, about the picked
    # option alone: asked for both at once, the embedded model wrote "the highest silhouette"
    # for whichever option it picked, and moved to another option when told it was false.
    pick_schema = create_model(
        "RecommendK",
        option=(Literal[tuple(labels)], Field(description="one option label from the list")),
    )

    def check_pick(answer: Any) -> list[str]:
        if in_band and answer.option not in in_band:
            return [f'"{answer.option}" is outside the preferred range of {lo} to {hi} '
                    f"segments; pick one of: {', '.join(in_band)}."]
        return []

    client.on_event("Recommending k")
    picked = client.ask(rendered, pick_schema, check_pick, what="k recommendation")
    if picked.value is None:
        author = client.authorship(rendered, picked)
        return KRecommendation(algorithm=choice.algorithm, k=choice.k, reason=choice.reason,
                               author=author, **engine)
    option = picked.value.option

    # 2. The reason, about that option, in plain text, held to its figures and comparisons.
    explain = context.render("explain_k", option=option, line=lines[option])
    numbers = collect_numbers([context.options, context.given, {"preferred": [lo, hi]}])
    ignore = ignorable_names(analysis) + tuple(labels)
    options = context.options

    def check(answer: Any) -> list[str]:
        return (check_numbers(answer.reason, numbers, ignore=ignore)
                + check_option_claims(answer.reason, option, options)
                + check_plumbing(answer.reason))

    answer = client.ask(explain, ReasonAnswer, check, what="k recommendation reason",
                        # a cut-off reason keeps its whole sentences
                        repair=lambda a: a.model_copy(update={"reason": complete_sentences(a.reason, 3)}),
                        text=lambda t: {"reason": t}, max_tokens=REASON_TOKENS, reasks=1)
    rendered = explain
    author = client.authorship(rendered, answer)
    if answer.value is None:
        return KRecommendation(algorithm=choice.algorithm, k=choice.k, reason=choice.reason,
                               author=author, **engine)
    chosen = labels[option]
    return KRecommendation(algorithm=chosen.algorithm, k=chosen.k, reason=answer.value.reason.strip(),
                           author=author, **engine)
