"""The k sweep: fit every algorithm at every k on a sample and score each fit.

Scores per (algorithm, k): silhouette, Davies-Bouldin and Calinski-Harabasz on an evaluation
sample; inertia (k-means) or BIC (mixtures) for an elbow; the gap statistic (k-means); bootstrap
stability (mean adjusted Rand index between the fit and refits on resamples); and the smallest
segment's share. Models are chosen on samples (a few thousand rows already pin down a few
segments); only the chosen model is then fitted on every row. The candidates are independent
tasks on the engine's threads (``parallel.py``), each with its own seed and resamples, so the
table is the same on any number of threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from copilot.core import DataError, Frozen, SettingsError
from copilot.segmentation.analysis.algorithms import (
    HIERARCHICAL_MAX_ROWS,
    FittedClusters,
    cut_ward,
    fit_clusters,
    ward_tree,
)
from copilot.segmentation.analysis.mixture import Layout
from copilot.segmentation.analysis.parallel import run_all, thread_limits

FIT_ROWS = 12_000  # rows the candidate models are fitted on
EVAL_ROWS = 3_000  # rows every candidate is scored on (silhouette is quadratic in these)
N_RESAMPLES = 4  # refits per candidate for stability
GMM_STARTS = 8  # EM starts per mixture candidate: its likelihood surface has local optima
GAP_REFERENCES = 5

Progress = Callable[[str, float], None]


class SweepRow(Frozen):
    """Scores of one (algorithm, k) candidate. Metrics that do not apply are None."""

    algorithm: str
    k: int
    silhouette: float | None
    davies_bouldin: float | None
    calinski_harabasz: float | None
    inertia: float | None = None
    bic: float | None = None
    icl: float | None = None
    gap: float | None = None
    gap_se: float | None = None
    stability: float | None = None
    min_share: float
    noise_share: float = 0.0
    in_band: bool
    seconds: float


class SweepTable(Frozen):
    rows: tuple[SweepRow, ...]
    algorithms: tuple[str, ...]
    k_values: tuple[int, ...]
    band: tuple[int, int]
    fit_rows: int  # rows the mixture was fitted on (gaps and all)
    complete_rows: int  # rows the distance-based algorithms were fitted on
    eval_rows: int
    n_resamples: int
    complete_rows_only: bool
    random_state: int

    def row(self, algorithm: str, k: int) -> SweepRow:
        for r in self.rows:
            if r.algorithm == algorithm and r.k == k:
                return r
        raise KeyError((algorithm, k))

    def for_algorithm(self, algorithm: str) -> tuple[SweepRow, ...]:
        return tuple(r for r in self.rows if r.algorithm == algorithm)


@dataclass(frozen=True)
class SweepSamples:
    """The row samples the sweep used (indices into the full matrix).

    ``fit_index``: rows the mixture is fitted on, gaps and all (it marginalises them).
    ``complete_index``: rows distance-based algorithms are fitted on: complete rows of the fit
    sample when they are plentiful (a median fill forms artificial spikes), else all of them
    with gaps filled. ``eval_index``: the rows every candidate is scored on, a subset of those.
    """

    fit_index: np.ndarray
    complete_index: np.ndarray
    eval_index: np.ndarray
    complete_only: bool
    # The scored k-means and mixture fits, so the final model starts from exactly the one
    # that was chosen rather than from a refit that may land elsewhere.
    models: dict = field(default_factory=dict)


def draw_samples(X: np.ndarray, random_state: int) -> SweepSamples:
    """Fit and evaluation samples (see ``SweepSamples``)."""
    rng = np.random.default_rng(random_state)
    fit_index = np.sort(rng.permutation(X.shape[0])[:FIT_ROWS])
    complete = ~np.isnan(X[fit_index]).any(axis=1)
    complete_only = int(complete.sum()) >= max(100, 0.25 * len(fit_index))
    complete_index = fit_index[complete] if complete_only else fit_index
    eval_index = np.sort(rng.permutation(complete_index)[:EVAL_ROWS])
    return SweepSamples(fit_index, complete_index, eval_index, complete_only)


def _filled(X: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(X), 0.0, X) if np.isnan(X).any() else X


def _min_share(labels: np.ndarray, k: int) -> float:
    valid = labels[labels >= 0]
    if k < 1 or valid.size == 0:
        return 0.0
    return float(np.bincount(valid, minlength=k).min() / labels.size)


def adjusted_rand(a: np.ndarray, b: np.ndarray) -> float:
    """scikit-learn's ``adjusted_rand_score(a, b)``: the same pair counts (as Python integers)
    and the same formula, from a dense contingency table. The library's input checks and
    sparse table cost 3 ms a call on sample-sized labels, and the sweep makes about 110 calls
    (4 stability refits per candidate): 10% of a 600-row run."""
    a, b = np.asarray(a), np.asarray(b)
    n = int(a.size)
    if n == 0:
        return 1.0
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    ka, kb = int(ia.max()) + 1, int(ib.max()) + 1
    table = np.bincount(ia.ravel() * kb + ib.ravel(), minlength=ka * kb).reshape(ka, kb)
    squares = int((table.astype(np.int64) ** 2).sum())
    tp = squares - n
    fp = int((table @ table.sum(axis=0)).sum()) - squares
    fn = int((table.T @ table.sum(axis=1)).sum()) - squares
    tn = n * n - fp - fn - squares
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def silhouette_precomputed(D: np.ndarray, labels: np.ndarray) -> float:
    """The mean silhouette of ``labels`` from the distance matrix ``D``, as scikit-learn's
    ``silhouette_score(D, labels, metric="precomputed")`` defines it (a segment of one row
    scores 0), from one product of ``D`` with the segments' indicator: the library reduces
    the matrix chunk by chunk with a bincount per row, several times slower on the sweep's
    28 candidates."""
    codes, labels = np.unique(labels, return_inverse=True)
    n, k = len(labels), len(codes)
    indicator = np.zeros((n, k))
    indicator[np.arange(n), labels] = 1.0
    sizes = indicator.sum(axis=0)
    totals = D @ indicator  # (n, k): each row's summed distance to each segment
    rows = np.arange(n)
    own = sizes[labels]
    intra = totals[rows, labels] / np.maximum(own - 1, 1)
    mean_to = totals / sizes
    mean_to[rows, labels] = np.inf
    inter = mean_to.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (inter - intra) / np.maximum(intra, inter)
    values[own == 1] = 0.0
    return float(np.nan_to_num(values).mean())


def _internal_scores(D: np.ndarray, E: np.ndarray, labels: np.ndarray):
    keep = labels >= 0
    if len(np.unique(labels[keep])) < 2 or keep.sum() < 3:
        return None, None, None
    if keep.all():
        # Most fits leave no noise: the distance matrix as it is, not a 72 MB copy of it per
        # candidate (the copy cost more than the silhouette itself).
        lab, Dk, Ek = labels, D, E
    else:
        lab, Dk, Ek = labels[keep], D[np.ix_(keep, keep)], E[keep]
    sil = silhouette_precomputed(Dk, lab)
    return sil, *davies_bouldin_calinski_harabasz(Ek, lab)


def davies_bouldin_calinski_harabasz(X: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """scikit-learn's ``davies_bouldin_score`` and ``calinski_harabasz_score`` of ``labels``
    on the rows ``X``: the same formulas, segment by segment, from one pass over the segments.
    The library's checks and a pairwise-distance call per segment took 4.5 ms a call on a
    2,000 x 12 sample against 0.57 ms here, 28 calls a sweep. Distances to a centre are
    computed directly rather than through ||x||^2 - 2x.c + ||c||^2, so the two agree to about
    1e-15 on real sweeps, not to the last bit (tests/segmentation/test_sweep.py); neither
    score chooses k."""
    codes, labels = np.unique(labels, return_inverse=True)
    n, k = len(labels), len(codes)
    if not 1 < k < n:  # the library's own refusal (check_number_of_labels)
        raise ValueError(f"Number of labels is {k}. Valid values are 2 to n_samples - 1 "
                         "(inclusive)")
    mean = X.mean(axis=0)
    centroids = np.empty((k, X.shape[1]))
    intra = np.empty(k)
    extra_disp = intra_disp = 0.0
    for j in range(k):
        members = X[labels == j]
        centre = members.mean(axis=0)
        centroids[j] = centre
        gaps = members - centre
        squared = (gaps**2).sum(axis=1)
        intra[j] = np.sqrt(squared).mean()
        extra_disp += members.shape[0] * ((centre - mean) ** 2).sum()
        intra_disp += squared.sum()
    ch = 1.0 if intra_disp == 0.0 else extra_disp * (n - k) / (intra_disp * (k - 1.0))
    between = np.sqrt(((centroids[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2))
    if np.allclose(intra, 0.0) or np.allclose(between, 0.0):
        return 0.0, float(ch)
    between[between == 0] = np.inf
    db = np.max((intra[:, None] + intra) / between, axis=1).mean()
    return float(db), float(ch)


def sweep_k(
    X: np.ndarray,
    *,
    algorithms: Sequence[str] = ("kmeans", "gmm", "hierarchical", "hdbscan"),
    k_values: Sequence[int] = tuple(range(2, 11)),
    band: tuple[int, int] = (3, 7),
    layout: Layout | None = None,
    random_state: int = 0,
    progress: Progress | None = None,
) -> tuple[SweepTable, SweepSamples]:
    """Score every algorithm at every k on samples of the prepared matrix ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
        The prepared matrix; NaN marks missing values.
    algorithms : sequence of str
        Any of "kmeans", "gmm", "hierarchical", "hdbscan" (HDBSCAN finds its own k).
    k_values : sequence of int
        The k to try (default 2-10).
    band : (int, int)
        The user's preferred range of k; recorded per row as ``in_band``.
    layout : Layout, optional
        Which columns are categorical, for the mixture (``Preparation.layout()``).
    random_state : int
        Seed for samples, fits and resamples.
    progress : callable(message, fraction), optional
        Called as candidates finish.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (100, 2)), rng.normal(8, 1, (100, 2))]
    >>> table, _ = sweep_k(X, algorithms=["kmeans"], k_values=[2, 3])
    >>> max(table.rows, key=lambda r: r.silhouette).k
    2
    """
    # On sample-sized matrices, OpenMP/BLAS threads cost more than they give (k-means ran 8x
    # faster single-threaded on 3,000 x 24 on two cores); the full-data refit keeps them.
    with thread_limits(1):
        return _sweep(X, algorithms, k_values, band, layout, random_state, progress)


def _sweep(X, algorithms, k_values, band, layout, random_state, progress):
    """``sweep_k``'s work: samples and k -> every algorithm at every k and the gap statistic's
    reference fits, as independent tasks on the engine's threads -> the table."""
    k_values, samples, M, F, E, kinds = _samples_and_k(X, k_values, random_state, algorithms)
    from sklearn.metrics import pairwise_distances

    D = pairwise_distances(E)
    # The stability resamples are drawn here, in the order the candidates were once fitted one
    # after another, so the tasks share no random state and the table is the same on any
    # number of threads.
    rng = np.random.default_rng(random_state + 1)
    resamples = {(a, k): _resamples(rng, len(M if a == "gmm" else F))
                 for a in algorithms if a in ("kmeans", "gmm") for k in k_values}
    tasks: dict[tuple[str, int | None], Callable] = {}
    for algorithm in algorithms:
        if algorithm == "hdbscan":
            tasks[("hdbscan", None)] = partial(_hdbscan_rows, E, D, band, random_state)
        elif algorithm == "hierarchical":
            tasks[("hierarchical", None)] = partial(_hierarchical_rows, E, D, k_values, band,
                                                    random_state)
        else:
            for k in k_values:
                if k > kinds[algorithm]:  # more segments than kinds of customer it can see
                    continue
                tasks[(algorithm, k)] = partial(_partition_row, algorithm, k, M, F, E, D, band,
                                                layout, random_state, resamples[(algorithm, k)],
                                                kinds[algorithm])
    if "kmeans" in algorithms:
        for k, refs in _gap_references(E, k_values, random_state).items():
            tasks[("gap", k)] = partial(_reference_log_w, refs, k, random_state)
    results = _run_longest_first(tasks, progress)
    rows: list[SweepRow] = []
    log_w: dict[int, float] = {}
    ref_logs: dict[int, np.ndarray] = {}
    for (algorithm, k), result in results.items():  # in the order the tasks were listed
        if algorithm == "gap":
            ref_logs[k] = result
            continue
        for row, fitted, log_inertia in result:
            rows.append(row)
            if fitted is not None:
                samples.models[(algorithm, row.k)] = fitted
            if log_inertia is not None:
                log_w[row.k] = log_inertia
    rows = _with_gap(rows, log_w, ref_logs)
    table = SweepTable(
        rows=tuple(rows), algorithms=tuple(algorithms), k_values=k_values, band=band,
        fit_rows=len(M), complete_rows=len(F), eval_rows=len(E), n_resamples=N_RESAMPLES,
        complete_rows_only=samples.complete_only, random_state=random_state,
    )
    return table, samples


