"""Do the segments differ on the outcomes that matter? Tests, intervals and effect sizes.

Each outcome column (kept out of the clustering) is compared across segments: a chi-square
test and Cramér's V for binary outcomes (rates, Wilson intervals), a Kruskal-Wallis test and
epsilon-squared for continuous ones (means with t-intervals, medians). Unassigned rows
(label -1) are reported separately and left out of the tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from copilot.core import ColumnError, Frozen, number, percent
from copilot.segmentation.analysis.profile import _check_labels
from copilot.segmentation.analysis.roles import ColumnRole, RoleReport, outcome_values

ALPHA = 0.05
_Z95 = float(stats.norm.ppf(0.975))

Magnitude = Literal["negligible", "small", "medium", "large"]


class SegmentSize(Frozen):
    """How many rows a segment has (``segment == -1``: unassigned) and its share of all rows."""

    segment: int
    n: int
    share: float


class SegmentOutcome(Frozen):
    """An outcome in one segment: rate (binary) or mean (continuous) with a 95% interval."""

    segment: int
    n: int  # rows of the segment with a value for the outcome
    value: float | None  # rate or mean; None when n == 0
    ci_low: float | None  # Wilson (rates) or t (means); None when undefined
    ci_high: float | None
    median: float | None = None  # continuous outcomes only


class OutcomeValidation(Frozen):
    """How one outcome differs across segments."""

    name: str
    kind: Literal["binary", "continuous"]
    # How sentences name it: the column, or "Class = 2" when the values do not say which is yes.
    phrase: str = ""
    overall: float | None  # rate or mean over every row with a value (unassigned included)
    n: int  # rows used in the test: assigned to a segment and with a value
    n_missing: int  # rows of the table without a value for the outcome (dropped)
    segments: tuple[SegmentOutcome, ...]
    unassigned: SegmentOutcome | None  # the label -1 rows, not part of the test
    test: Literal["chi-square", "kruskal-wallis"]
    statistic: float | None
    p_value: float | None  # None when the test cannot be run (the summary says why)
    effect_size_name: Literal["cramers_v", "epsilon_squared"]
    effect_size: float | None
    magnitude: Magnitude | None
    significant: bool  # p_value < 0.05
    summary: str


def segment_sizes(labels: np.ndarray) -> tuple[SegmentSize, ...]:
    """Size and share of every segment.

    Parameters
    ----------
    labels : numpy.ndarray
        One integer per row: segments ``0..k-1`` and ``-1`` for unassigned rows.

    Returns
    -------
    tuple of SegmentSize
        Segments in label order, then the unassigned rows (``segment == -1``) when there are
        any. Shares are of all rows, so they sum to 1.
    """
    arr = np.asarray(labels).astype(np.int64, copy=False).reshape(-1)
    total = len(arr)
    groups, counts = np.unique(arr, return_counts=True)
    rows = [(int(g), int(c)) for g, c in zip(groups, counts, strict=True)]
    rows = [r for r in rows if r[0] >= 0] + [r for r in rows if r[0] < 0]
    return tuple(SegmentSize(segment=g, n=c, share=c / total) for g, c in rows)


def validate_outcomes(
    df: pd.DataFrame,
    labels: np.ndarray,
    roles: RoleReport,
    outcomes: list[str] | tuple[str, ...] | None = None,
) -> tuple[OutcomeValidation, ...]:
    """Test whether each outcome differs across segments, with effect sizes.

    Parameters
    ----------
    df : pandas.DataFrame
        The customer table; one row per customer.
    labels : numpy.ndarray
        One integer per row of ``df``: segments ``0..k-1`` and ``-1`` for unassigned rows.
    roles : RoleReport
        Column roles; each outcome's ``outcome_kind`` chooses the test.
    outcomes : sequence of str, optional
        Outcome columns to validate; default ``roles.outcomes``.

    Returns
    -------
    tuple of OutcomeValidation
        One per outcome, in the order asked. Binary outcomes: chi-square test of the
        segment-by-outcome table, Cramér's V, Wilson intervals for rates. Continuous outcomes:
        Kruskal-Wallis test, epsilon-squared ``H / (n - 1)``, t-intervals for means.
        Rows without a value for the outcome are dropped for that outcome. When the test cannot
        be run (one segment, a constant outcome, a segment without values) ``p_value`` is None
        and ``summary`` says why.

    Raises
    ------
    ColumnError
        If an outcome is not a column of ``df`` or not marked as an outcome in ``roles``.

    Notes
    -----
    Magnitude words follow Cohen's conventions: Cramér's V 0.1 / 0.3 / 0.5 divided by
    ``sqrt(min(rows, columns) - 1)`` of the table (the degrees-of-freedom correction; 1 for a
    binary outcome) and epsilon-squared 0.01 / 0.08 / 0.26, for small / medium / large.
    """
    labels = _check_labels(df, labels)
    names = tuple(roles.outcomes if outcomes is None else outcomes)
    out = []
    for name in names:
        role = _outcome_role(df, roles, name)
        values = np.asarray(outcome_values(df, role), dtype=float).reshape(-1)
        out.append(_validate_one(name, role.outcome_kind, values, labels,
                                 phrase=role.outcome_phrase))
    return tuple(out)


def _outcome_role(df: pd.DataFrame, roles: RoleReport, name: str) -> ColumnRole:
    if name not in df.columns:
        raise ColumnError(f"Outcome column '{name}' is not in the table; check the column name.")
    try:
        role = roles.get(name)
    except KeyError:
        role = None
    if role is None or role.outcome_kind is None:
        raise ColumnError(
            f"Column '{name}' is not an outcome; mark it as an outcome to validate segments "
            "against it."
        )
    return role


# --------------------------------------------------------------------------------------------


def _wilson(successes: float, n: int) -> tuple[float, float]:
    p = successes / n
    z2 = _Z95 * _Z95
    denom = 1.0 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = _Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, center - half), min(1.0, center + half)


def _t_interval(mean: float, sd: float, n: int) -> tuple[float | None, float | None]:
    if n < 2 or not np.isfinite(sd):
        return None, None
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


def _segment_outcome(segment: int, v: np.ndarray, kind: str) -> SegmentOutcome:
    n = int(v.size)
    if n == 0:
        return SegmentOutcome(segment=segment, n=0, value=None, ci_low=None, ci_high=None)
    mean = float(v.mean())
    if kind == "binary":
        lo, hi = _wilson(float(v.sum()), n)
        return SegmentOutcome(segment=segment, n=n, value=mean, ci_low=lo, ci_high=hi)
    sd = float(v.std(ddof=1)) if n > 1 else float("nan")
    lo, hi = _t_interval(mean, sd, n)
    return SegmentOutcome(
        segment=segment, n=n, value=mean, ci_low=lo, ci_high=hi, median=float(np.median(v))
    )


def _magnitude(value: float, thresholds: tuple[float, float, float]) -> Magnitude:
    small, medium, large = thresholds
    if value >= large:
        return "large"
    if value >= medium:
        return "medium"
    if value >= small:
        return "small"
    return "negligible"


def _fmt_value(value: float, kind: str) -> str:
    return percent(value) if kind == "binary" else number(value)


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def _validate_one(name: str, kind: str, values: np.ndarray, labels: np.ndarray, *,
                  phrase: str | None = None) -> OutcomeValidation:
    """``phrase``: how sentences name the outcome (``Class = 2`` for a 1/2-coded one)."""
    valid = np.isfinite(values)
    v_assigned, groups, segments = _segment_groups(values, labels, valid, kind)
    unassigned_mask = labels < 0
    unassigned = (
        _segment_outcome(-1, values[unassigned_mask & valid], kind)
        if unassigned_mask.any()
        else None
    )
    constant = float(v_assigned[0]) if v_assigned.size and np.all(
        v_assigned == v_assigned[0]) else None
    assigned = _Assigned(int(v_assigned.size),
                         float(v_assigned.mean()) if v_assigned.size else 0.0, constant)
    return _validation(
        name, kind, phrase, segments, unassigned, assigned,
        n_missing=int((~valid).sum()),
        overall=float(values[valid].mean()) if valid.any() else None,
        test=lambda binary: _test_across_segments(binary, groups, v_assigned))


@dataclass(frozen=True)
class _Assigned:
    """The segmented rows with a value: how many, their mean, and their one value when all
    are the same (None otherwise)."""

    n: int
    mean: float
    constant: float | None


def _validation(name, kind, phrase, segments, unassigned, assigned: _Assigned, *,
                n_missing: int, overall: float | None, test) -> OutcomeValidation:
    """The validation from each segment's outcome and the test (``test(binary)`` returns what
    ``_test_across_segments`` does): one path for rows in memory and for aggregates."""
    said = phrase or name
    binary = kind == "binary"
    base = {
        "name": name,
        "phrase": said,
        "kind": "binary" if binary else "continuous",
        "overall": overall,
        "n": assigned.n,
        "n_missing": n_missing,
        "segments": segments,
        "unassigned": unassigned,
        "test": "chi-square" if binary else "kruskal-wallis",
        "effect_size_name": "cramers_v" if binary else "epsilon_squared",
    }
    reason = _untestable(said, kind, assigned, segments)
    if reason is not None:
        return OutcomeValidation(
            **base,
            statistic=None,
            p_value=None,
            effect_size=None,
            magnitude=None,
            significant=False,
            summary=reason,
        )
    chi2, p, effect, magnitude, effect_text, test_text = test(binary)
    significant = p < ALPHA
    summary = _summary(said, kind, segments, p, significant, magnitude, test_text, effect_text)
    return OutcomeValidation(
        **base,
        statistic=float(chi2),
        p_value=p,
        effect_size=float(effect),
        magnitude=magnitude,
        significant=bool(significant),
        summary=summary,
    )


def _segment_groups(values: np.ndarray, labels: np.ndarray, valid: np.ndarray, kind: str):
    """The recorded values of the segmented rows, those values per segment, and each
    segment's outcome."""
    assigned = valid & (labels >= 0)
    seg_ids = np.unique(labels[labels >= 0])
    v_assigned = values[assigned]
    l_assigned = labels[assigned]
    order = np.argsort(l_assigned, kind="stable")
    v_sorted, l_sorted = v_assigned[order], l_assigned[order]
    starts = np.searchsorted(l_sorted, seg_ids, side="left")
    ends = np.searchsorted(l_sorted, seg_ids, side="right")
    groups = [v_sorted[a:b] for a, b in zip(starts, ends, strict=True)]
    segments = tuple(_segment_outcome(int(s), g, kind) for s, g in zip(seg_ids, groups, strict=True))
    return v_assigned, groups, segments


