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

Population stability index (PSI): ``sum((a - e) * ln(a / e))`` over bins, ``e`` the reference
shares and ``a`` the new ones. Numeric features are binned at the training deciles stored in the
model; the reference shares are OLD's values in those bins, or, against the model alone, the
training shares per bin the model stored (a column with many tied values, such as counts or
shares with many zeros, is far from a tenth per bin). Models saved before those shares were
stored fall back to what the deciles imply (``shares_from_quantiles``). Categorical features are
binned by level, with an "(other)" bucket for levels the reference did not have. PSI is
computed on the values present; missing values are checked on their own (the missing share).
An empty bin would make PSI infinite, so shares are floored at ``EMPTY_SHARE`` (see there).

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

import itertools
import math
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field
from scipy import stats

from copilot.core import Frozen, InputError
from copilot.segmentation.model.assign import assign_table
from copilot.segmentation.model.bundle import FeatureDistribution, SavedModel

# PSI lines: the credit-risk scorecard convention (Siddiqi, "Credit Risk Scorecards", 2006): under
# 0.1 no real shift, from 0.1 a moderate shift to watch, and a major shift from 0.25, a line many
# monitoring teams draw at 0.2 instead; the issue asks for 0.2 as the re-cluster line.
PSI_WATCH = 0.10
PSI_RECLUSTER = 0.20
# Share of customers in both snapshots who changed segment. The issue: re-cluster at 15-20% or
# more; the lower end, so the verdict errs towards a look. Watch from 10%: customers near a
# border swap with ordinary period-to-period noise (a few percent), so a lower line would cry
# wolf every period, while 10% is two thirds of the way to re-clustering.
MOVED_RECLUSTER = 0.15
MOVED_WATCH = 0.10
# A feature's missing share moving by 5 points or more is rarely behaviour: usually a data feed
# changed, and the model then scores those customers on fewer features.
MISSING_WATCH = 0.05
# Centroid shift in within-segment spreads: 0.5 is Cohen's "medium" standardised effect; the
# segment still exists but describes its members less well. A shift must also exceed
# CENTROID_NOISE_MULTIPLE times its sampling noise (about sqrt(1/n_ref + 1/n_new) spreads for
# two samples of the same segment), so a 20-member segment cannot raise it by chance.
CENTROID_WATCH = 0.5
# The whole-space shift is diluted when one feature of twenty moves, so a single input feature
# moving by a whole within-segment standard deviation (past Cohen's "large", 0.8) counts too.
CENTROID_COLUMN_WATCH = 1.0
CENTROID_NOISE_MULTIPLE = 3.0
# Floor for an empty bin's share. 1e-4 is the value most PSI implementations use: small enough
# that a bin emptying is loud (a decile vanishing adds 0.1 * ln(0.1 / 1e-4) = 0.69, past the
# re-cluster line on its own), large enough that one empty bin cannot make PSI infinite.
EMPTY_SHARE = 1e-4
# PSI of two samples of the same distribution is not 0: about (bins - 1) * (1/n_ref + 1/n_new)
# (n * PSI is roughly chi-squared). Say so when that floor reaches half the watch line.
MIN_CENTROID_MEMBERS = 5  # fewer members give a centre too noisy to compare
SPREAD_FLOOR = 0.1  # prepared columns have unit spread overall; a tenth avoids dividing by ~0
NOTABLE_COLUMN_SHIFT = 0.2  # Cohen's "small" effect: the report names a feature from there on
# An ID column identifies customers: a few repeated rows happen in exports, but when more than a
# tenth of the rows repeat an ID the column is not a customer ID and a join on it is meaningless.
MAX_REPEATED_ID_SHARE = 0.10
OTHER_BUCKET = "(other)"
UNASSIGNED = "unassigned"
_QUANTILES = tuple(i / 10 for i in range(11))  # as the bundle stores them

Verdict = Literal["stable", "watch", "re-cluster"]


class Thresholds(Frozen):
    """The lines the verdict used (recorded in the report so a reader can check it)."""

    psi_watch: float = PSI_WATCH
    psi_recluster: float = PSI_RECLUSTER
    moved_watch: float = MOVED_WATCH
    moved_recluster: float = MOVED_RECLUSTER
    missing_watch: float = MISSING_WATCH
    centroid_watch: float = CENTROID_WATCH
    centroid_column_watch: float = CENTROID_COLUMN_WATCH
    empty_share: float = EMPTY_SHARE


