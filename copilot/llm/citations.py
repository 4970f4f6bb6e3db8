"""Numbers cited in prose: each with the way it was written (rounding, percent, multiplier, scale,
unit, bound, hedge), so the checks can tell which figure it may be a reading of.

Read by the number check (``grounding``) and by the meaning checks that bind a figure to a
trait. Names are blanked first (``names_in_text``): "Q4_sales" cites no 4. Pure Python.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from copilot.llm.names_in_text import _mask


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
    percent = False
    rest = masked[end:]
    attached = _LETTERS.match(rest)
    if attached:  # letters glued to the digits: a scale, "x", a unit, an ordinal or a word
        word = attached.group(0)
        glued = _glued(word, rest, frac, m.group("cur"))
        if glued is None:
            return None
        multiplier, unit, scale = glued
        end += len(word)
    else:
        percent, multiplier, unit, scale, taken = _word_after(rest)
        end += taken
    if scale != 1.0:
        value *= scale
        decimals -= round(math.log10(scale))
    if sign in ("-", "\u2212"):
        value = -value
    bound, approx = _hedges(masked[max(0, m.start() - 30) : m.start()])
    return Cited(value=value, text=original[start:end].strip(), decimals=decimals,
                 percent=percent, multiplier=multiplier, start=start, significant=significant,
                 bound=bound, approx=approx, unit=unit)


def _glued(word: str, rest: str, frac: str, cur: str | None) -> tuple[bool, str, float] | None:
    """(multiplier, unit, scale) that letters glued to the digits say ("1.2k", "3x", "7d"), or
    None when the digits are part of a word or an ordinal."""
    multiplier = False
    unit = ""
    scale = 1.0
    low = word.lower()
    if low == "x":
        multiplier = True
    elif low == "k":
        scale = 1e3
    elif low in ("mn", "bn", "b") or word == "M" or (low == "m" and (frac or cur)):
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
    if len(rest) > len(word) and (rest[len(word)].isdigit() or rest[len(word)] == "_"):
        return None
    return multiplier, unit, scale


def _word_after(rest: str) -> tuple[bool, bool, str, float, int]:
    """(percent, multiplier, unit, scale, characters taken into the citation) that a word after
    the number says ("42 %", "3 times", "1.2 million", "12 points", "7 days")."""
    percent = multiplier = False
    unit = ""
    scale = 1.0
    taken = 0
    after = _AFTER.match(rest)
    if after:
        if after.group("pct"):
            percent = True
            taken = after.end()
        elif after.group("pts"):
            unit = "points"
        elif after.group("mult"):
            multiplier = True
            taken = after.end()
        elif after.group("scale"):
            scale = _SCALE_WORDS[after.group("scale").lower()]
            taken = after.end()
        elif after.group("unit") and after.group("unit").lower() in _UNITS:
            unit = _UNITS[after.group("unit").lower()]
        elif after.group("unit") and after.group("unit").lower() in ("mn", "bn"):
            scale = _SCALE_WORDS[after.group("unit").lower()]
            taken = after.end()
    return percent, multiplier, unit, scale, taken


def _hedges(head: str) -> tuple[str, bool]:
    """(bound, approx) from the words just before a number: "over", "p <", "about", "~"."""
    bound = ""
    b = _BOUND_BEFORE.search(head)
    if b:
        op = b.group("op").lower()
        bound = "p<" if b.group("p") and op not in _LOWER_BOUND_WORDS else (
            ">" if op in _LOWER_BOUND_WORDS else "<")
    approx = bool(_APPROX_BEFORE.search(head))
    return bound, approx


def _significant(digits_int: str, frac: str) -> int:
    if frac:
        return max(1, len((digits_int + frac).lstrip("0")))
    return max(1, len(digits_int.lstrip("0").rstrip("0")))