def _untestable(said: str, kind: str, assigned: _Assigned,
                segments: tuple[SegmentOutcome, ...]) -> str | None:
    """Why the outcome cannot be tested across the segments, in a sentence; None when it can."""
    binary = kind == "binary"
    if assigned.n == 0:
        return (f"{said} has no recorded values for the segmented rows, so it cannot "
                "validate the segments.")
    empty = [s.segment for s in segments if s.n == 0]
    if empty:
        which = ", ".join(str(s) for s in empty)
        plural = "s" if len(empty) > 1 else ""
        return (f"{said} cannot be tested across segments: segment{plural} {which} "
                f"ha{'ve' if plural else 's'} no recorded values.")
    if len(segments) < 2:
        what = "rate" if binary else "mean"
        return (f"{said} cannot be compared across segments: there is only one segment "
                f"({what} {_fmt_value(assigned.mean, kind)}).")
    if assigned.constant is not None:
        return (f"{said} is {_fmt_value(assigned.constant, kind)} for every segmented "
                "row, so it cannot differ across segments.")
    return None


def _test_across_segments(binary: bool, groups: list[np.ndarray], v_assigned: np.ndarray):
    """The test across segments: chi-square with Cramér's V for a binary outcome,
    Kruskal-Wallis with ε² for a continuous one. Returns (statistic, p, effect, magnitude,
    effect text, test text)."""
    if binary:
        ones = np.array([g.sum() for g in groups], dtype=float)
        ns = np.array([g.size for g in groups], dtype=float)
        return _chi_square(ones, ns)
    chi2, p = stats.kruskal(*groups)
    return _kruskal_effect(float(chi2), float(p), int(v_assigned.size))


