"""The full writing pass: k recommendation, names and narratives, and (with a goal) strategy.

``open_client`` turns settings into an ``LLMClient``; a provider that cannot be built (no key,
no runtime, model missing) yields a client without a model plus a one-line notice, so the pass
still completes with labelled deterministic drafts. ``write_all`` runs the writers in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from copilot.core import CopilotError, Frozen
from copilot.llm.client import LLMClient
from copilot.llm.context import CONTEXT_PROMPT, WritingContext
from copilot.llm.facts import safe_for_model
from copilot.llm.initiatives import default_initiatives
from copilot.llm.naming import SegmentNarrative, choose_names, write_narratives
from copilot.llm.prompts import load_prompt
from copilot.llm.providers import LLMSettings, get_provider
from copilot.llm.recommend import KRecommendation, recommend_k
from copilot.llm.strategy import TOP_SEGMENTS, Strategy, draft_strategy
from copilot.segmentation import SegmentAnalysis

WRITING_PROMPTS = (CONTEXT_PROMPT, "recommend_k", "explain_k", "name_segment", "narrate_segment",
                   "rate_fit", "plan_segment", "reask", "reask_text")


class Writing(Frozen):
    """Everything the LLM layer wrote for one analysis, with provenance and timings."""

    provider: str
    model: str | None
    recommendation: KRecommendation
    narratives: tuple[SegmentNarrative, ...]
    strategy: Strategy | None
    notices: tuple[str, ...]
    prompt_versions: dict[str, int]
    calls: int
    seconds: dict[str, float]

    @property
    def headline(self) -> str:
        """What was written, in the one line the chat shows after it: the names, and how many
        of the narratives are deterministic drafts."""
        names = [n.name for n in self.narratives]
        drafts = sum(n.author.status == "fallback" for n in self.narratives)
        return (f"Named {len(names)} segments"
                f"{' and drafted a strategy' if self.strategy else ''}: {', '.join(names)}"
                f"{f' ({drafts} deterministic drafts)' if drafts else ''}.")


def open_client(
    settings: LLMSettings,
    *,
    on_event: Callable[[str], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LLMClient:
    """Build the configured provider; on failure, a model-less client that carries the notice."""
    provider = get_provider(settings.provider)
    model_name = provider.model_name(settings)
    notice = None
    try:
        chat_model = provider.build(settings, progress)
    except CopilotError as err:
        chat_model, notice = None, f"The {provider.name} provider is unavailable: {err}"
    except Exception as err:  # noqa: BLE001 - e.g. the runtime failed to load the model file
        chat_model = None
        notice = f"The {provider.name} provider failed to start ({type(err).__name__}: {str(err)[:120]})."
    client = LLMClient(chat_model, provider=provider.name, model=model_name,
                       max_reasks=settings.max_reasks, timeout_s=settings.timeout_s, on_event=on_event,
                       reask_temperature=provider.reask_temperature)
    if notice:
        client.down = notice
        client.notices.append(notice + " Everything below is a deterministic draft; run `segment-copilot doctor`.")
    return client


def write_all(
    analysis: SegmentAnalysis,
    client: LLMClient,
    *,
    goal: str | None = None,
    initiatives: tuple[str, ...] | None = None,
    top_segments: int = TOP_SEGMENTS,
    with_strategy: bool = True,
) -> Writing:
    """Run every writer; nothing computed is lost whatever the model does.

    Names come first, so they are on screen within seconds of the analysis; then the k advice,
    the narratives and (with a goal) the strategy. Every prompt starts with the same context,
    so the embedded model evaluates it once for the whole pass (see ``context``).
    ``with_strategy=False`` names the segments only, even with a goal (the chat's "name
    segments" step; the strategy follows on request). The goal still informs the k advice.
    """
    analysis = safe_for_model(analysis)  # the table's strings as a model may read them
    seconds: dict[str, float] = {}
    planned = goal and with_strategy
    listed = initiatives or (tuple(i.text for i in default_initiatives(analysis, goal))
                             if planned else ())
    context = WritingContext(analysis, goal=goal, initiatives=tuple(listed or ()))
    start = time.perf_counter()
    names = choose_names(context, client)
    seconds["names"] = time.perf_counter() - start
    start = time.perf_counter()
    recommendation = recommend_k(analysis, client, goal=goal, context=context)
    seconds["recommend_k"] = time.perf_counter() - start
    start = time.perf_counter()
    narratives = write_narratives(context, client, names)
    seconds["narratives"] = time.perf_counter() - start
    strategy = None
    if planned:
        start = time.perf_counter()
        strategy = draft_strategy(analysis, narratives, client, goal=goal, initiatives=initiatives,
                                  top_segments=top_segments, context=context)
        seconds["strategy"] = time.perf_counter() - start
    notices = list(client.notices)
    authors = [recommendation.author, *(n.author for n in narratives),
               *(n.story_author for n in narratives)]
    if strategy is not None:
        authors += [*strategy.rating_authors, *(p.author for p in strategy.plans)]
    drafted = [a for a in authors if a.status == "fallback" and a.attempts > 0]
    if drafted and not notices:
        # The model answered but its answers kept failing the checks: say so once, with why.
        notices.append(
            f"{len(drafted)} of {len(authors)} pieces are deterministic drafts because the model's"
            f" answers failed validation (first: {(drafted[0].notice or '')[:160]})."
        )
    return Writing(
        provider=client.provider,
        model=client.model,
        recommendation=recommendation,
        narratives=narratives,
        strategy=strategy,
        notices=tuple(notices),
        prompt_versions={p: load_prompt(p).version for p in WRITING_PROMPTS},
        calls=client.calls,
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )
