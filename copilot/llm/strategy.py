"""Writer 3: segment-to-roadmap strategy. The model rates fit; the engine scores and ranks.

1. **Initiatives**: the user's, or defaults drawn from the table's own columns for the goal's
   kind (``initiatives``): contracts and add-ons for a telco, seats and features for SaaS.
2. **Fit matrix**, in one call for every segment: each initiative's fit from 1 to 5. A row that
   rates every initiative the same is a non-answer and is re-asked; rows that stay unusable get
   a computed fit (does the segment show the initiative's target trait?), labelled as a draft.
3. **Scores**: ``opportunity = share x value index x fit / 5``. The value index is the segment's
   value against the average (a revenue outcome, or a spend feature; never a running total such
   as ``TotalCharges``, which mostly measures tenure) and, for a retention goal, its risk
   against the average: a segment that churns twice as often has twice as much to save.
4. **A portfolio, not a list**: the ranking leads with each segment's best initiative, so the
   top covers several segments; one segment's second initiative ranks above another segment's
   best only when it scores at least twice as high, and the strategy says so.
5. **Plans** for the top segments, at most as many as the goal allows ("at most 3 campaigns").
   Each plan's actions must cite what sets its segment apart, none may only restate the
   initiative, and the hypothesis may not promise its result; the holdout experiment's sizes and
   detectable effect are computed here.
Every failed piece becomes a labelled deterministic draft; the scores never depend on prose.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import Field, create_model

from copilot.core import Frozen, percent_number
from copilot.llm.client import Authorship, LLMClient
from copilot.llm.context import WritingContext
from copilot.llm.direction_check import check_directions
from copilot.llm.facts import (
    clean_name,
    ignorable_names,
    injected_words,
    repeats_injection,
    safe_for_model,
    sig,
)
from copilot.llm.grounding import check_numbers
from copilot.llm.initiatives import (
    Initiative,
    computed_fit,
    default_initiatives,
    goal_kind,
    risk_weight,
    user_initiatives,
)
from copilot.llm.naming import SegmentNarrative
from copilot.llm.narrative_checks import check_stance_words, check_wishes
from copilot.llm.plan_checks import (
    check_plan_form,
    check_plan_specific,
    check_plumbing,
    check_promise,
)
from copilot.llm.prose import complete_sentences
from copilot.segmentation import SegmentAnalysis, is_cumulative, is_value_name

__all__ = ["TOP_SEGMENTS", "Strategy", "campaign_cap", "draft_strategy", "goal_kind"]

HOLDOUT_SHARE = 0.10
TOP_SEGMENTS = 3
NEUTRAL_FIT = 3
#: A segment's second initiative ranks above another segment's best only at this multiple.
DOMINANCE = 2.0


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
    # Defaults, so that a session saved before these existed still loads.
    portfolio_note: str | None = None  # why one segment holds more than one of the top ranks
    campaign_cap: int | None = None  # "at most N campaigns" read from the goal


# ----------------------------------------------------------------------- reading the goal

_COUNT_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "a single": 1, "a couple of": 2}
_THINGS = r"(?:campaigns?|audiences?|plans?|initiatives?|programmes?|programs?|experiments?|" \
          r"segments?|groups?|pilots?|tests?|offers?)"
_NUM = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|a single|a couple of)"
_CAP = re.compile(
    rf"\b(?:at most|up to|no more than|not more than|maximum of|max(?:imum)?|only|just|"
    rf"(?:we )?(?:can|could) (?:only )?(?:run|afford|handle|launch|serve|support|do))\s+{_NUM}"
    rf"\s+(?:\w+\s+)?{_THINGS}\b"
    rf"|\b{_NUM}\s+{_THINGS}\s+(?:at most|max(?:imum)?|tops)\b",
    re.IGNORECASE)


def campaign_cap(goal: str) -> int | None:
    """How many campaigns the goal allows ("we can run at most 3 campaigns" -> 3), or None."""
    m = _CAP.search(goal)
    if m is None:
        return None
    raw = (m.group(1) or m.group(2)).lower()
    n = int(raw) if raw.isdigit() else _COUNT_WORDS.get(raw)
    return n if n and n > 0 else None


# ------------------------------------------------------------------------------- value


def value_indices(context: WritingContext, goal: str) -> tuple[dict[int, float], str]:
    """Per-segment value index and a sentence saying what it is made of."""
    analysis, stances = context.analysis, context.stances
    index = {p.segment: 1.0 for p in analysis.profiles}
    basis = []
    vb = stances.value_basis
    if vb is not None:
        for p in analysis.profiles:
            s = stances.of(p.segment)
            if s is not None and s.value_figure is not None and vb.overall > 0:
                index[p.segment] *= max(s.value_figure / vb.overall, 0.0)
        basis.append(f"mean {clean_name(vb.column)} relative to the average"
                     + (" (a spend feature: the table has no revenue outcome)"
                        if vb.source == "feature" else ""))
    columns = [c.name for c in analysis.roles.columns]
    skipped = [v.name for v in analysis.validation
               if v.kind == "continuous" and is_value_name(v.name) and is_cumulative(v.name, columns)]
    if goal_kind(goal) == "retention" and stances.risk_basis is not None:
        for p in analysis.profiles:
            w = risk_weight(stances, p.segment)
            if w is not None:
                index[p.segment] *= w
        basis.append(f"{clean_name(stances.risk_basis.column)} rate relative to the average "
                     "(what there is to save)")
    text = " x ".join(basis) if basis else "1 for every segment (no value or risk outcome to weigh by)"
    if skipped:
        text += (f"; {', '.join(clean_name(s) for s in skipped)} is left out of value: a running "
                 "total mostly measures how long customers have stayed")
    return index, text


def detectable_effect(rate: float, treatment: int, control: int) -> float | None:
    """Minimum detectable difference in a rate, in points (80% power, alpha 0.05 two-sided)."""
    if treatment < 1 or control < 1 or not 0 < rate < 1:
        return None
    return round(100 * 2.8 * math.sqrt(rate * (1 - rate) * (1 / treatment + 1 / control)), 1)


# ---------------------------------------------------------------------------- the strategy


def draft_strategy(
    analysis: SegmentAnalysis,
    narratives: tuple[SegmentNarrative, ...],
    client: LLMClient,
    *,
    goal: str,
    initiatives: tuple[str, ...] | None = None,
    top_segments: int = TOP_SEGMENTS,
    context: WritingContext | None = None,
) -> Strategy:
    """Fit matrix, a portfolio of opportunities and plans for the top segments."""
    analysis = safe_for_model(analysis)  # initiatives are drawn from its levels: clean ones
    if initiatives:
        chosen = user_initiatives(tuple(dict.fromkeys(clean_name(i) for i in initiatives)))
        source = "yours"
    else:
        chosen = default_initiatives(analysis, goal, context.stances if context else None)
        source = (f"defaults for a {goal_kind(goal)} goal, drawn from the columns the segments "
                  "differ on")
    texts = tuple(i.text for i in chosen)
    context = context or WritingContext(analysis, goal=goal, initiatives=texts)
    if context.initiatives != texts or context.goal != goal:
        context = WritingContext(analysis, goal=goal, initiatives=texts)
    names = {n.segment: n.name for n in narratives}
    cap = campaign_cap(goal)
    targets = [p for p in analysis.profiles if p.segment >= 0]
    client.on_event(f"Rating {len(texts)} initiatives for {len(targets)} segments")
    ratings, authors = _rate_all(context, chosen, names, client)
    index, basis = value_indices(context, goal)
    shares = {p.segment: p.share for p in analysis.profiles}
    scored = [(shares[r.segment] * index[r.segment] * r.fit / 5, r) for r in ratings]
    ranked, note = portfolio(scored, texts, names)
    opportunities = tuple(
        Opportunity(segment=r.segment, name=names.get(r.segment, f"Segment {r.segment}"),
                    initiative=r.initiative, share=shares[r.segment],
                    value_index=round(index[r.segment], 3), fit=r.fit, score=round(score, 4),
                    rank=rank)
        for rank, (score, r) in enumerate(ranked, start=1)
    )
    n_plans = min(top_segments, cap) if cap else top_segments
    plans = []
    seen: set[int] = set()
    ignore = ignorable_names(analysis) + texts + tuple(names.values())
    by_text = {i.text: i for i in chosen}
    for opp in opportunities:
        if len(plans) >= n_plans:
            break
        if opp.segment in seen:
            continue
        seen.add(opp.segment)
        client.on_event(f"Drafting the plan for {opp.name}")
        plans.append(_plan_segment(context, opp, goal, client, ignore, by_text[opp.initiative]))
    return Strategy(goal=goal, initiatives=texts, initiatives_source=source,
                    value_basis=basis, ratings=tuple(ratings), rating_authors=tuple(authors),
                    opportunities=opportunities, plans=tuple(plans), portfolio_note=note,
                    campaign_cap=cap)


def portfolio(scored: list[tuple[float, FitRating]], initiatives: tuple[str, ...],
              names: dict[int, str]) -> tuple[list[tuple[float, FitRating]], str | None]:
    """Rank pairs so each segment's best initiative comes before any segment's second.

    A segment's later pair may jump ahead of a segment not yet listed only when its score is at
    least ``DOMINANCE`` times that segment's best; the returned note says when that happened.
    """
    order = lambda item: (-item[0], item[1].segment, initiatives.index(item[1].initiative))
    queues: dict[int, list[tuple[float, FitRating]]] = {}
    for item in sorted(scored, key=order):
        queues.setdefault(item[1].segment, []).append(item)
    ranked: list[tuple[float, FitRating]] = []
    listed: set[int] = set()
    note = None
    while any(queues.values()):
        heads = [q[0] for q in queues.values() if q]
        fresh = [h for h in heads if h[1].segment not in listed]
        again = [h for h in heads if h[1].segment in listed]
        best_fresh = min(fresh, key=order) if fresh else None
        best_again = min(again, key=order) if again else None
        if best_fresh is None or (best_again is not None and best_fresh[0] > 0
                                  and best_again[0] >= DOMINANCE * best_fresh[0]):
            pick = best_again
            if best_fresh is not None and note is None:
                seg = pick[1].segment
                note = (f"{names.get(seg, f'Segment {seg}')} holds more than one of the top ranks: "
                        f"its next initiative scores {sig(pick[0])}, at least twice the best of "
                        f"any segment not yet listed ({sig(best_fresh[0])}).")
        else:
            pick = best_fresh
        queues[pick[1].segment].pop(0)
        listed.add(pick[1].segment)
        ranked.append(pick)
    return ranked, note


def combined_fit(listed: bool, target_fit: int) -> int:
    """The fit from 1 to 5: the model's judgement (does the initiative fit this segment?),
    refined by whether the segment shows the initiative's target trait (``computed_fit``).

    5: judged a fit and the target is common here; 4: judged a fit; 3: judged a fit although
    the target is rare here; 2: not judged a fit but the target is common; 1: neither.
    """
    if listed:
        return 5 if target_fit >= 4 else 3 if target_fit <= 2 else 4
    return 2 if target_fit >= 4 else 1


def _rate_all(context: WritingContext, chosen: tuple[Initiative, ...], names: dict[int, str],
              client: LLMClient) -> tuple[list[FitRating], list[Authorship]]:
    """One call: which segments each initiative fits; code turns that into 1-5 fits.

    Asked for a 1-5 matrix, the embedded model rated every initiative 5 (or 4) for every
    segment, re-asks included; asked to rank the initiatives per segment, it gave every segment
    the same order (both measured on Telco). Saying which segments an initiative fits is a
    choice it makes well, and an initiative that "fits" every segment is refused as a
    non-answer. Without a usable answer, the fits are computed from the targets alone.
    """
    analysis = context.analysis
    texts = tuple(i.text for i in chosen)
    segments = [p.segment for p in analysis.profiles if p.segment >= 0]
    target = {(s, n): computed_fit(i, analysis, s, context.stances.of(s))
              for n, i in enumerate(chosen) for s in segments}
    lines = []
    for n, i in enumerate(chosen):
        common = [s for s in segments if target[(s, n)] >= 4]
        where = (f" (its target is common in segment{'s' if len(common) > 1 else ''} "
                 f"{', '.join(map(str, common))})" if common and i.target is not None else "")
        lines.append(f"{n + 1}. {i.text}{where}")
    rendered = context.render("rate_fit", initiatives="\n".join(lines))
    segment_number = Literal[tuple(segments)] if segments else int
    schema = create_model("InitiativeFits", **{
        f"initiative_{n + 1}": (list[segment_number], Field(max_length=len(segments)))
        for n in range(len(texts))})

    def check(answer: Any) -> list[str]:
        problems = []
        for n, text in enumerate(texts):
            listed = set(getattr(answer, f"initiative_{n + 1}"))
            if len(segments) > 2 and listed >= set(segments):
                problems.append(f"Initiative {n + 1} ({text}) is listed for every segment; an "
                                "initiative fits some segments better than others.")
        return problems

    client.on_event(f"Rating {len(texts)} initiatives for {len(segments)} segments")
    answer = client.ask(rendered, schema, check, what="fit ratings")
    author = client.authorship(rendered, answer)
    ratings: list[FitRating] = []
    for s in segments:
        for n, text in enumerate(texts):
            if answer.value is not None:
                listed = s in set(getattr(answer.value, f"initiative_{n + 1}"))
                fit = combined_fit(listed, target[(s, n)])
                why = ("judged a fit" if listed else "not judged a fit") + _target_note(target[(s, n)])
            else:
                fit = target[(s, n)]
                why = "computed from the initiative's target (deterministic draft)"
            ratings.append(FitRating(segment=s, initiative=text, fit=fit, reason=why))
    return ratings, [author for _ in segments]


def _target_note(fit: int) -> str:
    return ("; its target is common here" if fit >= 4 else
            "; its target is rare here" if fit <= 2 else "")


# ---------------------------------------------------------------------------------- plans

# Every string is capped: an uncapped string lets a small model loop until the timeout.
Line = Annotated[str, Field(min_length=3, max_length=240)]


class PlanDraft(Frozen):
    actions: list[Line] = Field(min_length=2, max_length=3)
    kpis: list[Line] = Field(min_length=1, max_length=3)
    risks: list[Line] = Field(min_length=1, max_length=2)
    primary_metric: str = Field(min_length=3, max_length=80)
    hypothesis: str = Field(min_length=10, max_length=320)


PLAN_TOKENS = 170  # two actions, two KPIs, a risk, a metric and a hypothesis: about 110 tokens
_HEADS = re.compile(r"^\s*(?:\*\*)?(actions?|kpis?|risks?|primary[ _]metric|hypothesis)(?:\*\*)?"
                    r"\s*:\s*(.*)$", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


def read_plan(text: str) -> dict[str, Any]:
    """A plain-text plan ("ACTIONS:\n- ...\nKPIS:\n- ...") read into ``PlanDraft`` fields.

    Plain text, not a JSON grammar: a plan is the longest answer of the pass, and the grammar
    costs a third of the writing speed on the embedded model. What cannot be read is left out,
    so validation says what is missing.
    """
    fields: dict[str, Any] = {}
    key = None
    for line in text.splitlines():
        head = _HEADS.match(line)
        if head:
            word = head.group(1).lower()
            key = ("actions" if word.startswith("action") else "kpis" if word.startswith("kpi")
                   else "risks" if word.startswith("risk") else "primary_metric"
                   if word.startswith("primary") else "hypothesis")
            rest = head.group(2).strip()
            if key in ("primary_metric", "hypothesis"):
                fields[key] = rest
            elif rest:
                fields.setdefault(key, []).append(_BULLET.sub("", rest))
            continue
        item = line.strip()
        if not item or key is None:
            continue
        if key in ("primary_metric", "hypothesis"):
            fields[key] = (fields.get(key, "") + " " + item).strip()
        else:
            fields.setdefault(key, []).append(_BULLET.sub("", item).strip())
    # A fourth action is cut, not refused: the first ones are the model's own priority; an
    # item that runs on keeps its first sentence (what follows is mostly the model explaining
    # itself, measured).
    for key, most in (("actions", 3), ("kpis", 3), ("risks", 2)):
        if key in fields:
            fields[key] = [complete_sentences(x, 1) for x in fields[key] if x][:most]
    return fields


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
        "holdout_pct": percent_number(HOLDOUT_SHARE),
        "treatment_customers": treatment,
        "control_customers": control,
        "baseline_pct": percent_number(baseline),
        "detectable_effect_pts": detectable_effect(baseline, treatment, control) if baseline else None,
    }


def _plan_segment(context: WritingContext, opp: Opportunity, goal: str, client: LLMClient,
                  ignore: tuple[str, ...], initiative: Initiative) -> SegmentPlan:
    from copilot.llm.naming import facts_line

    analysis = context.analysis
    design = _experiment_numbers(analysis, opp.segment)
    rendered = context.render("plan_segment", segment=opp.segment, name=opp.name,
                              initiative=opp.initiative, brief=facts_line(context, opp.segment),
                              experiment=design)
    numbers = context.segment_numbers(opp.segment, design, context.plan_facts(opp.segment),
                                      {"fit": opp.fit, "score": sig(opp.score)})
    ev = context.evidence(opp.segment)
    injected = injected_words(analysis)
    def check(answer: Any) -> list[str]:
        texts = [*answer.actions, *answer.kpis, *answer.risks, answer.hypothesis,
                 answer.primary_metric]
        problems = [p for t in texts for p in check_numbers(t, numbers, ignore=ignore)]
        # Actions and risks describe the customers; KPIs and the hypothesis name the change
        # sought ("lower churn"), which is no claim about the segment's direction.
        for t in (*answer.actions, *answer.risks):
            problems += check_directions(t, ev.traits, ignore=ignore)
            problems += check_wishes(t, ev) + check_stance_words(t, ev)
        for t in texts:
            problems += repeats_injection(t, injected)
        problems += check_plan_specific(answer.actions, opp.initiative, ev)
        problems += check_plan_form(answer.actions)
        for t in texts:
            problems += check_plumbing(t)
        for t in (*answer.actions, *answer.kpis, *answer.risks):
            problems += check_promise(t)
        promised[0] = bool(check_promise(answer.hypothesis))
        return list(dict.fromkeys(problems))

    # A hypothesis that promises its result is refused, but not re-asked: a plan is the
    # longest answer of the pass, and the engine's own hypothesis (the same test, stated as a
    # hypothesis) stands in for it, labelled in the plan's authorship.
    promised = [False]
    answer = client.ask(rendered, PlanDraft, check, what=f"plan for {opp.name}",
                        text=read_plan, max_tokens=PLAN_TOKENS, reasks=1)
    author = client.authorship(rendered, answer)
    fallback = _draft_plan(context, opp, goal, initiative)
    draft = answer.value
    if draft is not None and promised[0]:
        draft = draft.model_copy(update={"hypothesis": fallback.hypothesis})
        author = author.model_copy(update={
            "notice": "the model's hypothesis promised its result; the engine's hypothesis "
                      "stands in for it"})
        client.on_event(f"plan for {opp.name}: the hypothesis promised its result, so the "
                        "engine's hypothesis stands in")
    draft = draft or fallback
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


def _draft_plan(context: WritingContext, opp: Opportunity, goal: str,
                initiative: Initiative) -> PlanDraft:
    """A plan from templates that still names what sets the segment apart."""
    analysis = context.analysis
    binary = next((v for v in analysis.validation if v.kind == "binary"), None)
    metric = f"{clean_name(binary.name)} rate" if binary else _goal_metric(goal)
    entry = context.entries[opp.segment]
    trait = (entry.get("stands_out") or ["its profile"])[0]
    trait = re.sub(r"\s*\(.*\)$", "", trait)
    target = initiative.target
    who = (f"customers with {clean_name(target.column)} = {clean_name(target.level)}"
           if target is not None and target.level else f"customers with {trait}")
    direction = "lowers" if binary is not None and goal_kind(goal) == "retention" else "raises"
    # Built, not validated: the length caps hold the model to short lines, not the templates.
    return PlanDraft.model_construct(
        actions=[
            f"Offer '{opp.initiative}' first to {opp.name} {who}, found by the segment rule.",
            f"Shape the message around what sets them apart: {trait}.",
        ],
        kpis=[metric, f"Take-up of '{opp.initiative}' within {opp.name}"],
        risks=[
            "The segment's traits describe averages; individual customers vary.",
            "Other changes shipped during the test can blur the effect.",
        ],
        hypothesis=(f"'{opp.initiative}' {direction} {metric} for {opp.name} compared with the "
                    "holdout group."),
        primary_metric=metric,
    )


def _goal_metric(goal: str) -> str:
    return {"retention": "retention rate", "growth": "revenue per customer",
            "activation": "activation rate"}[goal_kind(goal)]