class Bin(Frozen):
    label: str
    reference: float  # share of the reference's present values
    new: float


class FeatureDrift(Frozen):
    name: str
    kind: Literal["numeric", "categorical", "datetime"]
    psi: float | None  # None: not compared (``note`` says why)
    bins: tuple[Bin, ...] = ()
    missing_reference: float = 0.0
    missing_new: float = 0.0
    # levels the reference lacks -> their share of the new snapshot's values
    new_levels: dict[str, float] = Field(default_factory=dict)
    note: str = ""
    # The PSI two samples of an unchanged population of these sizes stay under, all features
    # together, 99 times in 100 (``psi_noise_bound``); a PSI below it is not counted as drift.
    psi_noise: float | None = None
    missing_noise: float | None = None  # the same for the change in the missing share

    @property
    def missing_change(self) -> float:
        return self.missing_new - self.missing_reference


class SegmentDrift(Frozen):
    segment: int  # -1: unassigned
    name: str
    reference_share: float
    new_share: float
    centroid_shift: float | None = None  # in within-segment spreads; None: too few members
    shift_noise: float | None = None  # the shift two samples of an unchanged segment show
    # input feature -> how far the centre moved on it, in its own within-segment spreads
    feature_shifts: dict[str, float] = Field(default_factory=dict)
    largest_shift_feature: str | None = None  # the input feature that moved most ...
    largest_feature_shift: float | None = None  # ... in its own within-segment spreads ...
    largest_shift_direction: str = ""  # ... and which way: "higher", "later", "towards 'Pro'"

    @property
    def share_change(self) -> float:
        return self.new_share - self.reference_share


class Migration(Frozen):
    """Customers in both snapshots: rows are the OLD segment, columns the NEW one."""

    id_column: str
    segments: tuple[int, ...]
    names: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    row_shares: tuple[tuple[float, ...], ...]  # each OLD row sums to 1 (0 for an empty row)
    matched: int
    moved: int
    moved_share: float
    only_old: int
    only_new: int


class DriftVerdict(Frozen):
    level: Verdict
    reasons: tuple[str, ...]  # each cites the computed number and the line it crossed
    # What the level means here, in one sentence: a re-cluster because customers changed
    # segment says more than one because a distribution moved while they kept it.
    summary: str = ""


class DriftReport(Frozen):
    mode: Literal["snapshots", "snapshot-vs-model"]
    reference: str  # what the new snapshot is compared with
    new: str
    n_reference: int | None  # rows of OLD, or of the training data (None: not recorded)
    n_new: int
    model_id: str
    model_note: str
    id_column: str | None
    verdict: DriftVerdict
    migration: Migration | None
    segment_psi: float
    segments: tuple[SegmentDrift, ...]
    features: tuple[FeatureDrift, ...]
    thresholds: Thresholds = Thresholds()
    notes: tuple[str, ...] = ()
    segment_psi_noise: float = 0.0  # as FeatureDrift.psi_noise, for the segment shares


# --- PSI -----------------------------------------------------------------------------------

def psi(reference: Sequence[float], new: Sequence[float]) -> float:
    """Population stability index of two share vectors over the same bins.

    Shares are floored at ``EMPTY_SHARE`` (not renormalised), so an empty bin costs a large
    but finite amount.

    Examples
    --------
    >>> round(psi([0.5, 0.5], [0.25, 0.75]), 4)  # 0.25 ln 2 + 0.25 ln 1.5
    0.2747
    >>> psi([0.2, 0.8], [0.2, 0.8])
    0.0
    """
    e = np.maximum(np.asarray(reference, dtype=float), EMPTY_SHARE)
    a = np.maximum(np.asarray(new, dtype=float), EMPTY_SHARE)
    if e.shape != a.shape:
        raise ValueError("psi needs two share vectors over the same bins")
    return float(max(0.0, ((a - e) * np.log(a / e)).sum()))


# Sampling noise: an unchanged population still gives two samples whose shares differ, and
# the difference grows as the samples shrink (a PSI of about 9 x (1/n_ref + 1/n_new) on ten
# bins, and far more when small bins come out empty). A fixed line such as 0.2 is therefore
# only meaningful for large tables; below a few thousand rows the noise alone crosses it. Each
# PSI is held against the PSI that samples of its own sizes reach from one unchanged
# distribution, found by simulation with the same bins and the same empty-bin floor.
FALSE_ALARM = 0.01  # the chance that noise alone crosses any one bound of a report
NOISE_DRAWS = 4000


