"""Drift and migration: has the customer base moved enough to re-cluster?

Two modes, one report:

- ``compare_snapshots(old, new, model)``: two snapshots of the same customers. Both are assigned
  with the model; customers in both (joined on the ID column) give the migration matrix (who
  moved where) and the share who changed segment; the feature distributions, the segment
  shares and each segment's centre are compared between the snapshots.
- ``check_snapshot(new, model)``: a new snapshot alone against a saved model: the same
  distribution checks against what the model recorded about its training data (deciles and the
  training's share per bin, level shares, segment shares, centres). No migration: there is no earlier assignment to compare.

Without a saved model, ``train_reference_model(old)`` fits one on OLD with the engine defaults.

The pieces: ``drift_report`` (the report's records and the lines its verdict draws),
``drift_features`` (PSI and feature drift), ``drift_segments`` (segment shares, migration and
centroid shift), ``drift_verdict`` (stable, watch or re-cluster) and ``drift_render`` (the
report as Markdown).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from copilot.core import InputError, percent
from copilot.segmentation.model.assign import assign_table
from copilot.segmentation.model.bundle import SavedModel
from copilot.segmentation.model.drift_features import _feature_drifts, _with_noise
from copilot.segmentation.model.drift_report import DriftReport
from copilot.segmentation.model.drift_segments import (
    MIN_CENTROID_MEMBERS,
    UNASSIGNED,
    _segment_drifts,
    _segment_noise,
    _segment_psi,
    _shares,
    _training_rows,
    _with_centroid_shifts,
    _with_expected_novelty,
    migration_matrix,
)
from copilot.segmentation.model.drift_verdict import decide

# --- the two modes -------------------------------------------------------------------------


def compare_snapshots(old: pd.DataFrame, new: pd.DataFrame, model: SavedModel, *,
                      id_column: str | None = None, old_label: str = "OLD",
                      new_label: str = "NEW", model_note: str = "") -> DriftReport:
    """Drift and migration between two snapshots of the same customers.

    Parameters
    ----------
    old, new : DataFrame
        The earlier and the later snapshot, one row per customer, the model's columns.
    model : SavedModel
        Assigns both snapshots; its stored deciles define the numeric bins.
    id_column : str, optional
        The column that identifies a customer in both (default: the model's ID column).
    old_label, new_label, model_note : str
        How the report names the snapshots and where the model came from.

    Raises ``InputError`` when the snapshots lack the ID column, share no customer, or lack
    the model's columns.
    """
    info = model.info
    key = id_column or info.id_column
    if key is None:
        raise InputError("The model has no customer ID column, so customers cannot be matched "
                         "between the snapshots; pass --id COLUMN, or compare the new snapshot "
                         "alone against the model.")
    for label, frame in ((old_label, old), (new_label, new)):
        if key not in frame.columns:
            raise InputError(f"{label} has no column '{key}' to match customers on; pass --id "
                             "with the customer ID column both snapshots share.")
    notes: list[str] = []
    old, new = _in_scope(model, old, old_label, notes), _in_scope(model, new, new_label, notes)
    for label, frame in ((old_label, old), (new_label, new)):
        _enough_rows(model, frame, label)
    old_labels = _assign(model, old, old_label, notes)
    new_labels = _assign(model, new, new_label, notes)
    migration = migration_matrix(old[key], old_labels, new[key], new_labels, model,
                                 id_column=key, old_label=old_label, new_label=new_label,
                                 notes=notes)
    features = _with_noise(_feature_drifts(model, new, old), len(old), len(new))
    # Both snapshots go through the model, and the same customers unchanged keep their
    # distances: no expected novelty here (unlike fresh customers against the model alone).
    segments = _segment_drifts(model, _shares(old_labels), _shares(new_labels))
    segments = _with_centroid_shifts(segments, model, new, new_labels,
                                     reference=(old, old_labels))
    segment_psi = _segment_psi(segments)
    segment_noise = _segment_noise(segments, len(old), len(new), features)
    return DriftReport(
        mode="snapshots", reference=old_label, new=new_label, n_reference=len(old),
        n_new=len(new), model_id=info.bundle_id, model_note=model_note, id_column=key,
        verdict=decide(features, segment_psi, segments, migration, segment_noise),
        migration=migration, segment_psi=segment_psi, segments=segments, features=features,
        notes=tuple(notes), segment_psi_noise=segment_noise)


def check_snapshot(new: pd.DataFrame, model: SavedModel, *, new_label: str = "NEW",
                   model_note: str = "") -> DriftReport:
    """Distribution checks of one snapshot against what the model recorded of its training data.

    Feature PSI against the stored deciles and level shares, segment-share PSI against the
    training shares, and each segment's centre against the model's. No migration.
    """
    info = model.info
    notes: list[str] = []
    new = _in_scope(model, new, new_label, notes)
    _enough_rows(model, new, new_label)
    new_labels = _assign(model, new, new_label, notes)
    n_training = _training_rows(model)
    features = _with_noise(_feature_drifts(model, new, None), n_training, len(new))
    if not info.distributions:
        notes.append("The model was saved without its training distributions, so features "
                     "cannot be compared; save it again from the training table.")
    trained = {int(k): float(v) for k, v in info.segment_shares.items()}
    reference = _with_expected_novelty(trained, model)
    if reference.get(-1, 0.0) > trained.get(-1, 0.0):
        notes.append(f"The training data's unassigned share is taken as "
                     f"{percent(reference[-1], 1)}: the share of fresh customers from an unchanged "
                     "population that lie beyond every training customer by chance.")
    segments = _segment_drifts(model, reference, _shares(new_labels))
    segments = _with_centroid_shifts(segments, model, new, new_labels, reference=None,
                                     n_training=n_training)
    segment_psi = _segment_psi(segments)
    if info.preparation.pca is not None:
        notes.append("The model clusters on principal components, so against the model alone a "
                     "centre's shift on each feature counts only the part of the move those "
                     "components keep (it can read low); compare with the earlier snapshot "
                     "for the full figure.")
    segment_noise = _segment_noise(segments, n_training, len(new), features)
    return DriftReport(
        mode="snapshot-vs-model", reference="the model's training data", new=new_label,
        n_reference=n_training, n_new=len(new), model_id=info.bundle_id, model_note=model_note,
        id_column=info.id_column,
        verdict=decide(features, segment_psi, segments, None, segment_noise),
        migration=None, segment_psi=segment_psi, segments=segments, features=features,
        notes=tuple(notes), segment_psi_noise=segment_noise)


MIN_SNAPSHOT_ROWS = 30


def _enough_rows(model: SavedModel, df: pd.DataFrame, label: str) -> None:
    """A verdict needs customers enough to see the segments' shares: with 2 customers every
    share moves by half, so "stable" or "re-cluster" would be a coin toss said with
    confidence."""
    need = max(MIN_SNAPSHOT_ROWS, MIN_CENTROID_MEMBERS * model.info.k)
    if len(df) < need:
        raise InputError(f"{label} has {len(df):,} customer{'s' if len(df) != 1 else ''}, too "
                         f"few to judge drift across {model.info.k} segments; compare a snapshot "
                         f"of at least {need} customers.")


def _in_scope(model: SavedModel, df: pd.DataFrame, label: str, notes: list[str]
              ) -> pd.DataFrame:
    """Only the customers a scoped model was trained on: the others have no segment to drift
    from (a customer who left the scope shows as gone from the later snapshot)."""
    if model.info.scope is None:
        return df
    kept, note = model.info.scope.within(df, label)
    if note:
        notes.append(note)
    return kept


def train_reference_model(old: pd.DataFrame, *, id_column: str | None = None,
                          seed: int = 0) -> SavedModel:
    """A model fitted on ``old`` with the engine defaults, as a saved model would load.

    It goes through a temporary bundle so that it assigns exactly as a saved one does.
    """
    from copilot.segmentation.analysis import SegmentSettings, run_segmentation
    from copilot.segmentation.model.bundle import load_bundle, save_bundle

    run = run_segmentation(old, SegmentSettings(id_column=id_column, seed=seed))
    with tempfile.TemporaryDirectory(prefix="segment-copilot-compare-") as tmp:
        folder = save_bundle(run, Path(tmp) / "model", df=old)
        return load_bundle(folder)


def _assign(model: SavedModel, df: pd.DataFrame, label: str, notes: list[str]) -> np.ndarray:
    """Each row's segment (-1: unassigned or unscored), with the same checks as ``assign``.

    Errors name the snapshot (``label``): with two inputs, "the table" would not say which.
    """
    needed = model.info.preparation.input_columns
    missing = [c for c in needed if c not in df.columns]
    if missing and len(missing) == len(needed):
        raise InputError(f"{label} has none of the columns the model was trained on (such as "
                         f"{', '.join(needed[:3])}); give a snapshot of the customer table the "
                         "model was built from, not an assignments or CRM export.")
    if missing:
        raise InputError(f"{label} lacks column(s) the model was trained on: "
                         f"{', '.join(missing)}; supply a snapshot with the same columns as the "
                         "training table.")
    # The ID column is left out: only the labels are needed here, and assign_table's holdout
    # step cannot hash a missing ID.
    key = model.info.id_column
    try:
        result = assign_table(model, df.drop(columns=[key]) if key in df.columns else df,
                              require_id=False)
    except InputError as err:
        raise InputError(f"{label}: {err}") from None
    # assign's notes on unassigned and unscored rows speak to someone assigning (one of them
    # says to run compare): say here what those rows mean for the comparison instead.
    notes += [f"{label}: {note}" for note in result.notes
              if not any(word in note for word in ("unassigned", "unscored", "compare"))]
    names = result.frame["segment_name"]
    n_novel, n_unscored = int((names == UNASSIGNED).sum()), int((names == "unscored").sum())
    if n_novel:
        notes.append(f"{label}: {n_novel:,} row(s) ({percent(n_novel / len(df), 1)}) lie farther from "
                     "every segment than any training customer did; they count as unassigned "
                     "in the segment shares and the migration.")
    if n_unscored:
        notes.append(f"{label}: {n_unscored:,} row(s) have no value in any feature; they count "
                     "as unassigned in the segment shares and the migration.")
    return result.frame["segment"].to_numpy(dtype=int)
