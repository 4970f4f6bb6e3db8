"""The verdict of a drift report: stable, watch or re-cluster, each reason citing the number
computed and the line it crossed (or why nothing crossed).
"""

from __future__ import annotations

from collections.abc import Sequence

from copilot.core import percent
from copilot.segmentation.model.drift_report import (
    CENTROID_COLUMN_WATCH,
    CENTROID_NOISE_MULTIPLE,
    CENTROID_WATCH,
    MISSING_WATCH,
    MOVED_RECLUSTER,
    MOVED_WATCH,
    PSI_RECLUSTER,
    PSI_WATCH,
    DriftVerdict,
    FeatureDrift,
    Migration,
    SegmentDrift,
)

# --- the verdict ---------------------------------------------------------------------------


def decide(features: Sequence[FeatureDrift], segment_psi: float,
           segments: Sequence[SegmentDrift], migration: Migration | None,
           segment_noise: float = 0.0) -> DriftVerdict:
    """stable, watch or re-cluster, with a reason per crossed line (or why nothing crossed).

    The lines are the issue's: re-cluster when 15% or more changed segment or a PSI reaches
    0.2. A PSI can cross while the migration shows nearly everyone kept their segment; the
    level stays re-cluster, but the reasons and the summary say both, so the reader can judge.
    """
    recluster: list[str] = []
    watch: list[str] = []
    noise: list[str] = []  # past a line, but within what chance gives at these sizes
    kept = ""  # said after each distribution reason when most customers kept their segment
    if migration is not None:
        m = migration
        text = (f"{percent(m.moved_share, 1)} of the {m.matched:,} customers in both snapshots changed "
                f"segment ({m.moved:,})")
        if m.moved_share >= MOVED_RECLUSTER:
            recluster.append(f"{text}; re-cluster at {percent(MOVED_RECLUSTER, 0)}.")
        elif m.moved_share >= MOVED_WATCH:
            watch.append(f"{text}; watch from {percent(MOVED_WATCH, 0)}.")
        else:
            kept = (f", while {percent(1 - m.moved_share, 1)} of the {m.matched:,} customers in both "
                    "snapshots kept their segment")
    moved_customers = bool(recluster)
    for f in sorted((f for f in features if f.psi is not None), key=lambda f: -f.psi):
        text = f"PSI of {f.name} is {f.psi:.3f}"
        unseen = sum(f.new_levels.values())
        if unseen >= 0.01:
            levels = ", ".join(sorted(f.new_levels, key=lambda k: -f.new_levels[k])[:3])
            text += f" ({percent(unseen, 1)} of its values are levels not seen before: {levels})"
        if f.psi >= PSI_WATCH and f.psi < (f.psi_noise or 0.0):
            noise.append(_within_noise(text, f.psi_noise))
        elif f.psi >= PSI_RECLUSTER:
            recluster.append(f"{text}; re-cluster at {PSI_RECLUSTER}"
                             + (f": the distribution of {f.name} moved{kept}." if kept else "."))
        elif f.psi >= PSI_WATCH:
            watch.append(f"{text}; watch from {PSI_WATCH}.")
    text = f"PSI of the segment shares is {segment_psi:.3f}"
    if segment_psi >= PSI_WATCH and segment_psi < segment_noise:
        noise.append(_within_noise(text, segment_noise))
    elif segment_psi >= PSI_RECLUSTER:
        recluster.append(f"{text}; re-cluster at {PSI_RECLUSTER}"
                         + (f": the segments' sizes moved{kept}." if kept else "."))
    elif segment_psi >= PSI_WATCH:
        watch.append(f"{text}; watch from {PSI_WATCH}.")
    for f in features:
        if abs(f.missing_change) >= MISSING_WATCH and abs(f.missing_change) < (
                f.missing_noise or 0.0):
            noise.append(f"The missing share of {f.name} moved from {percent(f.missing_reference, 1)} "
                         f"to {percent(f.missing_new, 1)}, within what chance gives at these sizes (up "
                         f"to {f.missing_noise * 100:.1f} points), so it is not counted.")
        elif abs(f.missing_change) >= MISSING_WATCH:
            watch.append(f"The missing share of {f.name} moved from {percent(f.missing_reference, 1)} "
                         f"to {percent(f.missing_new, 1)}; watch from {MISSING_WATCH * 100:.0f} points "
                         "(check the data feed).")
    for s in segments:
        if s.centroid_shift is None:
            continue
        beyond_noise = CENTROID_NOISE_MULTIPLE * (s.shift_noise or 0.0)
        largest = s.largest_feature_shift or 0.0
        if (s.centroid_shift >= max(CENTROID_WATCH, beyond_noise)
                or largest >= max(CENTROID_COLUMN_WATCH, beyond_noise)):
            most = ""
            if s.largest_shift_feature is not None:
                way = f" {s.largest_shift_direction}" if s.largest_shift_direction else ""
                most = (f", most on {s.largest_shift_feature} ({largest:.2f} within-segment "
                        f"standard deviations{way})")
            watch.append(f"The centre of segment {s.segment} ({s.name}) moved "
                         f"{s.centroid_shift:.2f} of its within-segment spread{most}; watch "
                         f"from {CENTROID_WATCH} overall or {CENTROID_COLUMN_WATCH} on one "
                         "feature.")
    if recluster:
        return DriftVerdict(level="re-cluster", reasons=tuple(recluster + watch + noise),
                            summary=_recluster_summary(moved_customers, kept, migration))
    if watch:
        return DriftVerdict(level="watch", reasons=tuple(watch + noise),
                            summary=_SUMMARIES["watch"])
    return DriftVerdict(level="stable", reasons=_stable_reasons(features, segment_psi, migration)
                        + tuple(noise), summary=_SUMMARIES["stable"])


