"""Tests for copilot.segmentation.analysis.algorithms: the four algorithms, numbering, distances, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from copilot.core.errors import SettingsError
from copilot.segmentation.analysis.algorithms import (
    ALGORITHMS,
    FittedClusters,
    cut_ward,
    distance_confidence,
    fill_from_centers,
    fit_clusters,
    partial_sq_distances,
    relabel_by_size,
    ward_tree,
)
from copilot.segmentation.analysis.mixture import Layout

BIG, SMALL = 120, 60


def blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two obvious blobs: 120 rows around (0, 0) and 60 rows around (10, 10)."""
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal(0, 1, (BIG, 2)), rng.normal(10, 1, (SMALL, 2))]
    truth = np.r_[np.zeros(BIG, int), np.ones(SMALL, int)]
    return X, truth


def single(message: str) -> bool:
    return "\n" not in message and message.endswith(".")


# ---------------------------------------------------------------------------- algorithms


@pytest.mark.parametrize("algorithm", [
    "kmeans",
    "hierarchical",
    "hdbscan",
    "gmm",
])
def test_each_algorithm_finds_two_obvious_blobs(algorithm):
    X, truth = blobs()
    fitted = fit_clusters(X, algorithm, 2, random_state=0)
    assert fitted.algorithm == algorithm
    assert fitted.k == 2
    keep = fitted.labels >= 0
    assert keep.mean() >= 0.9  # HDBSCAN may leave a few border rows as noise
    assert adjusted_rand_score(truth[keep], fitted.labels[keep]) == 1.0
    fitted = fitted.renumbered(fitted.labels)
    labels, confidence = fitted.assign(X)
    # HDBSCAN leaves rows beyond a segment's 97.5% radius unassigned; the others never do.
    assigned = labels >= 0
    assert assigned.mean() >= (0.9 if algorithm == "hdbscan" else 1.0)
    assert (labels[:BIG][assigned[:BIG]] == 0).all()  # 0 = the larger blob
    assert (labels[BIG:][assigned[BIG:]] == 1).all()
    assert ((confidence >= 0) & (confidence <= 1)).all()
    assert (confidence[~assigned] == 0).all()
    assert fitted.centers.shape == (2, 2)
    np.testing.assert_allclose(fitted.centers[np.argsort(fitted.centers[:, 0])],
                               [[0, 0], [10, 10]], atol=0.5)


def test_gmm_finds_two_obvious_blobs_with_a_categorical_column():
    X, truth = blobs()
    rng = np.random.default_rng(1)
    X = np.column_stack([X, rng.choice([-1.0, 1.0], len(X))])  # a noise boolean
    fitted = fit_clusters(X, "gmm", 2, layout=Layout((0, 1), ((2,),)), random_state=0)
    assert fitted.algorithm == "gmm" and fitted.k == 2
    assert adjusted_rand_score(truth, fitted.labels) == 1.0
    assert fitted.bic is not None and fitted.icl is not None and fitted.icl >= fitted.bic
    fitted = fitted.renumbered(fitted.labels)
    labels, confidence = fitted.assign(X)
    assert (labels[:BIG] == 0).all() and (labels[BIG:] == 1).all()
    assert (confidence > 0.99).all()
    # the mixture scores rows with gaps on the columns they have
    Y = X.copy()
    Y[::4, 0] = np.nan
    assert (fitted.assign(Y)[0] == labels).all()


def test_kmeans_records_inertia_and_uses_given_centres():
    X, _ = blobs()
    fitted = fit_clusters(X, "kmeans", 2, init=np.array([[10.0, 10.0], [0.0, 0.0]]))
    assert fitted.inertia is not None and fitted.inertia > 0
    assert (fitted.labels[:BIG] == 1).all() and (fitted.labels[BIG:] == 0).all()


def test_ward_tree_is_cut_at_any_k():
    X, _ = blobs()
    tree = ward_tree(X)
    for k in (2, 3, 5):
        cut = cut_ward(tree, X, k)
        assert cut.k == k and len(np.unique(cut.labels)) == k
        sizes = np.bincount(cut.labels)
        assert (np.diff(sizes) <= 0).all()  # numbered by size
    with pytest.raises(ValueError):
        ward_tree(np.zeros((4001, 2)))


# ---------------------------------------------------------------------------- numbering


def test_relabel_by_size_numbers_largest_first_and_keeps_noise():
    labels = np.array([2, 2, 0, 1, 1, 1, -1, 2, 1, -1])
    out = relabel_by_size(labels)
    # sizes: 1 -> 4 rows, 2 -> 3 rows, 0 -> 1 row
    np.testing.assert_array_equal(out, [1, 1, 2, 0, 0, 0, -1, 1, 0, -1])
    # ties keep the old order
    np.testing.assert_array_equal(relabel_by_size(np.array([1, 0, 1, 0])), [1, 0, 1, 0])
    np.testing.assert_array_equal(relabel_by_size(np.array([-1, -1])), [-1, -1])


def test_renumbered_numbers_segments_by_size_and_assign_returns_them():
    rng = np.random.default_rng(2)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    sizes = (30, 90, 60)
    X = np.vstack([rng.normal(c, 0.5, (s, 2)) for c, s in zip(centers, sizes, strict=True)])
    raw = np.repeat([0, 1, 2], sizes)
    fitted = FittedClusters("kmeans", 3, centers, raw)
    before, _ = fitted.assign(X)
    np.testing.assert_array_equal(before, raw)  # no order yet: the model's own numbers
    public = fitted.renumbered(raw)
    np.testing.assert_array_equal(public.order, [2, 0, 1])
    labels, _ = public.assign(X)
    np.testing.assert_array_equal(labels, np.repeat([2, 0, 1], sizes))
    assert (np.diff(np.bincount(labels)) <= 0).all()
    # new rows get the same public numbers
    new, _ = public.assign(centers)
    np.testing.assert_array_equal(new, [2, 0, 1])