# Rough cost of each kind of task, to start the longest first: a mixture candidate (8 EM
# starts and 4 refits) takes several times a k-means one, and cost grows with k.
_TASK_WEIGHT = {"gmm": 8.0, "hierarchical": 12.0, "hdbscan": 15.0, "kmeans": 1.0, "gap": 1.0}


def _run_longest_first(tasks: dict, progress: Progress | None) -> dict:
    """Run the sweep's tasks on the engine's threads; their results under the same keys, in
    the same order. Progress counts finished tasks."""
    keys = sorted(tasks, key=lambda key: -_TASK_WEIGHT[key[0]] * (key[1] or 10))
    total = len(keys)
    finished = 0

    def done(i: int) -> None:
        nonlocal finished
        finished += 1
        if progress:
            algorithm, k = keys[i]
            progress(algorithm if k is None else f"{algorithm} k={k}", finished / total)

    results = run_all([tasks[key] for key in keys], done=done)
    by_key = dict(zip(keys, results, strict=True))
    return {key: by_key[key] for key in tasks}


def _samples_and_k(X, k_values, random_state, algorithms=("kmeans", "gmm")):
    """The k that can be tried and the samples: (k values, samples, mixture fit rows with
    gaps, filled fit rows, filled evaluation rows, the distinct rows k-means and the
    mixture's starts see). Refuses when no k is left."""
    n = X.shape[0]
    k_values = tuple(sorted({int(k) for k in k_values if 2 <= int(k) < n}))
    if not k_values:
        raise SettingsError(
            f"No k to try: k must be at least 2 and below the number of rows ({n}); "
            "use a smaller --k or --k-range, or a larger table."
        )
    samples = draw_samples(X, random_state)
    # Samples are float64 whatever the matrix is held in (float32 on large tables).
    M = X[samples.fit_index].astype(float, copy=False)  # the mixture handles gaps itself
    F = _filled(X[samples.complete_index].astype(float, copy=False))
    E = _filled(X[samples.eval_index].astype(float, copy=False))
    # Stability refits see 80% of the fit rows: every k must leave rows to spare there.
    k_values = tuple(k for k in k_values if k < 0.8 * min(len(F), len(E)))
    if not k_values:
        raise SettingsError(
            f"The table has too few complete rows ({len(F)}) for the k asked; choose a "
            "smaller k or supply more customers."
        )
    # Customers with the same prepared values always share a segment, so k above the number
    # of distinct rows leaves segments empty: k-means warned once per fit (dozens of lines on
    # the terminal) and the table offered a k no partition can have. Counted on the rows each
    # fit sees: k-means the complete (or filled) rows, the mixture's k-means starts its rows
    # with gaps filled (a gap is then a value of its own, unless it falls on 0).
    kinds = {"kmeans": distinct_rows(F)}
    if "gmm" in algorithms:  # a filled copy of the mixture's rows only when one is fitted
        kinds["gmm"] = distinct_rows(_filled(M))
    most = max(kinds["gmm" if a == "gmm" else "kmeans"] for a in algorithms)
    if most < 2:
        raise DataError(
            "After preparation (far outliers clipped) every customer has the same feature "
            "values, so there is nothing to tell segments apart; add columns that differ "
            "between customers."
        )
    if most < max(k_values):
        if most < min(k_values):
            raise SettingsError(
                f"After preparation the customers' features take only {most} distinct "
                f"combinations, so at most {most} segments can differ; choose a k (or a "
                f"--k-range) of at most {most}."
            )
        k_values = tuple(k for k in k_values if k <= most)
    return k_values, samples, M, F, E, kinds


