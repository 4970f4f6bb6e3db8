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


def share_percent(share: float) -> str:
    """A share as a readable percentage: ``"47%"``, ``"0.5%"``."""
    pct = 100.0 * share
    if pct == 0 or pct >= 1 or pct <= -1:
        return f"{pct:.0f}%"
    return f"{number(pct, 2)}%"


def percent(x: float) -> str:
    return f"{x:.1%}" if x < 0.1 else f"{x:.0%}"


def figure(kind: str, v: float | None) -> str:
    if v is None:
        return "n/a"
    return percent(v) if kind == "binary" else f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
