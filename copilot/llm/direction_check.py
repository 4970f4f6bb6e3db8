"""The direction check: "higher", "lower", "more common"... in prose must agree with the computed
sign of the trait they are attached to (``check_directions``).

Like every grounding check it favours precision: a false rejection costs a re-ask, so anything
ambiguous (a direction word that could belong to two traits, a negated claim) is left alone
rather than guessed. Pure Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import pairwise

from copilot.llm.names_in_text import _names_pattern, _words
from copilot.llm.traits import Trait, _mentions, _variants

_UP = ("higher highest more greater larger largest bigger biggest heavier heaviest longer "
       "longest increased elevated frequent most top over-represented overrepresented high "
       "heavy many above")
_DOWN = ("lower lowest fewer fewest less least below smaller smallest shorter shortest lighter "
         "lightest reduced rarely rare under-represented underrepresented low light few")
_SIGN_OF = {w: 1 for w in _UP.split()} | {w: -1 for w in _DOWN.split()}
_DIRECTION = re.compile(
    r"(?<![A-Za-z])(" + "|".join(sorted(map(re.escape, _SIGN_OF), key=len, reverse=True))
    + r")(?![A-Za-z])",
    re.IGNORECASE,
)
# Absolute words speak of the segment itself, not of it against the average; for a category
# level they mislead ("most are on month-to-month" holds even when it is under-represented).
_ABSOLUTE = {"most", "many", "few", "least", "top", "frequent", "rare", "rarely", "high", "low",
             "heavy", "light", "highest", "lowest", "largest", "smallest", "biggest", "fewest",
             "longest", "shortest", "heaviest", "lightest"}
_QUANTIFIERS = {"most", "many", "few", "fewer", "fewest", "more", "less", "least"}
_NEGATIONS = {"not", "no", "never", "nor", "neither", "without", "hardly", "barely", "isn't",
              "aren't", "wasn't", "weren't", "don't", "doesn't", "didn't", "cannot", "can't",
              "won't", "nothing", "rather"}
_INTENSIFIERS = {"much", "far", "well", "slightly", "significantly", "considerably", "notably",
                 "markedly", "substantially", "noticeably", "somewhat", "even", "way", "clearly",
                 "consistently", "relatively", "comparatively", "also", "both", "still", "very",
                 "quite", "rather", "fairly", "a", "bit", "lot", "an", "the", "their", "its",
                 "this", "these", "typically", "generally", "often", "usually", "strikingly"}
# Words allowed between a direction word and the trait it qualifies ("higher share of
# month-to-month contracts", "more likely to churn", "lower average tenure").
_BEFORE_FILLER = _INTENSIFIERS | {
    "average", "mean", "median", "typical", "overall", "share", "proportion", "percentage",
    "rate", "rates", "level", "levels", "amount", "amounts", "number", "of", "likely", "to",
    "prone", "risk", "than", "usual",
}
# Weaker links, used only when the word does not follow a trait of its own: in "churn is
# higher with month-to-month contracts" the word belongs to churn.
_BEFORE_WEAK = {"customers", "users", "clients", "accounts", "subscribers", "on", "with", "using"}
# Words allowed between a trait and a direction word that follows it ("churn is higher",
# "tenure among them is much shorter" is left to the single-trait rule).
_AFTER_LINK = _INTENSIFIERS | {
    "is", "are", "was", "were", "be", "been", "being", "remains", "remain", "stays", "stay",
    "runs", "run", "sits", "sit", "looks", "look", "seems", "seem", "appears", "appear",
    "tends", "tend", "to", "rate", "rates", "risk", "level", "levels", "share", "average",
    "customers", "users", "at", "of", "it", "they", "them", "here", "too", "comes",
    "come", "in", "this", "segment", "group", "s", "points", "point", "pp", "percent",
    "percentage",
}
_LINK = _AFTER_LINK | {"and", "with", "have", "has", "had", "show", "shows", "showing", "see",
                       "sees", "get", "gets", "got", "having"}
_CONTINUATION = {
    # not "likely": in "they are more likely to use the app" the word is about the verb
    "than", "average", "overall", "common", "prevalent", "popular", "frequent",
    "often", "represented", "usual", "typical", "normal", "expected", "baseline", "other",
    "others", "among", "across", "for", "here", "there", "compared", "relative", "vs",
    "versus", "too", "in", "on", "at", "within", "this", "these", "widespread", "dominant",
}
_QUANTIFIER_CONTINUATION = {
    "of", "customers", "users", "clients", "accounts", "subscribers", "members", "people",
    "buyers", "them", "are", "were", "have", "had", "use", "choose", "prefer", "opt", "pick",
    "hold", "sit", "stay",
}
_QUANTITY_AFTER_THAN = {"half", "a", "one", "two", "three", "four", "five", "twice", "double",
                        "triple", "quarter", "third", "#"}
_CLAUSE_BREAK = re.compile(
    r"[.!?](?=\s|$)|[;:\n]|,(?=\s*(?:but|while|whereas|although|though|and|yet|so|with|which|who|as)\b)"
    r"|\s(?=(?:but|whereas|although)\s)",
    re.IGNORECASE,
)
# Words, numbers and the punctuation that separates list items ("short tenure, high spend").
_TOKEN = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?|\d+(?:[.,]\d+)*%?|[,—–]|(?<=\s)-(?=\s)")


def check_directions(
    text: str, traits: Sequence[Trait], ignore: Iterable[str] = ()
) -> list[str]:
    """Problems with direction words that contradict a trait's computed sign.

    Parameters
    ----------
    text
        Prose written by the model.
    traits
        The segment's signed traits (features, category levels and outcomes).
    ignore
        Names (columns, levels, segment names): direction words inside them ("Low Balance",
        "high_value_flag") are names, not claims.

    Returns
    -------
    list[str]
        One sentence per contradiction.

    Notes
    -----
    The text is split into clauses (sentences, ";", ":", ", but/while/and..."). A direction
    word is checked against the trait it sits next to ("higher monthly charges", "churn is
    higher", "more likely to churn"); in a clause that mentions a single trait, also against
    that trait when the word stands on its own ("Tenure among them is shorter"). Negated words
    ("not higher", "no more than") and quantity bounds ("more than 40%") are skipped.
    """
    mentions = _mentions(text, traits)
    blocked = [(m.start, m.end) for m in mentions] + _name_spans(text, ignore)
    words = [(m.start(), m.end(), m.group(1).lower()) for m in _DIRECTION.finditer(text)
             if not any(s <= m.start() < e for s, e in blocked)]
    if not words or not mentions:
        return []
    paren = _paren_spans(text)
    problems: list[str] = []
    reported: set[tuple[frozenset[int], int]] = set()  # one problem per trait and direction
    for c_start, c_end in _clauses(text):
        items = _clause_items(text, c_start, c_end, mentions, words, paren)
        groups = {it[2] for it in items if it[0] == "M"}
        for i, item in enumerate(items):
            if item[0] != "D":
                continue
            target = _target(items, i, traits, single=len(groups) == 1)
            if target is None:
                continue
            word, (_, m_start, group, m_end) = item[2], target
            problem = _direction_problem(text, item, word, m_start, m_end, group, traits)
            if problem and (group, _SIGN_OF[word]) not in reported:
                reported.add((group, _SIGN_OF[word]))
                problems.append(problem)
    return problems


def _name_spans(text: str, ignore: Iterable[str]) -> list[tuple[int, int]]:
    # Only names of two or more words: a level named just "High" must not mask every "high".
    names = tuple(n for n in ignore if len(_words(n)) >= 2)
    pattern = _names_pattern(names) if names else None
    return [(m.start(), m.end()) for m in pattern.finditer(text)] if pattern else []


def _paren_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\([^()]*\)", text)]


def _clauses(text: str) -> list[tuple[int, int]]:
    cuts = [0] + [m.end() for m in _CLAUSE_BREAK.finditer(text)] + [len(text)]
    return [(a, b) for a, b in pairwise(cuts) if b > a]


def _clause_items(text, c_start, c_end, mentions, words, paren) -> list[tuple]:
    """The clause as a sequence: ("M", start, traits, end), ("D", start, word, end), ("W", ...)."""
    items: list[tuple] = []
    taken: list[tuple[int, int]] = []
    for m in mentions:
        if c_start <= m.start < c_end:
            items.append(("M", m.start, m.traits, m.end))
            taken.append((m.start, m.end))
    for s, e, w in words:
        if c_start <= s < c_end:
            items.append(("D", s, w, e))
            taken.append((s, e))
    for t in _TOKEN.finditer(text, c_start, c_end):
        s = t.start()
        if any(a <= s < b for a, b in taken) or any(a <= s < b for a, b in paren):
            continue
        word = t.group(0).lower().replace("’", "'")
        kind = "W" if word[0].isalnum() else "P"
        items.append((kind, s, "#" if word[0].isdigit() else word, t.end()))
    return sorted(items, key=lambda it: it[1])


def _target(items, i, traits, single: bool):
    """The mention a direction word speaks of, or None when unclear."""
    word = items[i][2]
    prev = [it[2] for it in items[max(0, i - 3) : i] if it[0] == "W"]
    nxt = items[i + 1] if i + 1 < len(items) else None
    after = items[i + 2] if i + 2 < len(items) else None
    if any(p in _NEGATIONS or p.endswith("n't") for p in prev):
        return None  # "not higher", "no more than": skipped rather than guessed
    if prev and prev[-1] in ("at", "as"):
        return None  # "at least", "at most", "as high as"
    if word == "light" and nxt is not None and nxt[2] == "of":
        return None  # "in light of"
    if (nxt is not None and nxt[2] == "than" and after is not None
            and (after[0] == "W" and after[2] in _QUANTITY_AFTER_THAN)):
        return None  # "more than 40%", "less than half": a quantity bound, not a comparison
    if _base_before(items, i):
        return None  # "the overall churn rate is lower", "other customers have longer tenure"
    j = _adjacent_mention(items, i, traits)
    if j is not None:
        return items[j]
    # 3. The clause has one trait and the word stands on its own ("Tenure ... is shorter").
    if not single:
        return None
    prev_item = items[i - 1] if i else None
    before_ok = prev_item is None or prev_item[0] in "MP" or (
        prev_item[0] == "W" and prev_item[2] in _LINK)
    cont = _CONTINUATION | (_QUANTIFIER_CONTINUATION if word in _QUANTIFIERS else set())
    after_ok = (nxt is None or nxt[0] in "MP" or word in ("above", "below")
                or (nxt[0] == "W" and nxt[2] in cont))
    if before_ok and after_ok:
        return next(it for it in items if it[0] == "M")
    return None


def _adjacent_mention(items, i, traits) -> int | None:
    # 1. The word qualifies the trait that follows it: "higher monthly charges".
    weak = None
    for j in range(i + 1, min(len(items), i + 6)):
        kind, _, val, _ = items[j]
        if kind == "M":
            if weak is None:
                return j
            weak = j
            break
        if kind != "W" or val not in _BEFORE_FILLER | _BEFORE_WEAK:
            break
        if val in _BEFORE_WEAK:
            weak = -1
    # 2. The word follows the trait it describes: "churn is higher", "churn more".
    for j in range(i - 1, max(-1, i - 6), -1):
        kind, _, val, _ = items[j]
        if kind == "M":
            return j
        if kind != "W" or (val not in _AFTER_LINK and val != "#"
                           and not _feature_word(val, traits)):
            break
    return weak if weak is not None and weak >= 0 else None


# Words that make a mention the comparison base ("the overall churn rate", "other customers'
# tenure"): a direction word attached to it describes the base, not the segment.
_BASE = {"overall", "other", "others", "others'", "rest", "baseline", "everyone", "everyone's",
         "population", "typical", "elsewhere", "company", "remaining"}


def _base_before(items, i: int) -> bool:
    """Whether the stretch before item ``i`` (back to a comma) names the comparison base."""
    words = []
    for k in range(i - 1, -1, -1):
        if items[k][0] == "P":
            break
        if items[k][0] == "W":
            words.append(items[k][2])
    if any(w in _BASE for w in words):
        return True
    # "the average customer's tenure" is the base; "their average tenure" is the segment's.
    return any(w == "average" and nxt in ("the", "an")
               for w, nxt in pairwise(words))


def _feature_word(word: str, traits: Sequence[Trait]) -> bool:
    # "month-to-month contracts are more common": the level's column name links the two.
    mine = _variants(word)
    return any(t.level is not None and mine & _variants_of_words(t.feature) for t in traits)


@lru_cache(maxsize=512)
def _variants_of_words(name: str) -> frozenset[str]:
    out = set()
    for w in _words(name):
        out |= _variants(w)
    return frozenset(out)


_ABSENCE_BEFORE = re.compile(r"\b(?:without|lacking|no|non-?)\s*$", re.IGNORECASE)


def _direction_problem(text, item, word, m_start, m_end, group, traits) -> str | None:
    signs = {traits[k].sign for k in group}
    if len(signs) != 1:
        return None  # an alias shared by traits that disagree: ambiguous
    sign = signs.pop()
    if _ABSENCE_BEFORE.search(text[max(0, m_start - 12) : m_start]):
        sign = -sign  # "more often without phone service": more of the absence
    trait = traits[min(group)]
    if trait.level is not None and word in _ABSOLUTE:
        return None
    if _SIGN_OF[word] == sign:
        return None
    start, end = min(item[1], m_start), max(item[3], m_end)
    snippet = " ".join(text[start:end].split()) if end - start <= 80 else word
    if trait.level is None:
        state = {1: "above average", -1: "below average", 0: "about average"}[sign]
    else:
        state = {1: "more common than average", -1: "less common than average",
                 0: "about as common as average"}[sign]
    return (f'"{snippet}" contradicts the figures: {trait.label} is {state} in this segment, '
            f'so do not call it "{word}".')
