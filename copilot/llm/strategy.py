"""Writer 3: segment-to-roadmap strategy. The model rates fit; the engine scores and ranks.

1. Per segment, the model rates every initiative's fit from 1 to 5 with a reason.
2. Code computes ``opportunity = share x value index x fit / 5`` and ranks the pairs. The value
   index is the segment's mean of a revenue-like outcome over the overall mean (1 when there
   is none) and, for a retention goal, also its rate of the binary outcome over the overall
   rate: a segment that churns twice as often has twice as much to save.
3. For the top segments the model drafts actions, KPIs, risks and a hypothesis; the holdout
   experiment's sizes and detectable effect are computed here (10% control group).
Every failed piece becomes a labelled deterministic draft; the scores never depend on prose.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, create_model

from copilot.llm.client import Authorship, LLMClient
from copilot.llm.facts import clean_name, ignorable_names, pct, segment_facts, sig
from copilot.llm.grounding import check_numbers, collect_numbers
from copilot.llm.naming import SegmentNarrative
from copilot.llm.prompts import load_prompt
from copilot.segmentation._base import Frozen
from copilot.segmentation.pipeline import SegmentAnalysis

HOLDOUT_SHARE = 0.10
TOP_SEGMENTS = 3
NEUTRAL_FIT = 3

DEFAULT_INITIATIVES: dict[str, tuple[str, ...]] = {
    "retention": (
        "Proactive success check-ins for at-risk accounts",
        "Annual-plan discount to lock in renewals",
        "In-app education on underused features",
        "Win-back offer for cancelling customers",
        "Faster support response tier",
    ),
    "growth": (
        "Upsell to a higher plan",
        "Seat expansion campaign",
        "Add-on bundle for power users",
        "Usage-based pricing option",
        "Referral programme",
    ),
    "activation": (
        "Guided onboarding checklist",
        "Templates and quick-start content",
        "Lifecycle email nudges",
        "Integration setup assistance",
        "Community and webinars",
    ),
}
GOAL_WORDS = {
    "retention": ("churn", "retain", "retention", "cancel", "renew", "loyal", "attrition"),
    "growth": ("upsell", "expan", "revenue", "upgrade", "monetiz", "monetis", "arpu", "grow", "price"),
    "activation": ("activat", "onboard", "adopt", "engag", "usage", "trial", "convert"),
}


def goal_kind(goal: str) -> str:
    """Which default initiative list fits a goal ("retention", "growth" or "activation")."""
    text = goal.lower()
    scores = {kind: sum(w in text for w in words) for kind, words in GOAL_WORDS.items()}
    best = max(scores, key=scores.get)
    return best if scores[best] > 0 else "growth"


class FitRating(Frozen):
    segment: int
    initiative: str
    fit: int
    reason: str


class Opportunity(Frozen):
    segment: int
    name: str
    initiative: str
    share: float
    value_index: float
    fit: int
    score: float  # share x value_index x fit / 5
    rank: int


class Experiment(Frozen):
    hypothesis: str
    primary_metric: str
    holdout_share: float
    treatment_n: int
    control_n: int
    baseline_pct: float | None  # the segment's rate of the binary outcome, when there is one
    detectable_effect_pts: float | None  # 80% power, 5% two-sided, in percentage points


class SegmentPlan(Frozen):
    segment: int
    name: str
    initiative: str
    opportunity: float
    actions: tuple[str, ...]
    kpis: tuple[str, ...]
    risks: tuple[str, ...]
    experiment: Experiment
    author: Authorship


class Strategy(Frozen):
    goal: str
    initiatives: tuple[str, ...]
    initiatives_source: str
    value_basis: str
    ratings: tuple[FitRating, ...]
    rating_authors: tuple[Authorship, ...]  # one per assigned segment, in segment order
    opportunities: tuple[Opportunity, ...]  # ranked, best first
    plans: tuple[SegmentPlan, ...]


def value_indices(analysis: SegmentAnalysis, goal: str) -> tuple[dict[int, float], str]:
    """Per-segment value index and a sentence saying what it is made of."""
    segments = [p.segment for p in analysis.profiles]
    index = {s: 1.0 for s in segments}
    basis = []
    continuous = [v for v in analysis.validation if v.kind == "continuous" and v.overall]
    if continuous:
        outcome = continuous[0]
        for row in outcome.segments:
            if row.value is not None and row.segment in index:
                index[row.segment] *= max(row.value / outcome.overall, 0.0)
        basis.append(f"mean {clean_name(outcome.name)} relative to the average")
    binary = [v for v in analysis.validation if v.kind == "binary" and v.overall]
    if binary and goal_kind(goal) == "retention":
        outcome = binary[0]
        for row in outcome.segments:
            if row.value is not None and row.segment in index:
                index[row.segment] *= row.value / outcome.overall
        basis.append(f"{clean_name(outcome.name)} rate relative to the average (what there is to save)")
    text = " x ".join(basis) if basis else "1 for every segment (no value or risk outcome to weigh by)"
    return index, text


def detectable_effect(rate: float, treatment: int, control: int) -> float | None:
    """Minimum detectable difference in a rate, in points (80% power, alpha 0.05 two-sided)."""
    if treatment < 1 or control < 1 or not 0 < rate < 1:
        return None
    return round(100 * 2.8 * math.sqrt(rate * (1 - rate) * (1 / treatment + 1 / control)), 1)


def draft_strategy(
    analysis: SegmentAnalysis,
    narratives: tuple[SegmentNarrative, ...],
    client: LLMClient,
    *,
    goal: str,
    initiatives: tuple[str, ...] | None = None,
    top_segments: int = TOP_SEGMENTS,
) -> Strategy:
    """Fit matrix, ranked opportunities and plans for the top segments."""
    if initiatives:
        source = "yours"
        initiatives = tuple(dict.fromkeys(clean_name(i) for i in initiatives))
    else:
        kind = goal_kind(goal)
        initiatives, source = DEFAULT_INITIATIVES[kind], f"default list for a {kind} goal"
    names = {n.segment: n.name for n in narratives}
    ignore = ignorable_names(analysis) + tuple(initiatives) + tuple(names.values())
    ratings: list[FitRating] = []
    authors: list[Authorship] = []
    # Customers no segment claims (HDBSCAN's noise, label -1) are nobody's audience: a plan
    # cannot target them by a segment rule, so they are neither rated nor planned for.
    targets = [p for p in analysis.profiles if p.segment >= 0]
    for position, profile in enumerate(targets, start=1):
        client.on_event(f"Rating initiatives for segment {position} of {len(targets)}")
        seg_ratings, author = _rate_segment(analysis, profile.segment, names, goal, initiatives,
                                            client, ignore)
        ratings.extend(seg_ratings)
        authors.append(author)
    index, basis = value_indices(analysis, goal)
    shares = {p.segment: p.share for p in analysis.profiles}
    scored = [
        (shares[r.segment] * index[r.segment] * r.fit / 5, r) for r in ratings
    ]
    scored.sort(key=lambda item: (-item[0], item[1].segment, initiatives.index(item[1].initiative)))
    opportunities = tuple(
        Opportunity(segment=r.segment, name=names.get(r.segment, f"Segment {r.segment}"),
                    initiative=r.initiative, share=shares[r.segment],
                    value_index=round(index[r.segment], 3), fit=r.fit, score=round(score, 4),
                    rank=rank)
        for rank, (score, r) in enumerate(scored, start=1)
    )
    plans = []
    seen: set[int] = set()
    for opp in opportunities:
        if opp.segment in seen:
            continue
        seen.add(opp.segment)
        client.on_event(f"Drafting the plan for {opp.name}")
        plans.append(_plan_segment(analysis, opp, goal, client, ignore))
        if len(plans) == top_segments:
            break
    return Strategy(goal=goal, initiatives=initiatives, initiatives_source=source,
                    value_basis=basis, ratings=tuple(ratings), rating_authors=tuple(authors),
                    opportunities=opportunities, plans=tuple(plans))


def _rate_segment(analysis, segment, names, goal, initiatives, client, ignore):
    prompt = load_prompt("rate_fit")
    facts = segment_facts(analysis, segment) | {"name": names.get(segment)}
    rendered = prompt.render(goal=clean_name(goal) if len(goal) <= 60 else goal[:300],
                             facts=facts, initiatives=list(initiatives))
    item = create_model(
        "FitItem",
        initiative=(Literal[tuple(initiatives)], ...),
        fit=(int, Field(ge=1, le=5)),
        reason=(str, Field(min_length=5, max_length=200)),
    )
    schema = create_model(
        "FitRatings",
        ratings=(list[item], Field(min_length=len(initiatives), max_length=len(initiatives))),
    )
    numbers = collect_numbers(facts)

    def check(answer: Any) -> list[str]:
        rated = [r.initiative for r in answer.ratings]
        problems = [f"Rate '{i}' exactly once." for i in initiatives if rated.count(i) != 1]
        for r in answer.ratings:
            problems += check_numbers(r.reason, numbers, ignore=ignore)
        return problems

    answer = client.ask(rendered, schema, check, what=f"segment {segment} fit ratings")
    author = client.authorship(rendered, answer)
    if answer.value is None:
        return [
            FitRating(segment=segment, initiative=i, fit=NEUTRAL_FIT,
                      reason="Neutral fit (deterministic draft: the model's rating was unusable).")
            for i in initiatives
        ], author
    return [
        FitRating(segment=segment, initiative=r.initiative, fit=r.fit, reason=r.reason.strip())
        for r in answer.value.ratings
    ], author


# Every string is capped: an uncapped string lets a small model loop until the timeout.
Line = Annotated[str, Field(min_length=3, max_length=160)]


class PlanDraft(Frozen):
    actions: list[Line] = Field(min_length=2, max_length=4)
    kpis: list[Line] = Field(min_length=2, max_length=3)
    risks: list[Line] = Field(min_length=1, max_length=3)
    hypothesis: str = Field(min_length=10, max_length=300)
    primary_metric: str = Field(min_length=3, max_length=80)


def _experiment_numbers(analysis: SegmentAnalysis, segment: int) -> dict[str, Any]:
    size = next(p.size for p in analysis.profiles if p.segment == segment)
    # The CRM export's own holdout count (a hash of each ID, so about, not exactly, 10%).
    control = analysis.holdout.get(segment, int(round(size * HOLDOUT_SHARE)))
    treatment = size - control
    baseline = None
    for outcome in analysis.validation:
        if outcome.kind == "binary":
            row = next((s for s in outcome.segments if s.segment == segment), None)
            baseline = row.value if row else None
            break
    return {
        "holdout_pct": pct(HOLDOUT_SHARE),
        "treatment_customers": treatment,
        "control_customers": control,
        "baseline_pct": pct(baseline),
        "detectable_effect_pts": detectable_effect(baseline, treatment, control) if baseline else None,
    }


def _plan_segment(analysis, opp: Opportunity, goal, client, ignore) -> SegmentPlan:
    prompt = load_prompt("plan_segment")
    design = _experiment_numbers(analysis, opp.segment)
    facts = segment_facts(analysis, opp.segment) | {
        "name": opp.name, "initiative": opp.initiative, "fit": opp.fit,
        "opportunity_score": sig(opp.score), "experiment": design,
    }
    rendered = prompt.render(goal=goal[:300], facts=facts)
    numbers = collect_numbers(facts)

    def check(answer: Any) -> list[str]:
        texts = [*answer.actions, *answer.kpis, *answer.risks, answer.hypothesis, answer.primary_metric]
        return [p for t in texts for p in check_numbers(t, numbers, ignore=ignore)]

    answer = client.ask(rendered, PlanDraft, check, what=f"plan for {opp.name}")
    author = client.authorship(rendered, answer)
    draft = answer.value or _draft_plan(analysis, opp, goal)
    experiment = Experiment(
        hypothesis=draft.hypothesis.strip(), primary_metric=draft.primary_metric.strip(),
        holdout_share=HOLDOUT_SHARE, treatment_n=design["treatment_customers"],
        control_n=design["control_customers"], baseline_pct=design["baseline_pct"],
        detectable_effect_pts=design["detectable_effect_pts"],
    )
    return SegmentPlan(
        segment=opp.segment, name=opp.name, initiative=opp.initiative, opportunity=opp.score,
        actions=tuple(a.strip() for a in draft.actions), kpis=tuple(k.strip() for k in draft.kpis),
        risks=tuple(r.strip() for r in draft.risks), experiment=experiment, author=author,
    )


def _draft_plan(analysis: SegmentAnalysis, opp: Opportunity, goal: str) -> PlanDraft:
    binary = next((v for v in analysis.validation if v.kind == "binary"), None)
    metric = f"{clean_name(binary.name)} rate" if binary else _goal_metric(goal)
    initiative = opp.initiative
    return PlanDraft(
        actions=[
            f"Pilot '{initiative}' with {opp.name}, targeted by its segment rule.",
            f"Brief the owning team on what sets {opp.name} apart (see its profile).",
        ],
        kpis=[metric, f"Adoption of '{initiative}' within {opp.name}"],
        risks=[
            "The segment's traits describe averages; individual customers vary.",
            "Other changes shipped during the test can blur the effect.",
        ],
        hypothesis=f"'{initiative}' improves {metric} for {opp.name} against the holdout group.",
        primary_metric=metric,
    )


def _goal_metric(goal: str) -> str:
    return {"retention": "retention rate", "growth": "revenue per customer",
            "activation": "activation rate"}[goal_kind(goal)]

