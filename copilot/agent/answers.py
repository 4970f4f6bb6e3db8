"""Answers to questions about the results: computed text first, a checked LLM answer otherwise.

A question with a known topic ("why k=5?", "which segment churns most?", "tell me about segment
2") gets text formatted here from the analysis: exact, instant, and the same on every provider.
Other questions go to the LLM with the aggregates only (never a row or an ID); its answer must
cite only figures in those aggregates (the grounding check) or it is re-asked, then replaced by
a labelled overview.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from pydantic import Field

from copilot.agent.rankings import answer_ranking, is_ranking_question
from copilot.core import Frozen, figure, percent, percent_number
from copilot.llm import (
    LLMClient,
    check_numbers,
    collect_numbers,
    ignorable_names,
    injected_words,
    load_prompt,
    repeats_injection,
    safe_for_model,
    segment_facts,
    text_for_model,
)
from copilot.segmentation import SegmentAnalysis, segment_stances

if TYPE_CHECKING:
    from copilot.agent.session import Session


class AnswerText(Frozen):
    answer: str = Field(min_length=2, max_length=900, description="1 to 4 sentences")


_WHY_K = re.compile(r"\bwhy\b.*\b(k|\d+|many|number of)\b|\bhow many segments\b|\bwhy (these|this)"
                    r" (segments|k|number)\b", re.IGNORECASE)
_SIZES = re.compile(r"\b(biggest|largest|smallest|size|sizes|how big)\b|\bhow many\s+"
                    r"(?:customers|accounts|users|people|rows)\b.*\b(?:each|every|per|the)\s+"
                    r"(?:segments?|groups?|clusters?)\b", re.IGNORECASE)
_STRATEGY = re.compile(r"\b(strategy|opportunit\w*|initiative\w*|roadmap|plan|plans)\b", re.IGNORECASE)
_QUALITY = re.compile(r"\b(quality|missing|duplicates?|outliers?|leak\w*)\b", re.IGNORECASE)
_SEGMENT_N = re.compile(r"\bsegment\s+(-?\d+)\b", re.IGNORECASE)
# Words that ask about free text whatever the table; weaker ones ("what do they say") only
# when the analysis has themes, so "what does the data say about churn" stays a churn question.
_THEMES = re.compile(r"\b(complain\w*|feedback|comments?|reviews?|verbatims?|themes?|topics?)\b",
                     re.IGNORECASE)
_THEMES_WEAK = re.compile(r"\b(?:customers?|they|people|users?|segment\s+-?\d+|\w+ers)\s+"
                          r"(?:say|said|saying|mention\w*|write|wrote)\b|\b(?:tickets?|nps)\b",
                          re.IGNORECASE)
_ANCHORS = re.compile(r"\b(anchors?|firmographic\w*|industr(?:y|ies)|sectors?|verticals?|"
                      r"regions?|countr(?:y|ies)|company size|employees)\b", re.IGNORECASE)


def answer_question(session: Session, question: str, client: LLMClient | None = None) -> str:
    """The answer, from the computed results; an LLM only for questions without a known topic."""
    a = session.analysis
    if a is None:
        return ("There are no segments yet, so there is nothing to answer from; load a table and "
                "give a goal (or type /help).")
    topic = computed_answer(session, question)
    if topic is not None:
        return topic
    llm = session.client(client)
    if llm.down is None:
        answer = _llm_answer(session, question, llm)
        if answer is not None:
            return answer
    return overview(session) + "\n(A computed overview: no checked LLM answer was available.)"


def computed_answer(session: Session, question: str) -> str | None:
    """The answer code gives from the computed table (rankings, sizes, a segment's figures,
    outcomes, themes, anchors, why this k), or None when the question needs a model."""
    from copilot.agent.views import profile_text, segment_names, strategy_text, sweep_text

    a = session.analysis
    q = question.strip()
    if _WHY_K.search(q):
        text = sweep_text(session)
        rec = session.writing.recommendation if session.writing else None
        if rec is not None and rec.author.status != "fallback":
            text += f"\nThe {rec.author.writer} model's advice: k={rec.k} ({rec.algorithm}). {rec.reason}"
        return text
    names = segment_names(session)
    if is_ranking_question(q):
        # One right answer in the table: computed, before any profile a segment word matches.
        ranking = answer_ranking(q, a, names)
        if ranking is not None:
            return ranking
    match = _SEGMENT_N.search(q)
    named = [s for s, n in names.items() if n.casefold() in q.casefold()]
    # Free text and anchors before the segment profile: "what does segment 2 complain about"
    # asks for its themes, which a profile does not hold.
    themes = _themes_answer(a, q, names)
    if themes is not None:
        return themes
    anchors = _anchors_answer(a, q, names)
    if anchors is not None:
        return anchors
    if match or named:
        segment = int(match.group(1)) if match else named[0]
        if segment in names:
            return with_stance(profile_text(session, segment), a, segment)
    for v in a.validation:
        if v.name.casefold() in q.casefold() or (v.kind == "binary" and "churn" in q.casefold()
                                                  and "churn" in v.name.casefold()):
            ranked = sorted((s for s in v.segments if s.value is not None),
                            key=lambda s: -s.value)
            lines = [v.summary]
            lines += [f"- {names.get(s.segment, s.segment)}: {figure(v.kind, s.value)} "
                      f"[{figure(v.kind, s.ci_low)} to {figure(v.kind, s.ci_high)}]"
                      for s in ranked]
            return "\n".join(lines)
    if _STRATEGY.search(q) and session.writing is not None and session.writing.strategy:
        return strategy_text(session)
    if _QUALITY.search(q):
        findings = a.quality.findings
        return "\n".join([f"{len(findings)} quality finding(s)."]
                         + [f"- {f.message}" for f in findings[:8]])
    if _SIZES.search(q):
        stances = stance_labels(a)
        return "\n".join(f"{names[s.segment] if s.segment in names else 'Unassigned'}: "
                         f"{s.n:,} customers ({percent(s.share)})"
                         + (f", {stances[s.segment]}" if s.segment in stances else "")
                         for s in a.sizes)
    return None


def stance_labels(a: SegmentAnalysis) -> dict[int, str]:
    """Each segment's stance in words ("high value, at risk"); segments without one are left out."""
    return {s.segment: s.label for s in segment_stances(a).segments if s.label}


