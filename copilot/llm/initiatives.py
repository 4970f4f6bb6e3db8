"""Default roadmap initiatives drawn from the table itself, and a computed fit for each segment.

A user who gives no initiatives should not get a fixed SaaS list put in front of a telco
("In-app education on underused features" for customers who have a phone line). Instead each
initiative here comes from a *pattern in the columns* that the segments differ on: a contract
column with a month-to-month level gives "move month-to-month customers to a longer contract",
an add-on such as tech support gives "a free trial of tech support for customers without it",
a tickets count gives "priority support", a usage count "in-app guidance", a plan column "an
upgrade path", and so on. Each pattern is written for any table (column names are matched by
their word tokens, never by fixture names), ranked by how strongly the segments differ on its
column, and carries a *target*: the trait a segment must show for the initiative to fit it.

The target is also the deterministic draft of the fit matrix: when the model's ratings are
unusable, a segment that shows the target trait gets a high fit and one that shows the
opposite a low one, instead of a neutral 3 for everything.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from copilot.llm.lexicon import NOT_USAGE_TOKENS, SUPPORT_TOKENS, USAGE_TOKENS
from copilot.segmentation import (
    SegmentAnalysis,
    SegmentStance,
    Stances,
    is_cumulative,
    is_tenure_name,
    is_value_name,
    name_tokens,
)

MAX_DEFAULTS = 5

GOAL_WORDS = {
    "retention": ("churn", "retain", "retention", "cancel", "renew", "loyal", "attrition", "keep",
                  "leave", "leaving", "lapse", "win back", "winback"),
    "growth": ("upsell", "expan", "revenue", "upgrade", "monetiz", "monetis", "arpu", "grow",
               "price", "pricing", "cross-sell", "cross sell", "spend", "wallet"),
    "activation": ("activat", "onboard", "adopt", "engag", "usage", "trial", "convert",
                   "first week", "first month"),
}


def goal_kind(goal: str) -> str:
    """Which kind of goal this is: "retention", "growth" or "activation" (growth by default)."""
    text = goal.lower()
    scores = {kind: sum(w in text for w in words) for kind, words in GOAL_WORDS.items()}
    best = max(scores, key=scores.get)
    return best if scores[best] > 0 else "growth"


@dataclass(frozen=True)
class Target:
    """What a segment shows when an initiative fits it.

    ``column`` with ``level`` (a category level that must be common) or with ``sign`` (+1: the
    column is above average, -1: below); or ``axis`` ("risk" / "value") with ``sign`` on the
    stance.
    """

    column: str | None = None
    level: str | None = None
    sign: int = 1
    axis: str | None = None


@dataclass(frozen=True)
class Initiative:
    text: str
    target: Target | None = None
    strength: float = 0.0  # how strongly the segments differ on the target: ranks the defaults
    family: str = ""  # one pattern's initiatives ("addon"): a list holds at most FAMILY_CAP

FAMILY_CAP = {"addon": 2}


def humanize(column: str) -> str:
    """``support_tickets_90d`` -> "support tickets"; ``MonthlyCharges`` -> "monthly charges"."""
    words = [t for t in name_tokens(column) if t.isalpha()]
    drop = {"num", "nb", "cnt", "count", "is", "has", "avg", "pct", "d", "m", "y", "mo"}
    kept = [w for w in words if w not in drop] or words
    return " ".join(kept) or column


# ----------------------------------------------------------------------------- the table


@dataclass
class _Table:
    """What the patterns read: numeric columns with their largest |z|, categorical levels."""

    numeric: dict[str, float]  # column -> largest |z| over the segments
    levels: dict[str, dict[str, float]]  # column -> level -> largest lift over the segments
    lacking: dict[str, float]  # "column=level" of an absence level -> its largest lift


def _read(analysis: SegmentAnalysis) -> _Table:
    numeric: dict[str, float] = {}
    levels: dict[str, dict[str, float]] = {}
    lacking: dict[str, float] = {}
    for p in analysis.profiles:
        if p.segment < 0:
            continue
        for s in p.features:
            if s.kind != "datetime" and s.z is not None:
                numeric[s.name] = max(numeric.get(s.name, 0.0), abs(s.z))
        for c in (*p.categories, *p.scarce):
            levels.setdefault(c.name, {})
            levels[c.name][c.level] = max(levels[c.name].get(c.level, 0.0), c.lift)
            if c.lift > 1 and _absent(c.level):
                key = f"{c.name}={c.level}"
                lacking[key] = max(lacking.get(key, 0.0), c.lift)
    return _Table(numeric, levels, lacking)


_ABSENT = re.compile(r"^(?:no|none|without|false|n|0)$", re.IGNORECASE)


def _absent(level: str) -> bool:
    return bool(_ABSENT.match(level.strip()))


def _has(column: str, *words: str) -> bool:
    return bool(set(name_tokens(column)) & set(words))


# --------------------------------------------------------------------------- the patterns


def _contract(t: _Table) -> list[Initiative]:
    out = []
    for col, levels in t.levels.items():
        if not _has(col, "contract", "term", "commitment", "subscription", "billing", "plan"):
            continue
        short = [lv for lv in levels if re.search(r"month|flex|rolling|no contract|none|weekly",
                                                  lv, re.IGNORECASE)]
        if len(levels) > 1:
            out += [Initiative(f"Discounted move from {lv} to a longer {humanize(col)}",
                               Target(column=col, level=lv), levels[lv], "contract")
                    for lv in short]
    return out


_ADDON = ("support", "security", "protection", "backup", "insurance", "warranty", "care",
          "assist", "premium", "plus")


def _addons(t: _Table, phrase: str) -> list[Initiative]:
    out = []
    for key, lift in t.lacking.items():
        col, level = key.split("=", 1)
        if _has(col, *_ADDON):
            out.append(Initiative(phrase.format(humanize(col)), Target(column=col, level=level),
                                  lift, "addon"))
    return out


def _payment(t: _Table) -> list[Initiative]:
    for col, levels in t.levels.items():
        if not _has(col, "payment", "pay", "billing"):
            continue
        manual = [lv for lv in levels if re.search(r"check|cheque|manual|invoice|cash|mail",
                                                   lv, re.IGNORECASE)]
        return [Initiative(f"Incentive to switch from {lv} to automatic payment",
                           Target(column=col, level=lv), levels[lv], "payment") for lv in manual]
    return []


def _numeric(t: _Table, test, text: str, sign: int) -> list[Initiative]:
    cols = [c for c in t.numeric if test(c)]
    if not cols:
        return []
    col = max(cols, key=lambda c: t.numeric[c])
    return [Initiative(text.format(humanize(col)), Target(column=col, sign=sign), t.numeric[col],
                       text)]


def _support(c: str) -> bool:
    return bool(set(name_tokens(c)) & SUPPORT_TOKENS)


def _usage(c: str) -> bool:
    tokens = set(name_tokens(c))
    return bool(tokens & USAGE_TOKENS) and not tokens & NOT_USAGE_TOKENS


def _recency(c: str) -> bool:
    tokens = set(name_tokens(c))
    return {"since", "last"} <= tokens or "recency" in tokens


def _discount(c: str) -> bool:
    return _has(c, "discount", "discounts", "coupon", "coupons", "promo", "voucher")


def _value_of(columns: list[str]):
    return lambda c: is_value_name(c) and not is_cumulative(c, columns)


def _plan_tiers(t: _Table) -> list[Initiative]:
    order = ("free", "trial", "basic", "starter", "standard", "lite", "plus", "pro", "business",
             "premium", "enterprise")
    for col, levels in t.levels.items():
        if not _has(col, "plan", "tier", "package", "edition", "level", "subscription"):
            continue
        ranked = sorted((lv for lv in levels if lv.lower() in order), key=lambda x: order.index(x.lower()))
        if len(ranked) >= 2:
            return [Initiative(f"Upgrade path from the {ranked[0]} {humanize(col)} to "
                               f"{ranked[1]}", Target(column=col, level=ranked[0]),
                               levels[ranked[0]], "plan")]
    return []


def _domain(analysis: SegmentAnalysis, kind: str) -> list[Initiative]:
    t = _read(analysis)
    found: list[Initiative] = []
    if kind == "retention":
        found += _contract(t)
        found += _addons(t, "Free trial of {} for customers without it")
        found += _numeric(t, _support, "Priority support for customers with many {}", 1)
        found += _numeric(t, _recency, "Re-engagement campaign for customers with high {}", 1)
        found += _numeric(t, _usage, "In-app guidance for customers with low {}", -1)
        found += _payment(t)
        found += _numeric(t, _discount, "Personal offers for customers with high {}", 1)
        found += _numeric(t, is_tenure_name, "Early-life onboarding for customers with low {}", -1)
    elif kind == "growth":
        found += _plan_tiers(t)
        found += _addons(t, "Bundle {} into a discounted package for customers without it")
        found += _numeric(t, _value_of(list(t.numeric)), "Upsell for customers with low {} and "
                          "high usage", -1)
        found += _numeric(t, _usage, "Expansion offer for customers with high {}", 1)
        found += _numeric(t, _discount, "Full-price value bundles for customers with high {}", 1)
        found += _contract(t)
    else:
        found += _numeric(t, is_tenure_name, "Guided onboarding for customers with low {}", -1)
        found += _numeric(t, _usage, "In-app guidance for customers with low {}", -1)
        found += _addons(t, "Setup help for {} for customers without it")
        found += _numeric(t, _recency, "Lifecycle nudges for customers with high {}", 1)
    return sorted(found, key=lambda i: -i.strength)


GENERIC: dict[str, tuple[Initiative, ...]] = {
    "retention": (
        Initiative("Win-back offer for customers likely to leave", Target(axis="risk", sign=1)),
        Initiative("Proactive check-ins with the customers most at risk",
                   Target(axis="risk", sign=1)),
        Initiative("Loyalty rewards for long-standing customers", Target(axis="risk", sign=-1)),
    ),
    "growth": (
        Initiative("Upsell to a higher tier for high-value customers",
                   Target(axis="value", sign=1)),
        Initiative("Referral programme for loyal customers", Target(axis="risk", sign=-1)),
        Initiative("Entry bundle for low-value customers", Target(axis="value", sign=-1)),
    ),
    "activation": (
        Initiative("Lifecycle email nudges for new customers"),
        Initiative("Templates and quick-start content"),
    ),
}


def default_initiatives(analysis: SegmentAnalysis, goal: str,
                        stances: Stances | None = None) -> tuple[Initiative, ...]:
    """Up to five initiatives for the goal, drawn from the table's columns, then generic ones.

    For a retention goal, a pattern counts by how strongly it marks the segments at risk (a
    manual payment method common among the churners, not the one common among the loyal).
    """
    from copilot.segmentation import segment_stances

    kind = goal_kind(goal)
    found = _domain(analysis, kind)
    if kind == "retention":
        stances = stances or segment_stances(analysis)
        risky = [s.segment for s in stances.segments if s.risk == "high" and s.segment >= 0]
        safe = [s.segment for s in stances.segments if s.risk == "low" and s.segment >= 0]
        if risky:
            found = sorted(found, key=lambda i: -_relevance(i, analysis, risky, safe))
    # One initiative per column and per pattern (two add-ons at most): the strongest speaks.
    picked: list[Initiative] = []
    columns: set[str | None] = set()
    families: Counter[str] = Counter()
    for i in found:
        col = i.target.column if i.target else None
        if col in columns or families[i.family] >= FAMILY_CAP.get(i.family, 1):
            continue
        columns.add(col)
        families[i.family] += 1
        picked.append(i)
    picked = picked[:MAX_DEFAULTS]
    for generic in GENERIC[kind]:
        if len(picked) >= MAX_DEFAULTS:
            break
        picked.append(generic)
    return tuple(picked)


def _relevance(initiative: Initiative, analysis: SegmentAnalysis, risky: list[int],
               safe: list[int]) -> float:
    """How well an initiative's target tells the segments at risk from the safe ones (mean
    computed fit among the first minus among the second), then its strength for ties."""
    def mean_fit(segments: list[int]) -> float:
        fits = [computed_fit(initiative, analysis, s, None) for s in segments]
        return sum(fits) / len(fits) if fits else 3.0
    return mean_fit(risky) - mean_fit(safe) + min(initiative.strength, 10.0) / 100


def user_initiatives(texts: tuple[str, ...]) -> tuple[Initiative, ...]:
    return tuple(Initiative(t) for t in texts)


# ------------------------------------------------------------------------- computed fit


def computed_fit(initiative: Initiative, analysis: SegmentAnalysis, segment: int,
                 stance: SegmentStance | None) -> int:
    """A deterministic fit from 1 to 5: does the segment show the initiative's target?"""
    target = initiative.target
    if target is None:
        return 3
    if target.axis is not None:
        level = None if stance is None else (stance.risk if target.axis == "risk" else stance.value)
        if level is None or level == "average":
            return 3
        return 5 if (level == "high") == (target.sign > 0) else 1
    profile = next(p for p in analysis.profiles if p.segment == segment)
    if target.level is not None:
        over = any(c.name == target.column and c.level == target.level for c in profile.categories)
        rare = any(c.name == target.column and c.level == target.level for c in profile.scarce)
        return 5 if over else 1 if rare else 3
    stat = next((s for s in profile.features if s.name == target.column), None)
    if stat is None or stat.z is None:
        return 3
    z = stat.z * target.sign
    return 5 if z >= 0.8 else 4 if z >= 0.2 else 1 if z <= -0.8 else 2 if z <= -0.2 else 3


def risk_weight(stances: Stances, segment: int) -> float | None:
    """The segment's risk over the average (what there is to save), or None if not measured."""
    basis, stance = stances.risk_basis, stances.of(segment)
    if basis is None or stance is None or stance.risk_figure is None:
        return None
    if basis.higher_means == "safety":
        lost, overall = 1 - stance.risk_figure, 1 - basis.overall
    else:
        lost, overall = stance.risk_figure, basis.overall
    return lost / overall if overall > 0 else None