def distinct_rows(X: np.ndarray) -> int:
    """How many different points the rows of ``X`` are (compared by their bytes, after
    ``+ 0.0`` turns every -0.0 into 0.0: k-means sees the two as one point)."""
    rows = np.ascontiguousarray(X, dtype=float) + 0.0
    return len(np.unique(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1])))))


def _resamples(rng: np.random.Generator, n_rows: int) -> list[np.ndarray]:
    """The stability refits' rows: ``N_RESAMPLES`` draws of 80% of ``n_rows``."""
    return [rng.choice(n_rows, size=max(2, int(0.8 * n_rows)), replace=False)
            for _ in range(N_RESAMPLES)]


def _ward_trees(E: np.ndarray, random_state: int):
    """The Ward tree of the evaluation rows and one per resample (with its rows)."""
    tree = ward_tree(E[:HIERARCHICAL_MAX_ROWS])
    # One tree per resample, cut at every k: building them per k costs 9x as much.
    m = min(len(E), HIERARCHICAL_MAX_ROWS)
    rng_h = np.random.default_rng(random_state + 3)
    resample_trees = []
    for _ in range(N_RESAMPLES):
        idx = np.sort(rng_h.choice(m, size=int(0.8 * m), replace=False))
        resample_trees.append((idx, ward_tree(E[idx])))
    return tree, resample_trees


