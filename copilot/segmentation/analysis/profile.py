"""Segment profiles: what sets each segment apart, on the original (unscaled) values.

For every segment, each numeric, datetime and boolean feature is summarised against the whole
table (median, mean, lift, standardised difference), over-represented levels of categorical
features are listed, and the most distinguishing facts are written as short phrases such as
``"higher MonthlyCharges (median 89.9 vs 70.4 overall)"``.

Datetime features are measured as days before the latest date in the column (so "higher" means
"earlier"); boolean features as the share of rows that are true.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from copilot.core import Frozen, number_pair, percent
from copilot.segmentation.analysis.parallel import quiet_warnings, run_all
from copilot.segmentation.analysis.roles import ColumnRole, RoleReport

#: |z| below this is reported as "similar" (a small effect in Cohen's terms).
SIMILAR_Z = 0.2
#: A categorical level is over-represented when its share in the segment is at least this
#: multiple of its overall share ...
MIN_CATEGORY_LIFT = 1.5
#: ... and it covers at least this share of the segment.
MIN_CATEGORY_SHARE = 0.10

FeatureKind = Literal["numeric", "boolean", "datetime"]


class FeatureStat(Frozen):
    """One numeric-like feature in one segment.

    For ``kind == "datetime"`` every value is in days before the latest date in the column;
    for ``kind == "boolean"`` means are shares of rows that are true.
    """

    name: str
    kind: FeatureKind
    n: int  # rows of the segment with a value for this feature
    segment_median: float | None
    segment_mean: float | None
    overall_median: float
    overall_mean: float
    lift: float | None  # segment_mean / overall_mean; None when the overall mean is ~0
    z: float | None  # (segment_mean - overall_mean) / overall_std
    direction: Literal["higher", "lower", "similar"]


class CategoryStat(Frozen):
    """An over-represented level of a categorical (or two-valued) feature in one segment."""

    name: str
    level: str
    segment_share: float
    overall_share: float
    lift: float
    z: float  # (segment_share - overall_share) / sqrt(overall_share * (1 - overall_share))


class TopFeature(Frozen):
    """One of the facts that most distinguish a segment, with a plain phrase."""

    name: str
    kind: Literal["numeric", "boolean", "datetime", "categorical"]
    level: str | None  # the level for categorical features, else None
    z: float
    phrase: str


class SegmentProfile(Frozen):
    """Everything that describes one segment (``segment == -1``: the unassigned rows)."""

    segment: int
    size: int
    share: float
    features: tuple[FeatureStat, ...]
    categories: tuple[CategoryStat, ...]
    top_features: tuple[TopFeature, ...]
    # Levels clearly rarer in the segment than overall (lift at most 1 / MIN_CATEGORY_LIFT,
    # among levels that hold MIN_CATEGORY_SHARE of all customers): what a name or narrative
    # must not claim ("Tech Support Seekers" for the segment that mostly lacks tech support).
    # A default, so that an analysis.json written before it still validates.
    scarce: tuple[CategoryStat, ...] = ()


# --------------------------------------------------------------------------------------------
# Shared helpers: turning a feature column into numbers (also used by rules.py)
# --------------------------------------------------------------------------------------------

_TRUE_TOKENS = frozenset({"true", "yes", "y", "t", "1", "1.0", "on"})
_FALSE_TOKENS = frozenset({"false", "no", "n", "f", "0", "0.0", "off"})


def _check_labels(df: pd.DataFrame, labels: np.ndarray) -> np.ndarray:
    """Labels as a 1-D int64 array with one entry per row of ``df``."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or len(arr) != len(df):
        raise ValueError(
            f"labels must be one integer per row: got shape {arr.shape} for {len(df)} rows"
        )
    if (
        arr.size
        and not np.issubdtype(arr.dtype, np.integer)
        and (not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)))
    ):
        raise ValueError("labels must be integers (-1 for unassigned rows)")
    return arr.astype(np.int64, copy=False)


