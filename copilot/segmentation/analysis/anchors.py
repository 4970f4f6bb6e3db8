"""Firmographic anchors (industry, company size, region): report them per segment, or segment
within each of their levels.

An anchor is a business-defined grouping the user already works with. Two ways to use one,
and the user picks:

- ``anchors_per_segment``: segment on behaviour as usual, then show how each anchor's levels
  are spread across the segments (shares vs overall, lift) with a chi-square test of
  independence and Cramér's V per anchor.
- ``segment_within_anchors`` (in ``within``, as it runs the pipeline): run the whole analysis separately inside each anchor level that
  has at least ``MIN_LEVEL_ROWS`` rows (smaller levels are pooled into one group or skipped),
  with the anchor column left out of the features; segments are named "Retail / Segment 1".

``suggest_anchors`` finds candidate columns by name and shape (see ``ANCHOR_NAME_PATTERNS``).
"""

from __future__ import annotations

import math
import re
from typing import Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from copilot.core import ColumnError, Frozen, percent
from copilot.segmentation.analysis.profile import (
    MIN_CATEGORY_LIFT,
    MIN_CATEGORY_SHARE,
    _check_labels,
)
from copilot.segmentation.analysis.roles import RoleReport, infer_roles
from copilot.segmentation.analysis.validate import ALPHA, Magnitude, _fmt_p, cramers_v
from copilot.segmentation.data import name_tokens

AnchorKind = Literal["industry", "company_size", "region"]

#: An anchor has at most this many levels: enough for US states (50 + DC + territories) and
#: most country lists of a regional business; more levels are too thin to compare or segment.
MAX_ANCHOR_LEVELS = 60
#: A numeric column is a coded anchor (Region 1/2/3) only with this few distinct whole numbers.
MAX_CODED_LEVELS = 20
#: segment_within_anchors: a level is segmented on its own only with at least this many rows.
#: The sweep scores k up to 10 with bootstrap stability; below ~100 rows a 5-way split leaves
#: ~20 customers per segment, too few for profiles and outcome tests to mean anything.
MIN_LEVEL_ROWS = 100
#: A chi-square test is flagged as approximate when more than this share of its expected
#: counts are below 5 (Cochran's rule).
SPARSE_CELL_SHARE = 0.2
MISSING_LEVEL = "(missing)"
POOLED_LEVEL = "Other (pooled)"

#: Name patterns, matched on the column name's lowercase word tokens (camelCase, snake_case and
#: spaces are split first: "EmployeeBand" -> employee, band). A column matches a kind when one
#: of its tokens is in ``tokens`` or its token sequence contains one of ``phrases``.
ANCHOR_NAME_PATTERNS: dict[str, dict[str, tuple[str, ...]]] = {
    "industry": {
        "tokens": ("industry", "industries", "sector", "sectors", "vertical", "verticals",
                   "naics", "sic"),
        "phrases": ("line of business", "business type", "type of business",
                    "business category", "business line"),
    },
    "company_size": {
        "tokens": ("employees", "employee", "headcount", "staff", "fte", "ftes", "workforce"),
        "phrases": ("company size", "business size", "org size", "organization size",
                    "organisation size", "firm size", "account size", "customer size",
                    "size band", "size tier", "size class", "size category", "size segment",
                    "size bucket", "size range"),
    },
    "region": {
        "tokens": ("region", "regions", "regional", "country", "countries", "state", "states",
                   "province", "territory", "territories", "geo", "geography", "market",
                   "markets", "continent", "location"),
        "phrases": ("sales territory",),
    },
}
#: Names that say "size" with a grouping word ("size", "tier", "band", "segment") count as
#: company size only when the values look like employee bands ("11-50", "1000+") or size words.
_SIZE_HINT_TOKENS = frozenset({"size", "band", "tier", "segment", "bucket", "class"})
_SIZE_WORDS = frozenset({
    "smb", "sme", "smes", "small", "medium", "mid", "midsize", "mid-size", "mid-market",
    "midmarket", "mid market", "large", "enterprise", "micro", "startup", "corporate",
    "strategic", "commercial", "small business", "large enterprise",
})
_BAND_RE = re.compile(
    r"^\s*[<>≤≥]?=?\s*\d[\d,.]*\s*k?\s*(\+|(-|–|—|to)\s*\d[\d,.]*\s*k?)?\s*(employees|emp|staff)?\s*$",
    re.IGNORECASE,
)
_RANGE_MARK = re.compile(r"[<>≤≥+–—]|\d\s*-\s*\d|\bto\b", re.IGNORECASE)
#: A column named "state" whose values are these is a status, not a place.
_STATUS_WORDS = frozenset({
    "active", "inactive", "open", "closed", "pending", "suspended", "cancelled", "canceled",
    "new", "churned", "trial", "paused", "enabled", "disabled", "archived", "draft", "won",
    "lost",
})
#: Employee bands for a raw headcount column (LinkedIn's company-size bands).
EMPLOYEE_BANDS: tuple[tuple[float, str], ...] = (
    (10, "1-10"), (50, "11-50"), (200, "51-200"), (500, "201-500"), (1000, "501-1000"),
    (5000, "1001-5000"), (10000, "5001-10000"), (math.inf, "10000+"),
)
# Text is not excluded: a 51-level state column in a small table has role "text" (too many
# levels for a categorical feature) yet is a fine anchor; free text fails the level count.
_NEVER_ANCHORS = ("id", "outcome", "excluded", "constant", "datetime")


