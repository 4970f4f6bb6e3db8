"""A segment's stance: what it is worth and how likely it is to leave, against the average.

A product manager reads a segment first as "high value, at risk" or "loyal core" and only then
as a list of traits. The stance is computed here from the outcomes (and, when no outcome
measures value, from a spend-like feature), so names, narratives and plans can be held to it
and the summary, memo and chat can show it.

- **Value** is a revenue-like outcome (revenue, spend, LTV, ...) or, without one, a spend-like
  feature (monthly charges, average order value). A *cumulative* total with no time window
  (``TotalCharges``) is not value when the table has a tenure column: it mostly measures how
  long a customer has stayed, and the risk side already speaks of that.
- **Risk** is the rate of a binary outcome that names a loss (churn, cancel, attrition, ...);
  an outcome that names staying (retained, renewed, active) counts the other way round.

A segment is "high" or "low" on either axis only when it is both clearly different (a ratio of
at least ``VALUE_RATIO`` / ``RISK_RATIO`` to the average) and, where an interval exists, the
interval excludes the average; otherwise it is "average". Tables without such outcomes get no
stance rather than a guess.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from copilot.core import Frozen
from copilot.segmentation.analysis.pipeline import SegmentAnalysis
from copilot.segmentation.data import name_tokens

Level = Literal["high", "average", "low"]

#: A segment's value is "high" at this multiple of the average and "low" at its inverse.
VALUE_RATIO = 1.15
#: Its risk is "high" at this multiple of the average rate and "low" at its inverse.
RISK_RATIO = 1.2
#: A feature's standardized difference must also reach this (a small effect, as in profiles).
MIN_Z = 0.2

_VALUE_TOKENS = frozenset({
    "revenue", "revenues", "spend", "spending", "spent", "ltv", "clv", "value", "sales", "profit",
    "margin", "arpu", "arpa", "mrr", "arr", "charges", "charge", "amount", "monetary", "gmv",
    "price", "billing", "bill", "billed", "income", "fees", "fee", "payments", "payment", "aov",
    "basket", "purchases", "purchase", "order", "orders",
})
# Words that make a value-named column something else: a count of orders is frequency, a
# discount share is price sensitivity, a payment method is a channel.
_NOT_VALUE_TOKENS = frozenset({
    "discount", "discounts", "coupon", "coupons", "method", "type", "count", "number", "num",
    "cnt", "share", "pct", "percent", "ratio", "days", "since", "last", "first", "late", "failed",
    "returns", "returned", "refund", "refunds", "frequency", "paperless", "channel", "mode",
})
# An order's value is value; the number of orders is not ("orders_12m" is frequency).
_NEEDS_VALUE_WORD = frozenset({"order", "orders", "purchase", "purchases", "basket"})
_VALUE_WORDS = frozenset({"value", "spend", "amount", "revenue", "total", "size", "aov"})
_CUMULATIVE = frozenset({"total", "cumulative", "cum", "sum", "lifetime", "alltime", "todate"})
_WINDOW = re.compile(r"^(?:\d+[a-z]*|monthly|month|annual|annually|yearly|year|weekly|week|daily|"
                     r"quarterly|quarter|mo|yr|ytd|mtd|qtd|per|avg|average|mean)$")
_TENURE_TOKENS = frozenset({"tenure", "seniority", "signup", "joined", "membership", "vintage",
                            "lifetime"})
_ENTITY = frozenset({"customer", "account", "client", "member", "subscriber", "user"})

_LOSS_TOKENS = frozenset({
    "churn", "churned", "churns", "attrition", "attrited", "cancel", "cancelled", "canceled",
    "cancellation", "cancellations", "exited", "exit", "left", "lost", "lapsed", "lapse",
    "default", "defaulted", "terminated", "termination", "closed", "inactive", "leaver", "quit",
    "unsubscribed", "unsubscribe", "downgraded", "downgrade",
})
_STAY_TOKENS = frozenset({"retained", "retention", "renewed", "renewal", "active", "stayed",
                          "loyal", "retain", "kept"})


class StanceBasis(Frozen):
    """The column one axis of the stance is measured on."""

    column: str
    source: Literal["outcome", "feature"]
    statistic: Literal["rate", "mean"]
    overall: float
    higher_means: Literal["value", "risk", "safety"]  # safety: a retention-like outcome


class SegmentStance(Frozen):
    """One segment's stance, with the figures it rests on."""

    segment: int
    value: Level | None  # None when the table has nothing to measure value on
    risk: Level | None
    value_figure: float | None  # the segment's mean of the value column
    risk_figure: float | None  # the segment's rate of the risk outcome (as measured: churn rate)
    label: str | None  # "high value, at risk"; None when neither axis is measured


