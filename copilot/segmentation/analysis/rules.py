"""Readable rules for each segment from a shallow surrogate decision tree.

A small decision tree is fitted to predict the segment labels from the original, readable
feature values (numbers, one-hot category levels, yes/no flags). Each leaf becomes a rule such
as ``"seats >= 20 and api_calls_30d >= 5000"`` with how many rows it covers, how pure it is
(precision) and how much of its segment it catches (recall). ``fidelity`` says how well the
rules as a whole reproduce the segments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.tree import DecisionTreeClassifier

from copilot.core import DataError, Frozen, SettingsError, round_sig
from copilot.segmentation.analysis.parallel import quiet_warnings
from copilot.segmentation.analysis.profile import _categorical_codes, _check_labels, _feature_values
from copilot.segmentation.analysis.projection import _stratified_indices
from copilot.segmentation.analysis.roles import RoleReport

#: At most this many levels per categorical feature become one-hot columns (most frequent).
MAX_LEVELS = 30
#: Every segment keeps at least this many rows in the fitting sample (if it has them).
MIN_ROWS_PER_SEGMENT = 10
#: The text of a rule without conditions (a tree that does not split).
EVERYONE = "everyone"


class Rule(Frozen):
    """One leaf of the surrogate tree, read as a conjunction of conditions."""

    text: str  # the conditions joined by " and " ("everyone" when there are none)
    conditions: tuple[str, ...]
    n: int  # segmented rows matching the rule
    precision: float  # share of the matching rows that are in the segment
    recall: float  # share of the segment's rows that match


class SegmentRules(Frozen):
    """The rules that describe one segment (empty when no leaf of the tree predicts it)."""

    segment: int
    rules: tuple[Rule, ...]


class RuleSet(Frozen):
    """Rules for every segment and how faithfully they reproduce the segments."""

    fidelity: float  # accuracy of the rules against the segment labels
    fidelity_method: Literal["holdout", "cross-validation", "training"]
    n_fit: int  # rows the tree was fitted on
    n_eval: int  # rows the fidelity was measured on
    max_depth: int
    features_used: tuple[str, ...]  # source columns that appear in the rules
    segments: tuple[SegmentRules, ...]
    note: str | None = None  # caveats, e.g. how missing values were treated


@dataclass(frozen=True)
class _Column:
    """One column of the design matrix."""

    feature: str
    kind: Literal["numeric", "datetime", "boolean", "onehot"]
    level: str | None = None  # one-hot level, or the "true" value of a boolean if not obvious
    code: int = -1  # one-hot: the level's code in the feature's factorisation
    fill: float = 0.0  # value used for missing entries (numeric, datetime, boolean)


@dataclass(frozen=True)
class _Cond:
    """A merged condition on one source feature."""

    column: _Column
    op: Literal["ge", "lt", "eq", "ne"]
    value: float | str

    def text(self) -> str:
        col = self.column
        if col.kind in ("numeric", "datetime"):
            name = col.feature if col.kind == "numeric" else f"days since {col.feature}"
            sign = ">=" if self.op == "ge" else "<"
            return f"{name} {sign} {_fmt_threshold(float(self.value))}"
        if col.kind == "boolean":
            if col.level is None:
                return f"{col.feature} is {'true' if self.op == 'eq' else 'false'}"
            return f"{col.feature} {'=' if self.op == 'eq' else '!='} {col.level}"
        return f"{col.feature} {'=' if self.op == 'eq' else '!='} {self.value}"


def _fmt_threshold(x: float) -> str:
    """Shortest text that reads back as exactly ``x`` (thresholds are already rounded)."""
    text = np.format_float_positional(x, trim="-")
    return "0" if text == "-0" else text


def _readable_threshold(threshold: float, values: np.ndarray) -> float:
    """A round number ``r`` such that ``x < r`` splits ``values`` like ``x <= threshold``.

    Tries 1, 2 and 3 significant digits inside the gap between the largest value at or below
    the threshold and the smallest value above it; when no such number exists (a very narrow
    gap), falls back to the threshold rounded to 3 significant digits.
    """
    below = values[values <= threshold]
    above = values[values > threshold]
    if below.size == 0 or above.size == 0:
        return round_sig(float(threshold), 3)
    lo, hi = float(below.max()), float(above.min())
    if lo < 0.0 <= hi:
        return 0.0
    mag = math.floor(math.log10(max(abs(lo), abs(hi))))
    for digits in (1, 2, 3):
        unit = 10.0 ** (mag - digits + 1)
        r = float(f"{(math.floor(lo / unit) + 1) * unit:.12g}")
        if lo < r <= hi:
            return r
    return round_sig(float(threshold), 3)


def _column_values(df: pd.DataFrame, roles: RoleReport, col: _Column, rows: np.ndarray,
                   cache: dict[str, np.ndarray]) -> np.ndarray:
    """Values of one design column for ``rows`` (missing entries filled)."""
    if col.feature not in cache:
        role = roles.get(col.feature)
        if role.role == "categorical":
            cache[col.feature] = _categorical_codes(df[col.feature])[0][rows]
        else:
            cache[col.feature] = _feature_values(df[col.feature], role)[0][rows]
    base = cache[col.feature]
    if col.kind == "onehot":
        return (base == col.code).astype(np.float64)
    return np.where(np.isnan(base), col.fill, base)


def surrogate_rules(
    df: pd.DataFrame,
    labels: np.ndarray,
    roles: RoleReport,
    *,
    max_depth: int = 3,
    min_leaf_share: float = 0.01,
    random_state: int = 0,
    sample: int = 50_000,
) -> RuleSet:
    """Describe the segments with readable rules from a shallow decision tree.

    Parameters
    ----------
    df : pandas.DataFrame
        The customer table as loaded (original values).
    labels : numpy.ndarray
        One integer per row of ``df``: segments ``0..k-1``; ``-1`` (unassigned) rows are left
        out of fitting and of every count.
    roles : RoleReport
        Column roles; the columns in ``roles.features`` are the tree's inputs. Numeric features
        are used as they are (missing values as the median), datetime features as days before
        the latest date ("days since X"), categorical features as one-hot levels
        ("Contract = Month-to-month"), boolean features as 0/1 ("X is true").
    max_depth : int, default 3
        Depth of the tree; at most ``2 ** max_depth`` rules.
    min_leaf_share : float, default 0.01
        Smallest share of the fitting rows a leaf may hold.
    random_state : int, default 0
        Seed for the sample, the tree and the cross-validation folds.
    sample : int, default 50000
        The tree is fitted on a stratified sample of at most this many segmented rows.

    Returns
    -------
    RuleSet
        Rules per segment (each with ``n``, ``precision``, ``recall`` over all segmented rows)
        and ``fidelity``: the accuracy of the rules against the labels on rows not used to
        fit (``"holdout"``) when the table is larger than the sample, else 5-fold
        cross-validated accuracy of the tree (``"cross-validation"``), or the accuracy on the
        fitting rows for tables too small to cross-validate (``"training"``).

    Raises
    ------
    SettingsError
        If ``max_depth``, ``min_leaf_share`` or ``sample`` is out of range.
    DataError
        If no row is assigned to a segment or there are no feature columns.

    Notes
    -----
    Conditions on the same feature along a path are merged (the tightest bounds are kept, and
    ``X != a`` is dropped once ``X = b`` is known). Thresholds are moved to the roundest number
    (up to 3 significant digits) that splits the data exactly as the tree did; when the gap
    between neighbouring values is too narrow for that, the threshold is rounded to 3
    significant digits. Counts, precision, recall and holdout fidelity are computed from the
    rules exactly as written.
    """
    _check_rule_settings(max_depth, min_leaf_share, sample)
    labels, assigned = _segmented_rows(df, labels, roles)
    y_all = labels[assigned]
    seg_ids, seg_counts = np.unique(y_all, return_counts=True)

    fit_pos = _stratified_indices(
        y_all, sample, random_state=random_state, min_per_group=MIN_ROWS_PER_SEGMENT
    )
    fit_rows = assigned[fit_pos]
    columns, X_fit, any_missing, complete = _design(df, roles, assigned, fit_rows)
    y_fit = y_all[fit_pos]
    tree = _fit_tree(columns, X_fit, y_fit, seg_ids, max_depth, min_leaf_share, random_state)

    leaves = _leaves(tree, columns, complete, df, roles, assigned, seg_ids, seg_counts)
    fidelity, method, n_eval = _fidelity(leaves, tree, X_fit, y_fit, y_all, fit_pos, seg_ids,
                                         random_state)
    segments, used = _segment_rules(leaves, y_all, seg_ids, seg_counts)
    return RuleSet(fidelity=fidelity, fidelity_method=method, n_fit=len(fit_pos), n_eval=n_eval,
                   max_depth=max_depth, features_used=tuple(used), segments=segments,
                   note=_missing_note(used, any_missing))


def _check_rule_settings(max_depth: int, min_leaf_share: float, sample: int) -> None:
    """Refuse a depth, leaf share or sample size out of range."""
    if max_depth < 1:
        raise SettingsError(f"The rule depth must be at least 1, not {max_depth}.")
    if not 0.0 <= min_leaf_share < 0.5:
        raise SettingsError(
            f"The smallest leaf share must be between 0 and 0.5, not {min_leaf_share}."
        )
    if sample < 2:
        raise SettingsError(f"The rule sample must be at least 2 rows, not {sample}.")


def _segmented_rows(df: pd.DataFrame, labels: np.ndarray, roles: RoleReport
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The checked labels and the positions of the rows assigned to a segment; refuses a
    table with no segmented row or no feature."""
    labels = _check_labels(df, labels)
    assigned = np.flatnonzero(labels >= 0)
    if assigned.size == 0:
        raise DataError("No row is assigned to a segment, so there are no segments to describe.")
    if not roles.features:
        raise DataError("There are no feature columns to describe the segments with.")
    return labels, assigned


