"""Is LLM prose right in meaning? Checks for what grounding cannot see in the figures alone.

``grounding`` holds prose to the figures (every number cited exists, "higher" agrees with the
sign). A text can pass that and still be false: "Discount Saver" for the segment with the least
discount, "higher than the other options" when another option is higher, customers who "seek a
lower revenue", a plan that could sit under any segment. These checks refuse such text the
same way: one short sentence per problem, sent back to the model in the re-ask, and a labelled
deterministic draft when the model keeps failing.

Everything is computed from a ``SegmentEvidence`` (built from the analysis by
``facts.segment_evidence``) or from the option table; nothing here knows a fixture's columns.
Like grounding, the checks favour precision: an unclear reading is left alone rather than
guessed, because a false refusal costs a whole model call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from copilot.llm.citations import numbers_in_text
from copilot.llm.lexicon import (
    CONCEPTS,
    DESIRE_NOUNS,
    DISPLAY,
    DOWN,
    FREQUENCY_TOKENS,
    NEGATIVE_WORDS,
    NEGATORS,
    NOT_FREQUENCY_TOKENS,
    NOT_USAGE_TOKENS,
    OUTCOME_WORDS,
    POSITIVE_WORDS,
    RECENCY_TOKENS,
    UP,
    USAGE_TOKENS,
    Concept,
    concepts_of,
    name_words,
    word_forms,
)
from copilot.llm.traits import Trait, trait_mentions
from copilot.segmentation import is_tenure_name, name_tokens

#: A column counts as clearly above or below average from this standardized difference.
CLEAR_Z = 0.2
#: From this mean standardized difference a behaviour earns its strong word ("Inactive").
STRONG_Z = 1.0
#: A bare column word in a name ("Discount Savers") is refused from this opposite difference.
BARE_Z = 0.3


@dataclass(frozen=True)
class SegmentEvidence:
    """What the computed table says of one segment, in the form the meaning checks read.

    Attributes
    ----------
    traits
        Signed traits: numeric features, over-represented levels (+1), clearly rare levels
        (-1) and outcomes. ``distinguishing`` indexes the ones that set the segment apart.
    z
        Standardized difference of each numeric feature (segment mean against the average).
    ratios
        Segment value over the average, by trait index (mean, rate or share ratio).
    ranks
        By trait index: (position from the top, number of segments), for features and outcomes.
    value_lean, risk_lean
        +1 / -1 when the segment's value or risk is at least 10% above / below the average, 0
        otherwise or when not measured. ``value_level`` / ``risk_level`` are the stance's levels.
    """

    segment: int
    traits: tuple[Trait, ...]
    distinguishing: tuple[int, ...] = ()
    z: Mapping[str, float] = field(default_factory=dict)
    ratios: Mapping[int, float] = field(default_factory=dict)
    ranks: Mapping[int, tuple[int, int]] = field(default_factory=dict)
    value_lean: int = 0
    risk_lean: int = 0
    value_level: str | None = None
    risk_level: str | None = None
    stance: str | None = None
    value_column: str | None = None
    risk_column: str | None = None
    columns: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    levels: frozenset[str] = frozenset()

    def describe_axis(self, axis: str) -> str:
        column = self.value_column if axis == "value" else self.risk_column
        lean = self.value_lean if axis == "value" else self.risk_lean
        where = {1: "above", -1: "below", 0: "about"}[lean]
        what = f"{column} is {where} average" if column else f"its {axis} is {where} average"
        return what + (f" (stance: {self.stance})" if self.stance else "")


# ================================================================================ names


def check_name_meaning(name: str, ev: SegmentEvidence) -> list[str]:
    """Problems with what a segment name claims, read as a product manager reads it.

    A word of the lexicon ("discount", "loyal", "power", "new") or a word naming a column or
    level of the table must agree with the segment's computed direction; a word before it such
    as "low", "no" or "non" turns the claim round. Sentiment words ("efficient", "thriving")
    may not hide a segment at risk, and an outcome may not be named as a wish ("Revenue
    Seekers").

    Parameters
    ----------
    name
        The proposed name.
    ev
        The segment's evidence.

    Returns
    -------
    list[str]
        One sentence per contradicted claim.
    """
    words = name_words(name)
    problems: list[str] = []
    clean = " ".join(name.split())
    for i, word in enumerate(words):
        flip = _flip(words, i)
        nxt = words[i + 1] if i + 1 < len(words) else None
        if (word in UP or word in DOWN) and nxt is not None and concepts_of(nxt):
            continue  # "Frequent Complainers": a qualifier of the next word, not a claim
        if word in POSITIVE_WORDS and flip > 0 and ev.risk_level == "high":
            problems.append(f'The name "{clean}" says "{word}", but this segment is at risk '
                            f"({ev.describe_axis('risk')}); a name must not hide that.")
        if word in NEGATIVE_WORDS and flip > 0 and ev.risk_level == "low":
            problems.append(f'The name "{clean}" says "{word}", but this segment is among the '
                            f"safest ({ev.describe_axis('risk')}).")
        concepts = concepts_of(word)
        if not concepts or _is_level_word(word, ev):
            continue
        verdicts = [v for v in (_concept_verdict(c, flip, ev) for c in concepts) if v is not None]
        if verdicts and all(not ok for ok, _ in verdicts):
            why = verdicts[0][1]
            claim = concepts[0].claim if flip > 0 else f"the opposite of {concepts[0].claim}"
            problems.append(f'The name "{clean}" says "{word}" ({claim}), but {why}; choose a '
                            "name that fits the profile.")
    problems += _mention_problems(clean, ev) + _absent_thing_problems(clean, ev)
    if ev.risk_level == "high" and not any(
            c.key in ("risk", "light_use", "one_time") and _flip(words, i) > 0
            for i, w in enumerate(words) for c in concepts_of(w)):
        problems.append(f'The name "{clean}" hides that this segment is at risk '
                        f"({ev.describe_axis('risk')}); put a word such as At-Risk in it.")
    return list(dict.fromkeys(problems))


def _flip(words: Sequence[str], i: int) -> int:
    """-1 when a negator or a "low" word stands just before word ``i`` ("Low-Risk", "No Deal");
    only the next word: in "No-Discount Leavers" the "no" belongs to "discount"."""
    if i and (words[i - 1] in NEGATORS or words[i - 1] in DOWN):
        return -1
    return 1


def _is_level_word(word: str, ev: SegmentEvidence) -> bool:
    # "Pro" in a table with a Pro plan, "Trial" with a trial level: the level check decides.
    return word in ev.levels


def _concept_verdict(concept: Concept, flip: int, ev: SegmentEvidence) -> tuple[bool, str] | None:
    """(claim holds?, what the data says) for one concept, or None when nothing measures it."""
    if concept.axis is not None:
        column = ev.value_column if concept.axis == "value" else ev.risk_column
        if column is not None:
            lean = ev.value_lean if concept.axis == "value" else ev.risk_lean
            claimed = concept.axis_sign * flip
            return lean != -claimed, ev.describe_axis(concept.axis)
        if not concept.fallback_columns:
            return None
        tokens, sign = concept.fallback_columns, concept.fallback_sign
    else:
        tokens, sign = concept.columns, concept.sign
    found = _column_sign(tokens, ev, usage=concept.columns is USAGE_TOKENS,
                         recency=concept.recency_inverse)
    if found is None:
        return None
    measured, columns, _ = found
    claimed = sign * flip
    return measured != -claimed, "; ".join(columns[:3]) + " in this segment"


def _column_sign(tokens: frozenset[str], ev: SegmentEvidence, *, usage: bool,
                 recency: bool, own_only: bool = False) -> tuple[int, list[str], float] | None:
    """(direction, what the data says, mean difference) of the columns a concept's tokens
    name, or None.

    ``own_only``: only columns the tokens name directly (no recency proxy, no yes/no levels),
    for offering a word rather than refusing one: "One-Time" needs an orders column, not just
    a long time since the last login."""
    from copilot.llm.lexicon import TENURE_TOKENS

    picked: list[tuple[str, float]] = []  # (what the data says, signed evidence)
    for column, z in ev.z.items():
        col_tokens = set(name_tokens(column))
        state = "above" if z >= CLEAR_Z else "below" if z <= -CLEAR_Z else "about"
        said = f"{column} is {state} average"
        if recency and (col_tokens & RECENCY_TOKENS or {"since", "last"} <= col_tokens):
            # Days since the last login is direct evidence of (in)activity; of order
            # frequency it is only a proxy ("One-Time" needs an orders column).
            if not own_only or usage:
                picked.append((said, -z))
            continue
        if tokens is TENURE_TOKENS:
            if is_tenure_name(column):
                picked.append((said, z))
            continue
        if not col_tokens & tokens:
            continue
        if usage and col_tokens & NOT_USAGE_TOKENS:
            continue
        if tokens is FREQUENCY_TOKENS and col_tokens & NOT_FREQUENCY_TOKENS:
            continue  # "avg_order_value", "share_q4_orders" say how much or when, not how often
        picked.append((said, z))
    # Yes/no columns measured as levels ("uses_coupons = Yes" over- or under-represented).
    for trait in () if own_only else ev.traits:
        if trait.level is None or not set(name_tokens(trait.feature)) & tokens:
            continue
        presence = _presence(trait.level)
        if presence < 0 and trait.sign < 0:
            continue  # "No" rare can mean another absence took its place ("No internet service")
        if presence and trait.sign:
            state = "more common" if trait.sign > 0 else "rare"
            picked.append((f"{trait.label} is {state}", presence * trait.sign * 0.5))
    if not picked:
        return None
    mean = sum(z for _, z in picked) / len(picked)
    sign = 1 if mean >= CLEAR_Z else -1 if mean <= -CLEAR_Z else 0
    return sign, [c for c, _ in picked], mean


def _absent_thing_problems(name: str, ev: SegmentEvidence) -> list[str]:
    """A name that names what the segment mostly lacks, without a "no" in front of it.

    "Internet Service Users" for the segment where ``InternetService = No`` is over-represented
    (measured on Telco; the issue's "Tech Savvy Techies" for the same segment): the thing is
    the level's own words ("No internet service" -> internet service) or, for a bare "No",
    the column's ("TechSupport = No" -> tech support).
    """
    words = name_words(name.lower())
    joined = [w.replace("-", "") for w in words]
    problems: list[str] = []
    said_once: set[str] = set()
    for t in ev.traits:
        if t.level is None or t.sign <= 0 or _presence(t.level) >= 0:
            continue
        level_tokens = [w for w in name_tokens(t.level) if w not in NEGATORS and w != "none"]
        thing = level_tokens or name_tokens(t.feature)
        if not thing:
            continue
        n = len(thing)
        for i in range(len(words)):
            hit = words[i:i + n] == thing or (joined[i] == "".join(thing))
            if not hit:
                continue
            if i and (words[i - 1] in NEGATORS or words[i - 1] in DOWN):
                continue
            said = " ".join(thing)
            if said in said_once:
                break
            said_once.add(said)
            problems.append(f'The name "{name}" says "{said}", but these customers mostly lack it '
                            f"({t.feature} = {t.level} is more common here); choose a name that "
                            "fits the profile.")
            break
    return list(dict.fromkeys(problems))


_ABSENT = re.compile(r"^(?:no|none|never|without|false|n|0|non\b|not\b|nothing)", re.IGNORECASE)
_PRESENT = re.compile(r"^(?:yes|true|y|1|has|with)$", re.IGNORECASE)


def _presence(level: str) -> int:
    """+1 for a yes-like level, -1 for an absence ("No", "No internet service"), 0 otherwise."""
    level = level.strip()
    if _ABSENT.match(level):
        return -1
    return 1 if _PRESENT.match(level) else 0


def _mention_problems(name: str, ev: SegmentEvidence) -> list[str]:
    """A column, level or outcome named in a name, with no direction word, claims "more of it"
    (or "has it"); after "no"/"non"/"without", "less of it"."""
    problems = []
    low = name.lower()
    for start, end, group in trait_mentions(name, ev.traits):
        before = name_words(low[:start])[-2:]
        after = name_words(low[end:])[:1]
        if before and (before[-1] in UP or before[-1] in DOWN):
            continue  # "High Spend", "Short Tenure": grounding's name check reads the adjective
        claimed = -1 if before and before[-1] in NEGATORS else 1
        traits = [ev.traits[k] for k in group]
        outcome = [t for t in traits if t.level is None and t.feature in ev.outcomes]
        if outcome and after and after[0] in DESIRE_NOUNS:
            problems.append(f'The name "{name}" makes {outcome[0].feature} a wish ("{after[0]}"); '
                            "an outcome is what happens to customers, not what they want.")
            continue
        verdicts = []
        for t in traits:
            if t.level is not None:
                if t.sign == 0:
                    continue
                verdicts.append((t.sign != -claimed, t))
            else:
                z = ev.z.get(t.feature)
                if t.feature in ev.outcomes:
                    measured = t.sign
                elif z is None or abs(z) < BARE_Z:
                    continue
                else:
                    measured = 1 if z > 0 else -1
                verdicts.append((measured != -claimed, t))
        if verdicts and all(not ok for ok, _ in verdicts):
            t = verdicts[0][1]
            if t.level is not None:
                state = "more common" if t.sign > 0 else "rare"
                fact = f"{t.feature} = {t.level} is {state} in this segment"
            else:
                fact = f"{t.feature} is {'above' if t.sign > 0 else 'below'} average here"
            said = name[start:end]
            claim = f'no "{said}"' if claimed < 0 else f'"{said}"'
            problems.append(f'The name "{name}" claims {claim}, but {fact}; choose a name '
                            "that fits the profile.")
    return problems


def fitting_words(ev: SegmentEvidence, limit: int = 4) -> list[str]:
    """Words of the lexicon the segment's figures support, strongest first ("At-Risk",
    "Dormant", "Deal-Seeking"): offered to the writer, so a name can say at the level of
    concepts what the traits say column by column. Each word passes the name checks."""
    scored: list[tuple[float, str]] = []
    for concept in CONCEPTS:
        if concept.axis is not None:
            column = ev.value_column if concept.axis == "value" else ev.risk_column
            lean = ev.value_lean if concept.axis == "value" else ev.risk_lean
            level = ev.value_level if concept.axis == "value" else ev.risk_level
            if column is None or lean != concept.axis_sign or level in (None, "average"):
                continue
            # Behaviour says more than the stance ("Deal-Seeking" beats "Budget"), which the
            # name need only not contradict; a stance word leads only a segment with nothing
            # clearer to say.
            strength = 0.7 if concept.axis == "risk" else 0.6  # at risk: the first thing to say
        else:
            found = _column_sign(concept.columns, ev, usage=concept.columns is USAGE_TOKENS,
                                 recency=concept.recency_inverse, own_only=True)
            if found is None or found[0] != concept.sign:
                continue
            strength = abs(found[2])
        strong, _ = DISPLAY.get(concept.key, ("", ""))
        # Only a clear behaviour earns a word: a mild one ("Casual" for a few fewer orders)
        # named big-ticket buyers "Casual Loyal Customers" (measured); the trait says more.
        if concept.axis is None and strength < STRONG_Z * 0.7:
            continue
        word = strong
        # Judged as it would be used: beside the risk word in a segment at risk, where a
        # behaviour ("Deal-Seeking") alone would be refused for hiding the risk.
        probe = (f"At-Risk {word} Customers" if ev.risk_level == "high" and concept.axis is None
                 else f"{word} Customers")
        if word and not check_name_meaning(probe, ev):
            scored.append((strength, word))
    return [w for _, w in sorted(scored, key=lambda x: -x[0])][:limit]


# Words that say only the stance or nothing at all: a name made of them alone ("High Value
# Loyal Core", "At-Risk") tells a PM nothing about who the customers are.
_STANCE_ONLY = {"high", "low", "value", "valuable", "loyal", "core", "at", "risk", "at-risk",
                "premium", "budget", "leaving", "typical", "average", "customers", "customer",
                "users", "user", "accounts", "segment", "group", "base", "the", "and", "of",
                "no", "non", "mid", "middle", "medium", "steady", "stable", "big", "small",
                "top", "key", "main", "general", "regular", "standard", "mixed", "other"}


def check_name_specific(name: str, ev: SegmentEvidence, hints: Sequence[str] = ()) -> list[str]:
    """A name that says nothing of what sets the segment apart.

    Refused: stance words alone ("High Value Loyal Core", "At-Risk", "Budget"), and names none
    of whose words touch the segment's distinguishing traits (a column or level word such as
    "Fiber", "Tenure", "Month-to-Month") or make a lexicon claim the data supports ("Deal
    Hunters" where discount use is higher). "Customer A", "Withpremiums" say nothing.
    """
    words = [w.strip("'") for w in name_words(name)]
    clean = " ".join(name.split())
    hint = f" (such as {', '.join(hints[:2])})" if hints else ""
    if words and all(w in _STANCE_ONLY or len(w) == 1 for w in words):
        return [f'The name "{clean}" says only the stance; add what stands out about these '
                f"customers{hint}."]
    vocabulary: set[str] = set()
    for k in ev.distinguishing:
        t = ev.traits[k]
        for part in (t.feature, t.level or ""):
            for token in name_tokens(part):
                vocabulary |= set(word_forms(token))
    for i, w in enumerate(words):
        if set(word_forms(w)) & vocabulary:
            return []
        verdicts = [_concept_verdict(c, _flip(words, i), ev) for c in concepts_of(w)]
        if any(v is not None and v[0] for v in verdicts):
            return []
    return [f'The name "{clean}" says nothing about what sets these customers apart; build it '
            f"on their traits{hint}."]


# ============================================================================ narratives

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


# ======================================================================= k recommendation

METRICS: dict[str, tuple[re.Pattern[str], int]] = {
    # name -> (how prose names it, +1 when higher is better)
    "silhouette": (re.compile(r"silhouette", re.IGNORECASE), 1),
    "stability": (re.compile(r"\bstabilit|\bstable\b", re.IGNORECASE), 1),
    "icl": (re.compile(r"\bicl\b|integrated complete", re.IGNORECASE), -1),
    "smallest_segment_pct": (re.compile(r"smallest (?:segment|group|cluster)|minimum segment",
                                        re.IGNORECASE), 1),
}
_UP_CMP = {"higher", "highest", "greater", "greatest", "larger", "largest", "bigger", "biggest",
           "more", "most", "top", "maximum", "stronger", "strongest"}
_DOWN_CMP = {"lower", "lowest", "smaller", "smallest", "less", "least", "fewer", "fewest",
             "weaker", "weakest", "minimum"}
_GOOD_CMP = {"better", "best", "superior", "improved"}
_BAD_CMP = {"worse", "worst", "poorer", "poorest", "inferior"}
_ALL_CMP = _UP_CMP | _DOWN_CMP | _GOOD_CMP | _BAD_CMP
_SUPER_CMP = {"highest", "greatest", "largest", "biggest", "most", "top", "maximum", "strongest",
              "lowest", "smallest", "least", "fewest", "weakest", "minimum", "best", "worst",
              "poorest"}
_ALL_SCOPE = re.compile(r"\b(?:than|to|with)\s+(?:the\s+|all\s+(?:the\s+)?|any\s+|every\s+)?"
                        r"(?:other|others|alternatives?|rest|remaining)\b|\bof\s+all\b|"
                        r"\bamong\s+(?:all\s+)?(?:the\s+)?(?:options|alternatives|candidates)\b",
                        re.IGNORECASE)
_K_REF = re.compile(r"\bk\s*=\s*(\d+)|\b(\d+|two|three|four|five|six|seven|eight|nine|ten)"
                    r"[\s-]+(?:segments?|clusters?|groups?)\b", re.IGNORECASE)
_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10}
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")  # "0.11" is not a break: no space follows
_ICL_MISREAD = re.compile(r"compact|tight|well[- ]defined|dense|cohesive|separat|distinct",
                          re.IGNORECASE)
_PRAISE = re.compile(r"\b(?:good|better|best|strong|excellent|impressive|robust|great)\b",
                     re.IGNORECASE)


def check_option_claims(text: str, subject: str, options: Sequence[Mapping[str, Any]]) -> list[str]:
    """Problems with comparisons between shortlisted options that the table contradicts.

    Parameters
    ----------
    text
        The recommendation's reason.
    subject
        The label of the option the text recommends (what "it" and unlabelled claims are about).
    options
        The options as the prompt showed them: ``option`` (label), ``k`` and the metrics.

    Notes
    -----
    A comparative or superlative ("higher than the other options", "the best stability",
    "lower ICL than k=5") attached to a metric is evaluated on the table: "higher"/"lower" on
    the figure itself, "better"/"best" on the metric's good direction (a lower ICL is better).
    A comparative without a scope inherits the last scope the text gave ("... is also
    higher"); with none, it is left alone. ICL read as compactness, or a high ICL praised, is
    refused: ICL is a penalized likelihood, lower is better.
    """
    by_label = {o["option"]: o for o in options}
    if subject not in by_label:
        return []
    problems: list[str] = []
    scope: str | int | None = None
    for sentence in _SENTENCE_BREAK.split(text):
        metrics = [name for name, (pattern, _) in METRICS.items() if pattern.search(sentence)]
        low = sentence.lower()
        if "icl" in metrics:
            if _ICL_MISREAD.search(sentence):
                problems.append("ICL does not measure how compact or distinct the segments are: "
                                "it is a penalized likelihood, and lower is better. Do not "
                                "describe it as compactness.")
            elif re.search(r"\b(?:high|higher|highest|large|very high)\b[^.]*\bicl\b|\bicl\b[^.]*"
                           r"\b(?:high|higher|highest|large)\b", low) and _PRAISE.search(sentence):
                problems.append("A higher ICL is worse, not better: lower is better for ICL.")
        for clause in re.split(r";|,\s*(?:while|whereas|but)\b|\bbut\b|\bwhile\b", sentence):
            words = re.findall(r"[A-Za-z]+", clause.lower())
            cmp_words = [w for w in words if w in _UP_CMP | _DOWN_CMP | _GOOD_CMP | _BAD_CMP]
            clause_metrics = [n for n, (p, _) in METRICS.items() if p.search(clause)]
            if _ALL_SCOPE.search(clause):
                scope = "all"
            ref = _k_reference(clause, by_label, subject)
            if not cmp_words or not clause_metrics:
                continue
            # Each metric with its own comparative: "a higher silhouette and a lower ICL".
            pairs = _pair_metrics(clause) if len(clause_metrics) > 1 else [
                (clause_metrics[0], _own_word(clause, clause_metrics[0]) or cmp_words[0])]
            superlative = any(w in _SUPER_CMP for w in cmp_words)
            this_scope = "all" if superlative or _ALL_SCOPE.search(clause) else (
                ref[1] if ref and ref[1] is not None else scope)
            who = ref[0] if ref and ref[0] is not None else subject
            if this_scope is None:
                continue
            for metric, word in pairs:
                problem = _judge(metric, word, who, this_scope, by_label, clause)
                if problem:
                    problems.append(problem)
    return list(dict.fromkeys(problems))


_CMP_WORD = re.compile(r"[A-Za-z]+|\d+(?:\.\d+)?")


_LINKING = {"is", "are", "was", "were", "the", "also", "much", "a", "very", "its", "of", "score",
            "value", "at", "quite", "rather", "still", "even", "far"}


def _own_word(clause: str, metric: str) -> str | None:
    """The comparative that speaks of ``metric``: the nearest one before its name ("the highest
    silhouette"), else one after it across linking words only ("its smallest segment is the
    smallest"). Words inside a metric's own name ("smallest segment") are not comparatives."""
    spans = [(m.start(), m.end()) for pattern, _ in METRICS.values()
             for m in pattern.finditer(clause)]
    mine = [(m.start(), m.end()) for m in METRICS[metric][0].finditer(clause)]
    if not mine:
        return None
    start, end = mine[0]
    words = [(m.start(), m.end(), m.group(0).lower()) for m in _CMP_WORD.finditer(clause)
             if not any(a <= m.start() < b for a, b in spans)]
    before = [(start - e, w) for s0, e, w in words
              if e <= start and start - e < 45 and w in _ALL_CMP]
    if before:
        return min(before)[1]
    for s0, e, w in words:
        if s0 < end:
            continue
        if w in _ALL_CMP:
            return w
        if w not in _LINKING and not re.fullmatch(r"[\d.]+", w):
            break
    return None


def _pair_metrics(clause: str) -> list[tuple[str, str]]:
    pairs = []
    for name, (pattern, _) in METRICS.items():
        if pattern.search(clause):
            word = _own_word(clause, name)
            if word is not None:
                pairs.append((name, word))
    return pairs


def _k_reference(clause: str, by_label, subject) -> tuple[str | None, int | None] | None:
    """(the option a clause is about, the k it is compared with) from "k=5" style references."""
    refs = []
    for m in _K_REF.finditer(clause):
        raw = m.group(1) or m.group(2)
        k = int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw.lower())
        if k is not None:
            refs.append((m.start(), k))
    if not refs:
        return None
    than = re.search(r"\bthan\b", clause, re.IGNORECASE)
    about, against = None, None
    for pos, k in refs:
        label = _label_for_k(k, by_label, subject)
        if than and pos > than.start():
            against = k if label else None
        elif label:
            about = label
    return about, against


def _label_for_k(k: int, by_label, subject) -> str | None:
    matches = [label for label, o in by_label.items() if o.get("k") == k]
    if len(matches) == 1:
        return matches[0]
    if by_label[subject].get("k") == k:
        return subject
    return None


def _judge(metric: str, word: str, who: str, scope, by_label, clause: str) -> str | None:
    me = by_label[who].get(metric)
    if me is None:
        return None
    better = METRICS[metric][1]
    if scope == "all":
        others = [o for label, o in by_label.items() if label != who and o.get(metric) is not None]
    else:
        others = [o for o in by_label.values() if o.get("k") == scope and o["option"] != who
                  and o.get(metric) is not None]
    if not others:
        return None
    if word in _GOOD_CMP or word in _BAD_CMP:
        direction = better if word in _GOOD_CMP else -better
    else:
        direction = 1 if word in _UP_CMP else -1
    superlative = word in _SUPER_CMP
    # "the highest" holds for an option tied at the top; "higher than the others" does not.
    beaten = [o for o in others if (direction * (me - o[metric]) < 0 if superlative
                                    else not direction * (me - o[metric]) > 0)]
    if not beaten:
        return None
    o = beaten[0]
    return (f'"{word}" {metric.replace("_pct", "").replace("_", " ")} is false for {who}: '
            f"{o['option']} has {o[metric]} against {me}. Call a metric highest or best "
            "only where its option line says so.")


# ================================================================================= plans

_PROMISE = re.compile(
    r"\bwill\s+(?:\w+\s+){0,2}?(?:show|lead|result|reduce|increase|improve|decrease|boost|lower|"
    r"raise|cut|drive|ensure|guarantee|prove|deliver|achieve|double|halve|drop|grow|eliminate|"
    r"prevent|stop|significantly|dramatically|substantially|definitely|certainly)\b"
    r"|\bguarantee[sd]?\b|\bensures?\b|\bproves?\b|\bdefinitely\b|\bcertainly\b|\bis sure to\b"
    r"|\bwithout (?:a )?doubt\b",
    re.IGNORECASE)


def check_promise(text: str) -> list[str]:
    """A hypothesis that promises its result ("will show a significant reduction in churn")."""
    m = _PROMISE.search(text)
    if m is None:
        return []
    return [f'The hypothesis promises its result ("{m.group(0)}"); state it as a hypothesis the '
            'holdout will test ("... lowers X compared with the holdout group"), not as a '
            "certainty."]


_STOP = frozenset(
    ["a", "an", "the", "and", "or", "of", "for", "to", "with", "in", "on", "at", "by", "from", "into", "via", "their", "its", "this", "that", "these", "those", "our", "we", "be", "is", "are", "run", "launch", "start", "do", "make", "use", "using", "offer", "create", "set", "up", "segment", "segments", "customers", "customer", "accounts", "users", "all", "each", "per", "them", "they"])


def check_plan_specific(actions: Sequence[str], initiative: str, ev: SegmentEvidence) -> list[str]:
    """Problems with actions that could be pasted under any segment.

    At least one action must name one of the segment's distinguishing traits or its outcome
    (its columns, levels or outcome as the profile shows them); no action may only restate the
    initiative ("Run proactive check-ins" for "Proactive check-ins").
    """
    problems = []
    initiative_words = {w for w in re.findall(r"[a-z]+", initiative.lower()) if w not in _STOP}
    for action in actions:
        if len(re.findall(r"[A-Za-z]+", action)) < 4:
            problems.append(f'The action "{action}" is too short to act on; say what to do.')
            continue
        own = {w for w in re.findall(r"[a-z]+", action.lower())
               if w not in _STOP and len(w) > 2} - initiative_words
        own -= {w.rstrip("s") for w in initiative_words}
        if len(own) < 2:
            problems.append(f'The action "{action}" only restates the initiative; say what to do '
                            "for these customers, using what sets them apart.")
    wanted = [ev.traits[k] for k in ev.distinguishing]
    if wanted and not any(trait_mentions(a, wanted) for a in actions):
        hints = ", ".join(t.label for t in wanted[:3])
        problems.append("The actions could apply to any segment: tie at least one action to "
                        f"what sets this segment apart ({hints}).")
    return problems


def check_plan_form(actions: Sequence[str]) -> list[str]:
    """The same action twice is one action."""
    seen = [" ".join(a.lower().split()) for a in actions]
    return ["Two actions are the same; write different actions."] if len(set(seen)) < len(seen) else []


_PLUMBING = re.compile(r"\b(?:CONTEXT|DATA)(?:\.\w+)?\b|\bthe context provided\b")


def check_plumbing(text: str) -> list[str]:
    """Prose that speaks of the prompt ("Based on the context provided", "CONTEXT.goal")."""
    m = _PLUMBING.search(text)
    if m is None:
        return []
    return [f'"{m.group(0)}" speaks of the request, not to the product manager; write as if '
            "to them."]


def check_flat_row(fits: Iterable[int], segment: int) -> list[str]:
    """A fit row that rates every initiative the same, as a fit, is a non-answer.

    A row of 1s or 2s is an answer: none of the initiatives fits that segment.
    """
    values = list(fits)
    if len(values) > 1 and len(set(values)) == 1 and values[0] >= 3:
        return [f"Segment {segment}: every initiative got fit {values[0]}; rate them against "
                "each other (some fit this segment better than others)."]
    return []