def _partition_row(algorithm, k, M, F, E, D, band, layout, random_state, resamples,
                   kinds=None):
    """Fit k-means or the mixture at k, score it on the evaluation rows and refit it on the
    given resamples for stability: [(the row, the fit, k-means' log inertia for the gap
    statistic or None)]. ``kinds``: the distinct rows the fit sees (None: many)."""
    start = time.perf_counter()
    data = M if algorithm == "gmm" else F
    starts = GMM_STARTS if algorithm == "gmm" else 3
    fitted = fit_clusters(data, algorithm, k, random_state=random_state,
                          n_init=starts, layout=layout)
    eval_labels, _ = fitted.assign(E)
    sil, db, ch = _internal_scores(D, E, eval_labels)
    stab = []
    for i, idx in enumerate(resamples):
        # A refit is only compared with the fit: its BIC and ICL would be a pass for nothing.
        k_refit = k
        if kinds is not None and kinds < 2 * k:
            # Few kinds of customer: an 80% resample can miss a rare one, and then has fewer
            # distinct rows than k. Its refit has as many segments as it can, and agrees less.
            k_refit = min(k, distinct_rows(_filled(data[idx])))
        refit = fit_clusters(data[idx], algorithm, k_refit, layout=layout,
                             random_state=random_state + 7 + i, n_init=1, scored=False)
        stab.append(adjusted_rand(eval_labels, refit.assign(E)[0]))
    log_inertia = None
    if algorithm == "kmeans":
        log_inertia = float(np.log(_inertia(E, eval_labels, fitted.centers)))
    row = SweepRow(
        algorithm=algorithm, k=k, silhouette=sil, davies_bouldin=db,
        calinski_harabasz=ch, inertia=fitted.inertia, bic=fitted.bic, icl=fitted.icl,
        stability=float(np.mean(stab)), min_share=_min_share(fitted.labels, k),
        in_band=band[0] <= k <= band[1], seconds=round(time.perf_counter() - start, 3),
    )
    return [(row, fitted, log_inertia)]