class AnchorSuggestion(Frozen):
    column: str
    kind: AnchorKind
    n_levels: int
    banded: bool  # a raw headcount that will be grouped into EMPLOYEE_BANDS
    reason: str


class AnchorLevelShare(Frozen):
    level: str
    n: int  # rows of the segment at this level
    segment_share: float
    overall_share: float
    lift: float | None  # segment_share / overall_share


class AnchorSegment(Frozen):
    segment: int
    n: int
    levels: tuple[AnchorLevelShare, ...]  # in the anchor's level order
    over_represented: tuple[str, ...]  # levels with lift >= 1.5 covering >= 10% of the segment


class AnchorAssociation(Frozen):
    """How one anchor's levels are spread across the segments."""

    column: str
    kind: AnchorKind | None  # what suggest_anchors would call it; None when not recognised
    levels: tuple[str, ...]  # most common first (bands in band order)
    overall_shares: tuple[float, ...]  # over every row, unassigned included
    segments: tuple[AnchorSegment, ...]  # label order, unassigned last
    n: int  # rows in the test: assigned to a segment
    test: Literal["chi-square"] = "chi-square"
    statistic: float | None
    dof: int | None
    p_value: float | None  # None when the test cannot run (the summary says why)
    cramers_v: float | None
    magnitude: Magnitude | None
    significant: bool
    sparse_cells_share: float | None  # share of expected counts below 5
    summary: str


class AnchorReport(Frozen):
    anchors: tuple[AnchorAssociation, ...]


# --------------------------------------------------------------------------------------------
# Finding anchors
# --------------------------------------------------------------------------------------------


def anchor_kind_by_name(name: object) -> AnchorKind | None:
    """The anchor kind a column name says (``"Sector"`` -> industry), or None."""
    tokens = name_tokens(name)
    joined = f" {' '.join(tokens)} "
    for kind, pattern in ANCHOR_NAME_PATTERNS.items():
        if set(pattern["tokens"]).intersection(tokens) or any(
            f" {p} " in joined for p in pattern["phrases"]
        ):
            return kind  # type: ignore[return-value]
    return None


def _levels_text(values: pd.Series) -> list[str]:
    return [str(v).strip().lower() for v in values.dropna().unique()[:MAX_ANCHOR_LEVELS + 1]]


def _status_levels(levels: list[str]) -> bool:
    """Do half the levels read as a status (a "state" column of active/closed, not a region)?"""
    return bool(levels) and sum(v in _STATUS_WORDS for v in levels) >= 0.5 * len(levels)


def _looks_like_size_levels(levels: list[str]) -> bool:
    if not levels:
        return False
    band = sum(bool(_BAND_RE.match(v)) for v in levels)
    # Bare numbers ("3", "10.0") match the band pattern too, but a column of them is a quantity
    # (basket_size, household_size), not a band: a band table shows a range or an open end.
    ranged = sum(bool(_BAND_RE.match(v)) and bool(_RANGE_MARK.search(v)) for v in levels)
    words = sum(v in _SIZE_WORDS for v in levels)
    return (band >= 0.6 * len(levels) and ranged > 0) or words >= 0.6 * len(levels)


