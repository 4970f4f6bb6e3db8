"""Two-dimensional views of the segments for scatter plots (PCA or t-SNE on a sample)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from copilot.core import Frozen, SettingsError
from copilot.segmentation.analysis.parallel import thread_limits

Method = Literal["pca", "tsne"]

#: PCA is fitted on at most this many rows (chosen at random); the cost beyond is only linear
#: in the transform.
PCA_FIT_ROWS = 20_000  # two components are pinned down by far fewer rows than this
#: t-SNE on fewer sampled rows than this runs single-threaded.
TSNE_ONE_THREAD_BELOW = 2000


class Projection(Frozen):
    """Sampled rows placed in two dimensions, with their segment labels."""

    method: Method
    row_index: tuple[int, ...]  # positions of the sampled rows in X (ascending)
    x: tuple[float, ...]
    y: tuple[float, ...]
    labels: tuple[int, ...]
    explained_variance: tuple[float, float] | None  # PCA: share of variance per axis


def _stratified_indices(
    labels: np.ndarray,
    size: int,
    *,
    random_state: int = 0,
    min_per_group: int = 1,
) -> np.ndarray:
    """Positions of a stratified random sample of at most ``size`` rows, ascending.

    Each label value (``-1`` included) gets a share of the sample proportional to its size, but
    at least ``min(group size, min_per_group)`` rows, so every group stays represented. Only if
    there are more groups than ``size`` does the sample exceed ``size`` (one row per group).
    """
    labels = np.asarray(labels).reshape(-1)
    n = len(labels)
    if size >= n:
        return np.arange(n)
    _groups, inv, counts = np.unique(labels, return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    floor = np.minimum(counts, max(1, int(min_per_group)))
    if floor.sum() > size:
        floor = np.minimum(counts, 1)
    exact = size * counts / n
    quota = np.maximum(np.floor(exact).astype(np.int64), floor)
    # Too many rows because of the floors: take them back from the groups with most room.
    excess = int(quota.sum()) - size
    for g in np.argsort(-(quota - floor), kind="stable"):
        if excess <= 0:
            break
        take = min(excess, int(quota[g] - floor[g]))
        quota[g] -= take
        excess -= take
    # Rows left over from rounding down: give them to the largest remainders.
    left = size - int(quota.sum())
    for g in np.argsort(-(exact - np.floor(exact)), kind="stable"):
        if left <= 0:
            break
        if quota[g] < counts[g]:
            quota[g] += 1
            left -= 1

    rng = np.random.default_rng(random_state)
    perm = rng.permutation(n)
    by_group = perm[np.argsort(inv[perm], kind="stable")]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n) - np.repeat(starts, counts)
    keep = rank < np.repeat(quota, counts)
    return np.sort(by_group[keep])


def project_2d(
    X: np.ndarray,
    labels: np.ndarray,
    *,
    method: Method = "pca",
    sample: int = 5000,
    random_state: int = 0,
) -> Projection:
    """Place a stratified sample of rows in two dimensions.

    Parameters
    ----------
    X : numpy.ndarray
        The prepared numeric matrix (rows aligned with ``labels``), finite values only.
    labels : numpy.ndarray
        One integer per row: segments ``0..k-1`` and ``-1`` for unassigned rows.
    method : {"pca", "tsne"}, default "pca"
        ``"pca"``: the first two principal components (fitted on up to 200,000 rows).
        ``"tsne"``: t-SNE on the sample, initialised from PCA.
    sample : int, default 5000
        At most this many rows are returned; every segment (and the unassigned rows) keeps at
        least a few rows even when it is small.
    random_state : int, default 0
        Seed for the sample and t-SNE; the same inputs give the same output.

    Returns
    -------
    Projection
        Coordinates of the sampled rows, their positions in ``X`` and their labels;
        ``explained_variance`` is the share of variance on each axis for PCA, None for t-SNE.

    Raises
    ------
    SettingsError
        If ``method`` is unknown or ``sample`` is not positive.
    ValueError
        If ``X`` and ``labels`` do not line up or ``X`` has missing or infinite values.
    """
    X, labels = _checked_inputs(X, labels, method, sample)
    n_groups = len(np.unique(labels))
    min_per_group = max(1, sample // (10 * max(1, n_groups)))
    idx = _stratified_indices(labels, sample, random_state=random_state,
                              min_per_group=min_per_group)
    Xs = X[idx].astype(float, copy=False)

    if method == "tsne" and len(idx) >= 5:
        coords = _tsne_coords(Xs, random_state)
        explained = None
        used: Method = "tsne"
    else:
        coords, explained = _pca_coords(X, Xs, random_state)
        used = "pca"
    return Projection(
        method=used,
        row_index=tuple(int(i) for i in idx),
        x=tuple(float(v) for v in coords[:, 0]),
        y=tuple(float(v) for v in coords[:, 1]),
        labels=tuple(int(v) for v in labels[idx]),
        explained_variance=explained,
    )


def _checked_inputs(X: np.ndarray, labels: np.ndarray, method: str, sample: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as a 2D float matrix and ``labels`` as integers; refuses an unknown method, a
    sample below one row, shapes that do not line up or values that are not finite."""
    if method not in ("pca", "tsne"):
        raise SettingsError(f"Unknown projection method '{method}'; use 'pca' or 'tsne'.")
    if sample < 1:
        raise SettingsError(f"The projection sample must be at least 1 row, not {sample}.")
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):  # a float32 matrix stays one: no 2x copy
        X = X.astype(float)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    labels = np.asarray(labels).astype(np.int64, copy=False).reshape(-1)
    if X.ndim != 2 or X.shape[0] != len(labels):
        raise ValueError(f"X has shape {X.shape} but there are {len(labels)} labels")
    if not np.isfinite(X).all():
        raise ValueError("X must be the prepared matrix, without missing or infinite values")
    return X, labels