def _gap_references(E: np.ndarray, k_values: Sequence[int], random_state: int
                    ) -> dict[int, list[np.ndarray]]:
    """Tibshirani's gap statistic: uniform reference tables in the PCA-aligned box of the
    evaluation rows, the same ones for every k."""
    rng = np.random.default_rng(random_state)
    centred = E - E.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    rotated = centred @ vt.T
    lo, hi = rotated.min(axis=0), rotated.max(axis=0)
    refs = [rng.uniform(lo, hi, size=rotated.shape) for _ in range(GAP_REFERENCES)]
    return {k: refs for k in k_values}


def _reference_log_w(refs: list[np.ndarray], k: int, random_state: int) -> np.ndarray:
    """log k-means inertia of each reference table at k."""
    from sklearn.cluster import KMeans

    return np.array([np.log(KMeans(k, n_init=1, random_state=random_state).fit(r).inertia_)
                     for r in refs])


def _with_gap(rows: list[SweepRow], log_w: dict[int, float],
              ref_logs: dict[int, np.ndarray]) -> list[SweepRow]:
    """The k-means rows with their gap statistic (and its standard error)."""
    gaps = {k: (float(ref_logs[k].mean() - log_w[k]),
                float(ref_logs[k].std() * np.sqrt(1 + 1 / GAP_REFERENCES)))
            for k in log_w if k in ref_logs}
    return [
        r.model_copy(update={"gap": gaps[r.k][0], "gap_se": gaps[r.k][1]})
        if r.algorithm == "kmeans" and r.k in gaps else r
        for r in rows
    ]


