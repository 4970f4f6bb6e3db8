"""Segment drift: the segments' shares, who moved where between two snapshots (migration),
and how far each segment's centre moved.

Centroid shift: each segment's centre in the model's prepared (standardised) feature space, new
versus reference, divided by the segment's within-segment spread (the root of the summed
per-column variances of its members), so 1.0 means "moved by the segment's own radius" whatever
the units. That whole-space figure is diluted when one feature of many moves, so the shift on
each input feature is measured too, in that feature's own within-segment standard deviations
(standardised input columns, before any PCA, so the report names a column the reader knows; a
categorical feature counts its one-hot columns together), and the feature that moved most is
reported with its direction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from copilot.core import InputError
from copilot.segmentation.model.bundle import SavedModel
from copilot.segmentation.model.drift_features import psi, psi_noise_bound
from copilot.segmentation.model.drift_report import FeatureDrift, Migration, SegmentDrift

MIN_CENTROID_MEMBERS = 5  # fewer members give a centre too noisy to compare
SPREAD_FLOOR = 0.1  # prepared columns have unit spread overall; a tenth avoids dividing by ~0
# An ID column identifies customers: a few repeated rows happen in exports, but when more than a
# tenth of the rows repeat an ID the column is not a customer ID and a join on it is meaningless.
MAX_REPEATED_ID_SHARE = 0.10
UNASSIGNED = "unassigned"


# --- segments: shares, migration, centres --------------------------------------------------

def _shares(labels: np.ndarray) -> dict[int, float]:
    if not len(labels):
        return {}
    values, counts = np.unique(labels, return_counts=True)
    return {int(v): float(c) / len(labels) for v, c in zip(values, counts, strict=True)}


def _segment_order(model: SavedModel, *label_sets) -> list[int]:
    found = {int(k) for k in model.info.names}
    for labels in label_sets:
        values = list(labels) if isinstance(labels, dict) else np.unique(np.asarray(labels))
        found |= {int(v) for v in values}
    return sorted(s for s in found if s >= 0) + ([-1] if -1 in found else [])


def _name(model: SavedModel, segment: int) -> str:
    if segment < 0:
        return UNASSIGNED
    names = {int(k): v for k, v in model.info.names.items()}
    return names.get(segment, f"Segment {segment}")


def _segment_drifts(model: SavedModel, reference: dict[int, float],
                    new: dict[int, float]) -> tuple[SegmentDrift, ...]:
    return tuple(
        SegmentDrift(segment=s, name=_name(model, s), reference_share=reference.get(s, 0.0),
                     new_share=new.get(s, 0.0))
        for s in _segment_order(model, reference, new))


def _segment_psi(segments: Sequence[SegmentDrift]) -> float:
    return psi([s.reference_share for s in segments], [s.new_share for s in segments])


def migration_matrix(old_ids: pd.Series, old_labels: np.ndarray, new_ids: pd.Series,
                     new_labels: np.ndarray, model: SavedModel, *, id_column: str,
                     old_label: str = "OLD", new_label: str = "NEW",
                     notes: list[str] | None = None) -> Migration:
    """Who moved where: customers in both snapshots, joined on their ID.

    Each snapshot's first row per ID counts (duplicates are noted); rows without an ID cannot
    be matched. Raises ``InputError`` when the snapshots share no customer.
    """
    notes = notes if notes is not None else []
    old_map = _by_id(old_ids, old_labels, old_label, id_column, notes)
    new_map = _by_id(new_ids, new_labels, new_label, id_column, notes)
    both = old_map.index.intersection(new_map.index)
    if not len(both):
        raise InputError(f"{old_label} and {new_label} share no customer ID in column "
                         f"'{id_column}'; check that both are snapshots of the same customers "
                         "(or pass --id with the right column).")
    before = old_map.loc[both].to_numpy()
    after = new_map.loc[both].to_numpy()
    segments = _segment_order(model, before, after)
    index = {s: i for i, s in enumerate(segments)}
    counts = np.zeros((len(segments), len(segments)), dtype=int)
    np.add.at(counts, ([index[s] for s in before], [index[s] for s in after]), 1)
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    moved = int((before != after).sum())
    return Migration(
        id_column=id_column, segments=tuple(segments),
        names=tuple(_name(model, s) for s in segments),
        counts=tuple(tuple(int(c) for c in row) for row in counts),
        row_shares=tuple(tuple(float(x) for x in row) for row in shares),
        matched=len(both), moved=moved, moved_share=moved / len(both),
        only_old=len(old_map.index.difference(new_map.index)),
        only_new=len(new_map.index.difference(old_map.index)))


def _by_id(ids: pd.Series, labels: np.ndarray, label: str, id_column: str,
           notes: list[str]) -> pd.Series:
    keys = _id_keys(ids)
    frame = pd.Series(np.asarray(labels), index=keys.to_numpy())
    no_id = keys.isna().to_numpy()
    if no_id.any():
        notes.append(f"{label}: {int(no_id.sum()):,} row(s) have no {id_column} and cannot be "
                     "matched.")
    frame = frame[~no_id]
    duplicated = frame.index.duplicated()
    if duplicated.mean() > MAX_REPEATED_ID_SHARE if len(frame) else False:
        raise InputError(f"In {label}, {int(duplicated.sum()):,} of {len(frame):,} rows repeat a "
                         f"value of '{id_column}', so it does not identify customers; pass --id "
                         "with the customer ID column.")
    if duplicated.any():
        notes.append(f"{label}: {int(duplicated.sum()):,} row(s) repeat a {id_column} already "
                     "seen; the first row of each customer is used for the migration.")
    return frame[~duplicated]


def _id_keys(ids: pd.Series) -> pd.Series:
    # One ID read as 17 in one file and "17" or 17.0 in the other must still match.
    if pd.api.types.is_numeric_dtype(ids) and not pd.api.types.is_bool_dtype(ids):
        numbers = ids.astype(float)
        present = numbers.dropna()
        if len(present) and np.all(np.mod(present, 1) == 0):
            return numbers.astype("Int64").astype("string")
        return ids.astype("string")
    return ids.astype("string").str.strip()


def _with_centroid_shifts(segments: tuple[SegmentDrift, ...], model: SavedModel,
                          new: pd.DataFrame, new_labels: np.ndarray, *,
                          reference: tuple[pd.DataFrame, np.ndarray] | None,
                          n_training: int | None = None) -> tuple[SegmentDrift, ...]:
    """Each segment's centre shift in within-segment spreads (module docstring).

    Against OLD's members (spread from OLD), or, without OLD, against the model's own centres
    (spread from the new members, the only ones there are; the noise counts the training
    members too when the model recorded its row count). The whole-space shift is taken where
    the model clusters (after any PCA); the per-feature shifts on the input columns.
    """
    prep = model.info.preparation
    unrotated = prep.model_copy(update={"pca": None})  # the standardised input columns
    groups = _feature_groups(prep)
    X_new, F_new = prep.transform(new), unrotated.transform(new)
    if reference is not None:
        X_ref, F_ref = prep.transform(reference[0]), unrotated.transform(reference[0])
        ref_labels = reference[1]
    else:
        centres = _model_centres(model, X_new.shape[1])
        training = {int(k): float(v) * n_training for k, v in model.info.segment_shares.items()
                    } if n_training else {}
    out = []
    for seg in segments:
        here = new_labels == seg.segment if seg.segment >= 0 else np.zeros(len(X_new), bool)
        members, features = X_new[here], F_new[here]
        if reference is not None:
            there = ref_labels == seg.segment if seg.segment >= 0 else np.zeros(len(X_ref), bool)
            if min(int(here.sum()), int(there.sum())) < MIN_CENTROID_MEMBERS:
                out.append(seg)
                continue
            delta = np.nan_to_num(_nanmean(members) - _nanmean(X_ref[there]))
            spread = _nanstd(X_ref[there])
            feature_delta = np.nan_to_num(_nanmean(features) - _nanmean(F_ref[there]))
            feature_spread = _nanstd(F_ref[there])
            noise = math.sqrt(1 / int(there.sum()) + 1 / len(members))
        else:
            if len(members) < MIN_CENTROID_MEMBERS or seg.segment not in centres:
                out.append(seg)
                continue
            delta = np.nan_to_num(_nanmean(members) - centres[seg.segment])
            spread = _nanstd(members)
            # The model's centre is known only where it clusters: after PCA, the shift on the
            # input columns is that shift mapped back (the part the components can see).
            feature_delta = (delta @ np.asarray(prep.pca.components) if prep.pca is not None
                             else delta)
            feature_spread = _nanstd(features)
            trained = training.get(seg.segment, 0.0)
            noise = math.sqrt(1 / len(members) + (1 / trained if trained >= 1 else 0.0))
        radius = float(np.sqrt(np.nansum(spread**2)))
        if radius <= 0:
            out.append(seg)
            continue
        shifts = _feature_shifts(groups, feature_delta, feature_spread)
        update: dict = {"centroid_shift": float(np.linalg.norm(delta) / radius),
                        "shift_noise": noise, "feature_shifts": {n: s for n, s, _ in shifts}}
        if shifts:
            name, size, direction = max(shifts, key=lambda t: t[1])
            update |= {"largest_shift_feature": name, "largest_feature_shift": size,
                       "largest_shift_direction": direction}
        out.append(seg.model_copy(update=update))
    return tuple(out)


def _feature_groups(prep) -> list[tuple[str, str, list[int], tuple[str, ...]]]:
    """Each input feature's columns in the prepared matrix before PCA.

    (name, source, columns, levels): a numeric feature has its column and, when it has one,
    its missing-value indicator; a categorical feature its one-hot columns, one per level.
    """
    groups = [(s.name, s.source, [j], ()) for j, s in enumerate(prep.numeric)]
    col = len(prep.numeric)
    for j, step in enumerate(prep.numeric):
        if step.missing_indicator:
            groups[j][2].append(col)
            col += 1
    for step in prep.categorical:
        groups.append((step.name, "categorical", list(range(col, col + len(step.levels))),
                       tuple(step.levels)))
        col += len(step.levels)
    return groups


_DIRECTIONS = {"numeric": ("higher", "lower"), "boolean": ("higher", "lower"),
               # a date column is prepared as days before a fixed instant: more days = earlier
               "datetime": ("earlier", "later")}


def _feature_shifts(groups, delta: np.ndarray, spread: np.ndarray
                    ) -> list[tuple[str, float, str]]:
    """(feature, shift in its within-segment spreads, direction) per input feature.

    A feature of several columns (a category's levels) is measured like the whole space: the
    length of its centre's move over the root of its columns' summed variances.
    """
    out = []
    for name, source, cols, levels in groups:
        d, s = delta[cols], np.nan_to_num(spread[cols])
        size = float(np.linalg.norm(d) / max(float(np.sqrt((s**2).sum())), SPREAD_FLOOR))
        if source == "categorical":
            gained = int(np.argmax(d))
            direction = f"towards '{levels[gained]}'" if d[gained] > 0 else ""
        else:
            up, down = _DIRECTIONS[source]
            direction = up if d[0] > 0 else down if d[0] < 0 else ""
        out.append((name, size, direction))
    return out


def _model_centres(model: SavedModel, width: int) -> dict[int, np.ndarray]:
    fitted = model.model
    centres = np.asarray(getattr(fitted, "centers", np.zeros((0, width))), dtype=float)
    if centres.ndim != 2 or centres.shape[1] != width:
        return {}
    order = getattr(fitted, "order", None)
    public = order if order is not None else np.arange(len(centres))
    return {int(public[i]): centres[i] for i in range(len(centres))}


def _nanmean(X: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        present = (~np.isnan(X)).sum(axis=0)
        return np.where(present > 0, np.nansum(X, axis=0) / np.maximum(present, 1), np.nan)


def _nanstd(X: np.ndarray) -> np.ndarray:
    mean = _nanmean(X)
    with np.errstate(all="ignore"):
        present = (~np.isnan(X)).sum(axis=0)
        var = np.nansum((X - mean) ** 2, axis=0) / np.maximum(present, 1)
    return np.where(present > 0, np.sqrt(var), np.nan)


def _segment_noise(segments: Sequence[SegmentDrift], n_reference: int | None, n_new: int,
                   features: Sequence[FeatureDrift]) -> float:
    n_tests = sum(f.psi is not None for f in features) + 1
    return psi_noise_bound([s.reference_share for s in segments], n_new, n_reference,
                           n_tests=n_tests, seed=len(features))


def _with_expected_novelty(reference: dict[int, float], model: SavedModel) -> dict[int, float]:
    """The reference's unassigned share, at least what fresh customers of an unchanged
    population show by chance.

    A saved k-means or Ward model marks a customer unassigned when they lie farther from their
    segment's centre than every one of its n training members; a customer from the same
    population does so with probability 1/(n+1), so a new snapshot has some unassigned rows
    even when nothing changed, while the training data has none by construction. (Mixtures:
    less likely than every training row, 1/(N+1). HDBSCAN's noise share was measured in
    training.) Without this, a small table's own second half read as a large segment shift.
    """
    n_training = _training_rows(model)
    algorithm = model.info.algorithm
    if not n_training or algorithm == "hdbscan":
        return reference
    shares = {int(k): float(v) for k, v in model.info.segment_shares.items() if int(k) >= 0}
    if algorithm == "gmm":
        expected = 1.0 / (n_training + 1)
    else:
        expected = sum(share / (share * n_training + 1) for share in shares.values())
    if reference.get(-1, 0.0) >= expected:
        return reference
    # Taken evenly from the segments, so the reference shares still sum to one.
    scale = (1.0 - expected) / max(1e-12, 1.0 - reference.get(-1, 0.0))
    return {**{k: v * scale for k, v in reference.items() if k >= 0}, -1: expected}


def _training_rows(model: SavedModel) -> int | None:
    """Rows of the training table, when the model recorded them (newer bundles)."""
    return max((d.n_rows for d in model.info.distributions if d.n_rows), default=None)