def _fit_tree(columns, X_fit, y_fit, seg_ids, max_depth, min_leaf_share, random_state):
    """The shallow tree on the fitting rows; None with no design column or one segment."""
    tree = None
    if columns and len(seg_ids) > 1:
        min_leaf = max(1, math.ceil(min_leaf_share * len(y_fit)))
        tree = DecisionTreeClassifier(
            max_depth=max_depth, min_samples_leaf=min_leaf, random_state=random_state
        ).fit(X_fit, y_fit)
    return tree


def _fidelity(leaves, tree, X_fit, y_fit, y_all, fit_pos, seg_ids, random_state
              ) -> tuple[float, str, int]:
    """How well the rules reproduce the segments: (fidelity, method, rows measured on)."""
    assigned_n = len(y_all)
    # Predictions of the rules as written, over every segmented row.
    pred = np.full(assigned_n, -1, dtype=np.int64)
    for _, cls, mask in leaves:
        pred[mask] = cls

    if assigned_n > len(fit_pos):
        holdout = np.ones(assigned_n, dtype=bool)
        holdout[fit_pos] = False
        fidelity = float(np.mean(pred[holdout] == y_all[holdout]))
        method, n_eval = "holdout", int(holdout.sum())
    elif tree is not None and len(fit_pos) >= 10 and np.bincount(
        np.searchsorted(seg_ids, y_fit)
    ).max() >= 5:
        cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=random_state)
        with quiet_warnings():
            scores = cross_val_score(clone(tree), X_fit, y_fit, cv=cv)
        fidelity, method, n_eval = float(np.mean(scores)), "cross-validation", len(fit_pos)
    else:
        fidelity = float(np.mean(pred == y_all))
        method, n_eval = "training", assigned_n
    return fidelity, method, n_eval


