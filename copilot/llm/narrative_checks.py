"""The meaning checks of a segment's narrative: outcomes written as wishes, stance words the
stance contradicts, superlatives the ranking contradicts, a figure given to the wrong trait,
"twice" where the ratio is not.

Each reads the segment's ``SegmentEvidence`` (``meaning``) and returns one short sentence per
problem, for the re-ask.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from copilot.llm.citations import numbers_in_text
from copilot.llm.lexicon import OUTCOME_WORDS
from copilot.llm.meaning import SegmentEvidence
from copilot.llm.traits import trait_mentions

_DESIRE_VERB = (r"seek|seeks|seeking|sought|want|wants|wanting|prefer|prefers|preferring|"
                r"desire|desires|desiring|crave|craves|strive|strives|striving|aspire|aspires|"
                r"wish|wishes|prioriti[sz]e|prioriti[sz]es|aim|aims|aiming")
_SOFT_VERB = (r"value|values|valuing|like|likes|love|loves|enjoy|enjoys|appreciate|appreciates|"
              r"care about|cares about|look for|looks for|looking for|are after|hope|hopes|"
              r"are drawn to|are motivated by|opt for|opts for|go for|goes for|favou?r|favou?rs|"
              r"are interested in|focus on|focuses on")
_DESIRE = re.compile(rf"\b(?:{_DESIRE_VERB})\b", re.IGNORECASE)
_SOFT = re.compile(rf"\b(?:{_SOFT_VERB})\b", re.IGNORECASE)
_SUBJECTS = {"they", "customers", "who", "users", "clients", "members", "subscribers", "buyers",
             "shoppers", "accounts", "people", "segment", "group", "that", "and", "also",
             "mostly", "mainly", "strongly", "clearly", "particularly", "really", "likely",
             "often", "to", "typically", "generally", "usually", "tend", "which", "households"}
_CLAUSE_END = re.compile(r"[.;!?]|,\s*(?:but|while|whereas|although|though)\b|\bbut\b")
_NEGATED = {"not", "no", "never", "less", "unlikely", "hardly", "rarely", "don't", "doesn't",
            "didn't", "aren't", "isn't", "without", "lower", "little"}
_OUTCOME_WORDS_RE = re.compile(r"\b(?:" + "|".join(sorted(OUTCOME_WORDS)) + r")\b", re.IGNORECASE)


def check_wishes(text: str, ev: SegmentEvidence) -> list[str]:
    """Problems where an outcome (or the lack of something) is written as what customers want.

    "They seek a lower revenue", "customers value lower churn", "they value No TechSupport":
    an outcome is how customers fare, and a level such as "No TechSupport" is what they lack;
    neither is a taste.
    """
    problems = []
    outcome_traits = [t for t in ev.traits if t.level is None and t.feature in ev.outcomes]
    for m in list(_DESIRE.finditer(text)) + list(_SOFT.finditer(text)):
        if m.re is _SOFT.pattern or m.re is _SOFT:
            prev = re.findall(r"[A-Za-z']+", text[max(0, m.start() - 30) : m.start()])[-2:]
            if not prev or prev[-1].lower() not in _SUBJECTS and prev[0].lower() not in _SUBJECTS:
                continue  # "high value", "the value of": a noun, not a verb
        stop = _CLAUSE_END.search(text, m.end())
        window = text[m.end() : min(stop.start() if stop else len(text), m.end() + 90)]
        verb = m.group(0)
        hit = None
        if outcome_traits and trait_mentions(window, outcome_traits):
            start, end, _ = trait_mentions(window, outcome_traits)[0]
            hit = window[start:end]
        elif (w := _OUTCOME_WORDS_RE.search(window)) is not None:
            hit = w.group(0)
        elif (lack := re.search(r"\b(?:no|without)\s+[A-Za-z][\w-]*(?:\s+[A-Za-z][\w-]*)?",
                                window, re.IGNORECASE)) is not None:
            problems.append(f'"{verb} {lack.group(0)}" reads as a taste; write what they lack as '
                            f'a fact ("most have {lack.group(0)}"), not as something they want.')
            continue
        if hit is not None:
            problems.append(f'"{verb} ... {hit}" writes an outcome as a wish; an outcome is what '
                            f'happens to customers: say how they fare ("their {hit} is higher" or '
                            '"lower"), not what they want.')
    return list(dict.fromkeys(problems))


_LOYAL_TEXT = re.compile(r"\b(?:loyal|loyalists?|faithful|devoted|committed long-term)\b",
                         re.IGNORECASE)
_RISK_TEXT = re.compile(r"\b(?:at[- ]risk|flight risk|about to (?:leave|churn|cancel)|"
                        r"on the verge of (?:leaving|churning)|churners)\b", re.IGNORECASE)
_PREMIUM_TEXT = re.compile(r"\b(?:premium|high[- ]value|big spenders|most valuable|vip)\b",
                           re.IGNORECASE)
_BUDGET_TEXT = re.compile(r"\b(?:budget|low[- ]value|price[- ]sensitive|thrifty|frugal|"
                          r"bargain hunters?)\b", re.IGNORECASE)


def check_stance_words(text: str, ev: SegmentEvidence) -> list[str]:
    """Problems with words in prose that contradict the segment's computed stance."""
    problems = []
    checks = (
        (_LOYAL_TEXT, "risk", 1, "loyal"),
        (_RISK_TEXT, "risk", -1, "at risk"),
        (_PREMIUM_TEXT, "value", -1, "high value"),
        (_BUDGET_TEXT, "value", 1, "low value"),
    )
    for pattern, axis, bad_lean, claim in checks:
        lean = ev.risk_lean if axis == "risk" else ev.value_lean
        if lean != bad_lean:
            continue
        for m in pattern.finditer(text):
            prev = {w.lower() for w in re.findall(r"[A-Za-z']+", text[max(0, m.start() - 25) : m.start()])[-3:]}
            if prev & _NEGATED:
                continue
            problems.append(f'"{m.group(0)}" contradicts the figures: {ev.describe_axis(axis)}, '
                            f"so these customers are not {claim}.")
            break
    return problems


