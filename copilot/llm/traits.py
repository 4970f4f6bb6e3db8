"""Signed traits of a segment and how prose names them: ``Trait``, ``trait_aliases``,
``trait_mentions``.

Column names and category levels come from arbitrary tables, so nothing here knows our
fixtures' columns: a trait is found in text through its aliases, the name's own words in their
usual forms ("MonthlyCharges" as "monthly charges", "tenure_months" as "tenure"). Read by the
direction and name checks and by the meaning checks. Pure Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from copilot.llm.names_in_text import _loose_pattern, _words


@dataclass(frozen=True)
class Trait:
    """A signed fact about a segment that prose may describe.

    Attributes
    ----------
    feature
        Column name (a feature or an outcome such as ``Churn``).
    level
        Category level for a categorical trait, else None.
    sign
        +1: the segment has more of it than average (numeric mean above average, level
        over-represented, outcome rate higher); -1: less; 0: no difference.
    aliases
        How prose may refer to it; empty means ``trait_aliases(feature, level)``.
    """

    feature: str
    level: str | None
    sign: int
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``feature``, or ``feature = level`` for a category level (used in problems)."""
        return self.feature if self.level is None else f"{self.feature} = {self.level}"

    def names(self) -> tuple[str, ...]:
        """The aliases, or ``trait_aliases`` when none were given."""
        return self.aliases or trait_aliases(self.feature, self.level)


# Qualifiers dropped from the front and units from the end of a column name, so that
# "avg_order_value" is also "order value" and "tenure_months" also "tenure".
_LEADING = {"avg", "average", "mean", "median", "num", "number", "nb", "n", "cnt", "count",
            "is", "has", "pct", "percent"}
_TRAILING = {"d", "day", "days", "w", "wk", "week", "weeks", "m", "mo", "month", "months", "y",
             "yr", "yrs", "year", "years", "h", "hr", "hrs", "hour", "hours", "min", "mins",
             "gb", "mb", "kb", "tb", "usd", "eur", "gbp", "pct", "percent", "count", "cnt",
             "num", "amt", "flag", "label", "status"}
_GENERIC_LEVELS = {"yes", "no", "true", "false", "y", "n", "t", "f", "0", "1", "none", "other",
                   "unknown", "high", "low", "medium", "mid", "on", "off", "a", "b", "c"}
_YES_LEVELS = {"yes", "true", "y", "t", "1"}
_NO_LEVELS = {"no", "false", "n", "f", "0", "none"}


def trait_aliases(feature: str, level: str | None = None) -> tuple[str, ...]:
    """How prose may refer to a trait, lower case except the raw name.

    Parameters
    ----------
    feature
        Column name: ``MonthlyCharges`` gives "monthly charges", "monthly charge";
        ``tenure_months`` gives "tenure months", "tenure".
    level
        Category level: the level itself ("month-to-month", "fiber optic"). A generic level
        ("Yes", "No", "1", "High") only counts with its column ("partner yes"); a yes-like level
        also as the column itself ("partner" for Partner = Yes).

    Returns
    -------
    tuple[str, ...]
    """
    if level is None:
        return _dedupe([feature.strip(), *_name_forms(feature)])
    lv = level.strip()
    if lv.lower() in _GENERIC_LEVELS or len(lv) < 2 or not any(ch.isalpha() for ch in lv):
        forms = [f"{f} {lv.lower()}" for f in _name_forms(feature)]
        if lv.lower() in _YES_LEVELS:
            forms += _name_forms(feature)
        if lv.lower() in _NO_LEVELS:  # "without tech support", "no tech support"
            forms += [f"{w} {f}" for f in _name_forms(feature) for w in ("without", "no")]
        return _dedupe([f"{feature.strip()} = {lv}", *forms])
    return _dedupe([lv, lv.lower(), *_name_forms(lv, trim=False)])


def _name_forms(name: str, trim: bool = True) -> list[str]:
    words = _words(name)
    if not words:
        return []
    forms = [words]
    if trim:
        core = list(words)
        while len(core) > 1 and core[0] in _LEADING:
            core.pop(0)
        while len(core) > 1 and (core[-1] in _TRAILING or any(ch.isdigit() for ch in core[-1])):
            core.pop()
        if core != words and len(" ".join(core)) >= 3:
            forms.append(core)
        if len(core) == 1 and core[0].endswith("ed") and len(core[0]) >= 6:
            forms.append([core[0][:-2]])  # "churned" -> "churn"
    out = []
    for f in forms:
        out.append(" ".join(f))
        for v in _number_variants(f[-1]):
            out.append(" ".join([*f[:-1], v]))
    return out


def _number_variants(word: str) -> list[str]:
    # Singular and plural of a noun; adjectives and participles ("active", "churned") have none.
    if not word.isalpha() or len(word) < 3 or word.endswith(_NOT_NOUN):
        return []
    if word.endswith("ies"):
        return [word[:-3] + "y"]
    if word.endswith(("ses", "xes", "ches", "shes")):
        return [word[:-2]]
    if word.endswith("s") and not word.endswith("ss"):
        return [word[:-1]]
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return [word[:-1] + "ies"]
    if word.endswith(("s", "x", "ch", "sh")):
        return [word + "es"]
    return [word + "s"]


_NOT_NOUN = ("ed", "ing", "ly", "ive", "al", "ic", "ful", "ous", "able")


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


@lru_cache(maxsize=1024)
def _alias_pattern(aliases: tuple[str, ...]) -> re.Pattern[str] | None:
    alts = sorted({_loose_pattern(_words(a)) for a in aliases if _words(a)}, key=len, reverse=True)
    if not alts:
        return None
    return re.compile(rf"(?<![A-Za-z0-9])(?:{'|'.join(alts)})(?![A-Za-z0-9])", re.IGNORECASE)


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    traits: frozenset[int]


def _mentions(text: str, traits: Sequence[Trait]) -> list[_Mention]:
    """Non-overlapping trait mentions; the longest wins, equal spans pool their traits."""
    spans: dict[tuple[int, int], set[int]] = {}
    for k, trait in enumerate(traits):
        pattern = _alias_pattern(trait.names())
        if pattern is None:
            continue
        for m in pattern.finditer(text):
            spans.setdefault((m.start(), m.end()), set()).add(k)
    kept: list[_Mention] = []
    for (s, e), ks in sorted(spans.items(), key=lambda it: (it[0][0] - it[0][1], it[0][0])):
        if all(e <= m.start or s >= m.end for m in kept):
            kept.append(_Mention(s, e, frozenset(ks)))
    return sorted(kept, key=lambda m: m.start)


def trait_mentions(text: str, traits: Sequence[Trait]) -> list[tuple[int, int, frozenset[int]]]:
    """Where ``text`` names a trait: ``(start, end, indices into traits)``, in order.

    Longest match wins; traits sharing an alias are pooled (as the direction check reads them).
    """
    return [(m.start, m.end, m.traits) for m in _mentions(text, traits)]


def _variants(word: str) -> frozenset[str]:
    """A word and its plain stems: "spenders" -> {spenders, spender, spend}."""
    out = {word}
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ers", ""), ("er", ""),
                         ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"), ("d", "")):
        if word.endswith(suffix) and len(word) - len(suffix) + len(repl) >= 3:
            out.add(word[: len(word) - len(suffix)] + repl)
    return frozenset(w for w in out if len(w) >= 3)
