"""validate_outcomes / segment_sizes on synthetic data where the truth is planted."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats

from copilot.core.errors import ColumnError
from copilot.segmentation.analysis import validate
from copilot.segmentation.analysis.roles import ColumnRole, RoleReport
from copilot.segmentation.analysis.validate import (
    OutcomeValidation,
    segment_sizes,
    validate_outcomes,
)


def _role(name: str, role: str, **kw) -> ColumnRole:
    return ColumnRole(
        name=name, dtype="float64", role=role, reason="test", n_unique=2, missing_share=0.0, **kw
    )


def _roles(*cols: ColumnRole) -> RoleReport:
    return RoleReport(
        columns=cols,
        id_column=None,
        outcomes=tuple(c.name for c in cols if c.role == "outcome"),
        features=tuple(c.name for c in cols if c.role != "outcome"),
    )


def _fake_outcome_values(df: pd.DataFrame, role: ColumnRole) -> pd.Series:
    """What roles.outcome_values promises: floats, 0/1 for binary outcomes, NaN if missing."""
    s = df[role.name]
    if role.outcome_kind == "binary" and not pd.api.types.is_numeric_dtype(s):
        out = (s.astype("str") == role.positive_label).astype(float)
        return out.where(s.notna())
    return pd.to_numeric(s, errors="coerce").astype(float)


@pytest.fixture(autouse=True)
def _outcome_values(monkeypatch):
    # roles.outcome_values is written by someone else (possibly still a stub): use its contract.
    monkeypatch.setattr(validate, "outcome_values", _fake_outcome_values)


CHURN = _role("churn", "outcome", outcome_kind="binary", positive_label="Yes")
REVENUE = _role("revenue", "outcome", outcome_kind="continuous")
ROLES = _roles(_role("seats", "numeric"), CHURN, REVENUE)


def _planted(n_per=3000, rates=(0.1, 0.3, 0.6), means=(100.0, 100.0, 100.0), seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(rates)), n_per)
    churn = rng.random(labels.size) < np.asarray(rates)[labels]
    revenue = rng.normal(np.asarray(means)[labels], 20.0)
    df = pd.DataFrame(
        {
            "seats": rng.integers(1, 50, labels.size),
            "churn": np.where(churn, "Yes", "No"),
            "revenue": revenue,
        }
    )
    return df, labels


def _one(results, name) -> OutcomeValidation:
    return next(r for r in results if r.name == name)


def test_planted_churn_rates_are_significant_and_inside_wilson_intervals():
    df, labels = _planted()
    res = _one(validate_outcomes(df, labels, ROLES), "churn")
    assert res.kind == "binary" and res.test == "chi-square"
    assert res.significant and res.p_value is not None and res.p_value < 1e-6
    assert [s.segment for s in res.segments] == [0, 1, 2]
    for s, truth in zip(res.segments, (0.1, 0.3, 0.6), strict=True):
        assert s.n == 3000
        assert s.ci_low < truth < s.ci_high
        assert s.ci_low < s.value < s.ci_high
        observed = (df["churn"][labels == s.segment] == "Yes").mean()
        assert s.value == pytest.approx(observed)
    assert res.overall == pytest.approx((df["churn"] == "Yes").mean())
    # Statistic and effect size as computed independently.
    table = pd.crosstab(labels, df["churn"]).to_numpy()
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    assert res.statistic == pytest.approx(chi2)
    assert res.effect_size_name == "cramers_v"
    assert res.effect_size == pytest.approx(math.sqrt(chi2 / labels.size))
    assert res.magnitude == "medium"  # V ~ 0.4 for 10% / 30% / 60%
    lo, hi = (round(100 * f(s.value for s in res.segments)) for f in (min, max))
    assert res.summary.startswith(f"churn differs across segments: {lo}% to {hi}% (chi-square")
    assert "p < 0.001" in res.summary and "medium" in res.summary


def test_identical_distributions_are_not_significant_and_negligible():
    df, labels = _planted(rates=(0.3, 0.3, 0.3), seed=1)
    churn, revenue = validate_outcomes(df, labels, ROLES)
    for res in (churn, revenue):
        assert not res.significant
        assert res.p_value is not None and res.p_value > 0.05
        assert res.magnitude == "negligible"
        assert "does not clearly differ" in res.summary


def test_continuous_outcome_kruskal_epsilon_and_t_intervals():
    means = (50.0, 80.0, 120.0)
    df, labels = _planted(n_per=2000, means=means, seed=2)
    res = validate_outcomes(df, labels, ROLES, outcomes=["revenue"])[0]
    assert res.kind == "continuous" and res.test == "kruskal-wallis"
    groups = [df["revenue"].to_numpy()[labels == g] for g in range(3)]
    h, p = stats.kruskal(*groups)
    assert res.statistic == pytest.approx(h)
    assert res.p_value == pytest.approx(p)
    assert res.effect_size_name == "epsilon_squared"
    assert res.effect_size == pytest.approx(h / (labels.size - 1))
    assert res.magnitude == "large"
    for s, truth, g in zip(res.segments, means, groups, strict=True):
        assert s.ci_low < truth < s.ci_high
        assert s.value == pytest.approx(g.mean())
        assert s.median == pytest.approx(np.median(g))
        half = stats.t.ppf(0.975, g.size - 1) * g.std(ddof=1) / math.sqrt(g.size)
        assert s.ci_high - s.value == pytest.approx(half)
    assert "mean 50" in res.summary and "Kruskal-Wallis" in res.summary


def test_wilson_interval_known_values():
    assert validate._wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    lo, hi = validate._wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)


def test_missing_outcome_values_are_dropped_and_counted():
    df, labels = _planted(seed=3)
    df.loc[::10, "churn"] = None
    df.loc[::7, "revenue"] = np.nan
    churn, revenue = validate_outcomes(df, labels, ROLES)
    assert churn.n_missing == 900 and churn.n == labels.size - 900
    assert sum(s.n for s in churn.segments) == churn.n
    assert revenue.n_missing == int(np.ceil(labels.size / 7))
    assert revenue.p_value is not None


def test_unassigned_rows_are_reported_apart_and_left_out_of_the_test():
    df, labels = _planted(seed=4)
    labels = labels.copy()
    labels[:500] = -1  # noise taken from segment 0
    res = validate_outcomes(df, labels, ROLES, outcomes=["churn"])[0]
    assert [s.segment for s in res.segments] == [0, 1, 2]
    assert res.unassigned is not None and res.unassigned.segment == -1
    assert res.unassigned.n == 500
    assert res.n == labels.size - 500
    keep = labels >= 0
    table = pd.crosstab(labels[keep], df["churn"][keep].to_numpy()).to_numpy()
    assert res.statistic == pytest.approx(stats.chi2_contingency(table, correction=False)[0])


def test_one_segment_has_no_test():
    df, _ = _planted(seed=5)
    labels = np.zeros(len(df), dtype=int)
    for res in validate_outcomes(df, labels, ROLES):
        assert res.p_value is None and res.statistic is None and not res.significant
        assert "only one segment" in res.summary
        assert len(res.segments) == 1


def test_constant_outcome_has_no_test():
    df, labels = _planted(seed=6)
    df["churn"] = "No"
    df["revenue"] = 42.0
    churn, revenue = validate_outcomes(df, labels, ROLES)
    assert churn.p_value is None and churn.overall == 0.0
    assert "0% for every" in churn.summary
    assert revenue.p_value is None and "42 for every" in revenue.summary
    assert all(s.ci_low == s.ci_high == 42.0 for s in revenue.segments)


def test_segment_without_values_is_named_in_the_summary():
    df, labels = _planted(seed=7)
    df.loc[labels == 2, "revenue"] = np.nan
    res = validate_outcomes(df, labels, ROLES, outcomes=["revenue"])[0]
    assert res.p_value is None and not res.significant
    assert "segment 2 has no recorded values" in res.summary
    assert res.segments[2].n == 0 and res.segments[2].value is None


def test_all_missing_outcome():
    df, labels = _planted(seed=8)
    df["revenue"] = np.nan
    res = validate_outcomes(df, labels, ROLES, outcomes=["revenue"])[0]
    assert res.p_value is None and res.overall is None and res.n == 0
    assert "no recorded values" in res.summary


def test_large_effect_and_significant_but_negligible_wording():
    df, labels = _planted(rates=(0.05, 0.95, 0.5), seed=9)
    assert validate_outcomes(df, labels, ROLES, outcomes=["churn"])[0].magnitude == "large"
    # Huge n, tiny difference: significant, but negligible.
    df, labels = _planted(n_per=200_000, rates=(0.30, 0.31, 0.30), seed=10)
    res = validate_outcomes(df, labels, ROLES, outcomes=["churn"])[0]
    assert res.significant and res.magnitude == "negligible"
    assert "only slightly" in res.summary


def test_unknown_or_non_outcome_columns_raise_a_column_error():
    df, labels = _planted()
    with pytest.raises(ColumnError, match="nope"):
        validate_outcomes(df, labels, ROLES, outcomes=["nope"])
    with pytest.raises(ColumnError, match="not an outcome"):
        validate_outcomes(df, labels, ROLES, outcomes=["seats"])


def test_results_are_frozen_with_plain_python_numbers():
    df, labels = _planted()
    res = validate_outcomes(df, labels, ROLES)[0]
    with pytest.raises(ValidationError):
        res.p_value = 1.0
    assert type(res.p_value) is float and type(res.statistic) is float
    assert type(res.segments[0].n) is int and type(res.segments[0].value) is float
    assert isinstance(res.segments, tuple)


def test_segment_sizes():
    labels = np.array([1, 0, 0, -1, 2, 0, 1, -1])
    sizes = segment_sizes(labels)
    assert [(s.segment, s.n) for s in sizes] == [(0, 3), (1, 2), (2, 1), (-1, 2)]
    assert sum(s.share for s in sizes) == pytest.approx(1.0)
    assert sizes[0].share == pytest.approx(3 / 8)
    assert type(sizes[0].n) is int and type(sizes[0].share) is float