def _tsne_coords(Xs: np.ndarray, random_state: int) -> np.ndarray:
    """t-SNE of the sampled rows, initialised from PCA (a single column padded with zeros)."""
    perplexity = float(min(30.0, (len(Xs) - 1) / 3.0))
    Xin = Xs if Xs.shape[1] >= 2 else np.column_stack([Xs, np.zeros(len(Xs))])
    # On small samples OpenMP threads cost more than they give (and far more on a busy
    # machine), so t-SNE runs on one thread there.
    with thread_limits(1 if len(Xs) < TSNE_ONE_THREAD_BELOW else None):
        coords = TSNE(
            n_components=2,
            init="pca",
            perplexity=perplexity,
            random_state=random_state,
        ).fit_transform(Xin)
    return coords


def _pca_coords(
    X: np.ndarray, Xs: np.ndarray, random_state: int
) -> tuple[np.ndarray, tuple[float, float]]:
    """First two principal components of ``Xs`` (fitted on ``X``), zero-padded if fewer."""
    n, p = X.shape
    coords = np.zeros((len(Xs), 2))
    n_comp = min(2, n, p)
    if n_comp == 0 or n < 2 or np.ptp(X, axis=0).max() == 0:
        return coords, (0.0, 0.0)  # nothing varies: every row at the origin
    fit_rows = X
    if n > PCA_FIT_ROWS:
        rng = np.random.default_rng(random_state)
        fit_rows = X[np.sort(rng.choice(n, PCA_FIT_ROWS, replace=False))]
    fit_rows = fit_rows.astype(float, copy=False)
    pca = PCA(n_components=n_comp, random_state=random_state).fit(fit_rows)
    coords[:, :n_comp] = pca.transform(Xs)
    ratio = np.zeros(2)
    ratio[:n_comp] = np.nan_to_num(pca.explained_variance_ratio_)
    return coords, (float(ratio[0]), float(ratio[1]))
