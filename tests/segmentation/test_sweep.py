"""Tests for copilot.segmentation.analysis.sweep: the (algorithm, k) table, samples and the final fit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from copilot.core.errors import SettingsError
from copilot.segmentation.analysis.mixture import Layout
from copilot.segmentation.analysis.sweep import (
    SweepTable,
    adjusted_rand,
    davies_bouldin_calinski_harabasz,
    distinct_rows,
    draw_samples,
    fit_final,
    silhouette_precomputed,
    sweep_k,
)

N = 240
K_VALUES = (2, 3, 4)
LAYOUT = Layout((0, 1, 2), ((3,),))  # three continuous columns and a boolean


def planted(seed: int = 0, n: int = N) -> tuple[np.ndarray, np.ndarray]:
    """3 segments in 3 continuous columns, a noise boolean, 3% missing cells."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 6.0, 0.0]])
    X = np.column_stack([centres[truth] + rng.normal(size=(n, 3)), rng.choice([-1.0, 1.0], n)])
    X[rng.random(X.shape) < 0.03] = np.nan
    return X, truth


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return planted()


@pytest.fixture(scope="module")
def swept(data):
    X, _ = data
    return sweep_k(X, k_values=K_VALUES, band=(3, 4), layout=LAYOUT, random_state=0)


def without_seconds(table: SweepTable) -> dict:
    dump = table.model_dump()
    for row in dump["rows"]:
        row.pop("seconds")
    return dump


def test_one_row_per_algorithm_and_k_plus_at_most_one_hdbscan_row(swept):
    table, _ = swept
    assert table.algorithms == ("kmeans", "gmm", "hierarchical", "hdbscan")
    assert table.k_values == K_VALUES
    for algorithm in ("kmeans", "gmm", "hierarchical"):
        assert tuple(r.k for r in table.for_algorithm(algorithm)) == K_VALUES
    hdbscan = table.for_algorithm("hdbscan")
    assert len(hdbscan) <= 1
    assert len(table.rows) == 3 * len(K_VALUES) + len(hdbscan)
    assert table.row("gmm", 3).algorithm == "gmm"
    with pytest.raises(KeyError):
        table.row("gmm", 9)


def test_metrics_are_within_their_ranges(swept):
    table, _ = swept
    for r in table.rows:
        assert r.silhouette is not None and -1 <= r.silhouette <= 1
        assert r.stability is not None and -1 <= r.stability <= 1
        assert 0 <= r.min_share <= 1
        assert 0 <= r.noise_share <= 1
        assert r.davies_bouldin is not None and r.davies_bouldin >= 0
        assert r.calinski_harabasz is not None and r.calinski_harabasz > 0
        assert r.seconds >= 0
        assert r.in_band == (3 <= r.k <= 4)
        assert r.min_share <= 1 / r.k + 1e-12  # the smallest of k segments
        if r.algorithm != "hdbscan":
            assert r.noise_share == 0


def test_icl_only_for_the_mixture_and_gap_only_for_kmeans(swept):
    table, _ = swept
    for r in table.rows:
        assert (r.icl is not None) == (r.algorithm == "gmm")
        assert (r.bic is not None) == (r.algorithm == "gmm")
        assert (r.gap is not None) == (r.algorithm == "kmeans")
        assert (r.gap_se is not None) == (r.algorithm == "kmeans")
        if r.icl is not None:
            assert r.icl >= r.bic
        if r.gap_se is not None:
            assert r.gap_se >= 0
    assert all(r.inertia is not None for r in table.for_algorithm("kmeans"))


def test_scores_point_at_the_planted_k(swept):
    table, _ = swept
    for algorithm in ("kmeans", "hierarchical"):
        rows = table.for_algorithm(algorithm)
        assert max(rows, key=lambda r: r.silhouette).k == 3
    assert min(table.for_algorithm("gmm"), key=lambda r: r.icl).k == 3
    kmeans = {r.k: r for r in table.for_algorithm("kmeans")}
    assert kmeans[3].stability > 0.9
    assert kmeans[3].gap > kmeans[2].gap


def test_identical_tables_for_the_same_seed(data, swept):
    X, _ = data
    again, samples = sweep_k(X, k_values=K_VALUES, band=(3, 4), layout=LAYOUT, random_state=0)
    assert without_seconds(again) == without_seconds(swept[0])
    np.testing.assert_array_equal(samples.eval_index, swept[1].eval_index)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_the_table_does_not_depend_on_the_threads(data, swept, monkeypatch, threads):
    """Candidates run on the engine's threads, each with its own seed and resamples: one
    thread or two give the table and the fits the default run gave."""
    X, _ = data
    monkeypatch.setenv("SEGMENT_COPILOT_THREADS", threads)
    again, samples = sweep_k(X, k_values=K_VALUES, band=(3, 4), layout=LAYOUT, random_state=0)
    assert without_seconds(again) == without_seconds(swept[0])
    for key, fitted in swept[1].models.items():
        np.testing.assert_array_equal(samples.models[key].labels, fitted.labels)