class Stances(Frozen):
    """Every segment's stance and what each axis is measured on."""

    value_basis: StanceBasis | None
    risk_basis: StanceBasis | None
    segments: tuple[SegmentStance, ...]

    def of(self, segment: int) -> SegmentStance | None:
        return next((s for s in self.segments if s.segment == segment), None)

    def basis_sentence(self) -> str | None:
        """What the stance is measured on, in one sentence (None without any axis)."""
        parts = []
        if self.value_basis is not None:
            parts.append(f"value is the mean {self.value_basis.column}")
        if self.risk_basis is not None:
            b = self.risk_basis
            parts.append(f"risk is the {b.column} rate"
                         + (" (read the other way: it counts customers who stay)"
                            if b.higher_means == "safety" else ""))
        if not parts:
            return None
        return "Stance: " + " and ".join(parts) + ", against the average customer."


_LABELS: dict[tuple[Level | None, Level | None], str | None] = {
    ("high", "high"): "high value, at risk",
    ("high", "average"): "high value",
    ("high", "low"): "high value, loyal core",
    ("average", "high"): "at risk",
    ("average", "average"): "typical value and risk",
    ("average", "low"): "loyal",
    ("low", "high"): "low value, leaving",
    ("low", "average"): "low value",
    ("low", "low"): "low value, loyal",
    ("high", None): "high value",
    ("average", None): "typical value",
    ("low", None): "low value",
    (None, "high"): "at risk",
    (None, "average"): "typical risk",
    (None, "low"): "loyal",
    (None, None): None,
}


def stance_label(value: Level | None, risk: Level | None) -> str | None:
    """The words for a (value, risk) pair: ``("high", "high")`` -> ``"high value, at risk"``."""
    return _LABELS[(value, risk)]


def segment_stances(analysis: SegmentAnalysis) -> Stances:
    """Label every segment's value and risk against the average.

    Parameters
    ----------
    analysis
        A finished analysis: its outcome validation and profiles hold every figure used.

    Returns
    -------
    Stances
        One ``SegmentStance`` per profile (unassigned customers included, as -1).

    Examples
    --------
    >>> from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
    >>> from fixtures.customers import make_customers
    >>> run = run_segmentation(make_customers(600, 3, seed=4).frame,
    ...                        SegmentSettings(id_column="customer_id", seed=0))
    >>> stances = segment_stances(run.analysis)
    >>> stances.risk_basis.column
    'churned'
    """
    value_basis, values = _value_axis(analysis)
    risk_basis, risks = _risk_axis(analysis)
    out = []
    for profile in analysis.profiles:
        v_level, v_fig = values.get(profile.segment, (None, None))
        r_level, r_fig = risks.get(profile.segment, (None, None))
        out.append(SegmentStance(segment=profile.segment, value=v_level, risk=r_level,
                                 value_figure=v_fig, risk_figure=r_fig,
                                 label=stance_label(v_level, r_level)))
    return Stances(value_basis=value_basis, risk_basis=risk_basis, segments=tuple(out))


# ------------------------------------------------------------------------------ value


def is_cumulative(column: str, columns: list[str]) -> bool:
    """A running total with no time window, in a table that also records tenure.

    ``TotalCharges`` beside ``tenure`` is mostly tenure times the monthly charge; a total over
    a window (``total_spend_12m``) or a lifetime *value* estimate (``ltv``) is value.
    """
    tokens = name_tokens(column)
    if not _CUMULATIVE.intersection(tokens) or "value" in tokens and "lifetime" in tokens:
        return False
    if any(_WINDOW.match(t) for t in tokens):
        return False
    return any(is_tenure_name(c) for c in columns if c != column)