def _segment_rules(leaves, y_all, seg_ids, seg_counts
                   ) -> tuple[tuple[SegmentRules, ...], list[str]]:
    """Each leaf as a rule of its segment (with n, precision, recall), and the features the
    rules use, in order of first use."""
    per_segment: dict[int, list[Rule]] = {int(s): [] for s in seg_ids}
    seg_total = dict(zip(seg_ids.tolist(), seg_counts.tolist(), strict=True))
    used: list[str] = []
    for conds, cls, mask in leaves:
        n = int(mask.sum())
        if n == 0:
            continue
        hits = int(np.count_nonzero(y_all[mask] == cls))
        texts = tuple(c.text() for c in conds)
        for c in conds:
            if c.column.feature not in used:
                used.append(c.column.feature)
        per_segment[cls].append(
            Rule(
                text=" and ".join(texts) if texts else EVERYONE,
                conditions=texts,
                n=n,
                precision=hits / n,
                recall=hits / seg_total[cls],
            )
        )
    segments = tuple(
        SegmentRules(segment=s, rules=tuple(sorted(r, key=lambda x: (-x.recall, x.text))))
        for s, r in per_segment.items()
    )
    return segments, used


def _missing_note(used: list[str], any_missing) -> str | None:
    """The caveat on how missing values of the features the rules use were read."""
    used_missing = sorted(f for f in used if f in any_missing)
    note = None
    if used_missing:
        note = (
            "Missing values of " + ", ".join(used_missing) + " are treated as the median "
            "(or the most common value for yes/no columns)."
        )
    return note


