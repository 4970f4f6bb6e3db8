"""Tests for the synthetic customer generator in fixtures/customers.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fixtures.customers import _segment_shares, make_customers

N = 5000
CATEGORICALS = ("plan", "region", "acquisition_channel", "has_mobile_app")
OUTCOMES = ("churned", "revenue_12m")


@pytest.fixture(scope="module")
def table():
    return make_customers(N, 4, seed=11)


def test_columns_and_labels(table):
    df = table.frame
    assert len(df) == N and table.labels.shape == (N,)
    assert table.n_segments == 4
    assert set(np.unique(table.labels)) == {0, 1, 2, 3}
    assert df["customer_id"].is_unique and df["customer_id"].str.match(r"^C\d{6}$").all()
    numeric = (*table.informative, *table.noise)
    assert 5 <= len(table.informative) <= 9 and 1 <= len(table.noise) <= 3
    assert not set(table.informative) & set(table.noise)
    assert list(df.columns) == ["customer_id", *numeric, *CATEGORICALS, *OUTCOMES]
    for name in numeric:
        assert pd.api.types.is_float_dtype(df[name])
    assert set(df["has_mobile_app"]) == {"Yes", "No"}
    assert set(df["churned"]) == {"Yes", "No"}
    assert (df["revenue_12m"] > 0).all()


def test_planted_sizes_match_the_shares():
    # With every count given, the shares are the generator's first random draw.
    k, seed = 5, 21
    table = make_customers(N, k, seed=seed, n_informative=6, n_noise=2)
    shares = _segment_shares(np.random.default_rng(seed), k, 0.05)
    observed = np.bincount(table.labels, minlength=k) / N
    se = np.sqrt(shares * (1 - shares) / N)
    assert (np.abs(observed - shares) < 4 * se).all()
    assert shares.sum() == pytest.approx(1.0) and (shares >= 0.05 - 1e-12).all()


@pytest.mark.parametrize("seed", range(8))
def test_smallest_segment_holds_about_five_percent_or_more(seed):
    table = make_customers(2000, None, seed=seed)
    assert 3 <= table.n_segments <= 7
    counts = np.bincount(table.labels, minlength=table.n_segments)
    assert counts.min() / len(table.labels) >= 0.04


def test_every_segment_gets_rows_in_a_tiny_table():
    table = make_customers(30, 7, seed=4)
    assert np.bincount(table.labels, minlength=7).min() >= 3


def test_missing_share_is_five_to_ten_percent_per_feature_column(table):
    df = table.frame
    for name in (*table.informative, *table.noise, "plan", "region"):
        share = df[name].isna().mean()
        assert 0.04 <= share <= 0.11, (name, share)
    for name in ("customer_id", "acquisition_channel", "has_mobile_app", *OUTCOMES):
        assert df[name].notna().all(), name


def test_outliers_are_present(table):
    # The same seed without outliers gives the same values before outliers are planted.
    clean = make_customers(N, 4, seed=11, outlier_share=0.0).frame
    df = table.frame
    n_out = round(0.01 * N)
    changed = 0
    for name in (*table.informative, *table.noise):
        both = df[name].notna() & clean[name].notna() & (clean[name] != 0)
        ratio = (df.loc[both, name] / clean.loc[both, name]).to_numpy()
        moved = ~np.isclose(ratio, 1.0)
        assert ((ratio[moved] >= 5 - 1e-9) & (ratio[moved] <= 50 + 1e-9)).all(), name
        changed += int(moved.sum())
    assert 0.8 * n_out <= changed <= n_out
    # and they are wild: far above the column's 99th percentile
    spend_like = table.informative[0]
    assert df[spend_like].max() > 3 * df[spend_like].quantile(0.99)


def test_deterministic_per_seed(table):
    again = make_customers(N, 4, seed=11)
    pd.testing.assert_frame_equal(again.frame, table.frame)
    np.testing.assert_array_equal(again.labels, table.labels)
    assert (again.informative, again.noise) == (table.informative, table.noise)


def test_different_across_seeds(table):
    other = make_customers(N, 4, seed=12)
    assert not other.frame.equals(table.frame)
    assert not np.array_equal(other.labels, table.labels)
    assert not other.frame["customer_id"].equals(table.frame["customer_id"])


def test_outcomes_differ_by_segment(table):
    churn = (table.frame["churned"] == "Yes").groupby(table.labels).mean()
    revenue = table.frame["revenue_12m"].groupby(table.labels).median()
    assert churn.max() - churn.min() > 0.05
    assert revenue.max() / revenue.min() > 1.2


def test_segments_are_separated_on_the_informative_columns(table):
    # planted centres are at least 5 within-segment SDs apart: a per-segment mean differs
    z = np.log1p(table.frame[list(table.informative)].clip(lower=0))
    means = z.groupby(table.labels).mean()
    spread = means.max() - means.min()
    assert spread.max() > 1.0