def test_k_values_at_or_above_the_rows_are_dropped():
    X, _ = planted(seed=1, n=30)
    X = X[:, :3]
    table, _ = sweep_k(X, algorithms=["kmeans", "hierarchical"], k_values=[1, 2, 3, 30, 31, 3])
    assert table.k_values == (2, 3)
    assert {(r.algorithm, r.k) for r in table.rows} == {
        ("kmeans", 2), ("kmeans", 3), ("hierarchical", 2), ("hierarchical", 3)}


def test_a_k_too_close_to_the_rows_gets_a_clear_error():
    # Stability refits use 80% of the rows: k=29 on 30 rows cannot be scored, and the error
    # must say so in the user's terms rather than naming an internal resample size.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    with pytest.raises(SettingsError, match="too few complete rows"):
        sweep_k(X, algorithms=["kmeans"], k_values=[29])
    table, _ = sweep_k(X, algorithms=["kmeans"], k_values=[2, 29])
    assert table.k_values == (2,)


@pytest.mark.parametrize("k_values", [[], [1], [30, 40], [0, -2]])
def test_no_usable_k_raises_settings_error(k_values):
    X, _ = planted(seed=1, n=30)
    with pytest.raises(SettingsError) as err:
        sweep_k(X[:, :3], algorithms=["kmeans"], k_values=k_values)
    msg = str(err.value)
    assert "\n" not in msg and msg.endswith(".")
    assert "30" in msg


def test_progress_reaches_one_and_never_goes_back(data):
    X, _ = data
    seen: list[tuple[str, float]] = []
    sweep_k(X[:, :3], algorithms=["kmeans", "hierarchical"], k_values=[2, 3],
            progress=lambda message, fraction: seen.append((message, fraction)))
    fractions = [f for _, f in seen]
    messages = [m for m, _ in seen]
    # One tick per finished task (candidates run on the engine's threads, longest first):
    # k-means at each k, Ward's tree cut at every k, and the gap statistic's references.
    assert len(seen) == 5
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {"kmeans k=2", "kmeans k=3", "hierarchical"} <= set(messages)


def test_samples_are_nested_and_complete_rows_are_preferred(data):
    X, _ = data
    s = draw_samples(X, 0)
    assert set(s.eval_index) <= set(s.complete_index) <= set(s.fit_index)
    assert len(s.fit_index) == N  # fewer rows than FIT_ROWS: all of them
    assert s.complete_only
    assert not np.isnan(X[s.complete_index]).any()
    np.testing.assert_array_equal(s.fit_index, np.sort(s.fit_index))
    # mostly incomplete rows: distance fits use every row, gaps filled
    Y = X.copy()
    Y[np.arange(N) % 10 != 0, 0] = np.nan
    t = draw_samples(Y, 0)
    assert not t.complete_only
    np.testing.assert_array_equal(t.complete_index, t.fit_index)


@pytest.mark.parametrize("algorithm", ["kmeans", "gmm", "hierarchical"])
def test_fit_final_numbers_segments_by_size(data, swept, algorithm):
    X, truth = data
    _, samples = swept
    fitted, labels, confidence = fit_final(X, algorithm, 3, samples, layout=LAYOUT)
    assert fitted.algorithm == algorithm
    assert labels.shape == confidence.shape == (N,)
    sizes = np.bincount(labels[labels >= 0])
    assert len(sizes) == 3 and (np.diff(sizes) <= 0).all()
    assert adjusted_rand_score(truth, labels) >= 0.9
    assert ((confidence >= 0) & (confidence <= 1)).all()
    # the returned model assigns the same public numbers again
    np.testing.assert_array_equal(fitted.assign(X)[0], labels)


@pytest.mark.parametrize("algorithm", ["gmm", "kmeans", "hierarchical"])
def test_final_fit_is_the_model_the_sweep_scored(algorithm):
    # On a table no larger than the fit sample there is nothing to refine: the delivered
    # segments must be exactly those of the scored candidate, not of a fresh refit that could
    # land in another local optimum.
    X, _ = planted(seed=4)
    X = X.copy()
    X[::17, 0] = np.nan  # gaps, so k-means is fitted on complete rows only
    table, samples = sweep_k(X, algorithms=[algorithm], k_values=[3, 4])
    scored = samples.models[(algorithm, 3)]
    fitted, labels, confidence = fit_final(X, algorithm, 3, samples)
    if algorithm != "kmeans":  # k-means is refined on all complete rows when there are more
        assert fitted.centers is scored.centers
    assert adjusted_rand_score(scored.assign(X)[0], labels) == 1.0
    assert np.bincount(labels).argmax() == 0  # numbered by size
    assert confidence.shape == labels.shape


