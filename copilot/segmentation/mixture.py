"""A mixture model for mixed customer tables (the engine's "gmm").

Each segment is a diagonal Gaussian over the continuous columns and a categorical distribution
over each categorical or boolean column (a latent-class model). Why not scikit-learn's
GaussianMixture on the one-hot matrix: a Gaussian on a 0/1 column gains unbounded likelihood by
collapsing onto one level, so the mixture splits segments along whatever categorical is noisiest
(region, channel) instead of along behaviour. Modelled as categorical, a column that is the same
in every segment simply contributes nothing. Per-segment variances also let columns that carry
no segment signal fade out, which plain distances (k-means) cannot do.

Missing values are marginalised out: a row is scored on the columns it has. No imputation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOG_2PI = float(np.log(2 * np.pi))


@dataclass(frozen=True)
class Layout:
    """Which prepared-matrix columns are continuous and which groups are categorical.

    ``categorical`` holds one tuple of column indices per categorical column (its one-hot
    block); a boolean is a block of one column whose two values are the two levels.
    """

    continuous: tuple[int, ...]
    categorical: tuple[tuple[int, ...], ...]
    # For one-column blocks: the value between the column's two levels, fixed at fit time so
    # that a row decodes the same alone as in a batch. None for one-hot blocks.
    cuts: tuple[float | None, ...] = ()


def split_matrix(X: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """(continuous part with NaN, categorical codes with -1 for missing, levels per column)."""
    C = X[:, list(layout.continuous)] if layout.continuous else np.empty((len(X), 0))
    codes = np.full((len(X), len(layout.categorical)), -1, dtype=np.int64)
    n_levels = []
    for j, block in enumerate(layout.categorical):
        part = X[:, list(block)]
        if len(block) == 1:
            col = part[:, 0]
            ok = ~np.isnan(col)
            mid = layout.cuts[j] if j < len(layout.cuts) and layout.cuts[j] is not None else 0.0
            codes[ok, j] = (col[ok] > mid).astype(np.int64)
            n_levels.append(2)
        else:
            ok = ~np.isnan(part).any(axis=1)
            codes[ok, j] = part[ok].argmax(axis=1)
            n_levels.append(len(block))
    return C, codes, tuple(n_levels)


def _onehot(codes: np.ndarray, n_levels: tuple[int, ...]) -> np.ndarray:
    if not n_levels:
        return np.zeros((codes.shape[0], 0))
    offsets = np.concatenate([[0], np.cumsum(n_levels)[:-1]]).astype(np.int64)
    H = np.zeros((codes.shape[0], int(sum(n_levels))))
    for j, off in enumerate(offsets):
        ok = codes[:, j] >= 0
        H[np.flatnonzero(ok), off + codes[ok, j]] = 1.0
    return H


@dataclass(frozen=True)
class MixedMixture:
    """Fitted parameters. ``log_theta`` is (k, total levels), flattened over columns."""

    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    log_theta: np.ndarray
    n_levels: tuple[int, ...]
    layout: Layout

    @property
    def k(self) -> int:
        return len(self.weights)

    def n_parameters(self) -> int:
        k, p = self.means.shape
        return (k - 1) + 2 * k * p + k * sum(n - 1 for n in self.n_levels)

    def _log_joint(self, C: np.ndarray, H: np.ndarray) -> np.ndarray:
        """log pi_k + log p(row | k) over observed entries: (n, k)."""
        out = np.tile(np.log(self.weights), (C.shape[0], 1))
        if C.shape[1]:
            M = ~np.isnan(C)
            Cz = np.where(M, C, 0.0)
            Mf = M.astype(float)
            inv = 1.0 / self.variances
            out += -0.5 * (
                Mf @ (LOG_2PI + np.log(self.variances)).T
                + (Cz**2) @ inv.T
                - 2.0 * Cz @ (self.means * inv).T
                + Mf @ (self.means**2 * inv).T
            )
        if H.shape[1]:
            out += H @ self.log_theta.T
        return out

    def posteriors(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(responsibilities (n, k), per-row log-likelihood) for prepared rows ``X``."""
        C, codes, _ = split_matrix(X, self.layout)
        return self._posteriors(C, _onehot(codes, self.n_levels))

    def _posteriors(self, C, H):
        lj = self._log_joint(C, H)
        top = lj.max(axis=1, keepdims=True)
        ll = top[:, 0] + np.log(np.exp(lj - top).sum(axis=1))
        return np.exp(lj - ll[:, None]), ll

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.posteriors(X)[0]

    def assign(self, X: np.ndarray, chunk: int = 200_000, *, with_loglik: bool = False):
        """(segment, posterior probability of that segment) per row, in chunks; with
        ``with_loglik`` also each row's log-likelihood (for novelty checks)."""
        labels = np.empty(len(X), dtype=int)
        confidence = np.empty(len(X))
        loglik = np.empty(len(X))
        for start in range(0, len(X), chunk):
            resp, ll = self.posteriors(X[start:start + chunk])
            labels[start:start + chunk] = resp.argmax(axis=1)
            confidence[start:start + chunk] = resp.max(axis=1)
            loglik[start:start + chunk] = ll
        return (labels, confidence, loglik) if with_loglik else (labels, confidence)

    def bic_icl(self, X: np.ndarray) -> tuple[float, float]:
        """BIC, and ICL = BIC + 2 x the entropy of the assignments (Biernacki et al. 2000).

        ICL penalises segments that overlap: it prefers the k whose segments are distinct,
        where BIC keeps adding components to fit non-Gaussian shapes and outliers.
        """
        resp, ll = self.posteriors(X)
        bic = float(-2 * ll.sum() + self.n_parameters() * np.log(len(X)))
        entropy = float(-(resp * np.log(np.clip(resp, 1e-300, 1.0))).sum())
        return bic, bic + 2 * entropy