def is_tenure_name(column: str) -> bool:
    """Whether a column name says how long a customer has been one (tenure, account age)."""
    tokens = set(name_tokens(column))
    if tokens & _TENURE_TOKENS:
        return True
    if "age" in tokens and tokens & _ENTITY:
        return True  # account_age_days; a person's age is not tenure
    return "since" in tokens and bool(tokens & {"signup", "join", "start", "first", "created"})


def is_value_name(column: str) -> bool:
    """Whether a column name says money a customer brings (revenue, spend, charges, LTV)."""
    tokens = set(name_tokens(column))
    if not tokens & _VALUE_TOKENS or tokens & _NOT_VALUE_TOKENS:
        return False
    if tokens & _NEEDS_VALUE_WORD and not tokens & _VALUE_WORDS:
        return False
    return True


def _value_axis(analysis: SegmentAnalysis):
    columns = [c.name for c in analysis.roles.columns]
    for outcome in analysis.validation:
        if (outcome.kind != "continuous" or not outcome.overall or outcome.overall <= 0
                or not is_value_name(outcome.name) or is_cumulative(outcome.name, columns)):
            continue
        basis = StanceBasis(column=outcome.name, source="outcome", statistic="mean",
                            overall=outcome.overall, higher_means="value")
        levels = {}
        for row in outcome.segments:
            if row.value is None:
                continue
            levels[row.segment] = (_level(row.value, outcome.overall, VALUE_RATIO,
                                          row.ci_low, row.ci_high), row.value)
        return basis, levels
    # No value outcome: a spend-like feature, the one that best separates the segments.
    candidates: dict[str, list] = {}
    for profile in analysis.profiles:
        for stat in profile.features:
            if (stat.kind == "numeric" and is_value_name(stat.name)
                    and not is_cumulative(stat.name, columns) and stat.overall_mean > 0):
                candidates.setdefault(stat.name, []).append((profile.segment, stat))
    if not candidates:
        return None, {}
    column = max(candidates, key=lambda c: (_spread(candidates[c]), c))
    overall = candidates[column][0][1].overall_mean
    basis = StanceBasis(column=column, source="feature", statistic="mean", overall=overall,
                        higher_means="value")
    levels = {}
    for segment, stat in candidates[column]:
        if stat.segment_mean is None:
            continue
        level = _level(stat.segment_mean, overall, VALUE_RATIO)
        if level != "average" and abs(stat.z or 0.0) < MIN_Z:
            level = "average"
        levels[segment] = (level, stat.segment_mean)
    return basis, levels


def _spread(rows) -> float:
    return max((abs(stat.z) for _, stat in rows if stat.z is not None), default=0.0)


# ------------------------------------------------------------------------------- risk


def outcome_polarity(column: str) -> Literal["risk", "safety"] | None:
    """Whether a binary outcome counts customers lost (risk) or kept (safety), by its name."""
    tokens = set(name_tokens(column))
    if tokens & _LOSS_TOKENS:
        return "risk"
    if tokens & _STAY_TOKENS:
        return "safety"
    return None


def _risk_axis(analysis: SegmentAnalysis):
    for outcome in analysis.validation:
        polarity = outcome_polarity(outcome.name)
        if outcome.kind != "binary" or polarity is None or not outcome.overall:
            continue
        if not 0 < outcome.overall < 1:
            continue
        basis = StanceBasis(column=outcome.name, source="outcome", statistic="rate",
                            overall=outcome.overall, higher_means=polarity)
        levels = {}
        for row in outcome.segments:
            if row.value is None:
                continue
            if polarity == "risk":
                level = _level(row.value, outcome.overall, RISK_RATIO, row.ci_low, row.ci_high)
            else:  # the risk is the share that did not stay
                level = _level(1 - row.value, 1 - outcome.overall, RISK_RATIO,
                               None if row.ci_high is None else 1 - row.ci_high,
                               None if row.ci_low is None else 1 - row.ci_low)
            levels[row.segment] = (level, row.value)
        return basis, levels
    return None, {}


def _level(value: float, overall: float, ratio: float, low: float | None = None,
           high: float | None = None) -> Level:
    if not (math.isfinite(value) and overall > 0):
        return "average"
    r = value / overall
    if r >= ratio and (low is None or low > overall):
        return "high"
    if r <= 1 / ratio and (high is None or high < overall):
        return "low"
    return "average"