def _design(
    df: pd.DataFrame, roles: RoleReport, assigned: np.ndarray, fit_rows: np.ndarray
) -> tuple[list[_Column], np.ndarray, set[str], set[str]]:
    """Design columns (from the segmented rows) and the fitting matrix.

    Also returns the features with missing values among the segmented rows, and the
    categorical features whose every segmented row has one of the one-hot levels (so that
    excluding all levels but one means that one level).
    """
    columns: list[_Column] = []
    blocks: list[np.ndarray] = []
    missing: set[str] = set()
    complete: set[str] = set()
    for name in roles.features:
        role = roles.get(name)
        s = df[name]
        if role.role == "categorical":
            codes, levels = _categorical_codes(s)
            counts = np.bincount(codes[assigned][codes[assigned] >= 0], minlength=len(levels))
            order = [j for j in np.argsort(-counts, kind="stable") if counts[j] > 0][:MAX_LEVELS]
            if len(order) < 2 and counts.sum() == len(assigned):
                continue  # one level everywhere: nothing to split on
            if counts[order].sum() == len(assigned):
                complete.add(name)
            fit_codes = codes[fit_rows]
            for j in order:
                columns.append(_Column(feature=name, kind="onehot", level=levels[j], code=int(j)))
                blocks.append((fit_codes == j).astype(np.float64))
            continue
        values, true_label = _feature_values(s, role)
        seg_values = values[assigned]
        valid = ~np.isnan(seg_values)
        if not valid.any():
            continue
        if not valid.all():
            missing.add(name)
        if role.role == "boolean":
            kind = "boolean"
            fill = 1.0 if seg_values[valid].mean() > 0.5 else 0.0
        else:
            kind = "datetime" if role.role == "datetime" else "numeric"
            # The fill is read only for gaps among the segmented rows: without any, the median
            # (a partition of every row: 0.4 s on 1M x 30) is not computed.
            fill = float(np.median(seg_values[valid])) if name in missing else 0.0
        columns.append(_Column(feature=name, kind=kind, level=true_label, fill=fill))
        fit_values = values[fit_rows]
        blocks.append(np.where(np.isnan(fit_values), fill, fit_values))
    X = np.column_stack(blocks) if blocks else np.empty((len(fit_rows), 0))
    return columns, X, missing, complete