def suggest_anchors(
    data: pd.DataFrame | RoleReport, roles: RoleReport | None = None,
) -> tuple[AnchorSuggestion, ...]:
    """Columns that look like firmographic anchors, in table order.

    Parameters
    ----------
    data : DataFrame or RoleReport
        The table (names, values and shapes are checked) or only its roles (names and role
        shapes: levels cannot be read, so a ``state`` column is taken on trust).
    roles : RoleReport, optional
        Roles for ``data`` when it is a table; IDs, outcomes, text, dates, constants and
        excluded columns are never anchors. Inferred when not given.

    Returns
    -------
    tuple of AnchorSuggestion
        A column qualifies when its name matches ``ANCHOR_NAME_PATTERNS`` (or says "size"/
        "band"/"tier" and its values look like employee bands or size words) and it has 2 to
        ``MAX_ANCHOR_LEVELS`` levels: a categorical or two-valued column, or whole-number codes
        (``Region`` 1/2/3, at most ``MAX_CODED_LEVELS``). A numeric headcount with many values
        is suggested with ``banded=True`` (grouped into ``EMPLOYEE_BANDS``).

    Examples
    --------
    >>> df = pd.DataFrame({"Sector": ["Retail", "Finance"] * 30, "revenue": range(60)})
    >>> [a.column for a in suggest_anchors(df)]
    ['Sector']
    """
    df = data if isinstance(data, pd.DataFrame) else None
    if df is not None and roles is None:
        roles = infer_roles(df)
    if roles is None:
        roles = data  # type: ignore[assignment]
    out = []
    for c in roles.columns:
        if c.role in _NEVER_ANCHORS or c.n_unique < 2:
            continue
        kind = anchor_kind_by_name(c.name)
        # The levels are read only for the two checks that need them: reading them for every
        # column cost 4 s on a million rows of 30 numeric columns, none of them anchors.
        def levels(name=c.name) -> list[str]:
            return _levels_text(df[name]) if df is not None else []

        sized_by_values = False
        size_hint = _SIZE_HINT_TOKENS.intersection(name_tokens(c.name))
        if kind is None and size_hint and _looks_like_size_levels(levels()):
            kind, sized_by_values = "company_size", True
        if kind is None:
            continue
        if kind == "region" and "state" in name_tokens(c.name) and _status_levels(levels()):
            continue
        numeric = c.role == "numeric"
        shape = (_numeric_shape(None if df is None else df[c.name], kind, c.n_unique)
                 if numeric else None)
        banded = shape == "headcount"
        if (numeric and shape is None) or (c.n_unique > MAX_ANCHOR_LEVELS and not banded):
            continue
        n_levels = len(EMPLOYEE_BANDS) if banded else c.n_unique
        if banded:
            why = "a headcount, grouped into standard employee bands"
        elif sized_by_values:
            why = "its values look like company-size bands"
        else:
            why = f"the name says {kind.replace('_', ' ')}"
        coded = numeric or c.dtype.lower().startswith(("int", "uint", "float"))
        unit = "whole-number codes" if coded and not banded else "levels"
        reason = (f"{kind.replace('_', ' ').capitalize()} anchor: {why}"
                  + ("" if banded else f", with {c.n_unique} {unit}") + ".")
        out.append(AnchorSuggestion(column=c.name, kind=kind, n_levels=n_levels, banded=banded,
                                    reason=reason))
    return tuple(out)


def _numeric_shape(s: pd.Series | None, kind: str | None, n_unique: int) -> str | None:
    """How a numeric column can be an anchor: "codes" (Region 1/2/3), "headcount" (a company
    size in people, to be banded) or None. ``s=None`` judges from the distinct count alone."""
    if s is not None and not _whole_numbers(s):
        return None
    if kind == "company_size":
        # Size classes are coded 1..n; a headcount runs past that even in a small table.
        top = float(pd.to_numeric(s, errors="coerce").max()) if s is not None else 0.0
        return "headcount" if n_unique > MAX_CODED_LEVELS or top > MAX_CODED_LEVELS else "codes"
    return "codes" if n_unique <= MAX_CODED_LEVELS else None


def _whole_numbers(s: pd.Series) -> bool:
    if not ptypes.is_numeric_dtype(s.dtype) or ptypes.is_bool_dtype(s.dtype):
        return False
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    v = v[np.isfinite(v)]
    return bool(v.size) and bool(np.all(v == np.round(v)))