@pytest.mark.parametrize("algorithm", ["gmm", "kmeans"])
def test_a_float32_matrix_gives_the_float64_segments(algorithm):
    """Large tables' prepared matrices are held in float32 (half the memory); the sweep and
    the final fit read them as float64 samples and chunks, so the segments are the same."""
    X, _ = planted(seed=5, n=2000)
    k = 3
    labels = {}
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        layout = LAYOUT if algorithm == "gmm" else None
        _, samples = sweep_k(Xd, algorithms=[algorithm], k_values=[k], layout=layout)
        fitted, labels[dtype], confidence = fit_final(Xd, algorithm, k, samples, layout=layout)
        assert fitted.centers.dtype == np.float64 and confidence.dtype == np.float64
    assert adjusted_rand_score(labels[np.float64], labels[np.float32]) > 0.99


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_silhouette_is_scikit_learns(seed):
    """The sweep's silhouette (one product with the segments' indicator) is scikit-learn's
    definition, segments of one row (which score 0) and gaps in the numbering included."""
    from sklearn.metrics import pairwise_distances, silhouette_score

    rng = np.random.default_rng(seed)
    E = np.r_[rng.normal(0, 1, (150, 4)), rng.normal(3, 1, (90, 4))]
    labels = (E[:, 0] > 1.5).astype(int) * 3 + rng.integers(0, 2, len(E))  # 0, 1, 3, 4
    labels[:2] = [7, 9]  # two segments of one row
    D = pairwise_distances(E)
    assert silhouette_precomputed(D, labels) == pytest.approx(
        silhouette_score(D, labels, metric="precomputed"), abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_the_stability_score_is_scikit_learns_adjusted_rand(seed):
    """The sweep's own ARI (a dense contingency table, no input checks) gives scikit-learn's
    value exactly: noise labels (-1), label sets of different sizes and numbering with gaps,
    identical and relabelled partitions, a single row and no rows."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 5000))
    a = rng.integers(-1, 6, n)
    b = np.where(rng.random(n) < 0.7, a * 3 + 10, rng.integers(0, 9, n))  # mostly agrees
    for x, y in ((a, b), (b, a), (a, a), (a, 5 - a), (a, np.zeros(n, int)), (a, rng.integers(0, 2, n)),
                 (a[:1], b[:1]), (a[:0], b[:0])):
        assert adjusted_rand(x, y) == adjusted_rand_score(x, y)


@pytest.mark.parametrize("seed", range(6))
def test_davies_bouldin_and_calinski_harabasz_are_scikit_learns(seed):
    """The sweep's own Davies-Bouldin and Calinski-Harabasz give scikit-learn's values to
    1e-10: labels numbered with gaps, a segment of one row, and every row the same (the
    library's 0 and 1). Segments of repeated rows have no spread: the library's distances
    (through ||x||^2 - 2x.c + ||c||^2) leave rounding noise of about 1e-8 where the direct
    distances give 0."""
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

    rng = np.random.default_rng(seed)
    n = int(rng.integers(40, 3000))
    X = rng.normal(0, 1, (n, int(rng.integers(1, 12)))) * rng.gamma(1.0, 2.0)
    labels = rng.integers(0, int(rng.integers(2, 11)), n) * 3 + 1
    X[labels == labels[0]] += 4.0
    labels[0] = 99  # a segment of one row
    tied = np.repeat(X[:3], [n // 2, n // 4, n - n // 2 - n // 4], axis=0)
    tied_labels = np.repeat([0, 5, 2], [n // 2, n // 4, n - n // 2 - n // 4])
    same = np.ones((n, 3))
    for x, lab, noise in ((X, labels, 1e-12), (X, labels % 2, 1e-12), (tied, tied_labels, 1e-7),
                          (same, labels % 3, 1e-12)):
        db, ch = davies_bouldin_calinski_harabasz(x, lab)
        assert db == pytest.approx(davies_bouldin_score(x, lab), rel=1e-10, abs=noise)
        assert ch == pytest.approx(calinski_harabasz_score(x, lab), rel=1e-10, abs=1e-12)
    with pytest.raises(ValueError):
        davies_bouldin_calinski_harabasz(X, np.zeros(n, int))


def test_distinct_rows_counts_points_not_spellings():
    # -0.0 and 0.0 are one point to k-means; a row order or a copy changes nothing.
    X = np.array([[0.0, 1.0], [-0.0, 1.0], [2.0, 1.0], [2.0, 1.0], [0.0, -0.0]])
    assert distinct_rows(X) == 3
    assert distinct_rows(X[::-1]) == distinct_rows(np.asfortranarray(X)) == 3