def _numeric_values(s: pd.Series) -> np.ndarray:
    """Float values of a numeric column, NaN where missing or not a number."""
    if ptypes.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=float, na_value=np.nan)
    out = pd.to_numeric(s, errors="coerce")
    return out.to_numpy(dtype=float, na_value=np.nan)


def _as_datetime(s: pd.Series) -> pd.Series:
    if ptypes.is_datetime64_any_dtype(s.dtype):
        return s
    with quiet_warnings():
        return pd.to_datetime(s, errors="coerce")


def _datetime_days(s: pd.Series) -> np.ndarray:
    """Days before the latest date in the column (float), NaN where missing or unparseable."""
    dt = _as_datetime(s)
    latest = dt.max()
    if pd.isna(latest):
        return np.full(len(s), np.nan)
    days = (latest - dt) / pd.Timedelta(days=1)
    return days.to_numpy(dtype=float, na_value=np.nan)


def _boolean_values(s: pd.Series, role: ColumnRole | None = None) -> tuple[np.ndarray, str | None]:
    """A two-valued column as 0/1 floats (NaN where missing).

    Returns
    -------
    values : numpy.ndarray
        1.0 where the value counts as true, 0.0 where false, NaN where missing.
    true_label : str or None
        None when "true" is self-evident (bool dtype, 0/1, yes/no, true/false ...); otherwise
        the original value that is counted as true, for phrases like ``"gender = Male"``.
    """
    positive = role.positive_label if role is not None else None
    if positive is None and ptypes.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=float, na_value=np.nan), None
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    texts = [str(u).strip() for u in uniques]
    lowered = [t.lower() for t in texts]
    if positive is not None:
        truth = np.array([t == str(positive) for t in texts], dtype=float)
        label = None if str(positive).lower() in _TRUE_TOKENS else str(positive)
    elif all(t in _TRUE_TOKENS or t in _FALSE_TOKENS for t in lowered):
        truth = np.array([t in _TRUE_TOKENS for t in lowered], dtype=float)
        label = None
    else:
        if ptypes.is_numeric_dtype(s.dtype):
            order = sorted(range(len(uniques)), key=lambda i: float(uniques[i]))
        else:
            order = sorted(range(len(uniques)), key=lambda i: texts[i])
        truth = np.zeros(len(uniques), dtype=float)
        label = None
        if order:
            truth[order[-1]] = 1.0
            label = texts[order[-1]]
    values = np.full(len(s), np.nan)
    valid = codes >= 0
    if truth.size:
        values[valid] = truth[codes[valid]]
    return values, label


def _categorical_codes(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 where missing) and the level names as text."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), [str(u) for u in uniques]


def _feature_values(s: pd.Series, role: ColumnRole) -> tuple[np.ndarray, str | None]:
    """Numeric view of a numeric, datetime or boolean feature (see the module docstring)."""
    if role.role == "datetime":
        return _datetime_days(s), None
    if role.role == "boolean":
        return _boolean_values(s, role)
    return _numeric_values(s), None


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------------


def _direction(z: float | None) -> Literal["higher", "lower", "similar"]:
    if z is None or abs(z) < SIMILAR_Z:
        return "similar"
    return "higher" if z > 0 else "lower"


def _numeric_phrase(stat: FeatureStat, true_label: str | None) -> str:
    if stat.kind == "boolean":
        level = "true" if true_label is None else true_label
        return (
            f"{stat.name} = {level} {percent(stat.segment_mean or 0.0)} "
            f"vs {percent(stat.overall_mean)} overall"
        )
    what = "median"
    seg, ovr = number_pair(stat.segment_median or 0.0, stat.overall_median)
    if stat.segment_median is None or seg == ovr:
        what = "mean"
        seg, ovr = number_pair(stat.segment_mean or 0.0, stat.overall_mean)
    if stat.kind == "datetime":
        word = "earlier" if stat.direction == "higher" else "later"
        return f"{word} {stat.name} ({what} {seg} days before the latest vs {ovr} overall)"
    return f"{stat.direction} {stat.name} ({what} {seg} vs {ovr} overall)"