def _within_noise(text: str, bound: float | None) -> str:
    return (f"{text}, past the watch line of {PSI_WATCH} but within what two samples of "
            f"these sizes from an unchanged population reach (up to {bound:.3f}), so it is not "
            "counted; a larger snapshot would tell.")


_SUMMARIES = {
    "stable": "the segments still describe these customers; no action needed.",
    "watch": "something moved; check again next period, and sooner if it grows.",
}


def _recluster_summary(moved_customers: bool, kept: str, migration: Migration | None) -> str:
    if moved_customers:
        return ("the segments no longer describe these customers well: many changed segment; "
                "re-run the segmentation on the new snapshot.")
    if kept:
        return (f"a distribution moved past the re-cluster line, yet "
                f"{percent(1 - migration.moved_share, 1)} of the customers in both snapshots kept their "
                "segment; judge whether the moved features matter for how you treat these "
                "customers before re-running the segmentation on the new snapshot.")
    return ("the data moved past the re-cluster line, so the segments may no longer describe "
            "these customers well; re-run the segmentation on the new snapshot.")


def _stable_reasons(features, segment_psi, migration) -> tuple[str, ...]:
    reasons = []
    if migration is not None:
        reasons.append(f"{percent(migration.moved_share, 1)} of the {migration.matched:,} customers in "
                       f"both snapshots changed segment, under the watch line of "
                       f"{percent(MOVED_WATCH, 0)}.")
    # Those past the line (within noise) have reasons of their own.
    compared = [f for f in features if f.psi is not None]
    under = [f for f in compared if f.psi < PSI_WATCH]
    if under:
        top = max(under, key=lambda f: f.psi)
        largest = "largest" if len(under) == len(compared) else "largest other"
        reasons.append(f"The {largest} feature PSI is {top.psi:.3f} ({top.name}), under the "
                       f"watch line of {PSI_WATCH}.")
    if segment_psi < PSI_WATCH:
        reasons.append(f"PSI of the segment shares is {segment_psi:.3f}, under the watch line "
                       f"of {PSI_WATCH}.")
    return tuple(reasons)