_SUPERLATIVE = {"highest": 1, "largest": 1, "biggest": 1, "greatest": 1, "longest": 1,
                "heaviest": 1, "most": 1, "top": 1, "maximum": 1, "lowest": -1, "smallest": -1,
                "fewest": -1, "shortest": -1, "lightest": -1, "least": -1, "minimum": -1}
_SUPER_RE = re.compile(r"\b(" + "|".join(_SUPERLATIVE) + r")\b", re.IGNORECASE)
_FILLER = {"the", "a", "its", "their", "average", "mean", "median", "rate", "rates", "share",
           "of", "level", "levels", "number", "amount", "overall", "monthly", "in", "on", "to",
           "likely"}


def check_superlatives(text: str, ev: SegmentEvidence) -> list[str]:
    """Problems with "the highest churn", "the lowest tenure"... that the ranking contradicts.

    A superlative attached to a feature or outcome claims the segment is first (or last) of all
    segments on it; that is checked against the computed ranks. Levels and unranked traits are
    left alone.
    """
    problems = []
    mentions = trait_mentions(text, ev.traits)
    for m in _SUPER_RE.finditer(text):
        word = m.group(1).lower()
        before = re.findall(r"[A-Za-z']+", text[max(0, m.start() - 20) : m.start()])
        if word in ("most", "least") and (not before or before[-1].lower() != "the"):
            continue  # "most customers": a quantity, not a ranking
        if before and before[-1].lower() in _NEGATED | {"among", "of"}:
            continue  # "not the highest", "among the highest"
        target = _attached(text, m, mentions)
        if target is None:
            continue
        for k in sorted(target):
            if k not in ev.ranks:
                continue
            rank, n = ev.ranks[k]
            want = 1 if _SUPERLATIVE[word] > 0 else n
            if n > 1 and rank != want:
                trait = ev.traits[k]
                problems.append(f'"{word} {trait.feature}" is false: this segment ranks '
                                f"{_ordinal(rank)} highest of {n} segments on {trait.feature}.")
            break
    return list(dict.fromkeys(problems))