def anchor_levels(df: pd.DataFrame, column: str) -> pd.Series:
    """An anchor column as text levels: missing values become ``"(missing)"``; whole-number
    codes are written without ``.0``; a numeric headcount with more than ``MAX_CODED_LEVELS``
    values is grouped into ``EMPLOYEE_BANDS`` (an ordered categorical).

    Raises
    ------
    ColumnError
        If the column is missing, or has more than ``MAX_ANCHOR_LEVELS`` levels and cannot be
        banded.
    """
    if column not in df.columns:
        raise ColumnError(
            f"Anchor column '{column}' is not in the table; use one of its columns "
            f"({', '.join(map(str, df.columns[:8]))}{', ...' if len(df.columns) > 8 else ''})."
        )
    s = df[column]
    n_unique = int(s.nunique(dropna=True))
    numeric = ptypes.is_numeric_dtype(s.dtype) and not ptypes.is_bool_dtype(s.dtype)
    shape = _numeric_shape(s, anchor_kind_by_name(column), n_unique) if numeric else None
    if shape == "headcount":
        return _employee_bands(s)
    if numeric and n_unique > MAX_CODED_LEVELS:
        raise ColumnError(
            f"Anchor column '{column}' has {n_unique} distinct numbers; an anchor needs a "
            f"grouping with at most {MAX_CODED_LEVELS} codes, so band it first."
        )
    if n_unique > MAX_ANCHOR_LEVELS:
        raise ColumnError(
            f"Anchor column '{column}' has {n_unique} levels; an anchor needs at most "
            f"{MAX_ANCHOR_LEVELS}, so group its levels first."
        )
    if numeric and _whole_numbers(s):
        text = pd.to_numeric(s).astype("Int64").astype("string")  # 3.0 -> "3"
    else:
        text = s.astype("string").str.strip()
    return text.fillna(MISSING_LEVEL).astype(object).rename(column)


def _employee_bands(s: pd.Series) -> pd.Series:
    edges = [-math.inf] + [e for e, _ in EMPLOYEE_BANDS]
    names = [n for _, n in EMPLOYEE_BANDS]
    banded = pd.cut(pd.to_numeric(s, errors="coerce"), bins=edges, labels=names)
    banded = banded.cat.add_categories([MISSING_LEVEL]).fillna(MISSING_LEVEL)
    return banded.rename(s.name)


def _level_order(levels: pd.Series) -> list[str]:
    counts = levels.value_counts(sort=False)
    if isinstance(levels.dtype, pd.CategoricalDtype):
        return [str(c) for c in levels.cat.categories if counts.get(c, 0) > 0]
    return sorted(map(str, counts.index), key=lambda v: (v == MISSING_LEVEL, -counts[v], v))


# --------------------------------------------------------------------------------------------
# Anchors per segment
# --------------------------------------------------------------------------------------------


def anchors_per_segment(
    df: pd.DataFrame,
    labels: np.ndarray,
    anchor_columns: list[str] | tuple[str, ...] | None = None,
) -> AnchorReport:
    """How each anchor's levels are spread across segments, with a test of independence.

    Parameters
    ----------
    df : pandas.DataFrame
        The customer table.
    labels : numpy.ndarray
        One integer per row: segments ``0..k-1`` and ``-1`` for unassigned rows.
    anchor_columns : sequence of str, optional
        Default: the columns ``suggest_anchors(df)`` finds.

    Returns
    -------
    AnchorReport
        Per anchor: level shares per segment vs overall (every row), lift, the levels
        over-represented in each segment (the bar ``profile.py`` uses for categoricals), and a
        chi-square test of the segment-by-level table over the assigned rows (missing values
        count as their own level ``"(missing)"``) with Cramér's V and its magnitude, as
        ``validate.py`` reports outcomes.

    Raises
    ------
    ColumnError
        If an anchor is not a column or has too many levels (see ``anchor_levels``).
    """
    labels = _check_labels(df, labels)
    if anchor_columns is None:
        anchor_columns = [a.column for a in suggest_anchors(df)]
    return AnchorReport(anchors=tuple(_associate(df, labels, c) for c in anchor_columns))