def _leaves(
    tree: DecisionTreeClassifier | None,
    columns: list[_Column],
    complete: set[str],
    df: pd.DataFrame,
    roles: RoleReport,
    assigned: np.ndarray,
    seg_ids: np.ndarray,
    seg_counts: np.ndarray,
) -> list[tuple[tuple[_Cond, ...], int, np.ndarray]]:
    """Each leaf as (merged conditions, predicted segment, mask over the segmented rows).

    Subtrees whose leaves all predict the same segment are read as one leaf.
    """
    n = len(assigned)
    if tree is None:
        majority = int(seg_ids[np.argmax(seg_counts)])
        return [((), majority, np.ones(n, dtype=bool))]
    t = tree.tree_
    classes = tree.classes_
    left, right = t.children_left, t.children_right
    node_class = classes[np.argmax(t.value[:, 0, :], axis=1)]

    # The single class of each subtree, or None when its leaves disagree.
    pure: dict[int, int | None] = {}

    def subtree_class(node: int) -> int | None:
        if left[node] == -1:
            pure[node] = int(node_class[node])
        else:
            a, b = subtree_class(left[node]), subtree_class(right[node])
            pure[node] = a if a is not None and a == b else None
        return pure[node]

    subtree_class(0)

    cache: dict[str, np.ndarray] = {}
    values: dict[int, np.ndarray] = {}

    def column_values(j: int) -> np.ndarray:
        if j not in values:
            values[j] = _column_values(df, roles, columns[j], assigned, cache)
        return values[j]

    out: list[tuple[tuple[_Cond, ...], int, np.ndarray]] = []

    def walk(node: int, path: list[_Cond]) -> None:
        if pure[node] is not None:
            conds = _merge(path, columns, complete)
            out.append((conds, int(pure[node]), _mask(conds, column_values, columns, n)))
            return
        j = int(t.feature[node])
        col = columns[j]
        if col.kind in ("numeric", "datetime"):
            r = _readable_threshold(float(t.threshold[node]), column_values(j))
            walk(left[node], path + [_Cond(col, "lt", r)])
            walk(right[node], path + [_Cond(col, "ge", r)])
        elif col.kind == "boolean":
            walk(left[node], path + [_Cond(col, "ne", 1.0)])
            walk(right[node], path + [_Cond(col, "eq", 1.0)])
        else:
            walk(left[node], path + [_Cond(col, "ne", col.level or "")])
            walk(right[node], path + [_Cond(col, "eq", col.level or "")])

    walk(0, [])
    # The recursive closures form a reference cycle, which would keep every column read for
    # the thresholds (8 MB each on a million rows) alive until the next garbage collection.
    cache.clear()
    values.clear()
    return out


def _merge(
    path: list[_Cond], columns: list[_Column] = (), complete: set[str] | frozenset = frozenset()
) -> tuple[_Cond, ...]:
    """Drop redundant conditions on the same feature, keeping the order of first appearance.

    For a categorical feature in ``complete``, excluding every level but one (``X != a and
    X != b``) is written as that level (``X = c``).
    """
    kept: list[_Cond] = []
    for cond in path:
        col = cond.column
        same = [c for c in kept if c.column.feature == col.feature]
        if col.kind in ("numeric", "datetime"):
            prior = [c for c in same if c.op == cond.op]
            if prior:
                old = prior[0]
                tighter = (cond.value > old.value) if cond.op == "ge" else (cond.value < old.value)
                if tighter:
                    kept[kept.index(old)] = cond
                continue
            kept.append(cond)
        elif col.kind == "boolean":
            if not same:
                kept.append(cond)
        else:  # one-hot
            if any(c.op == "eq" for c in same):
                continue  # "X = b" already implies "X != a"
            if cond.op == "eq":
                first = kept.index(same[0]) if same else len(kept)
                kept = [c for c in kept if c.column.feature != col.feature]
                kept.insert(min(first, len(kept)), cond)
            else:
                kept.append(cond)
    # Conditions on one feature side by side, lower bound first: "t >= 12 and t < 40".
    features = list(dict.fromkeys(c.column.feature for c in kept))
    ordered: list[_Cond] = []
    for feature in features:
        group = [c for c in kept if c.column.feature == feature]
        if feature in complete and all(c.op == "ne" for c in group):
            excluded = {c.column for c in group}
            left = [c for c in columns if c.feature == feature and c not in excluded]
            if len(left) == 1:
                group = [_Cond(left[0], "eq", left[0].level or "")]
        ordered.extend(sorted(group, key=lambda c: c.op != "ge"))
    return tuple(ordered)


def _mask(conds: tuple[_Cond, ...], column_values, columns: list[_Column], n: int) -> np.ndarray:
    """Rows (of the segmented rows) that satisfy every condition."""
    index = {c: j for j, c in enumerate(columns)}
    mask = np.ones(n, dtype=bool)
    for cond in conds:
        x = column_values(index[cond.column])
        if cond.op == "ge":
            mask &= x >= float(cond.value)
        elif cond.op == "lt":
            mask &= x < float(cond.value)
        elif cond.op == "eq":
            mask &= x > 0.5
        else:
            mask &= x <= 0.5
    return mask
