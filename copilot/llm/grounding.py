"""Is LLM prose grounded in the figures it was given? The number check, and where the others are.

"Numbers from code, words from the LLM": every writer's answer goes through these checks and
any problem goes back to the model as re-ask feedback, so each problem is one short sentence.
All are pure Python, no model, no pandas.

- ``check_numbers`` (here): every number the text cites must be one of the payload's figures
  (``collect_numbers``), read the way prose reads figures (a share 0.263 cited as "26%", a
  lift 1.8 as "80% more", a gap between two rates as "12 points"), within the rounding the
  text itself used. The numbers are read out of the text by ``citations``.
- ``check_directions`` (``direction_check``): "higher", "lower", "more common"... must agree
  with the computed sign of the trait they are attached to.
- ``check_name`` / ``check_name_form`` (``name_checks``): a segment name may not claim a trait
  its profile contradicts ("High Spenders" for a low-spend segment), and must be short,
  specific and new.

The checks favour precision: a false rejection costs a re-ask, so anything ambiguous (a
direction word that could belong to two traits, a negated claim) is left alone rather than
guessed. Column names and category levels come from arbitrary tables, so nothing here knows
our fixtures' columns; names are matched through ``trait_aliases`` (``traits``).
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from copilot.llm.citations import Cited, numbers_in_text
from copilot.llm.names_in_text import _numbers_in_names, _words

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