def _associate(df: pd.DataFrame, labels: np.ndarray, column: str) -> AnchorAssociation:
    levels = anchor_levels(df, column)
    order = _level_order(levels)
    codes = pd.Categorical(levels.astype(str), categories=order).codes.astype(np.int64)
    groups = np.unique(labels)
    groups = np.concatenate([groups[groups >= 0], groups[groups < 0]])
    n_levels, n_rows = len(order), len(labels)
    overall = np.bincount(codes, minlength=n_levels) / n_rows
    table = np.zeros((len(groups), n_levels), dtype=np.int64)
    for i, g in enumerate(groups):
        table[i] = np.bincount(codes[labels == g], minlength=n_levels)
    segments = []
    for i, g in enumerate(groups):
        n_g = int(table[i].sum())
        shares = table[i] / n_g if n_g else np.zeros(n_levels)
        rows = tuple(
            AnchorLevelShare(level=order[j], n=int(table[i, j]), segment_share=float(shares[j]),
                             overall_share=float(overall[j]),
                             lift=float(shares[j] / overall[j]) if overall[j] > 0 else None)
            for j in range(n_levels)
        )
        over = tuple(r.level for r in sorted(rows, key=lambda r: -(r.lift or 0.0))
                     if (r.lift or 0.0) >= MIN_CATEGORY_LIFT
                     and r.segment_share >= MIN_CATEGORY_SHARE)
        segments.append(AnchorSegment(segment=int(g), n=n_g, levels=rows, over_represented=over))

    assigned = table[groups >= 0]
    assigned = assigned[:, assigned.sum(axis=0) > 0]
    base = {
        "column": str(column), "kind": anchor_kind_by_name(column), "levels": tuple(order),
        "overall_shares": tuple(float(x) for x in overall), "segments": tuple(segments),
        "n": int(assigned.sum()),
    }

    def untested(reason: str) -> AnchorAssociation:
        return AnchorAssociation(**base, statistic=None, dof=None, p_value=None,
                                 cramers_v=None, magnitude=None, significant=False,
                                 sparse_cells_share=None, summary=reason)

    if assigned.shape[0] < 2:
        return untested(f"{column} cannot be compared across segments: there is only one "
                        "segment.")
    if assigned.shape[1] < 2:
        level = order[int(np.argmax(overall))]
        return untested(f"{column} is '{level}' for every segmented row, so it cannot differ "
                        "across segments.")
    chi2, p, v, magnitude, expected = cramers_v(assigned)
    dof = (assigned.shape[0] - 1) * (assigned.shape[1] - 1)
    sparse = float((expected < 5).mean())
    significant = p < ALPHA
    return AnchorAssociation(
        **base, statistic=float(chi2), dof=int(dof), p_value=p, cramers_v=float(v),
        magnitude=magnitude, significant=bool(significant), sparse_cells_share=sparse,
        summary=_summary(str(column), segments, p, v, magnitude, significant, sparse),
    )


def _summary(column, segments, p, v, magnitude, significant, sparse) -> str:
    test = f"chi-square {_fmt_p(p)}, Cramér's V {v:.2f}, {magnitude}"
    if sparse > SPARSE_CELL_SHARE:
        test += "; approximate: many levels are rare in some segments"
    if not significant:
        return f"{column} is spread alike across segments ({test})."
    best = None
    for seg in segments:
        if seg.segment < 0:
            continue
        for r in seg.levels:
            if r.level in seg.over_represented and (best is None or r.lift > best[1].lift):
                best = (seg.segment, r)
    head = (f"{column} differs across segments" if magnitude != "negligible"
            else f"{column} differs across segments, but only slightly")
    if best is None:
        return f"{head} ({test})."
    segment, r = best
    return (f"{head} ({test}); {r.level} is over-represented in Segment {segment} "
            f"({percent(r.segment_share)} vs {percent(r.overall_share)} overall).")


def anchor_lines(report: AnchorReport, names: dict[int, str] | None = None) -> tuple[str, ...]:
    """One line per anchor (its summary) and one per segment with over-represented levels."""
    names = names or {}
    lines = []
    for a in report.anchors:
        # The engine's sentence names the segment by number; a reader knows it by its name.
        lines.append(re.sub(r"over-represented in Segment (-?\d+) \(",
                            lambda m: f"over-represented in "
                                      f"{names.get(int(m.group(1)), 'Segment ' + m.group(1))} (",
                            a.summary))
        if not a.significant:
            continue
        for seg in a.segments:
            if seg.segment < 0 or not seg.over_represented:
                continue
            by_level = {r.level: r for r in seg.levels}
            parts = [f"{lv} {percent(by_level[lv].segment_share)} vs "
                     f"{percent(by_level[lv].overall_share)}" for lv in seg.over_represented[:3]]
            name = names.get(seg.segment, f"Segment {seg.segment}")
            lines.append(f"  {name}: {a.column} " + "; ".join(parts))
    return tuple(lines)