def _m_step(C, M, H, resp, n_levels, var_floor, alpha=0.5):
    nk = resp.sum(axis=0) + 1e-10
    weights = nk / nk.sum()
    k = resp.shape[1]
    if C.shape[1]:
        Cz = np.where(M, C, 0.0)
        Mf = M.astype(float)
        denom = resp.T @ Mf + 1e-10  # (k, p): responsibility mass that observed column j
        means = (resp.T @ Cz) / denom
        sq = (resp.T @ (Cz**2)) / denom
        variances = np.maximum(sq - means**2, 0.0) + var_floor
    else:
        means = variances = np.empty((k, 0))
    log_theta = np.empty((k, H.shape[1]))
    if H.shape[1]:
        counts = resp.T @ H  # (k, levels)
        start = 0
        for n in n_levels:
            block = counts[:, start:start + n] + alpha  # smoothing: no level gets probability 0
            log_theta[:, start:start + n] = np.log(block / block.sum(axis=1, keepdims=True))
            start += n
    return weights, means, variances, log_theta


def fit_mixed_mixture(
    X: np.ndarray,
    layout: Layout,
    k: int,
    *,
    random_state: int = 0,
    n_init: int = 8,
    max_iter: int = 200,
    tol: float = 1e-5,
    var_floor: float = 0.1,
    init_labels: np.ndarray | None = None,
) -> tuple[MixedMixture, np.ndarray]:
    """Fit by EM from several k-means starts; keep the highest likelihood. Returns (model, labels).

    ``var_floor`` is in units of the prepared columns' variance (1): no segment may be
    narrower than about a third of a column's spread, which stops segments from collapsing onto
    the repeated values of counts and rounded figures.
    """
    from sklearn.cluster import KMeans

    C, codes, n_levels = split_matrix(X, layout)
    H = _onehot(codes, n_levels)
    M = ~np.isnan(C)
    filled = np.where(np.isnan(X), 0.0, X)
    best: tuple[float, MixedMixture, np.ndarray] | None = None
    starts = [init_labels] if init_labels is not None else [None] * n_init
    for i, start in enumerate(starts):
        if start is None:
            start = KMeans(k, n_init=1, random_state=random_state + i).fit(filled).labels_
        resp = np.zeros((len(X), k))
        resp[np.arange(len(X)), start] = 1.0
        prev = -np.inf
        for _ in range(max_iter):
            params = _m_step(C, M, H, resp, n_levels, var_floor)
            model = MixedMixture(*params, n_levels=n_levels, layout=layout)
            resp, ll = model._posteriors(C, H)
            mean_ll = float(ll.mean())
            if mean_ll - prev < tol:
                break
            prev = mean_ll
        if best is None or mean_ll > best[0]:
            best = (mean_ll, model, resp.argmax(axis=1))
    assert best is not None
    return best[1], best[2].astype(int)
