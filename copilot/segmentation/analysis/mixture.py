"""A mixture model for mixed customer tables (the engine's "gmm").

Each segment is a diagonal Gaussian over the continuous columns and a categorical distribution
over each categorical or boolean column (a latent-class model). Why not scikit-learn's
GaussianMixture on the one-hot matrix: a Gaussian on a 0/1 column gains unbounded likelihood by
collapsing onto one level, so the mixture splits segments along whatever categorical is noisiest
(region, channel) instead of along behaviour. Modelled as categorical, a column that is the same
in every segment simply contributes nothing. Per-segment variances also let columns that carry
no segment signal fade out, which plain distances (k-means) cannot do.

Missing values are marginalised out: a row is scored on the columns it has. No imputation.

Two things keep the mixture from spending segments on shapes instead of customers (measured in
``benchmarks/quality.py`` on a generator the rules were not designed on):

- each segment is a multivariate t (8 degrees of freedom) over the continuous columns, not a
  Gaussian: a heavy tail stays in its segment instead of becoming a segment of its own;
- a pile of values at a column's edge (zeros clipped from a count, a cap) is a point mass,
  modelled by a per-segment "at the edge" probability (``with_spikes``); a Gaussian spent a
  segment on each pile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from copilot.segmentation.analysis.parallel import in_chunks

LOG_2PI = float(np.log(2 * np.pi))
# Rows scored at once: each chunk's temporaries (a dozen arrays of rows x columns) stay near
# 25 MB on 30 columns per thread, and a million rows make 40 chunks to share among threads.
ASSIGN_CHUNK = 25_000


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
    # Point masses at a continuous column's edge (a pile of zeros in a count, values clipped at
    # a cap): (column index, prepared value). A row at the value is modelled by a per-segment
    # "at the edge" probability instead of by the Gaussian, so no component is spent on a spike.
    spikes: tuple[tuple[int, float], ...] = ()


def split_matrix(X: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """(continuous part with NaN, categorical codes with -1 for missing, levels per column)."""
    if layout.continuous == tuple(range(X.shape[1])) and not layout.spikes:
        C = X  # every column continuous and nothing to mark: the rows themselves, no copy
    else:
        C = X[:, list(layout.continuous)] if layout.continuous else np.empty((len(X), 0))
    codes = np.full((len(X), len(layout.categorical) + len(layout.spikes)), -1, dtype=np.int64)
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
    if layout.spikes:
        C = C.copy()
        where = {c: i for i, c in enumerate(layout.continuous)}
        for s, (column, value) in enumerate(layout.spikes):
            col = X[:, column]
            ok = ~np.isnan(col)
            at = ok & (col == value)
            codes[ok, len(layout.categorical) + s] = at[ok].astype(np.int64)
            C[at, where[column]] = np.nan
            n_levels.append(2)
    return C, codes, tuple(n_levels)


# Degrees of freedom of the segments' t distributions (MixedMixture.dof). Measured on the
# planted families of benchmarks/quality.py (8 tables each, 3,000 rows, seeds 20-37): Gaussian
# segments found the true k on 2/8 heavy-tailed tables (a tail became a segment), t with 4
# found 8/8 but split unequal spreads (6/8), t with 8 found 8/8 and 7/8, and no other family
# lost a table.
DOF = 8.0
SPIKE_SHARE = 0.05  # a value held by this share of rows at a column's edge is a point mass
SPIKE_STEP = 3.0  # ... and at least this many times the rows of the value beside it
SPIKE_MIN_VALUES = 10  # distinct values a column needs besides its edges to have spikes


def with_spikes(layout: Layout, X: np.ndarray) -> Layout:
    """``layout`` with the point masses of its continuous columns found on ``X`` (a sample).

    A point mass is a column's smallest or largest value held by at least ``SPIKE_SHARE`` of the
    rows that have the column and by ``SPIKE_STEP`` times the rows of the next value: zeros
    piled up by clipping, a floor, a cap. Values inside the range are not
    spikes, however often repeated; nor are the ends of a column of a handful of values (a 1-5
    rating, a count of 0-6), where every value is a point mass and the edges are no different.
    """
    spikes = []
    for column in layout.continuous:
        col = X[:, column]
        col = col[~np.isnan(col)]
        if col.size < 20 or len(np.unique(col)) < SPIKE_MIN_VALUES + 2:
            continue
        values, counts = np.unique(col, return_counts=True)
        for edge, beside in ((0, 1), (-1, -2)):
            share = counts[edge] / col.size
            # A pile, not the end of a smooth run: far more rows on the edge value than on the
            # value beside it (a count's zeros are often just its most common small value).
            if (SPIKE_SHARE <= share < 1.0 - SPIKE_SHARE
                    and counts[edge] >= SPIKE_STEP * counts[beside]):
                spikes.append((int(column), float(values[edge])))
    return replace(layout, spikes=tuple(spikes))


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
class _Cells:
    """The continuous part of some rows as the likelihood reads it: values with gaps as 0,
    their squares, 1.0 where observed, and how many are observed per row; ``complete`` when
    nothing is missing (every row then has every column, and sums over the observed mask
    are plain sums). ``t_norm``: the t density's normalising term per row, which depends only
    on the row's observed count, computed once for EM instead of once per iteration."""

    Cz: np.ndarray
    Cz2: np.ndarray
    Mf: np.ndarray
    counts: np.ndarray
    complete: bool
    t_norm: np.ndarray | None = None
    # dof + counts and half of it, per row: read by every EM step (t model only).
    dof_counts: np.ndarray | None = None
    half_dof_counts: np.ndarray | None = None


