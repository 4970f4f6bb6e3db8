"""Segmenting within anchors: the whole analysis run separately inside each level of an
anchor column (industry, size band, region), small levels pooled or skipped.

It runs the pipeline per level, so it lives apart from ``anchors`` (which the pipeline imports
for its anchor report): before, the two modules imported each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from copilot.core import ColumnError, Frozen, InputError, SettingsError
from copilot.segmentation.analysis.anchors import (
    MIN_LEVEL_ROWS,
    POOLED_LEVEL,
    _level_order,
    anchor_levels,
)
from copilot.segmentation.analysis.pipeline import (
    MIN_ROWS,
    SegmentationRun,
    SegmentSettings,
    run_segmentation,
)
from copilot.segmentation.analysis.roles import infer_roles

# --------------------------------------------------------------------------------------------
# Segmenting within anchors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorGroupRun:
    """One anchor level (or the pool of small levels) and its own segmentation."""

    level: str  # the level, or POOLED_LEVEL
    members: tuple[str, ...]  # anchor levels in this group
    rows: np.ndarray  # row positions in the table
    run: SegmentationRun | None  # None when skipped
    label_offset: int  # combined label of this group's segment 0
    skipped_reason: str | None


class AnchorGroupSummary(Frozen):
    level: str
    members: tuple[str, ...]
    n_rows: int
    segmented: bool
    k: int | None
    algorithm: str | None
    segment_names: tuple[str, ...]  # combined names, in this group's label order
    reason: str | None  # why it was skipped


class AnchoredSummary(Frozen):
    """What ``segment_within_anchors`` did, JSON-able."""

    anchor_column: str
    min_rows: int
    small_levels: Literal["pool", "skip"]
    groups: tuple[AnchorGroupSummary, ...]
    n_segments: int
    n_unsegmented_rows: int  # rows of skipped groups plus rows a run left unassigned


@dataclass(frozen=True)
class AnchoredSegmentation:
    anchor_column: str
    groups: tuple[AnchorGroupRun, ...]
    labels: np.ndarray  # combined segment per row; -1 when not segmented or unassigned
    names: tuple[str, ...]  # names[label]: "Retail / Segment 1"
    summary: AnchoredSummary

    def label_names(self) -> pd.Series:
        """The combined segment name of every row ("Retail / Segment 1"; "" when none)."""
        lookup = np.array([*self.names, ""], dtype=object)
        return pd.Series(lookup[np.where(self.labels >= 0, self.labels, len(self.names))],
                         name=f"{self.anchor_column} segment")


def segment_within_anchors(
    df: pd.DataFrame,
    anchor_column: str,
    settings: SegmentSettings | None = None,
    *,
    min_rows: int = MIN_LEVEL_ROWS,
    small_levels: Literal["pool", "skip"] = "pool",
    progress: Callable[[str, float, str], None] | None = None,
) -> AnchoredSegmentation:
    """Run the whole analysis separately inside each level of an anchor column.

    Parameters
    ----------
    df : pandas.DataFrame
        The customer table.
    anchor_column : str
        The anchor (industry, size band, region ...); it is excluded from every run's features.
    settings : SegmentSettings, optional
        Used for every run (the anchor is added to ``exclude``).
    min_rows : int, default MIN_LEVEL_ROWS
        Levels with fewer rows are small.
    small_levels : {"pool", "skip"}, default "pool"
        ``"pool"`` segments the small levels together as ``"Other (pooled)"`` (skipped when the
        pool itself is smaller than ``min_rows``); ``"skip"`` leaves each one unsegmented.
    progress : callable(stage, fraction, message), optional

    Returns
    -------
    AnchoredSegmentation
        Per group its run (or why it was skipped), the combined label of every row (groups
        in order of size, the pool last; -1 for rows not segmented) and names such as
        ``"Retail / Segment 0"``. A level whose run fails on the data (say a fixed ``k`` too
        large for it) is skipped with the error's sentence as the reason.

    Raises
    ------
    ColumnError
        If the anchor is not a usable column, or is the ID column or an outcome.
    SettingsError
        If ``min_rows`` is below the pipeline's minimum or ``small_levels`` is unknown.
    """

    levels, settings = _check_anchor(df, anchor_column, settings, min_rows, small_levels)
    plan = _plan_groups(levels, min_rows, small_levels)
    say = progress or (lambda stage, fraction, message: None)
    groups, combined, names = _run_groups(df, anchor_column, settings, plan, say)
    summary = AnchoredSummary(
        anchor_column=str(anchor_column), min_rows=min_rows, small_levels=small_levels,
        groups=tuple(_group_summary(g, names) for g in groups), n_segments=len(names),
        n_unsegmented_rows=int((combined < 0).sum()),
    )
    return AnchoredSegmentation(str(anchor_column), tuple(groups), combined, tuple(names),
                                summary)


def _check_anchor(df: pd.DataFrame, anchor_column: str, settings: SegmentSettings | None,
                  min_rows: int, small_levels: str) -> tuple[pd.Series, SegmentSettings]:
    """Refuse a minimum or a choice for small levels out of range, and an anchor that is not
    a usable column or is the ID or an outcome; returns the anchor's levels and the settings
    with the anchor excluded from the features."""
    settings = settings or SegmentSettings()
    if min_rows < MIN_ROWS:
        raise SettingsError(f"The minimum rows per anchor level must be at least {MIN_ROWS}, "
                            f"the smallest table the analysis accepts; got {min_rows}.")
    if small_levels not in ("pool", "skip"):
        raise SettingsError(f"Unknown choice '{small_levels}' for small anchor levels; choose "
                            "pool or skip.")
    levels = anchor_levels(df, anchor_column)
    # Validate the column choices once on the whole table, so a wrong name is one error rather
    # than the same skip reason for every level.
    roles = infer_roles(
        df, id_column=settings.id_column,
        outcomes=list(settings.outcomes) if settings.outcomes is not None else None,
        exclude=list(settings.exclude),
    )
    role = roles.get(anchor_column).role
    if role in ("id", "outcome"):
        what = "the ID column" if role == "id" else "an outcome"
        raise ColumnError(f"Column '{anchor_column}' is {what}, so it cannot be an anchor; "
                          "choose a grouping such as industry, size band or region.")
    exclude = tuple(dict.fromkeys((*settings.exclude, anchor_column)))
    return levels, settings.model_copy(update={"exclude": exclude})


def _run_groups(df, anchor_column, settings, plan, say):
    """Segment each planned group on its own rows: the groups' runs (or why each was skipped),
    the combined label of every row and the combined segment names."""
    groups: list[AnchorGroupRun] = []
    combined = np.full(len(df), -1, dtype=np.int64)
    names: list[str] = []
    n_plan = len(plan)
    for i, (level, members, rows, reason) in enumerate(plan):
        run = None
        offset = len(names)
        if reason is None:
            def sub_progress(stage, fraction, message, _i=i, _level=level):
                say(f"{_level}: {stage}", (_i + fraction) / n_plan, message)

            sub = df.iloc[rows].reset_index(drop=True)
            try:
                run = run_segmentation(sub, settings, source={"anchor": f"{anchor_column}="
                                                              f"{level}"},
                                       progress=sub_progress)
            except InputError as err:  # the names were checked above: this is about the level
                reason = str(err)
        if run is not None:
            lab = run.labels
            k = max(run.analysis.choice.k, int(lab.max()) + 1)
            combined[rows[lab >= 0]] = offset + lab[lab >= 0]
            names.extend(f"{level} / Segment {s}" for s in range(k))
        groups.append(AnchorGroupRun(level=level, members=members, rows=rows, run=run,
                                     label_offset=offset, skipped_reason=reason))
    return groups, combined, names


def _plan_groups(levels: pd.Series, min_rows: int, small_levels: str):
    """(level, members, rows, skip reason) per group: big levels by size, then the pool."""
    order = _level_order(levels)
    values = levels.astype(str).to_numpy()
    rows_of = {lv: np.flatnonzero(values == lv) for lv in order}
    big = sorted((lv for lv in order if len(rows_of[lv]) >= min_rows),
                 key=lambda lv: (-len(rows_of[lv]), lv))
    small = [lv for lv in order if len(rows_of[lv]) < min_rows]
    plan = [(lv, (lv,), rows_of[lv], None) for lv in big]
    if not small:
        return plan
    if small_levels == "skip" or len(small) == 1:
        for lv in small:
            n = len(rows_of[lv])
            reason = (f"Only {n} rows, fewer than the {min_rows} needed to segment a level "
                      "on its own.")
            plan.append((lv, (lv,), rows_of[lv], reason))
        return plan
    rows = np.sort(np.concatenate([rows_of[lv] for lv in small]))
    reason = None
    if len(rows) < min_rows:
        reason = (f"The {len(small)} small levels pooled together have only {len(rows)} rows, "
                  f"fewer than the {min_rows} needed.")
    plan.append((POOLED_LEVEL, tuple(small), rows, reason))
    return plan


def _group_summary(g: AnchorGroupRun, names: list[str]) -> AnchorGroupSummary:
    if g.run is None:
        return AnchorGroupSummary(level=g.level, members=g.members, n_rows=len(g.rows),
                                  segmented=False, k=None, algorithm=None, segment_names=(),
                                  reason=g.skipped_reason)
    k = max(g.run.analysis.choice.k, int(g.run.labels.max()) + 1)
    return AnchorGroupSummary(
        level=g.level, members=g.members, n_rows=len(g.rows), segmented=True, k=k,
        algorithm=g.run.analysis.choice.algorithm,
        segment_names=tuple(names[g.label_offset:g.label_offset + k]), reason=None,
    )