def psi_noise_bound(reference: Sequence[float], n_new: int, n_reference: int | None, *,
                    n_tests: int = 1, seed: int = 0) -> float:
    """The PSI an unchanged population stays under (all ``n_tests`` checks together fail
    ``FALSE_ALARM`` of the time) when ``n_new`` values are compared with ``n_reference``
    (None: a reference known exactly) over bins with shares ``reference``.

    Examples
    --------
    >>> big = psi_noise_bound([0.1] * 10, 100_000, 100_000)
    >>> small = psi_noise_bound([0.1] * 10, 100, 100)
    >>> bool(big < 0.01 < 0.2 < small)
    True
    """
    p = np.clip(np.asarray(reference, dtype=float), 0.0, None)
    if n_new < 1 or p.sum() <= 0:
        return 0.0
    p = p / p.sum()
    rng = np.random.default_rng(seed)
    new = rng.multinomial(n_new, p, size=NOISE_DRAWS) / n_new
    ref = (rng.multinomial(n_reference, p, size=NOISE_DRAWS) / n_reference
           if n_reference else np.broadcast_to(p, new.shape))
    e, a = np.maximum(ref, EMPTY_SHARE), np.maximum(new, EMPTY_SHARE)
    values = np.maximum(((a - e) * np.log(a / e)).sum(axis=1), 0.0)
    # Capped where the draws still estimate the quantile (20 draws beyond it).
    level = min(1.0 - FALSE_ALARM / max(n_tests, 1), 1.0 - 20.0 / NOISE_DRAWS)
    return float(np.quantile(values, level))


def decile_edges(quantiles: Sequence[float]) -> np.ndarray:
    """Cut points between bins: the interior deciles, ties merged (a spike is one bin).

    The bundle bins its training values with the same rule when it stores their shares.
    """
    return FeatureDistribution.edges_from_quantiles(quantiles)


