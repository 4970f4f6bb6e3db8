"""Ranking questions answered by code: "which segment churns the most?", "top 3 by revenue",
"how many customers are in the highest-churn segment?".

A ranking has one right answer in the computed table, so no model guesses it: the question is
read for a measure (an outcome or a feature column, by its own name or a PM's word for it:
churns / leaves / cancels; spends / revenue / charges; size), a direction and a count, and the
answer is the segment, its number and its figure against the overall one. A question this
module cannot read (no measure matched) is left to the other answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from copilot.core import figure, percent
from copilot.llm import word_forms
from copilot.segmentation import (
    SegmentAnalysis,
    is_cumulative,
    is_value_name,
    name_tokens,
    outcome_polarity,
)

# What a ranking question looks like, before any table is known (``ask`` routes it before the
# segments exist): a "which/what segment" question, a "top N", or a "how many ... in the
# highest/largest ..." with a ranking word.
_SEGMENT_WORD = r"(?:segments?|groups?|clusters?|cohorts?|personas?)"
_RANK_WORD = (r"(?:most|least|highest|lowest|biggest|largest|smallest|fewest|top|bottom|best|"
              r"worst|max(?:imum)?|min(?:imum)?|more|less|greatest|heaviest)")
_RANKING = re.compile(
    rf"\b(?:which|what)\s+(?:\w+\s+){{0,2}}{_SEGMENT_WORD}\b.*\b{_RANK_WORD}\b"
    rf"|\b{_RANK_WORD}\b.*\b{_SEGMENT_WORD}\b.*\?"
    rf"|\b(?:top|bottom)\s+(?:\d+|two|three|four|five)\b"
    rf"|\bhow many\b.*\b(?:highest|lowest|most|least|biggest|largest|smallest)\b"
    rf"|\brank\w*\b.*\bby\b"
    # "who cancels the most?", "where is churn lowest?", "what's the biggest segment"
    rf"|^\s*(?:who|which|what|where)\b.*\b{_RANK_WORD}\b",
    re.IGNORECASE,
)
_DESC = {"most", "highest", "top", "biggest", "largest", "more", "best", "max", "maximum",
         "greatest", "heaviest"}
_ASC = {"least", "lowest", "fewest", "smallest", "bottom", "less", "min", "minimum", "worst"}
_COUNT_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5}
# A PM's words for a measure, by what the column is.
_LOSS_WORDS = {"churn", "churns", "churned", "churning", "churners", "leave", "leaves", "leaving",
               "left", "cancel", "cancels", "cancelled", "canceled", "cancelling", "attrition",
               "lost", "lose", "loses", "lapse", "lapses", "lapsed", "quit", "quits"}
_VALUE_WORDS = {"spend", "spends", "spending", "spent", "revenue", "pays", "pay", "paying",
                "charges", "charged", "value", "valuable", "money", "worth", "ltv", "arpu"}
_SIZE_WORDS = {"largest", "biggest", "smallest", "size", "big", "large", "small"}


@dataclass(frozen=True)
class Measure:
    """One rankable figure per segment."""

    label: str  # "Churn rate", "mean MonthlyCharges", "size"
    kind: str  # "binary" (a rate), "continuous" (a mean) or "size"
    values: dict[int, float]
    overall: float | None


# Rankings of other things ("the biggest opportunities", "the worst quality issue"): the
# strategy and quality answers hold those.
_OTHER_TOPIC = re.compile(r"\b(?:strateg\w*|opportunit\w*|initiative\w*|roadmap|plans?|"
                          r"quality|missing|themes?|complain\w*|should|recommend\w*|"
                          r"campaigns?|offers?|important|matters?|columns?|features?)\b",
                          re.IGNORECASE)


def is_ranking_question(text: str) -> bool:
    return bool(_RANKING.search(text)) and not _OTHER_TOPIC.search(text)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+|\d+", text.lower())


def _forms(words) -> set[str]:
    words = list(words)
    # Two words a column name writes as one: "logs in" is logins, "signs up" is signups.
    joined = [a.removesuffix("s") + b for a, b in zip(words, words[1:], strict=False)
              if b in ("in", "up", "out", "on")]
    words += joined
    return set().union(*(word_forms(w) for w in words)) if words else set()


def measures(a: SegmentAnalysis) -> list[tuple[set[str], Measure]]:
    """Every rankable measure of the analysis with the words that name it."""
    out: list[tuple[set[str], Measure]] = []
    columns = [f.name for p in a.profiles[:1] for f in p.features] + [v.name for v in a.validation]
    for v in a.validation:
        values = {s.segment: s.value for s in v.segments if s.value is not None and s.segment >= 0}
        words = set(name_tokens(v.name)) | {v.name.lower()}
        if v.kind == "binary" and outcome_polarity(v.name) == "risk":
            words |= _LOSS_WORDS
        if v.kind == "continuous" and is_value_name(v.name) and not is_cumulative(v.name, columns):
            words |= _VALUE_WORDS
        label = f"{v.name} rate" if v.kind == "binary" else f"mean {v.name}"
        out.append((words, Measure(label, v.kind, values, v.overall)))
    features: dict[str, dict[int, float]] = {}
    overall: dict[str, float] = {}
    for p in a.profiles:
        if p.segment < 0:
            continue
        for f in p.features:
            if f.segment_mean is not None and f.kind != "datetime":
                features.setdefault(f.name, {})[p.segment] = f.segment_mean
                overall[f.name] = f.overall_mean
    outcome_names = {v.name for v in a.validation}
    for name, values in features.items():
        if name in outcome_names:
            continue
        words = set(name_tokens(name)) | {name.lower()}
        if is_value_name(name) and not is_cumulative(name, columns):
            words |= _VALUE_WORDS
        out.append((words, Measure(f"mean {name}", "continuous", values, overall[name])))
    sizes = {s.segment: float(s.n) for s in a.sizes if s.segment >= 0}
    out.append((_SIZE_WORDS | {"customers", "people", "accounts", "users"},
                Measure("size", "size", sizes, None)))
    return out


def pick_measure(question: str, a: SegmentAnalysis) -> Measure | None:
    """The measure the question names: most words in common, outcomes before features before
    size (the list's order), a running total last among ties."""
    asked = _forms(_words(question))
    best: tuple[int, int, Measure] | None = None
    for order, (words, m) in enumerate(measures(a)):
        hits = len(asked & _forms(words))
        if m.kind == "size":
            hits = 1 if asked & _forms(_SIZE_WORDS) else 0
        if hits and (best is None or hits > best[0]):
            best = (hits, order, m)
    return best[2] if best else None


def _direction(question: str) -> int:
    """-1 for "least/lowest/smallest", else +1 (the last ranking word wins: "the most ...")."""
    sign = 1
    for w in _words(question):
        if w in _ASC:
            sign = -1
        elif w in _DESC:
            sign = 1
    return sign


def _count(question: str) -> int:
    m = re.search(r"\b(?:top|bottom)\s+(\d+|two|three|four|five)\b", question, re.IGNORECASE)
    if not m:
        return 1
    raw = m.group(1).lower()
    return int(raw) if raw.isdigit() else _COUNT_WORDS[raw]


def _figure(m: Measure, value: float) -> str:
    if m.kind == "size":
        return f"{int(value):,} customers"
    return figure(m.kind, value)


def rank(question: str, a: SegmentAnalysis) -> tuple[Measure, int, list[int], int] | None:
    """(the measure, +1 for highest first or -1, the segments in that order, how many asked)."""
    m = pick_measure(question, a)
    if m is None or not m.values:
        return None
    sign = -1 if re.search(r"\bbottom\b", question, re.IGNORECASE) else _direction(question)
    ranked = sorted(m.values, key=lambda s: -sign * m.values[s])
    return m, sign, ranked, max(1, min(_count(question), len(ranked)))


def answer_ranking(question: str, a: SegmentAnalysis, names: dict[int, str]) -> str | None:
    """The answer to a ranking question from the table, or None when no measure is named."""
    read = rank(question, a)
    if read is None:
        return None
    m, sign, ranked, n = read
    sizes = {s.segment: s for s in a.sizes}
    word = "highest" if sign > 0 else "lowest"
    if m.kind == "size":
        word = "largest" if sign > 0 else "smallest"

    def who(s: int) -> str:
        return f"{names.get(s, f'Segment {s}')} (segment {s})"

    lines = []
    against = f" against {figure(m.kind, m.overall)} overall" if m.overall is not None else ""
    if n == 1:
        top = ranked[0]
        what = "size" if m.kind == "size" else m.label
        lines.append(f"{who(top)} has the {word} {what}: {_figure(m, m.values[top])}{against}.")
        if m.kind != "size" and re.search(r"\bhow many\b", question, re.IGNORECASE) \
                and top in sizes:
            lines.append(f"It holds {sizes[top].n:,} customers ({percent(sizes[top].share)}).")
    else:
        lines.append(f"The {n} segments with the {word} {m.label if m.kind != 'size' else 'size'}"
                     f"{against}:")
        lines += [f"{i}. {who(s)}: {_figure(m, m.values[s])}" for i, s in enumerate(ranked[:n], 1)]
    lines.append("All segments, in that order: " + "; ".join(
        f"{names.get(s, f'Segment {s}')} {_figure(m, m.values[s])}" for s in ranked) + ".")
    return "\n".join(lines)


def ranking_json(question: str, a: SegmentAnalysis, names: dict[int, str]) -> dict | None:
    """The ranking as data for ``ask --json``: the measure, the order, and the top segment."""
    read = rank(question, a)
    if read is None:
        return None
    m, sign, ranked, n = read
    sizes = {s.segment: s.n for s in a.sizes}
    order = [{"segment": s, "name": names.get(s, f"Segment {s}"), "value": m.values[s],
              "size": sizes.get(s)} for s in ranked]
    return {"question": question, "measure": m.label, "kind": m.kind, "overall": m.overall,
            "direction": "highest" if sign > 0 else "lowest",
            "count": n, "top": order[0],
            "order": order}