def _inertia(E: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> float:
    return float(((E - centers[labels]) ** 2).sum()) or 1e-12


def _hierarchical_rows(E, D, k_values, band, random_state):
    """Ward at every k, from one tree of the evaluation rows (and one per resample, for
    stability): [(row, fit, None)] per k."""
    start = time.perf_counter()
    tree, resample_trees = _ward_trees(E, random_state)
    out = []
    for k in k_values:
        row, fitted = _hierarchical_row(tree, resample_trees, E, D, k, band)
        out.append((row, fitted, None))
    seconds = round((time.perf_counter() - start) / max(1, len(out)), 3)
    return [(row.model_copy(update={"seconds": seconds}), fitted, None)
            for row, fitted, _ in out]


def _hierarchical_row(tree, resample_trees, E, D, k, band) -> tuple[SweepRow, FittedClusters]:
    m = min(len(E), HIERARCHICAL_MAX_ROWS)
    fitted = cut_ward(tree, E[:m], k)
    labels = fitted.labels
    sil, db, ch = _internal_scores(D[:m, :m], E[:m], labels)
    stab = []
    for idx, sub_tree in resample_trees:
        sub = cut_ward(sub_tree, E[idx], k)
        stab.append(adjusted_rand(labels[idx], sub.labels))
    inertia = _inertia(E[:m], labels, fitted.centers)
    row = SweepRow(
        algorithm="hierarchical", k=k, silhouette=sil, davies_bouldin=db, calinski_harabasz=ch,
        inertia=inertia, stability=float(np.mean(stab)), min_share=_min_share(labels, k),
        in_band=band[0] <= k <= band[1], seconds=0.0,
    )
    return row, fitted


def _hdbscan_rows(E, D, band, random_state) -> list:
    """HDBSCAN's own k, when it finds at least 2 segments: [(row, fit, None)] or []."""
    start = time.perf_counter()
    fitted = fit_clusters(E, "hdbscan", None, random_state=random_state)
    k = fitted.k
    if k < 2:
        return []
    labels = fitted.labels
    sil, db, ch = _internal_scores(D, E, labels)
    rng = np.random.default_rng(random_state + 5)
    stab = []
    for _ in range(N_RESAMPLES):
        idx = np.sort(rng.choice(len(E), size=int(0.8 * len(E)), replace=False))
        sub = fit_clusters(E[idx], "hdbscan", None)
        stab.append(adjusted_rand(labels[idx], sub.labels))
    return [(SweepRow(
        algorithm="hdbscan", k=k, silhouette=sil, davies_bouldin=db, calinski_harabasz=ch,
        stability=float(np.mean(stab)), min_share=_min_share(labels, k),
        noise_share=float((labels < 0).mean()), in_band=band[0] <= k <= band[1],
        seconds=round(time.perf_counter() - start, 3),
    ), fitted, None)]


FINAL_MIXTURE_ROWS = 200_000


def _calibrated(fitted: FittedClusters, X, samples: SweepSamples, k, layout, random_state):
    """The mixture with its confidence calibrated against a refit on half of the fit sample,
    scored on the other half (see ``mixture.calibrate_confidence``)."""
    from dataclasses import replace

    from copilot.segmentation.analysis.mixture import calibrate_confidence

    rows = np.random.default_rng(random_state + 11).permutation(samples.fit_index)
    half = len(rows) // 2
    if half < 20 * k:
        return fitted  # too few rows for a refit to say anything
    first, second = np.sort(rows[:half]), np.sort(rows[half:])
    with thread_limits(1):
        refit = fit_clusters(X[first], "gmm", k, layout=layout, random_state=random_state + 13,
                             n_init=2)
    again = refit.mixture.assign(X[second])[0]
    temperature = calibrate_confidence(fitted.mixture, X[second], again)
    return replace(fitted, mixture=replace(fitted.mixture, temperature=temperature))


def fit_final(
    X: np.ndarray,
    algorithm: str,
    k: int,
    samples: SweepSamples,
    *,
    layout: Layout | None = None,
    random_state: int = 0,
) -> tuple[FittedClusters, np.ndarray, np.ndarray]:
    """Fit the chosen model and assign every row: (model, labels, confidence).

    It starts from the very model the sweep scored for (algorithm, k), then refines k-means on
    all complete rows and the mixture on up to 200,000 rows (a few cheap iterations). Ward and
    HDBSCAN stay as fitted on the sample; every other row joins its nearest segment. Segments
    are numbered from the largest (0) down.
    """
    n = X.shape[0]
    fitted = samples.models.get((algorithm, k))
    if fitted is None and algorithm in ("kmeans", "gmm"):
        # Not swept at this k (a caller's own choice): fit it the way the sweep would have.
        data = (X[samples.fit_index] if algorithm == "gmm"
                else _filled(X[samples.complete_index])).astype(float, copy=False)
        fitted = fit_clusters(data, algorithm, k, layout=layout, random_state=random_state,
                              n_init=GMM_STARTS if algorithm == "gmm" else 3)
    elif fitted is None:
        raise SettingsError(
            f"{algorithm} with k={k} was not part of the sweep; choose from the sweep table."
        )
    if algorithm == "kmeans":
        complete = ~np.isnan(X).any(axis=1)
        if complete.sum() > len(samples.complete_index):
            full = X if complete.all() else X[complete]
            fitted = fit_clusters(full, "kmeans", k, random_state=random_state,
                                  init=fitted.centers)
    elif algorithm == "gmm" and n > len(samples.fit_index):
        rows = X[np.random.default_rng(random_state).permutation(n)[:FINAL_MIXTURE_ROWS]
                 ].astype(float, copy=False)
        start, _ = fitted.assign(rows)
        # BIC and ICL were the sweep's; the refit's own would be a second pass for nothing.
        fitted = fit_clusters(rows, "gmm", k, layout=layout, init_labels=start, scored=False)
        del rows
    if algorithm == "gmm":
        fitted = _calibrated(fitted, X, samples, k, layout, random_state)
    # One assignment pass over every row; numbering by size is then a relabelling. The same
    # pass records how far the training rows reach, the limit for calling a new row novel.
    labels, confidence, fit = fitted.assign_with_fit(X)
    fitted = fitted.with_limits(X, labels, fit).renumbered(labels)
    labels = np.where(labels >= 0, fitted.order[np.maximum(labels, 0)], -1)
    return fitted, labels, confidence