def binned_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``values`` in each bin (-inf, e1], (e1, e2], ..., (e_last, inf)."""
    return FeatureDistribution.shares_in_bins(values, edges)


def shares_from_quantiles(quantiles: Sequence[float], edges: np.ndarray,
                          near: np.ndarray | None = None) -> np.ndarray:
    """The reference's bin shares when only its deciles are known (a saved model).

    A cut point equal to decile ``j`` alone has ``j/10`` of the data at or below it. Where the
    data may have a point mass there (a cut point shared by deciles ``a..b``, such as many
    zeros, or a whole number in a column of counts) the share at or below a cut point equal to
    decile ``b`` is only known to lie between ``b/10`` and ``(b+1)/10``. There
    the value in that range closest to ``near`` (the new snapshot's shares) is used, so a
    shift is reported only where the stored deciles cannot explain it: conservative, where
    comparing two snapshots (which bins both sets of actual values) has no such limit.
    """
    q = np.asarray(quantiles, dtype=float)
    steps = len(q) - 1
    # A column of whole numbers (counts): most inner deciles are whole; one that is not was
    # interpolated between two values, so no point mass sits on it.
    inner = q[1:-1]
    whole = len(inner) > 0 and float(np.mean(inner == np.round(inner))) >= 0.5
    near_cdf = np.cumsum(near)[:-1] if near is not None else None
    cdf = []
    for i, edge in enumerate(edges):
        hits = np.flatnonzero(q == edge)
        low, high = int(hits.min()), int(hits.max())
        exact = high / steps
        point_mass = low < high or (whole and edge == round(edge))
        if not point_mass or high == steps:
            cdf.append(exact)
            continue
        upper = (high + 1) / steps
        cdf.append(float(np.clip(near_cdf[i], exact, upper)) if near_cdf is not None
                   else (exact + upper) / 2)
    return np.clip(np.diff([0.0, *cdf, 1.0]), 0.0, 1.0)


def numeric_feature_drift(dist: FeatureDistribution, new: pd.Series,
                          reference: pd.Series | None = None) -> FeatureDrift:
    """PSI of a numeric feature over the deciles in ``dist``.

    With ``reference`` (OLD's values) the reference shares are OLD's binned values; without,
    the training shares per bin stored in ``dist``, or, for a model saved before those were
    stored, what the deciles imply (``shares_from_quantiles``).
    """
    new_values = _numbers(new)
    missing_new = _missing_share(new)
    missing_ref = _missing_share(reference) if reference is not None else dist.missing_share
    base = FeatureDrift(name=dist.name, kind="numeric", psi=None, missing_reference=missing_ref,
                        missing_new=missing_new)
    if len(dist.quantiles) < 2:
        return base.model_copy(update={"note": "the reference has no values to bin"})
    if not np.isfinite(new_values).any():
        return base.model_copy(update={"note": "the new snapshot has no values"})
    edges = decile_edges(dist.quantiles)
    if reference is not None:
        ref_values = _numbers(reference)
        if not np.isfinite(ref_values).any():
            return base.model_copy(update={"note": "the reference has no values"})
        expected = binned_shares(ref_values, edges)
        actual = binned_shares(new_values, edges)
    else:
        actual = binned_shares(new_values, edges)
        if len(dist.bin_shares) == len(edges) + 1:
            expected = np.asarray(dist.bin_shares, dtype=float)
        else:
            expected = shares_from_quantiles(dist.quantiles, edges, near=actual)
    bins = tuple(Bin(label=label, reference=float(e), new=float(a))
                 for label, e, a in zip(_bin_labels(edges), expected, actual, strict=True))
    return base.model_copy(update={"psi": psi(expected, actual), "bins": bins})


def categorical_feature_drift(dist: FeatureDistribution, new: pd.Series,
                              reference: pd.Series | None = None) -> FeatureDrift:
    """PSI of a categorical (or boolean) feature by level, unknown levels in "(other)".

    The levels are those in ``dist`` (the training's most common ones). With ``reference``
    (OLD's values) the reference shares are OLD's; without, the stored shares, and "(other)"
    gets what the stored levels leave.
    """
    known = [_level_key(k) for k in dist.levels]
    new_text = _level_text(new)
    missing_new = _missing_share(new)
    missing_ref = _missing_share(reference) if reference is not None else dist.missing_share
    base = FeatureDrift(name=dist.name, kind="categorical", psi=None,
                        missing_reference=missing_ref, missing_new=missing_new)
    if not known:
        return base.model_copy(update={"note": "the reference has no values"})
    if new_text.empty:
        return base.model_copy(update={"note": "the new snapshot has no values"})
    if reference is not None:
        ref_text = _level_text(reference)
        if ref_text.empty:
            return base.model_copy(update={"note": "the reference has no values"})
        ref_shares = ref_text.value_counts(normalize=True)
        seen = set(ref_shares.index)
    else:
        ref_shares = pd.Series({k: float(v) for k, v in zip(known, dist.levels.values(),
                                                               strict=True)})
        seen = set(known)
    new_shares = new_text.value_counts(normalize=True)
    buckets = [*known, OTHER_BUCKET]
    expected = _bucketed(ref_shares, known)
    actual = _bucketed(new_shares, known)
    unseen = {str(k): float(v) for k, v in new_shares.items() if k not in seen}
    bins = tuple(Bin(label=b, reference=float(e), new=float(a))
                 for b, e, a in zip(buckets, expected, actual, strict=True))
    return base.model_copy(update={"psi": psi(expected, actual), "bins": bins,
                                   "new_levels": unseen})


def _bucketed(shares: pd.Series, known: list[str]) -> np.ndarray:
    inside = shares.reindex(known).fillna(0.0).to_numpy(dtype=float)
    return np.r_[inside, max(0.0, 1.0 - inside.sum())]


def _numbers(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _missing_share(series: pd.Series) -> float:
    return float(series.isna().mean()) if len(series) else 0.0


_INTEGRAL_TEXT = re.compile(r"^-?\d+\.0+$")


def _level_key(level: str) -> str:
    # "3.0" and "3" are the same level: pandas writes an integer column with gaps as floats.
    return level.split(".")[0] if _INTEGRAL_TEXT.match(level) else level


def _level_text(series: pd.Series) -> pd.Series:
    values = series.dropna()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype(float)
        if len(numbers) and np.all(np.mod(numbers, 1) == 0):
            return numbers.astype("int64").astype(str)
    return values.astype(str).map(_level_key)


def _bin_labels(edges: np.ndarray) -> list[str]:
    if not len(edges):
        return ["all values"]
    labels = [f"<= {edges[0]:.4g}"]
    labels += [f"{lo:.4g} to {hi:.4g}" for lo, hi in itertools.pairwise(edges)]
    return [*labels, f"> {edges[-1]:.4g}"]


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
                     f"{reference[-1]:.1%}: the share of fresh customers from an unchanged "
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


def _training_rows(model: SavedModel) -> int | None:
    """Rows of the training table, when the model recorded them (newer bundles)."""
    return max((d.n_rows for d in model.info.distributions if d.n_rows), default=None)


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
        notes.append(f"{label}: {n_novel:,} row(s) ({n_novel / len(df):.1%}) lie farther from "
                     "every segment than any training customer did; they count as unassigned "
                     "in the segment shares and the migration.")
    if n_unscored:
        notes.append(f"{label}: {n_unscored:,} row(s) have no value in any feature; they count "
                     "as unassigned in the segment shares and the migration.")
    return result.frame["segment"].to_numpy(dtype=int)


def _feature_drifts(model: SavedModel, new: pd.DataFrame,
                    old: pd.DataFrame | None) -> tuple[FeatureDrift, ...]:
    info = model.info
    roles = {c.name: c.role for c in info.schema_}
    distributions = list(info.distributions)
    if not distributions and old is not None:
        distributions = _distributions_of(old, info.features, roles)
    out = []
    for dist in distributions:
        if dist.name not in new.columns or (old is not None and dist.name not in old.columns):
            continue  # a missing model column was refused at assignment; this one is unused
        ref = old[dist.name] if old is not None else None
        if roles.get(dist.name) == "datetime":
            # Dates move on between snapshots by construction; PSI of timestamps says nothing.
            out.append(FeatureDrift(name=dist.name, kind="datetime", psi=None,
                                    missing_reference=_missing_share(ref) if ref is not None
                                    else dist.missing_share,
                                    missing_new=_missing_share(new[dist.name]),
                                    note="dates are not compared (they move on by construction)"))
        elif dist.kind == "numeric":
            out.append(numeric_feature_drift(dist, new[dist.name], ref))
        else:
            out.append(categorical_feature_drift(dist, new[dist.name], ref))
    return tuple(out)


def _distributions_of(df: pd.DataFrame, features: Sequence[str],
                      roles: dict[str, str]) -> list[FeatureDistribution]:
    """OLD's deciles and level shares, for a model saved without its training distributions."""
    out = []
    for name in features:
        if name not in df.columns:
            continue
        if roles.get(name) == "numeric":
            values = _numbers(df[name])
            values = values[~np.isnan(values)]
            q = tuple(float(v) for v in np.quantile(values, _QUANTILES)) if len(values) else ()
            out.append(FeatureDistribution(name=name, kind="numeric", quantiles=q))
        else:
            shares = _level_text(df[name]).value_counts(normalize=True).head(50)
            out.append(FeatureDistribution(name=name, kind="categorical",
                                           levels={str(k): float(v) for k, v in shares.items()}))
    return out


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


def _with_noise(features: tuple[FeatureDrift, ...], n_reference: int | None,
                n_new: int) -> tuple[FeatureDrift, ...]:
    """Each compared feature with the PSI its sample sizes reach by chance (``psi_noise``)."""
    n_tests = sum(f.psi is not None for f in features) + 1  # and the segment shares
    out = []
    for i, f in enumerate(features):
        if f.psi is None:
            out.append(f)
            continue
        n_ref = round(n_reference * (1 - f.missing_reference)) if n_reference else None
        noise = psi_noise_bound([b.reference for b in f.bins],
                                round(n_new * (1 - f.missing_new)), n_ref or None,
                                n_tests=n_tests, seed=i)
        out.append(f.model_copy(update={"psi_noise": noise}))
    # The missing shares: a two-proportion bound at the same false-alarm rate.
    z = float(stats.norm.ppf(1 - FALSE_ALARM / (2 * max(len(out), 1))))
    inverse = 1 / max(n_new, 1) + (1 / n_reference if n_reference else 0.0)
    return tuple(f.model_copy(update={"missing_noise": z * math.sqrt(
        max(p, 1 / max(n_new, 1)) * (1 - p) * inverse)})
        for f in out for p in [(f.missing_reference + f.missing_new) / 2])


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
        text = (f"{m.moved_share:.1%} of the {m.matched:,} customers in both snapshots changed "
                f"segment ({m.moved:,})")
        if m.moved_share >= MOVED_RECLUSTER:
            recluster.append(f"{text}; re-cluster at {MOVED_RECLUSTER:.0%}.")
        elif m.moved_share >= MOVED_WATCH:
            watch.append(f"{text}; watch from {MOVED_WATCH:.0%}.")
        else:
            kept = (f", while {1 - m.moved_share:.1%} of the {m.matched:,} customers in both "
                    "snapshots kept their segment")
    moved_customers = bool(recluster)
    for f in sorted((f for f in features if f.psi is not None), key=lambda f: -f.psi):
        text = f"PSI of {f.name} is {f.psi:.3f}"
        unseen = sum(f.new_levels.values())
        if unseen >= 0.01:
            levels = ", ".join(sorted(f.new_levels, key=lambda k: -f.new_levels[k])[:3])
            text += f" ({unseen:.1%} of its values are levels not seen before: {levels})"
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
            noise.append(f"The missing share of {f.name} moved from {f.missing_reference:.1%} "
                         f"to {f.missing_new:.1%}, within what chance gives at these sizes (up "
                         f"to {f.missing_noise * 100:.1f} points), so it is not counted.")
        elif abs(f.missing_change) >= MISSING_WATCH:
            watch.append(f"The missing share of {f.name} moved from {f.missing_reference:.1%} "
                         f"to {f.missing_new:.1%}; watch from {MISSING_WATCH * 100:.0f} points "
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
                f"{1 - migration.moved_share:.1%} of the customers in both snapshots kept their "
                "segment; judge whether the moved features matter for how you treat these "
                "customers before re-running the segmentation on the new snapshot.")
    return ("the data moved past the re-cluster line, so the segments may no longer describe "
            "these customers well; re-run the segmentation on the new snapshot.")


def _stable_reasons(features, segment_psi, migration) -> tuple[str, ...]:
    reasons = []
    if migration is not None:
        reasons.append(f"{migration.moved_share:.1%} of the {migration.matched:,} customers in "
                       f"both snapshots changed segment, under the watch line of "
                       f"{MOVED_WATCH:.0%}.")
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


# --- the readable report -------------------------------------------------------------------

# For a report saved before verdicts carried their own summary.
_HEADLINES = {**_SUMMARIES, "re-cluster": _recluster_summary(True, "", None)}


def render_markdown(report: DriftReport) -> str:
    """The report as Markdown: verdict and reasons first, then the tables behind them."""
    r = report
    lines = [f"# Drift report: {r.verdict.level.upper()}", ""]
    if r.mode == "snapshots":
        lines.append(f"Compared {r.reference} with {r.new} ({r.n_reference:,} and {r.n_new:,} "
                     f"rows), customers matched on `{r.id_column}`.")
    else:
        rows = f" ({r.n_reference:,} rows)" if r.n_reference else ""
        lines.append(f"Checked {r.new} ({r.n_new:,} rows) against {r.reference}{rows}.")
    lines.append(f"Model {r.model_id}" + (f": {r.model_note}" if r.model_note else "") + ".")
    summary = r.verdict.summary or _HEADLINES[r.verdict.level]
    lines += ["", f"**Verdict: {r.verdict.level}**: {summary}", ""]
    lines += [f"- {reason}" for reason in r.verdict.reasons]
    if r.migration is not None:
        lines += ["", *_migration_section(r.migration, r.reference, r.new)]
    lines += ["", *_segments_section(r)]
    lines += ["", *_features_section(r)]
    if r.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in r.notes]
    t = r.thresholds
    lines += ["", "## How to read this", "",
              (f"- PSI (population stability index): under {t.psi_watch} stable, "
               f"{t.psi_watch}-{t.psi_recluster} watch, {t.psi_recluster} or more re-cluster "
               "(the credit-risk convention). Numeric bins are the training deciles; empty bins "
               f"count as a share of {t.empty_share:g}. A PSI under what two samples of these "
               "sizes from an unchanged population reach (\"chance reaches\", simulated; 1 "
               "false alarm in 100 reports) is not counted, nor is a missing-share change "
               "within its own chance bound."),
              (f"- Changed segment: watch from {t.moved_watch:.0%}, re-cluster from "
               f"{t.moved_recluster:.0%} of the customers in both snapshots."),
              ("- Centre shift: how far a segment's centre moved, in its own within-segment "
               f"spreads (standardised features); watch from {t.centroid_watch}, or from "
               f"{t.centroid_column_watch} on a single feature (in that feature's own "
               "within-segment standard deviations), when beyond the noise shown."),
              (f"- Missing share: a change of {t.missing_watch * 100:.0f} points or more is "
               "flagged.")]
    return "\n".join(lines) + "\n"


def _migration_section(m: Migration, old: str, new: str) -> list[str]:
    lines = ["## Migration (customers in both snapshots)", "",
             (f"{m.matched:,} customers are in both; {m.moved:,} ({m.moved_share:.1%}) changed "
              f"segment. {m.only_old:,} are only in {old}, {m.only_new:,} only in {new}."), "",
             f"Rows: segment in {old}; columns: segment in {new}; count (share of the row).", ""]
    heads = [_short(s, n) for s, n in zip(m.segments, m.names, strict=True)]
    lines.append(f"| {old} \\ {new} | " + " | ".join(heads) + " |")
    lines.append("|---" * (len(heads) + 1) + "|")
    for head, counts, shares in zip(heads, m.counts, m.row_shares, strict=True):
        cells = [f"{c:,} ({s:.0%})" for c, s in zip(counts, shares, strict=True)]
        lines.append(f"| {head} | " + " | ".join(cells) + " |")
    flows = sorted(((m.counts[i][j], i, j) for i in range(len(m.segments))
                    for j in range(len(m.segments)) if i != j and m.counts[i][j]), reverse=True)
    if flows:
        lines += ["", "Largest moves: " + "; ".join(
            f"{heads[i]} to {heads[j]}: {c:,}" for c, i, j in flows[:3]) + "."]
    return lines


def _segments_section(r: DriftReport) -> list[str]:
    ref = "training" if r.mode == "snapshot-vs-model" else r.reference
    lines = ["## Segment shares", "",
             f"PSI of the segment shares: {r.segment_psi:.3f}"
             + (f" (chance reaches {r.segment_psi_noise:.3f} at these sizes)."
                if r.segment_psi_noise else "."), "",
             f"| Segment | {ref} share | {r.new} share | Change (points) | Centre shift |",
             "|---|---|---|---|---|"]
    for s in r.segments:
        shift = "n/a" if s.centroid_shift is None else f"{s.centroid_shift:.2f}"
        if s.centroid_shift is not None:
            most = ""
            if (s.largest_feature_shift or 0.0) >= NOTABLE_COLUMN_SHIFT:
                way = f" {s.largest_shift_direction}" if s.largest_shift_direction else ""
                most = (f"; most: {s.largest_shift_feature}, {s.largest_feature_shift:.2f}"
                        f"{way}")
            shift += f" (noise ~{s.shift_noise:.2f}{most})"
        lines.append(f"| {_short(s.segment, s.name)} | {s.reference_share:.1%} | "
                     f"{s.new_share:.1%} | {s.share_change * 100:+.1f} | {shift} |")
    return lines


def _features_section(r: DriftReport) -> list[str]:
    if not r.features:
        return ["## Feature drift", "", "No feature distributions to compare."]
    lines = ["## Feature drift (PSI)", "",
             "| Feature | Kind | PSI | Chance reaches | Flag | Missing (reference to new) | Note |",
             "|---|---|---|---|---|---|---|"]
    ranked = sorted(r.features, key=lambda f: -1.0 if f.psi is None else -f.psi)
    for f in ranked:
        note = f.note
        if f.new_levels:
            levels = ", ".join(sorted(f.new_levels, key=lambda k: -f.new_levels[k])[:3])
            note = f"new levels ({sum(f.new_levels.values()):.1%}): {levels}"
        chance = "" if f.psi_noise is None else f"{f.psi_noise:.3f}"
        lines.append(f"| {f.name} | {f.kind} | {'n/a' if f.psi is None else f'{f.psi:.3f}'} | "
                     f"{chance} | {_flag(f.psi, f.psi_noise)} | {f.missing_reference:.1%} to "
                     f"{f.missing_new:.1%} | {note} |")
    return lines


def _flag(value: float | None, noise: float | None = None) -> str:
    if value is None:
        return ""
    if value >= PSI_WATCH and value < (noise or 0.0):
        return "chance"
    if value >= PSI_RECLUSTER:
        return "re-cluster"
    return "watch" if value >= PSI_WATCH else "ok"


def _short(segment: int, name: str) -> str:
    name = name.replace("|", "/")  # a pipe would split the Markdown table cell
    if segment < 0:
        return name
    return name if name.startswith(f"Segment {segment}") else f"{segment}: {name}"