# ------------------------------------------------------------------------------ distances


def test_partial_distances_equal_full_distances_when_nothing_is_missing():
    rng = np.random.default_rng(3)
    X, C = rng.normal(size=(20, 4)), rng.normal(size=(3, 4))
    expected = ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_allclose(partial_sq_distances(X, C), expected, atol=1e-10)


def test_partial_distances_rescale_observed_columns_to_the_full_width():
    rng = np.random.default_rng(4)
    X, C = rng.normal(size=(20, 4)), rng.normal(size=(3, 4))
    X[5, 2] = np.nan
    X[7, [0, 3]] = np.nan
    d2 = partial_sq_distances(X, C)
    obs5 = [0, 1, 3]
    expected5 = ((X[5, obs5] - C[:, obs5]) ** 2).sum(axis=1) * 4 / 3
    np.testing.assert_allclose(d2[5], expected5, atol=1e-10)
    obs7 = [1, 2]
    np.testing.assert_allclose(d2[7], ((X[7, obs7] - C[:, obs7]) ** 2).sum(axis=1) * 2,
                               atol=1e-10)
    full = ((X[0] - C) ** 2).sum(axis=1)
    np.testing.assert_allclose(d2[0], full, atol=1e-10)  # complete rows unaffected
    assert np.isfinite(partial_sq_distances(np.full((1, 4), np.nan), C)).all()


def test_fill_from_centers_fills_gaps_from_the_nearest_centre():
    C = np.array([[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]])
    X = np.array([[9.0, np.nan, 11.0], [0.5, -0.5, np.nan], [1.0, 2.0, 3.0]])
    filled, dist = fill_from_centers(X, C)
    np.testing.assert_array_equal(filled, [[9.0, 10.0, 11.0], [0.5, -0.5, 0.0], [1, 2, 3]])
    assert np.isnan(X).sum() == 2  # the input is left alone
    assert dist.shape == (3, 2)
    assert dist[0].argmin() == 1 and dist[1].argmin() == 0


def test_distance_confidence_is_one_at_a_centre_and_zero_on_the_midpoint():
    C = np.array([[0.0, 0.0], [4.0, 0.0]])
    X = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 0.0], [1.0, 0.0], [2.0, 5.0]])
    dist = np.sqrt(partial_sq_distances(X, C))
    conf = distance_confidence(dist)
    assert conf[0] == 1.0 and conf[1] == 1.0
    assert conf[2] == pytest.approx(0.0, abs=1e-12)
    assert conf[4] == pytest.approx(0.0, abs=1e-12)  # equidistant, even far away
    assert conf[3] == pytest.approx(1 - 1 / 3)
    # the same through a fitted model
    fitted = FittedClusters("kmeans", 2, C, np.array([0, 1]))
    labels, via_assign = fitted.assign(X)
    np.testing.assert_allclose(via_assign, conf)
    assert labels[0] == 0 and labels[1] == 1
    assert (distance_confidence(np.array([[3.0], [0.0]])) == 1.0).all()  # one segment


# -------------------------------------------------------------------------------- HDBSCAN


def test_hdbscan_radius_leaves_a_far_away_row_unassigned():
    X, _ = blobs()
    fitted = fit_clusters(X, "hdbscan", None)
    assert fitted.radius is not None and fitted.radius.shape == (2,)
    fitted = fitted.renumbered(fitted.assign(X)[0])
    new = np.array([[1000.0, 1000.0], [0.0, 0.0], [10.0, 10.0], [-40.0, 5.0]])
    labels, confidence = fitted.assign(new)
    np.testing.assert_array_equal(labels, [-1, 0, 1, -1])
    assert confidence[0] == 0.0 and confidence[3] == 0.0
    assert confidence[1] > 0.9 and confidence[2] > 0.9


def test_hdbscan_ignores_k_and_respects_min_cluster_size():
    X, _ = blobs()
    fitted = fit_clusters(X, "hdbscan", 7, min_cluster_size=100)
    # the 60-row blob is smaller than min_cluster_size: it cannot be a segment of its own
    assert fitted.k <= 1


# --------------------------------------------------------------------------------- errors


def test_unknown_algorithm_raises_settings_error():
    X, _ = blobs()
    with pytest.raises(SettingsError) as err:
        fit_clusters(X, "dbscan", 2)
    assert "dbscan" in str(err.value) and single(str(err.value))
    assert "dbscan" not in ALGORITHMS


@pytest.mark.parametrize("algorithm", ["kmeans", "gmm", "hierarchical"])
@pytest.mark.parametrize("k", [0, 181, None])
def test_impossible_k_raises_settings_error(algorithm, k):
    X, _ = blobs()
    with pytest.raises(SettingsError) as err:
        fit_clusters(X, algorithm, k)
    assert single(str(err.value))
    assert "180" in str(err.value)


def test_distance_algorithms_refuse_missing_values():
    X, _ = blobs()
    X[3, 1] = np.nan
    with pytest.raises(ValueError):
        fit_clusters(X, "kmeans", 2)
