"""Tests for copilot.segmentation.analysis.roles: ID, outcome and type inference, overrides, errors."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from copilot.core.errors import ColumnError, DataError
from copilot.segmentation.analysis.roles import (
    FEATURE_ROLES,
    ColumnRole,
    id_name_score,
    infer_roles,
    outcome_values,
)
from copilot.segmentation.data.load import load_table
from copilot.segmentation.data.names import name_tokens, outcome_name_match
from tests.conftest import shared_dataset

N = 300


def customers(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = ["great", "service", "slow", "delivery", "support", "price", "app", "crashes"]
    return pd.DataFrame({
        "row": np.arange(1, n + 1),
        "customer_id": [f"C{100000 + i}" for i in rng.permutation(n)],
        "email": [f"user{i}@example.com" for i in range(n)],
        "monthly_spend": np.round(rng.lognormal(4, 0.5, n), 2),
        "visits": rng.integers(0, 40, n),
        "plan": rng.choice(["Basic", "Pro", "Business", "Enterprise"], n),
        "has_app": rng.choice(["Yes", "No"], n),
        "signup": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D"),
        "comment": [" ".join(rng.choice(words, 9)) for _ in range(n)],
        "country": ["DE"] * n,
        "empty": [np.nan] * n,
        "churned": rng.choice(["Yes", "No"], n, p=[0.2, 0.8]),
        "revenue_12m": np.round(rng.lognormal(6, 0.4, n), 2),
    })


def _one_sentence(err: Exception) -> str:
    msg = str(err)
    assert "\n" not in msg and msg.endswith(".")
    return msg


# ----------------------------------------------------------------------------- name rules


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("customerID", ["customer", "id"]),
        ("Customer ID", ["customer", "id"]),
        ("CustomerID", ["customer", "id"]),
        ("user_id", ["user", "id"]),
        ("TotalCharges", ["total", "charges"]),
        ("HTMLParser", ["html", "parser"]),
        ("Spending Score (1-100)", ["spending", "score", "1", "100"]),
    ],
)
def test_name_tokens(name, tokens):
    assert name_tokens(name) == tokens


@pytest.mark.parametrize(
    ("name", "strong"),
    [
        ("customerID", True), ("Customer ID", True), ("user_id", True), ("CustomerID", True),
        ("id", True), ("UUID", True), ("account_number", True), ("client_no", True),
        ("Paid", False), ("valid", False), ("width", False), ("tenure", False),
        ("Idle_days", False),
    ],
)
def test_id_name_score(name, strong):
    assert (id_name_score(name) >= 2) is strong


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("Churn", "churn"), ("is_churned", "churned"), ("Attrition_Flag", "attrition"),
        ("customer_LTV", "ltv"), ("TotalCharges", None),
        ("total_revenue", "revenue"), ("Customer Lifetime Value", "lifetime value"),
        ("renewalStatus", "renewal"), ("MonthlyCharges", None), ("Contract", None),
        ("labelled_by", None), ("targeted", None),
    ],
)
def test_outcome_name_match(name, match):
    assert outcome_name_match(name) == match


# -------------------------------------------------------------------------------- inference


def test_inferred_roles_on_a_customer_table():
    df = customers()
    r = infer_roles(df)
    role = {c.name: c.role for c in r.columns}
    assert r.id_column == "customer_id"
    assert role == {
        "row": "id",
        "customer_id": "id",
        "email": "id",
        "monthly_spend": "numeric",
        "visits": "numeric",
        "plan": "categorical",
        "has_app": "boolean",
        "signup": "datetime",
        "comment": "text",
        "country": "constant",
        "empty": "constant",
        "churned": "outcome",
        "revenue_12m": "outcome",
    }
    assert r.outcomes == ("churned", "revenue_12m")
    assert r.features == ("monthly_spend", "visits", "plan", "has_app", "signup")
    assert r.features_with_role("numeric") == ("monthly_spend", "visits")
    churn = r.get("churned")
    assert (churn.outcome_kind, churn.positive_label) == ("binary", "Yes")
    assert "validate" in churn.reason and "out of the features" in churn.reason
    revenue = r.get("revenue_12m")
    assert (revenue.outcome_kind, revenue.positive_label) == ("continuous", None)
    assert r.get("empty").missing_share == 1.0 and r.get("empty").n_unique == 0
    assert r.get("plan").n_unique == 4
    for c in r.columns:
        assert c.reason and c.reason.endswith(".") and "\n" not in c.reason
        assert not c.overridden
    assert set(r.features) <= {c.name for c in r.columns if c.role in FEATURE_ROLES}


def test_features_keep_table_order_and_exclude_ids_and_outcomes():
    r = infer_roles(customers())
    assert list(r.features) == [c for c in customers().columns if c in r.features]
    assert not set(r.features) & {"customer_id", "row", "email", "churned", "revenue_12m"}


def test_best_name_match_wins_the_id_column():
    df = customers()[["row", "email", "monthly_spend", "customer_id"]]
    assert infer_roles(df).id_column == "customer_id"
    df2 = customers()[["email", "row", "monthly_spend"]]
    r2 = infer_roles(df2)
    assert r2.id_column == "email"  # unique text beats row numbers
    assert r2.get("row").role == "id"


def test_unique_float_is_a_measurement_not_an_id():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"spend": rng.normal(100, 10, 200), "x": rng.integers(0, 5, 200)})
    r = infer_roles(df)
    assert r.id_column is None
    assert r.get("spend").role == "numeric"


def test_unique_non_consecutive_integers_are_not_an_id():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"income": rng.choice(np.arange(10_000, 99_999), 200, replace=False)})
    assert infer_roles(df).get("income").role == "numeric"


def test_shuffled_row_numbers_are_an_id():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"n": rng.permutation(200) + 500, "x": rng.normal(size=200)})
    r = infer_roles(df)
    assert r.id_column == "n"


def test_float_customer_id_with_whole_numbers_is_an_id():
    ids = np.arange(200, dtype=float)
    ids[5] = np.nan
    df = pd.DataFrame({"CustomerID": ids, "x": np.linspace(0, 1, 200)})
    assert infer_roles(df).id_column == "CustomerID"


def test_repeated_id_name_is_id_like_but_not_the_id_column():
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"user_id": rng.integers(0, 20, 300), "x": rng.normal(size=300)})
    r = infer_roles(df)
    assert r.id_column is None
    assert r.get("user_id").role == "id"
    assert "x" in r.features


def test_id_with_a_few_duplicates_is_still_the_id_column():
    ids = [f"K{i}" for i in range(200)] + ["K1", "K2"]
    df = pd.DataFrame({"customer_id": ids, "x": np.arange(202) % 7})
    r = infer_roles(df)
    assert r.id_column == "customer_id"
    assert "repeats" in r.get("customer_id").reason


def test_long_unique_text_is_text_not_id():
    df = pd.DataFrame({"review": [f"review number {i} says the product was fine" for i in range(50)]})
    r = infer_roles(df)
    assert r.get("review").role == "text"
    assert r.id_column is None


def test_high_cardinality_short_text_is_text():
    rng = np.random.default_rng(5)
    values = [f"city{i}" for i in rng.integers(0, 400, 1000)]
    values[0] = None
    r = infer_roles(pd.DataFrame({"city": values}))
    assert r.get("city").role == "text"


def test_many_rows_with_few_levels_relative_to_rows_is_categorical():
    rng = np.random.default_rng(6)
    values = [f"store{i}" for i in rng.integers(0, 120, 10_000)]
    assert infer_roles(pd.DataFrame({"store": values})).get("store").role == "categorical"


def test_bool_dtype_and_two_valued_numbers_are_boolean():
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"flag": rng.random(100) < 0.5, "senior": rng.integers(0, 2, 100)})
    r = infer_roles(df)
    assert r.get("flag").role == "boolean"
    assert r.get("senior").role == "boolean"


def test_numeric_zero_one_outcome_is_binary_with_positive_one():
    rng = np.random.default_rng(8)
    df = pd.DataFrame({"target": rng.integers(0, 2, 100), "x": rng.normal(size=100)})
    c = infer_roles(df).get("target")
    assert (c.role, c.outcome_kind, c.positive_label) == ("outcome", "binary", "1")
    values = outcome_values(df, c)
    assert values.dtype == float
    assert (values == df["target"].astype(float)).all()


def test_positive_label_falls_back_to_the_less_frequent_value():
    df = pd.DataFrame({"label": ["stay"] * 30 + ["gone"] * 10 + [None] * 2})
    c = infer_roles(df).get("label")
    assert c.positive_label == "gone"
    values = outcome_values(df, c)
    assert values.sum() == 10 and values.isna().sum() == 2
    assert set(values.dropna()) == {0.0, 1.0}


def test_bool_outcome_positive_is_true():
    df = pd.DataFrame({"converted": [True, False, True, False, False] * 10})
    c = infer_roles(df).get("converted")
    assert c.positive_label == "True"
    assert outcome_values(df, c).sum() == 20


def test_float_binary_outcome_values_match_the_label():
    df = pd.DataFrame({"churn": [1.0, 0.0, np.nan, 1.0] * 10})
    c = infer_roles(df).get("churn")
    assert c.positive_label == "1.0"
    v = outcome_values(df, c)
    np.testing.assert_array_equal(v.to_numpy()[:4], [1.0, 0.0, np.nan, 1.0])


def test_continuous_outcome_values():
    df = customers()
    r = infer_roles(df)
    v = outcome_values(df, r.get("revenue_12m"))
    np.testing.assert_allclose(v.to_numpy(), df["revenue_12m"].to_numpy())
    with pytest.raises(ColumnError):
        outcome_values(df, r.get("plan"))


def test_outcome_named_text_with_many_values_is_not_an_outcome():
    rng = np.random.default_rng(9)
    df = pd.DataFrame({"churn_reason": rng.choice(["price", "service", "moved"], 100)})
    r = infer_roles(df)
    assert r.outcomes == ()
    assert r.get("churn_reason").role == "categorical"


def test_outcomes_empty_list_proposes_none():
    r = infer_roles(customers(), outcomes=[])
    assert r.outcomes == ()
    assert r.get("churned").role == "boolean"
    assert r.get("revenue_12m").role == "numeric"
    assert "churned" in r.features


# --------------------------------------------------------------------- explicit choices


def test_explicit_id_outcomes_exclude_and_overrides():
    df = customers()
    r = infer_roles(
        df,
        id_column="email",
        outcomes=["has_app"],
        exclude=["visits"],
        overrides={"plan": "text", "country": "categorical", "monthly_spend": "outcome"},
    )
    assert r.id_column == "email"
    assert r.get("email").role == "id"
    assert r.get("customer_id").role == "id"  # still ID-like, never a feature
    assert r.get("visits").role == "excluded"
    assert r.get("plan").role == "text" and r.get("plan").overridden
    assert r.get("country").role == "categorical" and r.get("country").overridden
    spend = r.get("monthly_spend")
    assert (spend.role, spend.outcome_kind, spend.overridden) == ("outcome", "continuous", True)
    assert r.outcomes == ("monthly_spend", "has_app")  # table order
    assert r.get("churned").role == "boolean"  # explicit outcomes: no name proposals
    assert r.features == ("signup", "country", "churned", "revenue_12m")


def test_override_to_id_sets_the_id_column():
    df = customers()[["email", "monthly_spend", "visits"]]
    r = infer_roles(df, overrides={"visits": "id"})
    assert r.id_column == "visits"
    assert r.get("email").role == "id"


def test_override_moves_the_inferred_id_to_a_feature():
    df = customers()[["customer_id", "plan", "monthly_spend"]]
    r = infer_roles(df, overrides={"customer_id": "categorical"})
    assert r.id_column is None
    assert "customer_id" in r.features


@pytest.mark.parametrize(
    ("kwargs", "given"),
    [
        ({"id_column": "custid"}, "custid"),
        ({"outcomes": ["churnd"]}, "churnd"),
        ({"exclude": ["Plan "]}, "Plan "),
        ({"overrides": {"visit": "numeric"}}, "visit"),
    ],
)
def test_unknown_columns_raise_with_a_suggestion(kwargs, given):
    with pytest.raises(ColumnError) as exc:
        infer_roles(customers(), **kwargs)
    msg = _one_sentence(exc.value)
    assert f"'{given}'" in msg
    assert "closest name is" in msg
    assert "monthly_spend" in msg  # lists some columns


def test_unknown_column_without_close_match_lists_columns():
    with pytest.raises(ColumnError) as exc:
        infer_roles(customers(), id_column="zzzzzz")
    msg = _one_sentence(exc.value)
    assert "use one of its columns" in msg and "customer_id" in msg


def test_explicit_outcome_that_is_neither_binary_nor_numeric_raises():
    with pytest.raises(ColumnError) as exc:
        infer_roles(customers(), outcomes=["plan"])
    msg = _one_sentence(exc.value)
    assert "'plan'" in msg and "outcome" in msg
    with pytest.raises(ColumnError):
        infer_roles(customers(), overrides={"comment": "outcome"})


def test_unknown_role_and_conflicts_raise():
    with pytest.raises(ColumnError) as exc:
        infer_roles(customers(), overrides={"plan": "feature"})  # type: ignore[dict-item]
    assert "'feature'" in _one_sentence(exc.value)
    with pytest.raises(ColumnError) as exc:
        infer_roles(customers(), id_column="email", outcomes=["email"])
    assert "'email'" in _one_sentence(exc.value)
    with pytest.raises(ColumnError):
        infer_roles(customers(), outcomes=["churned"], exclude=["churned"])


def test_duplicate_column_names_raise():
    df = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(DataError):
        infer_roles(df)


def test_result_is_immutable():
    r = infer_roles(customers())
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type
        r.id_column = "x"  # type: ignore[misc]
    assert isinstance(r.columns[0], ColumnRole)


def test_fast_on_wide_tall_tables():
    rng = np.random.default_rng(10)
    n = 200_000
    data = {f"x{i}": rng.normal(size=n) for i in range(24)}
    data["cat"] = pd.Series(rng.choice(["a", "b", "c"], n), dtype="str")
    data["id"] = pd.Series([f"C{i}" for i in range(n)], dtype="str")
    data["churn"] = pd.Series(rng.choice(["Yes", "No"], n), dtype="str")
    data["n"] = rng.integers(0, 50, n)
    data["flag"] = rng.random(n) < 0.5
    data["row"] = np.arange(n)
    df = pd.DataFrame(data)
    start = time.perf_counter()
    r = infer_roles(df)
    elapsed = time.perf_counter() - start
    assert r.id_column == "id" and r.outcomes == ("churn",)
    assert r.get("row").role == "id"
    assert elapsed < 3.0, elapsed


# --------------------------------------------------------------------------- real data


@pytest.mark.integration
def test_telco_roles():
    df = load_table(shared_dataset("telco_churn", "WA_Fn-UseC_-Telco-Customer-Churn.csv")).frame
    r = infer_roles(df)
    assert r.id_column == "customerID"
    churn = r.get("Churn")
    assert (churn.role, churn.outcome_kind, churn.positive_label) == ("outcome", "binary", "Yes")
    assert "customerID" not in r.features and "Churn" not in r.features
    assert "Churn" in r.outcomes
    assert outcome_values(df, churn).sum() == 1869
    assert {"tenure", "MonthlyCharges", "Contract", "gender"} <= set(r.features)
    assert r.get("Contract").role == "categorical"
    assert r.get("SeniorCitizen").role == "boolean"


@pytest.mark.integration
def test_wholesale_and_mall_ids():
    w = load_table(shared_dataset("wholesale_customers", "Wholesale_customers_data.csv")).frame
    rw = infer_roles(w)
    assert rw.id_column == "Customer ID"
    assert "Customer ID" not in rw.features and "Fresh" in rw.features
    m = load_table(shared_dataset("mall_customers", "Mall_Customers.csv")).frame
    rm = infer_roles(m)
    assert rm.id_column == "CustomerID"
    assert rm.features == ("Genre", "Age", "Annual Income (k$)", "Spending Score (1-100)")


def test_columns_whose_values_look_like_identifiers_are_not_features_whatever_their_name():
    """Issue 15: `acct` with 12 repeating values like ACC-900000 became a feature and its
    values reached the prompts 18-30 times each."""
    import numpy as np

    from fixtures.customers import make_customers

    frame = make_customers(600, 3, seed=4).frame
    rng = np.random.default_rng(0)
    frame["acct"] = [f"ACC-9000{n:02d}" for n in rng.integers(0, 12, len(frame))]
    frame["ref"] = [f"ord_{rng.integers(0, 16**8):08x}" for _ in range(len(frame))]
    # Codes that are ordinary levels stay features.
    frame["tier"] = rng.choice(["Tier 1", "Tier 2", "Q1-2024"], len(frame))
    roles = infer_roles(frame)
    by_name = {c.name: c for c in roles.columns}
    assert by_name["acct"].role == "id" and "ACC-9000" in by_name["acct"].reason
    assert by_name["ref"].role == "id"
    assert roles.id_column == "customer_id"
    assert "acct" not in roles.features and "ref" not in roles.features
    assert "tier" in roles.features


# ----------------------------------------------------------------------- issue 16: outcomes


def test_a_one_two_coded_outcome_names_its_positive_label_in_its_sentences():
    # 1/2 (German credit: 1 good, 2 bad) does not say which value is "yes": the rarer value is
    # taken and every sentence says "credit_risk = 2", where 0/1 stays plain.
    import numpy as np

    from copilot.segmentation.analysis.validate import validate_outcomes

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 600)
    bad = rng.random(600) < np.array([0.1, 0.3, 0.6])[labels]
    df = pd.DataFrame({"x": rng.normal(size=600), "credit_risk": np.where(bad, 2, 1),
                       "churned": bad.astype(int)})
    roles = infer_roles(df, outcomes=["credit_risk", "churned"])
    risk = roles.get("credit_risk")
    assert risk.positive_label == "2" and not risk.positive_evident
    assert "credit_risk = 2" in risk.reason
    assert roles.get("churned").positive_label == "1" and roles.get("churned").positive_evident
    by_name = {v.name: v for v in validate_outcomes(df, labels, roles)}
    assert by_name["credit_risk"].summary.startswith("credit_risk = 2 differs")
    assert by_name["churned"].summary.startswith("churned differs")


def test_a_running_total_of_a_feature_is_not_an_outcome_by_name():
    df = pd.DataFrame({"MonthlyCharges": [20.0, 50.0, 80.0, 30.0] * 10,
                       "TotalCharges": [200.0, 1500.0, 4000.0, 90.0] * 10,
                       "total_revenue": [1.0, 2.0, 3.0, 5.0] * 10,
                       "Churn": ["Yes", "No", "No", "No"] * 10})
    roles = infer_roles(df)
    assert roles.get("TotalCharges").role == "numeric"
    # a total with no feature it sums is still proposed (revenue is an outcome word) ...
    assert set(roles.outcomes) == {"Churn", "total_revenue"}
    # ... but beside the revenue it sums, it is a feature, and the reason says why
    df["revenue_30d"] = [0.5, 1.0, 0.2, 2.0] * 10
    roles = infer_roles(df)
    assert roles.get("total_revenue").role == "numeric"
    assert "running total of revenue_30d" in roles.get("total_revenue").reason
    assert "total_revenue" not in roles.outcomes


def test_small_whole_number_codes_named_as_groups_are_categories():
    # Wholesale's Region is 1/2/3 (Lisbon, Oporto, other): distances between codes mean
    # nothing. A quantity of the same shape (seats 1-3, support_tier 1-4) stays a number.
    df = pd.DataFrame({
        "Region": [1, 2, 3, 3, 3, 1] * 10,
        "store_type": [1.0, 2.0, 5.0, 4.0, 2.0, 1.0] * 10,
        "seats": [1, 2, 3, 3, 3, 1] * 10,
        "region_count": [1, 2, 3, 3, 3, 1] * 10,
        "support_tier": [1, 2, 3, 4, 2, 1] * 10,
    })
    roles = infer_roles(df)
    assert roles.get("Region").role == "categorical" and "region" in roles.get("Region").reason
    assert roles.get("store_type").role == "categorical"
    for quantity in ("seats", "region_count", "support_tier"):
        assert roles.get(quantity).role == "numeric", quantity


def test_distinct_counts_of_numbers_match_pandas():
    """Plain numeric columns are counted by sorting: the count pandas gives (NaN left out,
    0.0 and -0.0 one value, each infinity once)."""
    from copilot.segmentation.analysis.roles import _n_unique

    columns = [
        pd.Series([0.0, -0.0, np.nan, np.inf, np.inf, -np.inf, 1.5, 1.5]),
        pd.Series([np.nan, np.nan]),
        pd.Series([], dtype=float),
        pd.Series([3, 1, 2, 2, -7], dtype=np.int64),
        pd.Series([2**63 - 1, 0, 2**63 - 1], dtype=np.uint64),
        pd.Series([1, None, 1], dtype="Int64"),
    ]
    for s in columns:
        assert _n_unique(s) == s.nunique(dropna=True), s.tolist()