def profile_segments(
    df: pd.DataFrame,
    labels: np.ndarray,
    roles: RoleReport,
    *,
    top_n: int = 5,
) -> tuple[SegmentProfile, ...]:
    """Describe every segment against the whole table, on the original values.

    Parameters
    ----------
    df : pandas.DataFrame
        The customer table as loaded (unscaled); one row per customer.
    labels : numpy.ndarray
        One integer per row of ``df``: segments ``0..k-1`` and ``-1`` for unassigned rows.
    roles : RoleReport
        Column roles; every column in ``roles.features`` is profiled by its role.
    top_n : int, default 5
        How many distinguishing facts to keep per segment in ``top_features``.

    Returns
    -------
    tuple of SegmentProfile
        One profile per segment in label order, then one for the unassigned rows
        (``segment == -1``) when there are any. "Overall" figures are over every row of the
        table, unassigned included. Missing values are ignored feature by feature; a feature
        with no values at all is left out.

    Notes
    -----
    ``top_features`` ranks numeric, datetime and boolean features by ``|z|`` and the
    over-represented categorical levels by their standardised share difference
    ``(p_segment - p_overall) / sqrt(p_overall (1 - p_overall))``, which is the same ``z`` for
    a 0/1 indicator. Facts with ``|z| < 0.2`` are not listed.
    """
    labels = _check_labels(df, labels)
    n_rows = len(labels)
    groups, inv = np.unique(labels, return_inverse=True)
    inv = inv.reshape(-1)
    n_groups = len(groups)
    sizes = np.bincount(inv, minlength=n_groups)

    feature_stats: list[list[FeatureStat]] = [[] for _ in range(n_groups)]
    category_stats: list[list[CategoryStat]] = [[] for _ in range(n_groups)]
    scarce_stats: list[list[CategoryStat]] = [[] for _ in range(n_groups)]
    tops: list[list[TopFeature]] = [[] for _ in range(n_groups)]

    def one(series: pd.Series, name: str) -> tuple[list, list, list, list]:
        """One feature's facts per group, in lists of its own (run on a thread)."""
        found: tuple[list, list, list, list] = tuple(
            [[] for _ in range(n_groups)] for _ in range(4))  # type: ignore[assignment]
        features, categories, tops_of, scarce = found
        role = roles.get(name)
        if role.role == "categorical":
            _profile_categorical(series, name, inv, n_groups, categories, tops_of, scarce)
        else:
            _profile_numeric(series, name, role, inv, n_groups, features, tops_of)
        return found

    # Feature by feature on the engine's threads (medians and group-bys of a million rows
    # release the GIL), then gathered in the features' order, as one loop gave them. Dates
    # are read here: parsing text dates silences pandas' warnings, and Python's warning
    # filters are one process-wide list that threads would save and restore over each other.
    dated = {name for name in roles.features if roles.get(name).role == "datetime"}
    threaded = [name for name in roles.features if name not in dated]
    found_by_name = dict(zip(threaded, run_all([partial(one, df[name], name)
                                                for name in threaded]), strict=True))
    found_by_name.update({name: one(df[name], name) for name in dated})
    for found in (found_by_name[name] for name in roles.features):
        for g in range(n_groups):
            feature_stats[g] += found[0][g]
            category_stats[g] += found[1][g]
            tops[g] += found[2][g]
            scarce_stats[g] += found[3][g]

    order = [g for g in range(n_groups) if groups[g] >= 0] + [
        g for g in range(n_groups) if groups[g] < 0
    ]
    out = []
    for g in order:
        ranked = sorted(tops[g], key=lambda t: (-abs(t.z), t.name, t.level or ""))
        out.append(
            SegmentProfile(
                segment=int(groups[g]),
                size=int(sizes[g]),
                share=float(sizes[g] / n_rows) if n_rows else 0.0,
                features=tuple(feature_stats[g]),
                categories=tuple(sorted(category_stats[g], key=lambda c: (-c.z, c.name))),
                top_features=tuple(ranked[: max(0, top_n)]),
                scarce=tuple(sorted(scarce_stats[g], key=lambda c: (c.z, c.name))),
            )
        )
    return tuple(out)