def _chi_square(ones: np.ndarray, ns: np.ndarray):
    """Chi-square and Cramér's V of the segment-by-outcome table from each segment's count of
    ones and of rows (all a binary outcome's test needs)."""
    chi2, p, effect, magnitude, _ = cramers_v(np.column_stack([ns - ones, ones]))
    return chi2, p, effect, magnitude, f"Cramér's V {effect:.2f}", "chi-square"


def cramers_v(table: np.ndarray):
    """Chi-square test of a contingency table (no continuity correction) and its Cramér's V
    with Cohen's magnitude bands scaled by the table's smaller side: (chi2, p, V, magnitude,
    expected counts)."""
    chi2, p, _, expected = stats.chi2_contingency(table, correction=False)
    df_star = min(table.shape) - 1
    effect = math.sqrt(chi2 / (float(table.sum()) * df_star))
    root = math.sqrt(df_star)
    magnitude = _magnitude(effect, (0.1 / root, 0.3 / root, 0.5 / root))
    return float(chi2), float(p), effect, magnitude, expected


def _kruskal_effect(h: float, p: float, n: int):
    effect = min(max(h / (n - 1), 0.0), 1.0)
    magnitude = _magnitude(effect, (0.01, 0.08, 0.26))
    return h, p, effect, magnitude, f"ε² {effect:.2f}", "Kruskal-Wallis"


