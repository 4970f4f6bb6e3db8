"""Is LLM prose grounded in the figures it was given? Pure-Python checks, no model, no pandas.

"Numbers from code, words from the LLM": every writer's answer goes through these checks and
any problem goes back to the model as re-ask feedback, so each problem is one short sentence.

- ``check_numbers``: every number the text cites must be one of the payload's figures, read
  the way prose reads figures (a share 0.263 cited as "26%", a lift 1.8 as "80% more", a gap
  between two rates as "12 points"), within the rounding the text itself used.
- ``check_directions``: "higher", "lower", "more common"... must agree with the computed sign
  of the trait they are attached to.
- ``check_name`` / ``check_name_form``: a segment name may not claim a trait its profile
  contradicts ("High Spenders" for a low-spend segment), and must be short, specific and new.

The checks favour precision: a false rejection costs a re-ask, so anything ambiguous (a
direction word that could belong to two traits, a negated claim) is left alone rather than
guessed. Column names and category levels come from arbitrary tables, so nothing here knows
our fixtures' columns; names are matched through ``trait_aliases``.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any

# ============================================================================ numbers in text


@dataclass(frozen=True)
class Cited:
    """One number cited in prose.

    ``value`` is as written, scaled ("1.2k" -> 1200) and signed; a percentage keeps its
    percent scale ("42%" -> 42). ``decimals`` is the rounding the text used, in units of the
    value: "26.3" -> 1, "1,200" -> 0, "1.2k" -> -2, so the rounding slack is
    ``0.5 * 10 ** -decimals``.
    """

    value: float
    text: str
    decimals: int
    percent: bool = False
    multiplier: bool = False
    start: int = -1  # offset in the text
    significant: int = 0  # significant digits written ("1,200" -> 2, "0.050" -> 2)
    bound: str = ""  # ">" for "over 1,000", "<" for "under 5%", "p<" for "p < 0.001"
    approx: bool = False  # hedged: "about 30%", "~1,000"
    unit: str = ""  # a word right after the number: "points", "day", "month", ...

    @property
    def slack(self) -> float:
        return 0.5 * 10.0 ** (-self.decimals) + 1e-9


_NUMBER = re.compile(
    r"(?P<sign>[-+\u2212])?(?P<cur>[$€£¥]\s?)?"
    r"(?P<int>\d{1,3}(?:,\d{3})+(?![\d,])|\d+)(?P<frac>\.\d+)?"
    r"(?P<exp>[eE][-+]?\d+(?![A-Za-z]))?"
)
_LETTERS = re.compile(r"[A-Za-z]+")
_SCALE_WORDS = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "mn": 1e6, "bn": 1e9}
# Words after a number that make it a duration or a size, not a statistic. A number with one of
# these is also accepted when it comes from a column name ("logins_7d" -> "logins in 7 days").
_UNITS = {
    "d": "day", "day": "day", "days": "day", "w": "week", "wk": "week", "week": "week",
    "weeks": "week", "mo": "month", "month": "month", "months": "month", "y": "year",
    "yr": "year", "yrs": "year", "year": "year", "years": "year", "h": "hour", "hr": "hour",
    "hrs": "hour", "hour": "hour", "hours": "hour", "min": "minute", "mins": "minute",
    "minute": "minute", "minutes": "minute", "s": "second", "sec": "second", "gb": "gb",
    "mb": "mb", "tb": "tb", "kb": "kb", "q": "quarter", "quarter": "quarter",
}
_ORDINALS = {"st", "nd", "rd", "th"}
_AFTER = re.compile(
    r"\s*(?:(?P<pct>%|percent\b|per\s+cent\b|pct\b)"
    r"|(?P<pts>percentage[\s-]+points?\b|points?\b|pts?\b|pp\b)"
    r"|(?P<mult>×|times\b|-?fold\b)"
    r"|(?P<scale>thousand\b|million\b|billion\b)"
    r"|-?(?P<unit>[A-Za-z]+)\b)",
    re.IGNORECASE,
)
_BOUND_BEFORE = re.compile(
    r"(?P<p>\bp(?:[\s-]*values?)?\s*)?"
    r"(?P<op><=|>=|[<>≤≥]|\b(?:under|below|less than|fewer than|at most|up to|over|above"
    r"|more than|at least|exceeding|greater than|beyond)\b)\s*$",
    re.IGNORECASE,
)
_LOWER_BOUND_WORDS = {">", ">=", "≥", "over", "above", "more than", "at least", "exceeding",
                      "greater than", "beyond"}
_APPROX_BEFORE = re.compile(
    r"(?:\b(?:about|around|roughly|approximately|approx\.?|nearly|almost|close to|some"
    r"|circa|ca\.)|[~≈])\s*$",
    re.IGNORECASE,
)


def numbers_in_text(text: str, ignore: Iterable[str] = ()) -> list[Cited]:
    """Every number the text cites, in order.

    Parameters
    ----------
    text
        Prose written by the model.
    ignore
        Column names, category levels, segment names...: their digits are part of a name,
        not a citation ("Q4_sales", "Fiber optic 2.0"), so they are blanked first
        (case-insensitively, also with spaces or hyphens for underscores).

    Returns
    -------
    list[Cited]
        Digits inside words ("B2B", "mp3", "COVID-19", "4G") and ordinals ("3rd") are skipped.
    """
    masked = _mask(text, ignore)
    out: list[Cited] = []
    for m in _NUMBER.finditer(masked):
        cited = _parse(masked, text, m)
        if cited is not None:
            out.append(cited)
    return out


def _parse(masked: str, original: str, m: re.Match[str]) -> Cited | None:
    start, end = m.start(), m.end()
    before = masked[start - 1] if start else " "
    sign = m.group("sign")
    if sign and (before.isalnum() or before == "_"):
        if before.isalpha() or before == "_":
            return None  # "COVID-19", "x-3": part of a word
        sign = None  # "3-7" is a range: the second number is 7, not -7
        start += 1
        before = masked[start - 1]
    if before.isalnum() or before == "_" or (before in ".," and start >= 2
                                              and masked[start - 2].isdigit()):
        return None  # "B2B", "mp3", "v1.2.3"
    digits_int = m.group("int").replace(",", "")
    frac = (m.group("frac") or "")[1:]
    exp = int(m.group("exp")[1:]) if m.group("exp") else 0
    value = float(f"{digits_int}.{frac or '0'}e{exp}")
    decimals = len(frac) - exp
    significant = _significant(digits_int, frac)
    percent = multiplier = False
    unit = ""
    scale = 1.0
    rest = masked[end:]
    attached = _LETTERS.match(rest)
    if attached:  # letters glued to the digits: a scale, "x", a unit, an ordinal or a word
        word = attached.group(0)
        low = word.lower()
        if low == "x":
            multiplier = True
        elif low == "k":
            scale = 1e3
        elif low in ("mn", "bn", "b") or word == "M" or (low == "m" and (frac or m.group("cur"))):
            scale = 1e9 if low in ("bn", "b") else 1e6
        elif low in ("pp", "pt", "pts"):
            unit = "points"
        elif low == "m":
            unit = "m"  # "12m": months or an unscaled million; checked as 12 either way
        elif low in _ORDINALS:
            return None
        elif low in _UNITS:
            unit = _UNITS[low]
        else:
            return None  # "4G", "5star": digits inside a word
        end += len(word)
        if len(rest) > len(word) and (rest[len(word)].isdigit() or rest[len(word)] == "_"):
            return None
    else:
        after = _AFTER.match(rest)
        if after:
            if after.group("pct"):
                percent = True
                end += after.end()
            elif after.group("pts"):
                unit = "points"
            elif after.group("mult"):
                multiplier = True
                end += after.end()
            elif after.group("scale"):
                scale = _SCALE_WORDS[after.group("scale").lower()]
                end += after.end()
            elif after.group("unit") and after.group("unit").lower() in _UNITS:
                unit = _UNITS[after.group("unit").lower()]
            elif after.group("unit") and after.group("unit").lower() in ("mn", "bn"):
                scale = _SCALE_WORDS[after.group("unit").lower()]
                end += after.end()
    if scale != 1.0:
        value *= scale
        decimals -= round(math.log10(scale))
    if sign in ("-", "\u2212"):
        value = -value
    head = masked[max(0, m.start() - 30) : m.start()]
    bound = ""
    b = _BOUND_BEFORE.search(head)
    if b:
        op = b.group("op").lower()
        bound = "p<" if b.group("p") and op not in _LOWER_BOUND_WORDS else (
            ">" if op in _LOWER_BOUND_WORDS else "<")
    approx = bool(_APPROX_BEFORE.search(head))
    return Cited(value=value, text=original[start:end].strip(), decimals=decimals,
                 percent=percent, multiplier=multiplier, start=start, significant=significant,
                 bound=bound, approx=approx, unit=unit)


def _significant(digits_int: str, frac: str) -> int:
    if frac:
        return max(1, len((digits_int + frac).lstrip("0")))
    return max(1, len(digits_int.lstrip("0").rstrip("0")))


# ------------------------------------------------------------------------- names in the text

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^A-Za-z0-9.]+|(?<![0-9])\.|\.(?![0-9])")


def _words(name: str) -> list[str]:
    """``MonthlyCharges`` -> [monthly, charges]; ``api_calls_30d`` -> [api, calls, 30d]."""
    return [w.lower() for w in _SPLIT.split(_CAMEL.sub(" ", name)) if w]


def _loose_pattern(words: Sequence[str], sep: str = r"[\s_\-]*") -> str:
    # Words of a name may be written with spaces, underscores, hyphens or nothing between them.
    return sep.join(re.escape(w) for w in words)


_EDGE_BEFORE = r"(?<![A-Za-z0-9])(?<!\d[.,])"
_EDGE_AFTER = r"(?![A-Za-z0-9])(?![.,]\d)"


@lru_cache(maxsize=256)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    # Any short run of punctuation between words: "k-means, k=4", "Support tickets (90d)".
    alts = sorted({_loose_pattern(_words(n), r"[^A-Za-z0-9]{0,3}") for n in names if _words(n)},
                  key=len, reverse=True)
    if not alts:
        return None
    return re.compile(f"{_EDGE_BEFORE}(?:{'|'.join(alts)}){_EDGE_AFTER}", re.IGNORECASE)


def _mask(text: str, ignore: Iterable[str]) -> str:
    # Only names with digits matter for numbers; a purely numeric name ("2", a level of a
    # count column) is kept, or blanking it would also blank real citations of that figure.
    names = tuple(n for n in ignore if any(c.isdigit() for c in n) and any(c.isalpha() for c in n))
    pattern = _names_pattern(names) if names else None
    if pattern is None:
        return text
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def _numbers_in_names(ignore: Iterable[str]) -> frozenset[float]:
    found = set()
    for name in ignore:
        for d in re.findall(r"\d+(?:\.\d+)?", name):
            found.add(float(d))
    return frozenset(found)


# ============================================================================ the payload


@dataclass(frozen=True)
class FactNumbers:
    """The figures a payload holds.

    Attributes
    ----------
    values
        Every number, in payload order, deduplicated.
    ratios
        Lifts and ratios: figures under a ratio-like key ("lift", "ratio", "index") and the
        ratio of paired siblings such as ``segment_pct`` / ``overall_pct``, which prose cites
        as "1.8x" or "80% more".
    groups
        Comparable figures: the numbers of one dict, and the numbers under one key across the
        payload (every segment's ``churn_pct``). A gap in points is a difference within a group.
    """

    values: tuple[float, ...] = ()
    ratios: tuple[float, ...] = ()
    groups: tuple[tuple[float, ...], ...] = ()


_RATIO_KEY = re.compile(r"lift|ratio|index|multiple|fold|times", re.IGNORECASE)
MAX_PAIRWISE = 300  # gaps are pairwise within a group: keep the O(n^2) part bounded


def collect_numbers(payload: Any) -> FactNumbers:
    """Every number in a JSON-like payload, including those inside strings.

    Parameters
    ----------
    payload
        dict / list / tuple / str / int / float / None; bools are skipped, dict keys are
        names, not numbers. Strings are scanned like prose ("tenure <= 12.5", "p = 3.2e-05").

    Returns
    -------
    FactNumbers
    """
    values: dict[float, None] = {}
    ratios: dict[float, None] = {}
    by_key: dict[str, dict[float, None]] = {}
    groups: list[tuple[float, ...]] = []

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, bool) or node is None:
            return
        if isinstance(node, int | float):
            if math.isfinite(node):
                values.setdefault(float(node), None)
                by_key.setdefault(key, {}).setdefault(float(node), None)
                if key and _RATIO_KEY.search(key) and node > 0:
                    ratios.setdefault(float(node), None)
        elif isinstance(node, str):
            for c in numbers_in_text(node):
                if math.isfinite(c.value):
                    values.setdefault(c.value, None)
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
            for r in _sibling_ratios(node):
                ratios.setdefault(r, None)
            siblings = tuple(dict.fromkeys(float(v) for v in node.values() if _is_number(v)))
            if len(siblings) > 1:
                groups.append(siblings)
        elif isinstance(node, list | tuple | set | frozenset):
            for v in node:
                walk(v, key)

    walk(payload)
    groups += [tuple(g) for g in by_key.values() if len(g) > 1]
    return FactNumbers(values=tuple(values), ratios=tuple(ratios),
                       groups=tuple(dict.fromkeys(groups)))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _sibling_ratios(node: dict[Any, Any]) -> list[float]:
    # Two figures of one dict whose keys differ in exactly one word are a comparison pair
    # (segment_mean / overall_mean, segment_rate_pct / overall_rate_pct): prose cites their
    # ratio as "1.8x" or "80% higher".
    nums = [(_words(str(k)), float(v)) for k, v in node.items() if _is_number(v) and v]
    out = []
    for i, (ka, a) in enumerate(nums):
        for kb, b in nums[i + 1 :]:
            if _paired(ka, kb):
                out += [abs(a / b), abs(b / a)]
    return out


# Words naming the population a figure describes: keys that differ only in one of these are a
# comparison pair ("segment_mean" vs "overall_mean"); "segment_mean" vs "segment_median" is not.
_BASES = {"segment", "seg", "overall", "all", "average", "avg", "global", "baseline", "base",
          "benchmark", "population", "pop", "everyone", "others", "rest", "cluster", "group",
          "cohort", "control", "treatment", "before", "after", "this", "other", "total"}


def _paired(ka: list[str], kb: list[str]) -> bool:
    if len(ka) != len(kb) or not ka:
        return False
    differ = [(x, y) for x, y in zip(ka, kb, strict=True) if x != y]
    return len(differ) == 1 and differ[0][0] in _BASES and differ[0][1] in _BASES


# ============================================================================ number check


@dataclass
class _Readings:
    """Sorted absolute readings of the facts, one list per way a number can be cited."""

    direct: list[float]
    plain: list[float]
    percent: list[float]
    multiplier: list[float]
    gaps: list[float] | None = None

    @classmethod
    def of(cls, facts: FactNumbers) -> _Readings:
        vals = [abs(v) for v in facts.values]
        plain = vals + [v / 100 for v in vals]
        # A lift cited as a percentage difference: 1.8 -> "80% more", 0.6 -> "40% lower".
        lifts = [100 * abs(r - 1) for r in facts.ratios]
        percent = vals + [100 * v for v in vals] + lifts
        multiplier = vals + [abs(r) for r in facts.ratios]
        return cls(sorted(vals), sorted(plain), sorted(percent), sorted(multiplier))

    def gap_list(self, facts: FactNumbers) -> list[float]:
        if self.gaps is None:
            gaps = set()
            for group in facts.groups:
                vals = sorted(set(group[:MAX_PAIRWISE]))
                for i, a in enumerate(vals):
                    for b in vals[i + 1 :]:
                        gaps.add(b - a)
            # In both scales: 0.38 vs 0.26 is "12 points", like 38.0 vs 26.0.
            self.gaps = sorted(gaps | {100 * g for g in gaps})
        return self.gaps


_POINTS = re.compile(r"\bpoints?\b|\bpp\b|\bpts?\b|percentage[\s-]+points?", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


def check_numbers(text: str, facts: FactNumbers, ignore: Iterable[str] = ()) -> list[str]:
    """Problems with numbers the text cites that are not among the facts.

    Parameters
    ----------
    text
        Prose written by the model.
    facts
        ``collect_numbers`` of the payload the model was given.
    ignore
        Names whose digits are not citations (see ``numbers_in_text``).

    Returns
    -------
    list[str]
        One sentence per ungrounded number, fit to send back to the model.

    Notes
    -----
    A number is grounded when it equals, within the rounding it was written with, a fact read
    as itself, as a share in percent (0.263 -> 26.3%), as a percent written as a share
    (26.3 -> 0.263), as a lift's percentage difference ("80% more" for 1.8), or, in a sentence
    that speaks of points, as the gap between two facts. Rounding to 2 or 3 significant
    figures is also accepted (1,234,567 -> "1.2M", "1,230,000"); hedged numbers ("about 30%")
    to 1 significant figure; bounds ("over 1,000", "p < 0.001") when a fact lies just beyond.
    """
    ignore = tuple(ignore)
    cited = numbers_in_text(text, ignore)
    if not cited:
        return []
    readings = _Readings.of(facts)
    from_names = _numbers_in_names(ignore)
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    problems: list[str] = []
    for c in cited:
        if c.unit and c.unit != "points" and abs(c.value) in from_names:
            continue  # "7 days" from a column named logins_7d
        if c.bound and not c.percent:
            pool = readings.direct  # a bound's window is wide: only the facts themselves
        elif c.multiplier:
            pool = readings.multiplier
        elif c.percent or c.unit == "points":
            pool = readings.percent
        else:
            pool = readings.plain
        if _grounded(c, pool):
            continue
        i = bisect.bisect_left(ends, c.start)
        sentence = text[(ends[i - 1] if i else 0) : (ends[i] if i < len(ends) else len(text))]
        speaks_of_points = c.unit == "points" or bool(_POINTS.search(sentence))
        gaps = readings.gap_list(facts) if not c.multiplier else []
        if speaks_of_points and _grounded(c, gaps):
            continue
        if c.multiplier:
            problem = f'"{c.text}" is not a ratio you were given; use only the figures in the input.'
        elif c.percent and not speaks_of_points and _grounded(c, gaps):
            problem = (f'"{c.text}" does not match any figure you were given; if it is the gap '
                       "between two percentages, write it in points.")
        else:
            problem = (f'"{c.text}" does not match any figure you were given; use only the '
                       "figures in the input.")
        if problem not in problems:
            problems.append(problem)
    return problems


def _grounded(c: Cited, pool: list[float]) -> bool:
    x = abs(c.value)
    if c.bound == "p<":
        lo, hi = 0.0, x + c.slack
    elif c.bound:
        unit = _last_digit_unit(c)
        lo, hi = (x - unit, x + unit)
    else:
        lo, hi = x - c.slack, x + c.slack
    if c.approx or c.significant >= 2:
        lo, hi = min(lo, 0.4 * x), max(hi, 1.6 * x + c.slack)  # 1-3 significant figure windows
    left = bisect.bisect_left(pool, lo - 1e-9)
    right = bisect.bisect_right(pool, hi + 1e-9)
    return any(_matches(c, x, r) for r in pool[left:right])


def _matches(c: Cited, x: float, r: float) -> bool:
    if _rounds_to(x, r, c.decimals):
        return True
    if c.significant >= 2 and any(_same(x, _round_sig(r, n)) for n in (2, 3)):
        return True
    if c.approx and _same(x, _round_sig(r, 1)):
        return True
    if c.bound == "p<":
        return 0 <= r <= x + c.slack
    if c.bound == ">":
        return x - c.slack <= r <= x + _last_digit_unit(c)
    if c.bound == "<":
        return x - _last_digit_unit(c) <= r <= x + c.slack
    return False


def _rounds_to(x: float, r: float, decimals: int) -> bool:
    """Whether ``r`` rounded to ``decimals`` gives ``x``, half-up or half-to-even.

    Truncation is not rounding: 37.5 is "38" (either way), never "37"; 26.5 may be "26" or "27".
    """
    half = 0.5 * 10.0 ** (-decimals)
    gap = abs(x - r)
    if abs(gap - half) <= 1e-9 * max(1.0, abs(r)):
        if r < x:
            return True  # half-up
        last = round(x * 10.0**decimals)
        return last % 2 == 0  # half-to-even
    return gap < half


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


def _round_sig(r: float, n: int) -> float:
    if r == 0:
        return 0.0
    return round(r, n - 1 - math.floor(math.log10(abs(r))))


def _last_digit_unit(c: Cited) -> float:
    # The place value of the last significant digit: "1,000" -> 1000, "45%" -> 1, "0.05" -> 0.01.
    return 10.0 ** (math.floor(math.log10(abs(c.value))) - c.significant + 1) if c.value else 1.0


# ============================================================================ traits


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


# ============================================================================ direction check

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


# ============================================================================ names

_NAME_UP = {"high", "higher", "heavy", "big", "bigger", "large", "larger", "long", "longer",
            "frequent", "many", "more", "top", "max", "most", "highest", "longest", "biggest"}
_NAME_DOWN = {"low", "lower", "light", "small", "smaller", "short", "shorter", "rare",
              "infrequent", "few", "fewer", "less", "minimal", "least", "lowest", "shortest"}
# Words too generic to tie a name to one column on their own ("High Value Customers").
_GENERIC_WORDS = {"value", "values", "customer", "customers", "user", "users", "account",
                  "accounts", "total", "rate", "score", "level", "type", "flag", "number",
                  "count", "the", "of", "per", "and", "in", "on", "to", "last", "since"}


def check_name(name: str, traits: Sequence[Trait]) -> list[str]:
    """Problems with a segment name that claims a trait its profile contradicts.

    Parameters
    ----------
    name
        The proposed name ("High Spenders", "Long-Tenure Loyalists").
    traits
        The segment's signed traits.

    Returns
    -------
    list[str]
        One sentence per contradicted claim: a direction adjective ("high", "heavy", "long",
        "low", "light", "short"...) directly before a word naming a trait of the opposite sign.

    Notes
    -----
    The word after the adjective matches a trait through a whole alias ("Monthly Charges"),
    else the first word of an alias ("High Monthly Crowd"), else any word of it ("High
    Spenders" for annual_spend). When it matches several traits, the name is only rejected if
    none of them agrees with the adjective.
    """
    tokens = [t for t in re.split(r"[\s\-_/]+", name.strip()) if t]
    words = [re.sub(r"[^A-Za-z0-9]", "", t).lower() for t in tokens]
    problems = []
    for i, w in enumerate(words[:-1]):
        sign = 1 if w in _NAME_UP else -1 if w in _NAME_DOWN else None
        if sign is None:
            continue
        matched, exact = _name_matches(" ".join(words[i + 1 :]), words[i + 1], traits)
        if not matched or any(traits[k].sign == sign for k in matched):
            continue
        if not exact and not any(traits[k].sign == -sign for k in matched):
            continue
        opposing = sorted(k for k in matched if traits[k].sign == -sign)
        trait = traits[opposing[0] if opposing else min(matched)]
        state = {1: "above average", -1: "below average", 0: "about average"}[trait.sign]
        if trait.level is not None:
            state = {1: "more common than average", -1: "less common than average",
                     0: "about as common as average"}[trait.sign]
        problems.append(
            f'The name "{name.strip()}" says "{tokens[i]} {tokens[i + 1]}", but {trait.label} is '
            f"{state} in this segment; choose a name that fits the profile."
        )
    return problems


def _name_matches(rest: str, word: str, traits: Sequence[Trait]) -> tuple[set[int], bool]:
    exact = set()
    for k, t in enumerate(traits):
        pattern = _alias_pattern(t.names())
        if pattern is not None and (m := pattern.match(rest)) and m.start() == 0:
            exact.add(k)
    if exact:
        return exact, True
    if word in _GENERIC_WORDS or len(word) < 3:
        return set(), False
    mine = _variants(word)
    head, anywhere = set(), set()
    for k, t in enumerate(traits):
        if t.level is not None:
            continue  # "High Contract" means nothing: only numeric traits and outcomes
        for alias in t.names():
            content = [w for w in _words(alias) if w not in _GENERIC_WORDS and w.isalpha()
                       and len(w) >= 3]
            for pos, w in enumerate(content):
                if _variants(w) & mine:
                    (head if pos == 0 else anywhere).add(k)
    return (head or anywhere), False


def _variants(word: str) -> frozenset[str]:
    """A word and its plain stems: "spenders" -> {spenders, spender, spend}."""
    out = {word}
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ers", ""), ("er", ""),
                         ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"), ("d", "")):
        if word.endswith(suffix) and len(word) - len(suffix) + len(repl) >= 3:
            out.add(word[: len(word) - len(suffix)] + repl)
    return frozenset(w for w in out if len(w) >= 3)


_GENERIC_NAME = re.compile(
    r"^(?:the\s+)?(?:cluster|segment|group|cohort|tier|class|category|bucket|type|persona"
    r"|customers?|users?|others?|misc(?:ellaneous)?|unknown|none|n/?a)"
    r"(?:\s*[-#]?\s*(?:[a-z]|\d+|[ivx]+|one|two|three|four|five|six|seven|eight|nine|ten))?$"
    r"|^(?:[a-z]|[ivx]+|\d+|one|two|three|four|five|six|seven|eight|nine|ten)$",
    re.IGNORECASE,
)


_GLUED = re.compile(r"^(?:higher|lower|fewer)[a-z]{2,}$")


def check_name_form(name: str, taken: Iterable[str]) -> list[str]:
    """Problems with a name's form: empty, too long, generic, digits, or already used.

    Parameters
    ----------
    name
        The proposed name. Hyphenated compounds ("Long-Tenure") count as one word.
    taken
        Names already given to other segments (compared case-insensitively).

    Returns
    -------
    list[str]
    """
    clean = " ".join(name.split())
    if not clean or not any(ch.isalnum() for ch in clean):
        return ["The name is empty; give a name of at most 4 words."]
    problems = []
    n = len(clean.split())
    if n > 4:
        problems.append(f'The name "{clean}" has {n} words; use at most 4.')
    if _GENERIC_NAME.match(clean.strip(" .!\"'")):
        problems.append(f'"{clean}" is a generic label; say what these customers value or do.')
    elif any(ch.isdigit() for ch in clean):
        problems.append(f'The name "{clean}" contains digits; a name carries no figures.')
    words = [w.lower().strip(".,!'\"") for w in clean.split()]
    glued = next((p for w in words for p in w.split("-") if _GLUED.match(p)), None)
    if glued:
        # "Higherapi-Calls": a direction word run into a column name (measured in the demo).
        problems.append(f'The name "{clean}" runs words together ("{glued}"); write them apart.')
    doubled = next((w for i, w in enumerate(words) if w and w in words[:i]), None)
    if doubled:
        # A lead word the grammar put first, then the same word from the trait ("Mobile
        # Mobile App"): a stutter, not a name.
        problems.append(f'The name "{clean}" repeats "{doubled}"; use each word once.')
    if name_key(clean) in {name_key(t) for t in taken}:
        problems.append(f'The name "{clean}" is already used; pick a different one.')
    return problems


def name_key(name: str) -> tuple[str, ...]:
    """A name for comparison: case, spacing and plural "s" ignored ("Tech Enthusiast(s)")."""
    return tuple(w.casefold().rstrip("s") or w.casefold() for w in re.findall(r"[\w'-]+", name))
