"""project_2d: stratified sampling, PCA / t-SNE coordinates, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from copilot.core.errors import SettingsError
from copilot.segmentation.analysis.projection import _stratified_indices, project_2d


def _blobs(n=20_000, seed=0):
    """Three big segments, one tiny one (5 rows) and some unassigned rows."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    labels[:5] = 3
    labels[5:205] = -1
    centers = np.array([[0, 0, 0, 0], [8, 0, 0, 0], [0, 8, 0, 0], [8, 8, 8, 0], [-8, 0, 0, 0]])
    X = centers[labels] + rng.normal(size=(n, 4))
    return X, labels


def test_sample_keeps_every_segment_and_lines_up_with_x():
    X, labels = _blobs()
    p = project_2d(X, labels, sample=1000)
    assert p.method == "pca"
    assert len(p.row_index) == len(p.x) == len(p.y) == len(p.labels) <= 1000
    assert list(p.row_index) == sorted(set(p.row_index))
    assert set(p.labels) == {-1, 0, 1, 2, 3}
    assert np.array_equal(np.asarray(p.labels), labels[list(p.row_index)])
    counts = {g: p.labels.count(g) for g in set(p.labels)}
    assert counts[3] == 5  # the tiny segment is kept whole
    assert counts[0] > counts[1] > counts[2]  # otherwise proportional


def test_pca_coordinates_and_explained_variance():
    X, labels = _blobs()
    p = project_2d(X, labels, sample=500)
    pca = PCA(n_components=2, random_state=0).fit(X)
    expected = pca.transform(X[list(p.row_index)])
    assert np.allclose(np.column_stack([p.x, p.y]), expected)
    assert p.explained_variance == pytest.approx(tuple(pca.explained_variance_ratio_))
    assert p.explained_variance[0] >= p.explained_variance[1] > 0


def test_deterministic_and_seed_dependent():
    X, labels = _blobs()
    assert project_2d(X, labels, sample=800) == project_2d(X, labels, sample=800)
    other = project_2d(X, labels, sample=800, random_state=1)
    assert other.row_index != project_2d(X, labels, sample=800).row_index


def test_small_table_is_returned_whole():
    X, labels = _blobs(n=300)
    p = project_2d(X, labels, sample=5000)
    assert p.row_index == tuple(range(300))


def test_tsne_on_a_small_sample():
    X, labels = _blobs(n=3000, seed=1)
    a = project_2d(X, labels, method="tsne", sample=200)
    assert a.method == "tsne" and a.explained_variance is None
    assert len(a.x) <= 200 and set(a.labels) == set(np.unique(labels))
    assert np.isfinite(a.x).all() and np.isfinite(a.y).all()
    assert a == project_2d(X, labels, method="tsne", sample=200)
    # Well-separated blobs stay apart: points are nearer their own segment's centre.
    xy = np.column_stack([a.x, a.y])
    lab = np.asarray(a.labels)
    centres = {g: xy[lab == g].mean(axis=0) for g in (0, 1, 2)}
    big = np.isin(lab, (0, 1, 2))
    nearest = [np.argmin([np.linalg.norm(v - centres[g]) for g in (0, 1, 2)]) for v in xy[big]]
    assert np.mean(np.asarray(nearest) == lab[big]) > 0.9


def test_degenerate_inputs():
    rng = np.random.default_rng(2)
    one_col = rng.normal(size=(100, 1))
    p = project_2d(one_col, np.zeros(100, dtype=int))
    assert set(p.y) == {0.0} and p.explained_variance == (pytest.approx(1.0), 0.0)
    const = np.ones((50, 3))
    p = project_2d(const, np.zeros(50, dtype=int))
    assert p.explained_variance == (0.0, 0.0)
    p = project_2d(rng.normal(size=(1, 3)), np.array([0]))
    assert p.x == (0.0,) and p.y == (0.0,)
    with pytest.raises(SettingsError):
        project_2d(one_col, np.zeros(100, dtype=int), method="umap")
    with pytest.raises(ValueError):
        project_2d(np.full((10, 2), np.nan), np.zeros(10, dtype=int))
    with pytest.raises(ValueError):
        project_2d(one_col, np.zeros(99, dtype=int))


def test_stratified_indices_respects_the_size_and_the_floors():
    labels = np.repeat([0, 1, 2], [9000, 990, 10])
    idx = _stratified_indices(labels, 1000, random_state=0, min_per_group=20)
    assert len(idx) == 1000 and len(set(idx.tolist())) == 1000
    counts = np.bincount(labels[idx])
    assert counts[2] == 10  # all of a group smaller than the floor
    assert counts[1] >= 20 and counts[0] >= 880
