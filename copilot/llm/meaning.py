"""Is LLM prose right in meaning? Checks for what grounding cannot see in the figures alone.

``grounding`` holds prose to the figures (every number cited exists, "higher" agrees with the
sign). A text can pass that and still be false: "Discount Saver" for the segment with the least
discount, "higher than the other options" when another option is higher, customers who "seek a
lower revenue", a plan that could sit under any segment. These checks refuse such text the
same way: one short sentence per problem, sent back to the model in the re-ask, and a labelled
deterministic draft when the model keeps failing.

Everything is computed from a ``SegmentEvidence`` (here; built from the analysis by
``facts.segment_evidence``) or from the option table; nothing here knows a fixture's columns.
Like grounding, the checks favour precision: an unclear reading is left alone rather than
guessed, because a false refusal costs a whole model call.

This module holds the evidence and the checks of a segment name (``check_name_meaning``,
``check_name_specific``, ``fitting_words``); the others are in ``narrative_checks`` (a
segment's narrative), ``option_claims`` (the k recommendation) and ``plan_checks`` (the
strategy's plans).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
