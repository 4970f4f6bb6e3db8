"""Every number a user reads is written here: percentages, shares and figures.

The product's promise is that each figure in its text was computed by the engine and can be
checked; one formatter keeps the same share from reading "5%" in one place and "4.7%" in
another, which a reader (and the checker) would take for two different numbers.
"""

from __future__ import annotations

import math
from decimal import Decimal


def round_sig(x: float, digits: int = 3) -> float:
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.{digits}g}")


def number(x: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, no exponent, thousands separated."""
    if not math.isfinite(x):
        return str(float(x))
    r = round_sig(float(x), digits)
    text = format(Decimal(repr(r)), "f")  # positional, never an exponent
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "-0."):
        text = "0"
    sign = "-" if text.startswith("-") else ""
    body = text.lstrip("-")
    whole, _, frac = body.partition(".")
    whole = f"{int(whole):,}"
    return sign + whole + ("." + frac if frac else "")


def number_pair(a: float, b: float) -> tuple[str, str]:
    """Two numbers to compare, rounded alike: 3 significant digits of the larger one.

    So ``(-0.000194, 3.01)`` reads ``("0", "3.01")`` rather than ``("-0.000194", "3.01")``.
    """
    big = max(abs(a), abs(b))
    if not math.isfinite(big) or big == 0:
        return number(a), number(b)
    decimals = 2 - math.floor(math.log10(big))
    return number(round(a, decimals)), number(round(b, decimals))


def percent(share: float | None, decimals: int | None = None) -> str:
    """A 0-1 share as a percentage, the one way the product writes it.

    The reading rule: one decimal under 10% (``"4.7%"``), whole percents from 10%
    (``"47%"``), so a small share keeps a significant digit and a large one no false
    precision. ``decimals`` fixes the places where a column of shares must line up or a
    small move must show (``percent(0.265, 1) == "26.5%"``). A share that would round to
    0.0% or 100.0% without being so reads ``"<0.1%"`` or ``">99.9%"``: one missing value in
    50,000 is not "0.0% missing". None or not a number reads ``"n/a"``.
    """
    if share is None or not math.isfinite(share):
        return "n/a"
    pct = 100.0 * share
    if pct == 0 and decimals is None:
        return "0%"
    places = decimals if decimals is not None else (1 if abs(pct) < 10 else 0)
    step = 10.0 ** -places  # the smallest step the places can show
    if 0 < pct < step / 2:
        return f"<{step:.{places}f}%"
    if 100 - step / 2 <= pct < 100:
        return f">{100 - step:.{places}f}%"
    text = f"{pct:.{places}f}%"
    return "0%" if text in ("-0%", "-0.0%") else text


def percent_number(share: float | None) -> float | None:
    """A 0-1 share as a percentage number with one decimal (26.5), for the LLM's facts: the
    figure the model may quote, as ``percent(share, 1)`` writes it."""
    if share is None or not math.isfinite(share):
        return None
    return round(100.0 * share, 1)


def count(n: int) -> str:
    """A count of customers, rows or calls: ``7,043``."""
    return f"{int(n):,}"


def fixed(x: float, decimals: int) -> str:
    """A metric at a fixed precision, thousands separated: ``0.214``, ``23,002``."""
    return f"{x:,.{decimals}f}"


def measured(x: float) -> str:
    """A measured value (a mean, a bound) at three significant figures; big ones whole:
    ``1,710``, ``0.214``."""
    return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def figure(kind: str, value: float | None) -> str:
    """An outcome's value: a rate as a percentage, any other figure as a measured value."""
    if value is None:
        return "n/a"
    return percent(value) if kind == "binary" else measured(value)
