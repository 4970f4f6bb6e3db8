"""Feature drift: the population stability index of each feature, and the PSI that chance
alone reaches at the sizes compared.

Population stability index (PSI): ``sum((a - e) * ln(a / e))`` over bins, ``e`` the reference
shares and ``a`` the new ones. Numeric features are binned at the training deciles stored in the
model; the reference shares are OLD's values in those bins, or, against the model alone, the
training shares per bin the model stored (a column with many tied values, such as counts or
shares with many zeros, is far from a tenth per bin). Models saved before those shares were
stored fall back to what the deciles imply (``shares_from_quantiles``). Categorical features are
binned by level, with an "(other)" bucket for levels the reference did not have. PSI is
computed on the values present; missing values are checked on their own (the missing share).
An empty bin would make PSI infinite, so shares are floored at ``EMPTY_SHARE`` (see there).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from copilot.segmentation.model.bundle import FeatureDistribution, SavedModel
from copilot.segmentation.model.drift_report import EMPTY_SHARE, Bin, FeatureDrift

OTHER_BUCKET = "(other)"
_QUANTILES = tuple(i / 10 for i in range(11))  # as the bundle stores them


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
