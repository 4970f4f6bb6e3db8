"""Clustering algorithms behind one interface: fit on rows, assign any rows with a confidence.

k-means, Gaussian mixture, agglomerative (Ward) and HDBSCAN. Each fitted model is reduced to
what assignment needs (centres, plus the mixture's parameters), so assigning a million rows, or
new customers later, is a nearest-centre or posterior computation, whatever the algorithm.

Missing values: the prepared matrix keeps NaN where a value was missing. Rows are assigned by
the *partial distance* to each centre (observed columns only, rescaled to the full width), and
their gaps are then filled with the centre's values. A global median fill would pull 5-10% of
every column towards the middle of the table and blur the segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from copilot.core import SettingsError
from copilot.segmentation.analysis.mixture import ASSIGN_CHUNK, Layout, fit_mixed_mixture
from copilot.segmentation.analysis.parallel import in_chunks, thread_limits

ALGORITHMS: tuple[str, ...] = ("kmeans", "gmm", "hierarchical", "hdbscan")
HIERARCHICAL_MAX_ROWS = 4000  # Ward needs the n^2/2 distance matrix: 4000 rows is 64 MB


@dataclass(frozen=True)
class FittedClusters:
    """A fitted clustering reduced to what assigning rows needs.

    ``labels`` are for the rows it was fitted on; -1 marks density noise (HDBSCAN only).
    """

    algorithm: str
    k: int
    centers: np.ndarray
    labels: np.ndarray
    inertia: float | None = None
    bic: float | None = None
    icl: float | None = None
    radius: np.ndarray | None = None  # per segment, the 97.5% quantile of member distances
    # Novelty limits for rows scored after training (set by fit_final): a new row farther from
    # its segment's centre than any training member was (``reach``, centroid models), or less
    # likely under the mixture than any training row was (``min_loglik``), is "unassigned".
    # They are the training extremes, not a quantile, so re-assigning the training rows gives
    # exactly their training segments.
    reach: np.ndarray | None = None
    min_loglik: float | None = None
    mixture: object | None = field(default=None, repr=False)
    # Maps the fitted model's segment numbers to the public ones (0 = largest segment).
    order: np.ndarray | None = None

    def renumbered(self, labels: np.ndarray) -> FittedClusters:
        """The same model, numbering segments by their size in ``labels`` (largest first)."""
        public = relabel_by_size(labels)
        order = np.arange(self.centers.shape[0])
        for old in np.unique(labels[labels >= 0]):
            order[old] = public[np.flatnonzero(labels == old)[0]]
        return replace(self, order=order)

    def assign(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Segment and confidence (0-1) for every row of ``X``; NaN entries allowed."""
        labels, confidence, _ = self.assign_with_fit(X)
        return self._public(labels), confidence

    def assign_with_fit(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like ``assign`` in the fitted numbering, plus each row's fit: the distance to its
        segment's centre, or for mixtures the row's log-likelihood. Novel rows are -1."""
        if self.mixture is not None:
            # Mixtures score each row on the columns it has: no filling needed.
            labels, confidence, fit = self.mixture.assign(X, with_loglik=True)
            if self.min_loglik is not None:
                novel = fit < self.min_loglik - _TOLERANCE * max(1.0, abs(self.min_loglik))
                labels[novel], confidence[novel] = -1, 0.0
            return labels, confidence, fit
        _, dist = fill_from_centers(X, self.centers)
        labels = dist.argmin(axis=1).astype(int)
        confidence = distance_confidence(dist)
        fit = dist[np.arange(len(labels)), labels]
        for limit, tolerance in ((self.radius, 0.0), (self.reach, _TOLERANCE)):
            if limit is not None:
                # Density segments (radius) or novelty (reach): far outside every segment.
                far = (labels >= 0) & (fit > limit[np.maximum(labels, 0)] * (1 + tolerance))
                labels[far], confidence[far] = -1, 0.0
        return labels, confidence, fit

    def with_limits(self, X: np.ndarray, labels: np.ndarray, fit: np.ndarray) -> FittedClusters:
        """This model with novelty limits from its training rows ``X`` (fitted numbering)."""
        if self.mixture is not None:
            return replace(self, min_loglik=float(fit.min()) if len(fit) else None)
        reach = np.zeros(self.centers.shape[0])
        assigned = labels >= 0
        np.maximum.at(reach, labels[assigned], fit[assigned])
        return replace(self, reach=reach)

    def _public(self, labels: np.ndarray) -> np.ndarray:
        if self.order is None:
            return labels
        return np.where(labels >= 0, self.order[np.maximum(labels, 0)], -1)


# Relative slack on the novelty limits: distances recomputed in other chunk sizes may differ in
# the last bits, and a training row must never flip to unassigned on that.
_TOLERANCE = 1e-6


def distance_confidence(dist: np.ndarray) -> np.ndarray:
    """How much nearer the nearest centre is than the second: 0 on a border, 1 at a centre."""
    if dist.shape[1] < 2:
        return np.ones(dist.shape[0])
    part = np.partition(dist, 1, axis=1)
    d1, d2 = part[:, 0], part[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = 1.0 - d1 / np.where(d2 > 0, d2, 1.0)
    return np.clip(np.nan_to_num(conf, nan=0.0), 0.0, 1.0)


def partial_sq_distances(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Squared distances to each centre over observed columns, rescaled to all columns."""
    observed = ~np.isnan(X)
    if observed.all():
        return _sq_dist(X, centers)
    Xz = np.where(observed, X, 0.0)
    obs = observed.astype(float)
    # sum over observed j of (x_j - c_j)^2 = sum x^2 - 2 x.c + sum_obs c^2
    d2 = (Xz**2).sum(axis=1)[:, None] - 2.0 * Xz @ centers.T + obs @ (centers**2).T
    n_obs = obs.sum(axis=1)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        d2 = d2 * (X.shape[1] / np.where(n_obs > 0, n_obs, 1.0))
    return np.maximum(d2, 0.0)


def _sq_dist(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    d2 = (X**2).sum(axis=1)[:, None] - 2.0 * X @ centers.T + (centers**2).sum(axis=1)[None, :]
    return np.maximum(d2, 0.0)


def fill_from_centers(X: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill each row's gaps from its nearest centre; return (filled X, distances to centres)."""
    out = np.empty((X.shape[0], centers.shape[0]))
    filled = X
    holes = np.isnan(X)
    has_holes = holes.any()
    if has_holes:
        filled = X.copy()
    # Chunks keep the temporary (rows x k) and (rows x d) arrays small on a million rows, and
    # share the rows among the engine's threads.
    step = ASSIGN_CHUNK

    def part(start: int) -> None:  # each chunk writes its own rows only
        block = X[start:start + step].astype(float, copy=False)  # float32 rows: in float64
        d2 = partial_sq_distances(block, centers)
        out[start:start + step] = np.sqrt(d2)
        if has_holes:
            h = holes[start:start + step]
            if h.any():
                nearest = centers[d2.argmin(axis=1)]
                filled[start:start + step][h] = nearest[h]

    in_chunks(part, X.shape[0], step)
    return filled, out


def _centers_of(X: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    centers = np.zeros((k, X.shape[1]))
    for s in range(k):
        members = X[labels == s]
        if len(members):
            # np.nanmean's own arithmetic (gaps as 0, sum / count), without its warning for a
            # column missing for every member: catching warnings is not thread-safe, and the
            # sweep's candidates run on threads. Such a column gets the centre (0) below.
            observed = ~np.isnan(members)
            with np.errstate(all="ignore"):
                centers[s] = (np.where(observed, members, 0.0).sum(axis=0)
                              / observed.sum(axis=0))
    return np.nan_to_num(centers)


def fit_clusters(
    X: np.ndarray,
    algorithm: str,
    k: int | None,
    *,
    random_state: int = 0,
    n_init: int = 3,
    init: np.ndarray | None = None,
    min_cluster_size: int | None = None,
    layout: Layout | None = None,
    init_labels: np.ndarray | None = None,
    scored: bool = True,
) -> FittedClusters:
    """Fit one algorithm on the rows of ``X`` (no NaN).

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
        Prepared rows; NaN (missing) is allowed for "gmm" only.
    algorithm : {"kmeans", "gmm", "hierarchical", "hdbscan"}
    k : int or None
        Number of segments; ignored by HDBSCAN, which finds its own.
    random_state : int
        Seed for every random step.
    init : ndarray, optional
        Starting centres (k-means and mixtures), e.g. from a fit on a sample.
    min_cluster_size : int, optional
        HDBSCAN only; default 2% of the rows (at least 10).
    layout : Layout, optional
        "gmm" only: which columns are categorical (default: all continuous).
    init_labels : ndarray, optional
        "gmm" only: start EM from these segment labels (one start instead of several).
    scored : bool
        "gmm" only: compute BIC and ICL (the sweep's scores; a final refit needs neither).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.r_[np.zeros((20, 2)), np.ones((20, 2)) * 5]
    >>> fit_clusters(X, "kmeans", 2).k
    2
    """
    if algorithm not in ALGORITHMS:
        raise SettingsError(
            f"Unknown algorithm '{algorithm}'; choose one of {', '.join(ALGORITHMS)} or auto."
        )
    if algorithm != "gmm" and np.isnan(X).any():
        raise ValueError("fit_clusters needs complete rows; fill or drop NaN first")
    n = X.shape[0]
    if algorithm != "hdbscan" and (k is None or k < 1 or k > n):
        raise SettingsError(f"k must be between 1 and the number of rows ({n}); got {k}.")
    if algorithm == "kmeans":
        # A float32 matrix (a large table's) is fitted as it is: scikit-learn's k-means runs
        # in float32 there rather than on a float64 copy of every row.
        return _fit_kmeans(X, k, random_state, n_init, init)
    X = np.asarray(X, dtype=float)  # the others see samples: float64
    if algorithm == "gmm":
        return _fit_gmm(X, k, random_state, n_init, layout, init_labels, scored)
    if algorithm == "hierarchical":
        return _cut_ward(ward_tree(X), X, k)
    return _fit_hdbscan(X, random_state, min_cluster_size)


def _fit_kmeans(X, k, random_state, n_init, init) -> FittedClusters:
    from sklearn.cluster import KMeans

    if init is not None:
        model = KMeans(k, init=init, n_init=1, random_state=random_state)
    else:
        model = KMeans(k, n_init=n_init, random_state=random_state)
    model.fit(X)
    return FittedClusters("kmeans", k, model.cluster_centers_.astype(float),
                          model.labels_.astype(int), inertia=float(model.inertia_))


def _fit_gmm(X, k, random_state, n_init, layout, init_labels, scored=True) -> FittedClusters:
    layout = layout or Layout(tuple(range(X.shape[1])), ())
    with thread_limits(1):  # small matrices: one BLAS thread is faster on two cores
        model, labels = fit_mixed_mixture(
            X, layout, k, random_state=random_state, n_init=max(n_init, 1),
            init_labels=init_labels,
        )
        bic, icl = model.bic_icl(X) if scored else (None, None)
    centers = _centers_of(X, labels, k)
    return FittedClusters("gmm", k, centers, labels, bic=bic, icl=icl, mixture=model)


def ward_tree(X: np.ndarray) -> np.ndarray:
    """The Ward linkage matrix of ``X`` (at most HIERARCHICAL_MAX_ROWS rows)."""
    from scipy.cluster.hierarchy import ward

    if X.shape[0] > HIERARCHICAL_MAX_ROWS:
        raise ValueError("ward_tree is for samples; fit on at most HIERARCHICAL_MAX_ROWS rows")
    return ward(X)


def cut_ward(tree: np.ndarray, X: np.ndarray, k: int) -> FittedClusters:
    """Cut a Ward tree into ``k`` segments (the tree is built once for all k)."""
    return _cut_ward(tree, X, k)


def _cut_ward(tree, X, k) -> FittedClusters:
    from scipy.cluster.hierarchy import fcluster

    raw = fcluster(tree, t=k, criterion="maxclust") - 1
    labels = relabel_by_size(raw)
    k_found = int(labels.max()) + 1
    centers = _centers_of(X, labels, k_found)
    return FittedClusters("hierarchical", k_found, centers, labels)


def _fit_hdbscan(X, random_state, min_cluster_size) -> FittedClusters:
    from sklearn.cluster import HDBSCAN

    size = min_cluster_size or max(10, round(0.02 * X.shape[0]))
    model = HDBSCAN(min_cluster_size=size, min_samples=min(size, 10), copy=True)
    raw = model.fit_predict(X)
    labels = relabel_by_size(raw)
    k = int(labels.max()) + 1
    if k == 0:
        centers = np.nanmean(X, axis=0, keepdims=True)
        return FittedClusters("hdbscan", 0, centers, labels)
    centers = _centers_of(X, labels, k)
    # A new row joins a density segment only if it lies as close as that segment's members do.
    d = np.sqrt(_sq_dist(X, centers))
    radius = np.array([
        np.quantile(d[labels == s, s], 0.975) if (labels == s).any() else 0.0 for s in range(k)
    ])
    return FittedClusters("hdbscan", k, centers, labels, radius=radius)


def relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber segments 0..k-1 from largest to smallest (ties by old id); -1 stays -1."""
    labels = np.asarray(labels)
    valid = labels[labels >= 0]
    if valid.size == 0:
        return labels.astype(int)
    ids, counts = np.unique(valid, return_counts=True)
    order = ids[np.lexsort((ids, -counts))]
    mapping = np.full(int(ids.max()) + 1, -1)
    mapping[order] = np.arange(len(order))
    out = np.full(labels.shape, -1, dtype=int)
    out[labels >= 0] = mapping[labels[labels >= 0]]
    return out