def _summary(said: str, kind: str, segments: tuple[SegmentOutcome, ...], p: float,
             significant: bool, magnitude: Magnitude, test_text: str, effect_text: str) -> str:
    """The test's result in one sentence: whether the outcome differs, its span across the
    segments, the test, p and the effect size."""
    binary = kind == "binary"
    seg_values = [s.value for s in segments if s.value is not None]
    lo, hi = min(seg_values), max(seg_values)
    span = f"{_fmt_value(lo, kind)} to {_fmt_value(hi, kind)}"
    if not binary:
        span = "mean " + span
    if not significant:
        verb = "does not clearly differ across segments"
    elif magnitude == "negligible":
        verb = "differs across segments, but only slightly"
    else:
        verb = "differs across segments"
    return f"{said} {verb}: {span} ({test_text} {_fmt_p(p)}, {effect_text}, {magnitude})."


# --------------------------------------------------------------------------------------------
# The same validation from aggregates (a table too large for memory, summed by Spark)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupSums:
    """An outcome's sufficient statistics in one segment (``-1``: the unassigned rows), over
    the rows with a value."""

    segment: int
    n: int
    total: float  # the sum of the values (of the ones, for a binary outcome)
    sd: float | None = None  # sample standard deviation (continuous)
    median: float | None = None  # continuous
    rank_sum: float | None = None  # the sum of the mid-ranks among the segmented rows


@dataclass(frozen=True)
class OutcomeSums:
    """What ``validate_outcome_sums`` needs of one outcome: per-segment sums, the missing
    count, the overall mean, the extremes of the segmented rows and, for a continuous outcome,
    the ties term ``sum(t^3 - t)`` of the segmented rows' values (Kruskal-Wallis)."""

    name: str
    kind: str  # "binary" or "continuous"
    groups: tuple[GroupSums, ...]
    n_missing: int
    overall: float | None
    minimum: float | None  # over the segmented rows with a value
    maximum: float | None
    phrase: str | None = None
    ties: float = 0.0


def validate_outcome_sums(sums: OutcomeSums) -> OutcomeValidation:
    """``validate_outcomes`` for one outcome from aggregates: the same intervals, tests,
    effect sizes and sentences, computed from counts, sums, standard deviations and rank sums
    instead of the rows (the Kruskal-Wallis H with scipy's tie correction)."""
    kind = sums.kind
    parts = sorted((g for g in sums.groups if g.segment >= 0), key=lambda g: g.segment)
    segments = tuple(_outcome_from_sums(g, kind) for g in parts)
    minus = [g for g in sums.groups if g.segment < 0]
    unassigned = _outcome_from_sums(minus[0], kind) if minus else None
    n = sum(g.n for g in parts)
    constant = sums.minimum if n and sums.minimum == sums.maximum else None
    assigned = _Assigned(n, sum(g.total for g in parts) / n if n else 0.0, constant)

    def test(binary: bool):
        if binary:
            return _chi_square(np.array([g.total for g in parts], dtype=float),
                               np.array([g.n for g in parts], dtype=float))
        return _kruskal_from_ranks(parts, n, sums.ties)

    return _validation(sums.name, kind, sums.phrase, segments, unassigned, assigned,
                       n_missing=sums.n_missing, overall=sums.overall, test=test)


def _outcome_from_sums(g: GroupSums, kind: str) -> SegmentOutcome:
    if g.n == 0:
        return SegmentOutcome(segment=g.segment, n=0, value=None, ci_low=None, ci_high=None)
    mean = g.total / g.n
    if kind == "binary":
        lo, hi = _wilson(g.total, g.n)
        return SegmentOutcome(segment=g.segment, n=g.n, value=mean, ci_low=lo, ci_high=hi)
    sd = g.sd if g.sd is not None and g.n > 1 else float("nan")
    lo, hi = _t_interval(mean, sd, g.n)
    return SegmentOutcome(segment=g.segment, n=g.n, value=mean, ci_low=lo, ci_high=hi,
                          median=g.median)


def _kruskal_from_ranks(parts: Sequence[GroupSums], n: int, ties: float):
    """Kruskal-Wallis from each segment's rank sum, as ``scipy.stats.kruskal`` computes it."""
    h = 12.0 / (n * (n + 1)) * sum((g.rank_sum or 0.0) ** 2 / g.n for g in parts) - 3 * (n + 1)
    correction = 1.0 - ties / (float(n) ** 3 - n)
    h = h / correction if correction > 0 else float("nan")
    p = float(stats.chi2.sf(h, len(parts) - 1))
    return _kruskal_effect(float(h), p, n)