def with_stance(profile: str, a: SegmentAnalysis, segment: int) -> str:
    """A segment's profile (``profile_text``) with its stance after the size on the first line,
    and what the stance is measured on at the end."""
    stances = segment_stances(a)
    stance = stances.of(segment)
    if stance is None or not stance.label:
        return profile
    first, _, rest = profile.partition("\n")
    lines = [f"{first}, {stance.label}", *([rest] if rest else [])]
    basis = stances.basis_sentence()
    return "\n".join([*lines, *([basis] if basis else [])])


def _themes_answer(a, question: str, names: dict[int, str]) -> str | None:
    from copilot.report import theme_text
    from copilot.segmentation import theme_lines

    columns = [r.column for r in a.themes if r.column]
    if not (_THEMES.search(question) or (a.themes and _THEMES_WEAK.search(question))
            or any(c.casefold() in question.casefold() for c in columns)):
        return None
    if not a.themes:
        return ("No free-text column (reviews, tickets, comments) was found in this table, so "
                "there are no themes; name one with /text COLUMN if it holds free text.")
    wanted = _named_segments(question, names)
    own = [f"In {r.column}, {line}" for r in a.themes if not r.skipped
           for line in theme_lines(r, names) if line.split(":")[0] in wanted]
    return "\n".join(own or theme_text(a, names))


