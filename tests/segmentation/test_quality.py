"""Tests for copilot.segmentation.analysis.quality: each finding triggered by a planted problem."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from copilot.segmentation.analysis.quality import FINDING_KINDS, QualityReport, quality_report
from copilot.segmentation.analysis.roles import infer_roles
from copilot.segmentation.data.load import load_table
from tests.conftest import shared_dataset

N = 400


def clean(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": [f"C{100000 + i}" for i in range(n)],
        "x1": rng.normal(50, 10, n),
        "x2": rng.normal(0, 1, n),
        "x3": rng.uniform(0, 100, n),
        "plan": rng.choice(["Basic", "Pro", "Team"], n),
        "has_app": rng.choice(["Yes", "No"], n),
        "churned": rng.choice(["Yes", "No"], n, p=[0.3, 0.7]),
        "revenue": rng.normal(1000, 100, n),
    })


def report(df: pd.DataFrame, **kw) -> QualityReport:
    return quality_report(df, infer_roles(df, **kw))


def kinds(q: QualityReport) -> list[str]:
    return [f.kind for f in q.findings]


def one(q: QualityReport, kind: str, column: str | None = None):
    found = [f for f in q.findings if f.kind == kind and (column is None or column in f.columns)]
    assert len(found) == 1, (kind, column, [f.message for f in q.findings])
    return found[0]


def test_clean_table_has_only_the_id_note():
    q = report(clean())
    assert kinds(q) == ["id_like_column"]
    f = q.findings[0]
    assert f.columns == ("customer_id",) and f.severity == "info"
    assert q.duplicate_rows.count == 0
    assert q.duplicate_rows_ignoring_id is not None and q.duplicate_rows_ignoring_id.count == 0
    assert q.duplicate_ids is None
    assert q.constant_columns == () and q.skewed_columns == () and q.correlated_pairs == ()
    assert q.leakage_suspects == ()
    assert [m.column for m in q.missing] == list(clean().columns)
    assert all(m.count == 0 for m in q.missing)
    assert {o.column for o in q.outliers} == {"x1", "x2", "x3"}
    assert all(o.count == 0 for o in q.outliers)
    assert (q.n_rows, q.n_columns, q.sample_rows) == (N, 8, N)


def test_missing_values_info_and_warning():
    df = clean()
    df.loc[:9, "x1"] = np.nan
    df.loc[: int(N * 0.3) - 1, "plan"] = np.nan
    q = report(df)
    f = one(q, "missing_values", "x1")
    assert f.severity == "info"
    assert f.message == "x1 has 10 missing values (2.5%)."
    g = one(q, "missing_values", "plan")
    assert g.severity == "warning"
    assert g.message == "plan has 120 missing values (30.0%)."
    miss = {m.column: m for m in q.missing}
    assert miss["x1"].count == 10 and miss["x1"].share == pytest.approx(0.025)


def test_exact_duplicate_rows_and_duplicate_ids():
    df = clean()
    df = pd.concat([df, df.iloc[:3]], ignore_index=True)
    q = report(df)
    assert q.duplicate_rows.count == 3
    f = one(q, "duplicate_rows")
    assert f.severity == "warning" and f.message.startswith("3 rows (0.7%) are exact copies")
    d = one(q, "duplicate_ids", "customer_id")
    assert q.duplicate_ids is not None
    assert (q.duplicate_ids.values, q.duplicate_ids.rows) == (3, 6)
    assert "'C100000'" in d.message
    assert "duplicate_rows_ignoring_id" not in kinds(q)  # nothing beyond the exact copies


def test_duplicates_ignoring_the_id():
    df = clean()
    copies = df.iloc[10:14].copy()
    copies["customer_id"] = [f"NEW{i}" for i in range(4)]
    df = pd.concat([df, copies], ignore_index=True)
    q = report(df)
    assert q.duplicate_rows.count == 0
    assert q.duplicate_rows_ignoring_id is not None
    assert q.duplicate_rows_ignoring_id.count == 4
    assert q.duplicate_rows_ignoring_id.ignoring == "customer_id"
    f = one(q, "duplicate_rows_ignoring_id")
    assert "4 rows" in f.message and "customer_id" in f.message
    assert "duplicate_rows" not in kinds(q) and "duplicate_ids" not in kinds(q)


def test_duplicate_rows_without_an_id_column():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.integers(0, 3, 50).astype(float), "b": rng.normal(size=50)})
    df = pd.concat([df, df.iloc[[0, 1]]], ignore_index=True)
    df.loc[5, "b"] = np.nan
    df = pd.concat([df, df.iloc[[5]]], ignore_index=True)  # NaN rows compare equal
    q = report(df)
    assert q.duplicate_rows.count == 3
    assert q.duplicate_rows_ignoring_id is None


def test_constant_and_near_constant_columns():
    df = clean()
    df["country"] = "DE"
    df["currency"] = ["USD" if i < 4 else "EUR" for i in range(N)]  # 99% EUR
    df["nothing"] = np.nan
    q = report(df)
    c = one(q, "constant_column", "country")
    assert c.message == "country has a single value ('DE'), so it cannot separate customers and is left out."
    assert "every value is missing" in one(q, "constant_column", "nothing").message
    near = one(q, "near_constant_column", "currency")
    assert "'EUR' in 99.0%" in near.message
    by = {x.column: x for x in q.constant_columns}
    assert by["currency"].near and by["currency"].top_share == pytest.approx(0.99)
    assert not by["country"].near and by["nothing"].top_value is None


def test_imbalanced_outcome_is_not_near_constant():
    df = clean()
    df["churned"] = ["Yes" if i < 3 else "No" for i in range(N)]
    q = report(df)
    assert "near_constant_column" not in kinds(q)


def test_second_id_like_column():
    df = clean()
    df["email"] = [f"user{i}@example.com" for i in range(N)]
    q = report(df)
    f = one(q, "id_like_column", "email")
    assert "looks like an identifier" in f.message and "100.0%" in f.message
    flags = {c.column: c.is_id_column for c in q.id_like_columns}
    assert flags == {"customer_id": True, "email": False}


def test_skewed_column():
    df = clean()
    df["spend"] = np.random.default_rng(2).lognormal(3, 1.5, N)
    q = report(df)
    f = one(q, "skewed", "spend")
    assert "strongly skewed" in f.message
    assert q.skewed_columns[0].column == "spend" and q.skewed_columns[0].skewness > 2


def test_outliers_far_beyond_the_fences():
    df = clean()
    df.loc[[3, 50, 77, 120, 301], "x3"] = 10_000.0
    q = report(df)
    f = one(q, "outliers", "x3")
    assert f.message.startswith("x3 has 5 extreme values (1.2%) above ")
    o = {x.column: x for x in q.outliers}["x3"]
    assert (o.count, o.count_high, o.count_low) == (5, 5, 0)
    assert o.share == pytest.approx(5 / N)
    assert o.high_fence < 10_000


def test_no_outliers_when_most_values_are_equal():
    df = clean()
    df["refunds"] = [0.0] * (N - 20) + list(range(1, 21))
    q = report(df)
    assert "outliers" not in [f.kind for f in q.findings if "refunds" in f.columns]


def test_correlated_features():
    df = clean()
    rng = np.random.default_rng(3)
    df["x4"] = df["x1"] * 2 + rng.normal(0, 6, N)
    df.loc[:5, "x4"] = np.nan  # pairwise-complete correlation
    q = report(df)
    f = one(q, "correlated_features")
    assert f.columns == ("x1", "x4")
    rho = q.correlated_pairs[0].spearman
    assert 0.9 <= rho < 0.99
    assert f"Spearman {rho:.2f}" in f.message
    df["x5"] = df["x1"] * 2 + rng.normal(0, 40, N)  # related, but not a near-duplicate
    assert len(report(df).correlated_pairs) == 1


def test_leakage_numeric_feature_separates_binary_outcome():
    df = clean()
    rng = np.random.default_rng(4)
    df["final_bill"] = (df["churned"] == "Yes") * 100 + rng.uniform(0, 1, N)
    q = report(df)
    f = one(q, "leakage", "final_bill")
    assert f.severity == "warning" and f.columns == ("final_bill", "churned")
    assert "AUC 1.00" in f.message
    s = q.leakage_suspects[0]
    assert (s.feature, s.outcome, s.measure) == ("final_bill", "churned", "auc")


def test_leakage_categorical_feature_predicts_binary_outcome():
    df = clean()
    rng = np.random.default_rng(5)
    df["status"] = np.where(df["churned"] == "Yes", "gone", rng.choice(["active", "paused"], N))
    q = report(df)
    f = one(q, "leakage", "status")
    assert "100.0% accuracy" in f.message
    assert q.leakage_suspects[0].measure == "accuracy"


def test_leakage_feature_tracks_continuous_outcome():
    df = clean()
    df["billing_total"] = df["revenue"] * 1.01 + 3
    q = report(df)
    f = one(q, "leakage", "billing_total")
    assert f.columns == ("billing_total", "revenue")
    assert "Spearman 1.00" in f.message


def test_no_leakage_from_a_rare_outcome_and_an_unrelated_category():
    df = clean()
    df["churned"] = ["Yes" if i % 100 == 0 else "No" for i in range(N)]  # 1% positive
    q = report(df)
    assert "leakage" not in kinds(q)


def test_findings_are_ordered_and_one_sentence_each():
    df = clean()
    rng = np.random.default_rng(6)
    df.loc[:9, "x1"] = np.nan
    df["country"] = "DE"
    df["spend"] = rng.lognormal(3, 1.5, N)
    df["final_bill"] = (df["churned"] == "Yes") * 100 + rng.uniform(0, 1, N)
    df = pd.concat([df, df.iloc[:2]], ignore_index=True)
    q = report(df)
    sev = [f.severity for f in q.findings]
    assert sev == sorted(sev, key=lambda s: s != "warning")
    for severity in ("warning", "info"):
        ranks = [FINDING_KINDS.index(f.kind) for f in q.findings if f.severity == severity]
        assert ranks == sorted(ranks)
    assert kinds(q)[0] == "leakage"
    assert {"duplicate_rows", "duplicate_ids", "missing_values", "constant_column",
            "skewed", "id_like_column"} <= set(kinds(q))
    for f in q.findings:
        assert f.message.endswith(".") and "\n" not in f.message
        assert ". " not in f.message, f.message
    assert q.findings_of("skewed")[0].columns == ("spend",)


def test_report_is_deterministic_and_samples_big_tables():
    rng = np.random.default_rng(7)
    n = 60_000
    df = pd.DataFrame({
        "customer_id": np.arange(n),
        "a": rng.normal(size=n),
        "churned": rng.choice(["Yes", "No"], n),
    })
    df["b"] = df["a"] + rng.normal(0, 0.05, n)
    roles = infer_roles(df)
    q1 = quality_report(df, roles)
    q2 = quality_report(df, roles)
    assert q1 == q2
    assert q1.sample_rows == 50_000 and q1.n_rows == n
    assert one(q1, "correlated_features").columns == ("a", "b")


def test_fast_on_a_tall_table():
    rng = np.random.default_rng(8)
    n = 200_000
    data = {f"x{i}": rng.lognormal(size=n) for i in range(22)}
    data["cat"] = pd.Series(rng.choice(["a", "b", "c"], n), dtype="str")
    data["id"] = pd.Series([f"C{i}" for i in range(n)], dtype="str")
    data["churn"] = pd.Series(rng.choice(["Yes", "No"], n), dtype="str")
    data["revenue"] = rng.normal(size=n)
    data["flag"] = rng.random(n) < 0.5
    df = pd.DataFrame(data)
    roles = infer_roles(df)
    start = time.perf_counter()
    q = quality_report(df, roles)
    elapsed = time.perf_counter() - start
    assert len(q.skewed_columns) == 22
    assert elapsed < 4.0, elapsed


@pytest.mark.integration
def test_telco_quality():
    df = load_table(shared_dataset("telco_churn", "WA_Fn-UseC_-Telco-Customer-Churn.csv")).frame
    q = quality_report(df, infer_roles(df))
    messages = [f.message for f in q.findings]
    assert "TotalCharges has 11 missing values (0.2%)." in messages
    assert {m.column: m.count for m in q.missing}["TotalCharges"] == 11
    assert q.duplicate_ids is None and q.duplicate_rows.count == 0
    assert "leakage" not in kinds(q)
    assert one(q, "id_like_column", "customerID").message.startswith("customerID is the ID column")