def _attached(text: str, m: re.Match[str], mentions) -> frozenset[int] | None:
    """The trait a superlative word speaks of: the mention right after it (a few filler words
    between), or right before it with a linking verb ("churn is the highest")."""
    for start, end, group in mentions:
        if start >= m.end():
            gap = re.findall(r"[A-Za-z']+", text[m.end() : start])
            if len(gap) <= 3 and all(g.lower() in _FILLER for g in gap) and "," not in text[m.end():start]:
                return group
            break
    for start, end, group in reversed(mentions):
        if end <= m.start():
            gap = [g.lower() for g in re.findall(r"[A-Za-z']+", text[end : m.start()])]
            if gap and len(gap) <= 4 and gap[0] in ("is", "are", "was", "were", "rate", "ranks"):
                return group
            break
    return None


def _ordinal(n: int) -> str:
    if n == 1:
        return "1st"
    return f"{n}{'nd' if n == 2 else 'rd' if n == 3 else 'th'}"


_MULTIPLIER = re.compile(r"\b(twice|double|two times|triple|three times|half|four times)\b",
                         re.IGNORECASE)
_FACTOR = {"twice": 2.0, "double": 2.0, "two times": 2.0, "triple": 3.0, "three times": 3.0,
           "half": 0.5, "four times": 4.0}
MULTIPLIER_SLACK = 1.25  # "twice" holds for a ratio from 1.6 to 2.5


# How far a figure may sit from the trait it is read as belonging to: "Churn rate of 52.2%"
# (the trait first, up to a few linking words) or "17.7% churn rate" (the figure first).
_BIND_BEFORE_CHARS = 14
_BIND_AFTER_CHARS = 2


def check_bindings(text: str, ev: SegmentEvidence, phrases: Sequence[str],
                   others: Sequence[float] = ()) -> list[str]:
    """A real figure given to the wrong thing: "a 17.7% churn rate" where 17.7% is the
    segment's share and its churn is 52.2% (measured on Telco). The number check only asks
    that a figure exists; this asks that a figure written against a trait is one of that
    trait's own figures (``phrases``: the segment's trait and outcome phrases with their
    figures, "higher Churn rate (52.2% vs 26.5% overall)").

    Conservative: only a figure right next to one trait mention is judged, and only when it
    is some other figure the writer was given (``others``: share, size, other traits), so a
    rounding or a unit is never refused here.
    """
    own: dict[frozenset[int], list[float]] = {}
    pool = list(others)
    for phrase in phrases:
        values = [c.value for c in numbers_in_text(phrase)]
        pool += values
        for _start, _end, group in trait_mentions(phrase, ev.traits)[:1]:
            own.setdefault(group, []).extend(values)
    if not own:
        return []
    mentions = trait_mentions(text, ev.traits)
    problems = []
    for cited in numbers_in_text(text):
        start, end = cited.start, cited.start + len(cited.text)
        near = [g for s, e, g in mentions
                if (0 <= start - e <= _BIND_BEFORE_CHARS and ("." not in text[e:start]))
                or (0 <= s - end <= _BIND_AFTER_CHARS + 1)]
        if len(near) != 1 or near[0] not in own:
            continue
        mine = own[near[0]]
        if any(abs(cited.value - v) <= cited.slack + 1e-9 for v in mine):
            continue
        if not any(abs(cited.value - v) <= cited.slack + 1e-9 for v in pool):
            continue  # not another figure: the number check speaks to it
        label = ev.traits[next(iter(near[0]))].feature
        shown = ", ".join(f"{v:g}" for v in dict.fromkeys(mine))
        problems.append(f'"{cited.text}" is given as {label}, but {label}\'s figures are '
                        f"{shown}; put each figure with what it measures.")
    return list(dict.fromkeys(problems))


def check_multipliers(text: str, ev: SegmentEvidence) -> list[str]:
    """Problems with "twice as likely to churn", "half the tenure"... that the ratio contradicts."""
    problems = []
    mentions = trait_mentions(text, ev.traits)
    for m in _MULTIPLIER.finditer(text):
        factor = _FACTOR[m.group(1).lower()]
        target = None
        for start, end, group in mentions:
            if start >= m.end() and len(re.findall(r"\w+", text[m.end() : start])) <= 5:
                target = group
                break
        if target is None:
            continue
        for k in sorted(target):
            ratio = ev.ratios.get(k)
            if ratio is None or ratio <= 0:
                continue
            if not factor / MULTIPLIER_SLACK <= ratio <= factor * MULTIPLIER_SLACK:
                problems.append(f'"{m.group(1)}" is false for {ev.traits[k].label}: the segment '
                                f"is at {ratio:.2g} times the average.")
            break
    return problems