def _anchors_answer(a, question: str, names: dict[int, str]) -> str | None:
    from copilot.report import anchor_text
    from copilot.segmentation import AnchorReport, anchor_lines

    columns = [x.column for x in a.anchors.anchors] if a.anchors else []
    if not (_ANCHORS.search(question) or any(c.casefold() in question.casefold()
                                               for c in columns)):
        return None
    if not columns:
        return ("No firmographic anchor (industry, company size, region) was compared across "
                "these segments; name one with /anchor COLUMN, or segment within one with "
                "/within COLUMN.")
    asked = [c.name for c in a.roles.columns if c.name not in columns and re.search(
        rf"\b{re.escape(c.name.replace('_', ' ').casefold())}\b",
        question.replace("_", " ").casefold())]
    if asked:
        return (f"{asked[0]} is not compared across these segments (the anchors are "
                f"{', '.join(columns)}); /anchor {' '.join([*columns, asked[0]])} adds it, or "
                f"/within {asked[0]} segments each of its levels on its own.")
    wanted = _named_segments(question, names)
    own = []
    for assoc in a.anchors.anchors:
        first, *rest = anchor_lines(AnchorReport(anchors=(assoc,)), names)
        mine = [line.strip() for line in rest if line.strip().split(":")[0] in wanted]
        own += [first, *mine] if mine else []
    return "\n".join(own or anchor_text(a, names))


def _named_segments(question: str, names: dict[int, str]) -> set[str]:
    """The names of the segments a question is about ("segment 2", or a segment's name)."""
    match = _SEGMENT_N.search(question)
    return {n for s, n in names.items()
            if n.casefold() in question.casefold() or (match and s == int(match.group(1)))}


def overview(session: Session) -> str:
    """A short computed overview of the segments."""
    from copilot.agent.views import segment_names

    a = session.analysis
    names = segment_names(session)
    stances = stance_labels(a)
    lines = [f"{a.choice.k} segments of {a.n_rows:,} customers:"]
    for p in a.profiles:
        trait = p.top_features[0].phrase if p.top_features else ""
        stance = f", {stances[p.segment]}" if p.segment in stances else ""
        lines.append(f"- {names.get(p.segment, p.segment)} ({percent(p.share)}{stance}): {trait}")
    return "\n".join(lines)


def question_facts(session: Session) -> dict[str, Any]:
    """The aggregates an LLM may answer from: no rows, no IDs."""
    from copilot.agent.views import segment_names

    a = safe_for_model(session.analysis)
    names = {s: text_for_model(n, session.analysis) for s, n in segment_names(session).items()}
    facts: dict[str, Any] = {
        "goal": session.goal,
        "customers": a.n_rows,
        "k": a.choice.k,
        "algorithm": a.choice.algorithm,
        "why_this_k": a.choice.reason,
        "segments": [],
        "outcome_tests": [v.summary for v in a.validation],
    }
    stances = stance_labels(a)
    for p in a.profiles:
        f = segment_facts(a, p.segment)
        facts["segments"].append({"segment": p.segment, "name": names.get(p.segment),
                                  "customers": f["customers"], "share_pct": f["share_pct"],
                                  "stance": stances.get(p.segment),
                                  "in_short": f["in_short"], "outcomes": f["outcomes"]})
    strategy = session.writing.strategy if session.writing else None
    if strategy is not None:
        facts["top_opportunities"] = [
            {"segment": o.name, "initiative": o.initiative, "score": o.score,
             "share_pct": percent_number(o.share), "fit": o.fit} for o in strategy.opportunities[:5]]
    return facts


def _llm_answer(session: Session, question: str, client: LLMClient) -> str | None:
    a = session.analysis
    facts = question_facts(session)
    prompt = load_prompt("answer_question").render(facts=json.dumps(facts, ensure_ascii=False),
                                                   question=question.strip()[:500])
    numbers = collect_numbers(facts)
    ignore = ignorable_names(a) + tuple(s["name"] for s in facts["segments"] if s["name"])
    injected = injected_words(a)

    def check(answer: AnswerText) -> list[str]:
        return check_numbers(answer.answer, numbers, ignore=ignore) + repeats_injection(
            answer.answer, injected)

    result = client.ask(prompt, AnswerText, check, what="answer")
    if result.value is None:
        return None
    author = client.authorship(prompt, result)
    return f"{result.value.answer.strip()}\n({author.writer}; figures checked against the analysis.)"