def _profile_numeric(
    s: pd.Series,
    name: str,
    role: ColumnRole,
    inv: np.ndarray,
    n_groups: int,
    feature_stats: list[list[FeatureStat]],
    tops: list[list[TopFeature]],
) -> None:
    values, true_label = _feature_values(s, role)
    kind: FeatureKind = role.role if role.role in ("boolean", "datetime") else "numeric"
    valid = ~np.isnan(values)
    if not valid.any():
        return
    v = values[valid]
    overall_mean = float(v.mean())
    overall_median = float(np.median(v))
    overall_std = float(v.std(ddof=1)) if v.size > 1 else 0.0
    grouped = pd.Series(v).groupby(inv[valid]).agg(["count", "mean", "median"])
    grouped = grouped.reindex(range(n_groups))
    scale = max(1.0, abs(overall_std))
    for g in range(n_groups):
        count = grouped["count"].iloc[g]
        n = 0 if pd.isna(count) else int(count)
        if n == 0:
            seg_mean = seg_median = lift = z = None
        else:
            seg_mean = float(grouped["mean"].iloc[g])
            seg_median = float(grouped["median"].iloc[g])
            lift = None if abs(overall_mean) <= 1e-9 * scale else seg_mean / overall_mean
            z = (seg_mean - overall_mean) / overall_std if overall_std > 0 else 0.0
        stat = FeatureStat(
            name=name,
            kind=kind,
            n=n,
            segment_median=seg_median,
            segment_mean=seg_mean,
            overall_median=overall_median,
            overall_mean=overall_mean,
            lift=lift,
            z=z,
            direction=_direction(z),
        )
        feature_stats[g].append(stat)
        if stat.direction != "similar" and z is not None:
            tops[g].append(
                TopFeature(
                    name=stat.name,
                    kind=kind,
                    level=None,
                    z=float(z),
                    phrase=_numeric_phrase(stat, true_label),
                )
            )


def _profile_categorical(
    s: pd.Series,
    name: str,
    inv: np.ndarray,
    n_groups: int,
    category_stats: list[list[CategoryStat]],
    tops: list[list[TopFeature]],
    scarce_stats: list[list[CategoryStat]],
) -> None:
    codes, levels = _categorical_codes(s)
    n_levels = len(levels)
    valid = codes >= 0
    if n_levels == 0:
        return
    table = np.bincount(
        inv[valid] * n_levels + codes[valid], minlength=n_groups * n_levels
    ).reshape(n_groups, n_levels)
    overall = table.sum(axis=0) / table.sum()
    seg_totals = table.sum(axis=1)
    spread = np.sqrt(overall * (1.0 - overall))
    for g in range(n_groups):
        if seg_totals[g] == 0:
            continue
        seg_share = table[g] / seg_totals[g]
        with np.errstate(divide="ignore", invalid="ignore"):
            lift = seg_share / overall
            z = np.where(spread > 0, (seg_share - overall) / spread, 0.0)
        keep = (lift >= MIN_CATEGORY_LIFT) & (seg_share >= MIN_CATEGORY_SHARE) & (spread > 0)
        rare = (lift <= 1 / MIN_CATEGORY_LIFT) & (overall >= MIN_CATEGORY_SHARE) & (spread > 0)
        for j in np.flatnonzero(rare):
            scarce_stats[g].append(CategoryStat(
                name=name, level=levels[j], segment_share=float(seg_share[j]),
                overall_share=float(overall[j]), lift=float(lift[j]), z=float(z[j])))
        for j in np.flatnonzero(keep):
            stat = CategoryStat(
                name=name,
                level=levels[j],
                segment_share=float(seg_share[j]),
                overall_share=float(overall[j]),
                lift=float(lift[j]),
                z=float(z[j]),
            )
            category_stats[g].append(stat)
            if stat.z >= SIMILAR_Z:
                tops[g].append(
                    TopFeature(
                        name=name,
                        kind="categorical",
                        level=stat.level,
                        z=stat.z,
                        phrase=(
                            f"{name} = {stat.level} {percent(stat.segment_share)} "
                            f"vs {percent(stat.overall_share)} overall"
                        ),
                    )
                )