def _cells(C: np.ndarray, dof: float | None = None) -> _Cells:
    observed = ~np.isnan(C)
    complete = bool(observed.all())
    Cz = C if complete else np.where(observed, C, 0.0)  # no gaps: no copy
    Mf = observed.astype(float)
    counts = Mf.sum(axis=1)
    dof_counts = None if dof is None else dof + counts
    return _Cells(Cz, Cz**2, Mf, counts, complete, _t_norm(counts, dof), dof_counts,
                  None if dof is None else dof_counts / 2.0)


def _t_norm(counts: np.ndarray, dof: float | None) -> np.ndarray | None:
    """log of the multivariate t's constant for rows with ``counts`` observed columns."""
    if dof is None:
        return None
    from scipy.special import gammaln

    return (gammaln((dof + counts) / 2.0) - gammaln(dof / 2.0)
            - counts / 2.0 * np.log(dof * np.pi))


@dataclass(frozen=True)
class MixedMixture:
    """Fitted parameters. ``log_theta`` is (k, total levels), flattened over columns."""

    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    log_theta: np.ndarray
    n_levels: tuple[int, ...]
    layout: Layout
    # Degrees of freedom of each segment's multivariate t over the continuous columns (None: a
    # Gaussian). Heavy tails then stay in their segment instead of forming segments of their own.
    dof: float | None = None
    # Divides the log-likelihoods when a row's confidence is read (never when fitting or
    # choosing its segment): segments over many related columns count the same evidence many
    # times, so raw posteriors say 1.00 for nearly everyone. See ``calibrate_confidence``.
    temperature: float = 1.0

    @property
    def k(self) -> int:
        return len(self.weights)

    def n_parameters(self) -> int:
        k, p = self.means.shape
        return (k - 1) + 2 * k * p + k * sum(n - 1 for n in self.n_levels)

    def _log_joint_kn(self, cells: _Cells, H: np.ndarray, *, fast: bool = False):
        """(log pi_k + log p(row | k), squared standardised distances), both (k, n), and each
        row's observed count. ``fast`` (EM's own steps): the t term's logarithm in single
        precision (see ``_posteriors_kn``).

        Segments by rows, not rows by segments: every step after this reduces over the k
        segments of each row (a maximum, a sum), and numpy reduces a narrow (n, k) array along
        its rows 10-40x slower than a (k, n) one along its columns (300 us against 6 us for
        3,000 x 6), which made those reductions most of an EM step."""
        n = cells.Cz.shape[0]
        dist = None
        if cells.Cz.shape[1]:
            inv = 1.0 / self.variances
            dist = inv @ cells.Cz2.T
            dist -= 2.0 * (self.means * inv) @ cells.Cz.T
            if cells.complete:  # every column observed: the mask's products are row sums
                dist += (self.means**2 * inv).sum(axis=1)[:, None]
                log_det = np.log(self.variances).sum(axis=1)[:, None]
            else:
                dist += (self.means**2 * inv) @ cells.Mf.T
                log_det = np.log(self.variances) @ cells.Mf.T
            np.maximum(dist, 0.0, out=dist)
            counts = cells.counts
            if self.dof is None:
                out = -0.5 * (counts * LOG_2PI + log_det + dist)
            else:
                v = self.dof
                norm = cells.t_norm if cells.t_norm is not None else _t_norm(counts, v)
                half = (cells.half_dof_counts if cells.half_dof_counts is not None
                        else (v + counts) / 2.0)
                if fast:  # log(1 + d/v) to about 1e-7: far inside EM's tolerance
                    term = dist / v
                    term += 1.0
                    term = term.astype(np.float32)
                    np.log(term, out=term)
                    term = np.multiply(term, half, dtype=np.float64)
                else:
                    term = np.log1p(dist / v)
                    term *= half
                # In place, value for value: norm - 0.5 log_det - (v + counts) / 2 * term.
                out = norm - 0.5 * log_det
                out -= term
        else:
            out = np.zeros((self.k, n))
        out += np.log(self.weights)[:, None]
        if H.shape[1]:
            out += self.log_theta @ H.T
        return out, dist, cells.counts

    def posteriors(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(responsibilities (n, k), per-row log-likelihood) for prepared rows ``X``."""
        C, codes, _ = split_matrix(np.asarray(X, dtype=float), self.layout)
        return self._posteriors(C, _onehot(codes, self.n_levels))

    def _posteriors(self, C, H):
        resp, ll = _posteriors_kn(self._log_joint_kn(_cells(C, self.dof), H)[0])
        return resp.T, ll

    def _log_joint_of(self, X: np.ndarray) -> np.ndarray:
        """(k, n) log joint of prepared rows ``X``. Rows of a float32 matrix (a large
        table's) are scored in float64, a chunk at a time."""
        C, codes, _ = split_matrix(np.asarray(X, dtype=float), self.layout)
        return self._log_joint_kn(_cells(C, self.dof), _onehot(codes, self.n_levels))[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.posteriors(X)[0]

    def assign(self, X: np.ndarray, chunk: int = ASSIGN_CHUNK, *, with_loglik: bool = False):
        """(segment, posterior probability of that segment) per row, in chunks on the
        engine's threads; with ``with_loglik`` also each row's log-likelihood (for novelty
        checks)."""
        labels = np.empty(len(X), dtype=int)
        confidence = np.empty(len(X))
        loglik = np.empty(len(X))

        def part(start: int) -> None:  # each chunk writes its own rows only
            lj = self._log_joint_of(X[start:start + chunk])
            labels[start:start + chunk] = lj.argmax(axis=0)
            confidence[start:start + chunk] = _top_share(lj, self.temperature)
            loglik[start:start + chunk] = _row_loglik(lj)

        in_chunks(part, len(X), chunk)
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


def _row_loglik(lj: np.ndarray) -> np.ndarray:
    """log sum_k exp(lj[k, i]) per row i of a (k, n) log joint, without overflow."""
    top = lj.max(axis=0)
    return top + np.log(np.exp(lj - top).sum(axis=0))


def _posteriors_kn(lj: np.ndarray, *, fast: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(responsibilities (k, n), per-row log-likelihood) from a (k, n) log joint: one
    exponential for both. ``lj`` is consumed (overwritten in place).

    ``fast``: the exponential in single precision, for EM's own steps. numpy vectorises exp
    and log for float32 on AVX2 but for float64 only on AVX-512 (4-5x apart on this
    machine's cores), and the two are most of an EM step. A responsibility to 1e-7 moves the
    mean log-likelihood EM stops on (tolerance 1e-5) by far less than the tolerance; the
    figures users and the k choice read (BIC, ICL, assignments) stay in double precision.
    """
    top = lj.max(axis=0)
    lj = np.subtract(lj, top, out=lj)  # the caller's log joint is consumed: no copy
    if fast:
        small = lj.astype(np.float32)
        e = np.exp(small, out=small).astype(np.float64)
    else:
        e = np.exp(lj, out=lj)
    total = e.sum(axis=0)
    e /= total
    return e, top + np.log(total)


def _top_share(lj: np.ndarray, temperature: float) -> np.ndarray:
    """The largest posterior of each row of a (k, n) log joint divided by ``temperature``."""
    z = lj / temperature
    z -= z.max(axis=0)
    return 1.0 / np.exp(z).sum(axis=0)


TEMPERATURES = np.exp(np.linspace(0.0, np.log(200.0), 60))


def calibrate_confidence(model: MixedMixture, X: np.ndarray, again: np.ndarray) -> float:
    """The temperature that makes confidence mean "a refit would put the row here too".

    ``again``: the segments an independent refit (on other rows) gives rows ``X``, in any
    numbering; the model's own segments for them are computed here. The refit's segments are matched to the
    model's (by overlap), each row agrees or not, and the temperature is the one whose
    confidences predict that agreement best (Brier score). Well-separated segments keep 1:
    a refit agrees everywhere, and confidence stays near 1.00 because it is.
    """
    from scipy.optimize import linear_sum_assignment

    lj = model._log_joint_of(X)
    labels = lj.argmax(axis=0)
    k = model.k
    table = np.zeros((k, k))
    np.add.at(table, (labels, again), 1)
    rows, cols = linear_sum_assignment(-table)
    match = np.full(k, -1)
    match[cols] = rows
    agree = (match[again] == labels).astype(float)
    scores = [float(np.mean((_top_share(lj, t) - agree) ** 2)) for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(scores))])


def _level_index(n_levels: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Where each categorical column's levels start in the one-hot block, and the column of
    each level (``_m_step`` reads both every step)."""
    starts = np.concatenate([[0], np.cumsum(n_levels)[:-1]]).astype(np.int64)
    return starts, np.repeat(np.arange(len(n_levels)), n_levels)


def _m_step(cells, H, resp, levels, var_floor, alpha=0.5, scale_weights=None):
    """Parameters from responsibilities ``resp`` (k, n); ``levels``: ``_level_index`` of the
    categorical columns, computed once per fit; ``scale_weights`` (k, n): the t model's
    per-row weights (far rows count less)."""
    nk = resp.sum(axis=1) + 1e-10
    weights = nk / nk.sum()
    k = resp.shape[0]
    if cells.Cz.shape[1]:
        w = resp if scale_weights is None else resp * scale_weights
        if cells.complete:  # responsibility mass that observed each column: all of it
            denom = nk[:, None]
            wdenom = w.sum(axis=1)[:, None] + 1e-10
        else:
            denom = resp @ cells.Mf + 1e-10  # (k, p): responsibility mass that observed column j
            wdenom = w @ cells.Mf + 1e-10
        sums = w @ cells.Cz
        means = sums / wdenom
        sq = (w @ cells.Cz2 - 2.0 * means * sums + means**2 * wdenom) / denom
        variances = np.maximum(sq, 0.0) + var_floor
    else:
        means = variances = np.empty((k, 0))
    log_theta = np.empty((k, H.shape[1]))
    if H.shape[1]:
        counts = resp @ H + alpha  # (k, levels); smoothing: no level gets probability 0
        # Each column's levels over their sum, every column at once (a table of 16
        # categoricals made 16 small steps of each EM step).
        starts, column_of = levels
        totals = np.add.reduceat(counts, starts, axis=1)
        counts /= totals[:, column_of]
        log_theta = np.log(counts, out=counts)
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
    dof: float | None = DOF,
) -> tuple[MixedMixture, np.ndarray]:
    """Fit by EM from several k-means starts; keep the highest likelihood. Returns (model, labels).

    ``var_floor`` is in units of the prepared columns' variance (1): no segment may be
    narrower than about a third of a column's spread, which stops segments from collapsing onto
    the repeated values of counts and rounded figures.
    """
    from sklearn.cluster import KMeans

    C, codes, n_levels = split_matrix(X, layout)
    H = _onehot(codes, n_levels)
    cells = _cells(C, dof)  # every iteration reads the same cells: prepared once, not per iteration
    levels = _level_index(n_levels)
    del C
    # The k-means starts' copy with gaps filled; none when EM starts from given labels.
    filled = np.where(np.isnan(X), 0.0, X) if init_labels is None else None
    best: tuple[float, MixedMixture, np.ndarray] | None = None
    starts = [init_labels] if init_labels is not None else [None] * n_init
    for i, start in enumerate(starts):
        if start is None:
            start = KMeans(k, n_init=1, random_state=random_state + i).fit(filled).labels_
        resp = np.zeros((k, len(X)))  # (k, n) throughout: see MixedMixture._log_joint_kn
        resp[start, np.arange(len(X))] = 1.0
        prev = -np.inf
        u = None
        for _ in range(max_iter):
            params = _m_step(cells, H, resp, levels, var_floor, scale_weights=u)
            model = MixedMixture(*params, n_levels=n_levels, layout=layout, dof=dof)
            lj, dist, _ = model._log_joint_kn(cells, H, fast=True)
            resp, ll = _posteriors_kn(lj, fast=True)
            if dof is not None and dist is not None:
                dist += dof
                u = np.divide(cells.dof_counts, dist, out=dist)  # (dof + counts) / (dof + dist)
            mean_ll = float(ll.mean())
            if mean_ll - prev < tol:
                break
            prev = mean_ll
        if best is None or mean_ll > best[0]:
            best = (mean_ll, model, resp.argmax(axis=0))
    assert best is not None
    return best[1], best[2].astype(int)
