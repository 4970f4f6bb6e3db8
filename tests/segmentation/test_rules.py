"""surrogate_rules on segments defined by clean, known rules."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from copilot.core.errors import DataError, SettingsError
from copilot.segmentation.analysis.roles import ColumnRole, RoleReport
from copilot.segmentation.analysis.rules import RuleSet, _merge, surrogate_rules


def _roles(**cols: str) -> RoleReport:
    columns = tuple(
        ColumnRole(name=n, dtype="x", role=r, reason="test", n_unique=3, missing_share=0.0)
        for n, r in cols.items()
    )
    return RoleReport(columns=columns, id_column=None, outcomes=(), features=tuple(cols))


ROLES = _roles(
    seats="numeric",
    api_calls_30d="numeric",
    Contract="categorical",
    is_active="boolean",
    noise="numeric",
)


def _planted(n=8000, seed=0):
    """Segment 1: seats >= 20. Segment 2: seats < 20 and api_calls_30d >= 5000. Else 0."""
    rng = np.random.default_rng(seed)
    seats = rng.integers(1, 60, n)
    api = rng.integers(0, 10_000, n)
    labels = np.where(seats >= 20, 1, np.where(api >= 5000, 2, 0))
    df = pd.DataFrame(
        {
            "seats": seats,
            "api_calls_30d": api,
            "Contract": rng.choice(["Month-to-month", "One year", "Two year"], n),
            "is_active": rng.random(n) < 0.5,
            "noise": rng.normal(size=n),
        }
    )
    return df, labels


_CMP = re.compile(r"^(?P<name>.+?) (?P<op>>=|<|!=|=) (?P<value>.+)$")


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    if name.startswith("days since "):
        col = df[name.removeprefix("days since ")]
        return (col.max() - col) / pd.Timedelta(days=1)
    return df[name]


def _mask(df: pd.DataFrame, conditions: tuple[str, ...]) -> np.ndarray:
    """Read the rule back: evaluate its conditions on the original table."""
    mask = np.ones(len(df), dtype=bool)
    for cond in conditions:
        if cond.endswith((" is true", " is false")):
            name, _, truth = cond.rpartition(" is ")
            col = df[name]
            if not pd.api.types.is_bool_dtype(col):
                col = col.astype(str).str.lower().isin(["true", "yes", "y", "t", "1", "1.0"])
            mask &= col.to_numpy(dtype=bool) == (truth == "true")
            continue
        m = _CMP.match(cond)
        assert m, cond
        col, op, value = _column(df, m["name"]), m["op"], m["value"]
        if op == ">=":
            mask &= (col >= float(value)).to_numpy()
        elif op == "<":
            mask &= (col < float(value)).to_numpy()
        elif op == "=":
            mask &= (col.astype(str) == value).to_numpy()
        else:
            mask &= (col.astype(str) != value).to_numpy()
    return mask


def _check_rules_read_back(rs: RuleSet, df: pd.DataFrame, labels: np.ndarray) -> None:
    """Every rule's text reproduces its n, precision and recall on the segmented rows."""
    keep = labels >= 0
    covered = np.zeros(len(df), dtype=int)
    for seg in rs.segments:
        for rule in seg.rules:
            assert rule.text == " and ".join(rule.conditions)
            mask = _mask(df, rule.conditions) & keep
            covered += mask
            hits = int((mask & (labels == seg.segment)).sum())
            assert rule.n == int(mask.sum())
            assert rule.precision == pytest.approx(hits / rule.n)
            assert rule.recall == pytest.approx(hits / int((labels == seg.segment).sum()))
    # Leaves partition the segmented rows (no segment is left without a leaf here).
    assert np.all(covered[keep] == 1)


def test_clean_thresholds_are_recovered_with_high_fidelity():
    df, labels = _planted()
    rs = surrogate_rules(df, labels, ROLES)
    assert rs.fidelity >= 0.95
    assert rs.fidelity_method == "cross-validation" and rs.n_fit == len(df)
    by_seg = {s.segment: s.rules for s in rs.segments}
    assert [r.text for r in by_seg[1]] == ["seats >= 20"]
    assert by_seg[1][0].precision == 1.0 and by_seg[1][0].recall == 1.0
    assert [r.text for r in by_seg[2]] == ["seats < 20 and api_calls_30d >= 5000"]
    assert [r.text for r in by_seg[0]] == ["seats < 20 and api_calls_30d < 5000"]
    assert set(rs.features_used) == {"seats", "api_calls_30d"}
    assert rs.note is None
    _check_rules_read_back(rs, df, labels)


def test_large_table_uses_a_sample_and_holdout_fidelity():
    df, labels = _planted(n=30_000, seed=1)
    rs = surrogate_rules(df, labels, ROLES, sample=5000)
    assert rs.fidelity_method == "holdout"
    assert rs.n_fit <= 5000 and rs.n_eval == len(df) - rs.n_fit
    assert rs.fidelity >= 0.95
    assert any(r.text == "seats >= 20" for s in rs.segments for r in s.rules)
    _check_rules_read_back(rs, df, labels)


def test_categorical_and_boolean_conditions_read_naturally():
    rng = np.random.default_rng(2)
    n = 6000
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.5, 0.3, 0.2])
    active = rng.random(n) < 0.5
    labels = np.where(contract == "Month-to-month", np.where(active, 0, 2), 1)
    df = pd.DataFrame({"Contract": contract, "is_active": active, "noise": rng.normal(size=n)})
    roles = _roles(Contract="categorical", is_active="boolean", noise="numeric")
    rs = surrogate_rules(df, labels, roles)
    texts = {s.segment: [r.text for r in s.rules] for s in rs.segments}
    assert texts[0] == ["Contract = Month-to-month and is_active is true"]
    assert texts[2] == ["Contract = Month-to-month and is_active is false"]
    assert texts[1] == ["Contract != Month-to-month"]
    assert rs.fidelity == pytest.approx(1.0)
    _check_rules_read_back(rs, df, labels)


def test_band_on_one_feature_is_merged_into_two_bounds():
    rng = np.random.default_rng(3)
    n = 6000
    tenure = rng.integers(0, 72, n)
    labels = np.where((tenure >= 12) & (tenure < 40), 1, 0)
    df = pd.DataFrame({"tenure": tenure, "noise": rng.normal(size=n)})
    rs = surrogate_rules(df, labels, _roles(tenure="numeric", noise="numeric"))
    (seg1,) = [s for s in rs.segments if s.segment == 1]
    assert [r.text for r in seg1.rules] == ["tenure >= 12 and tenure < 40"]
    for seg in rs.segments:
        for rule in seg.rules:
            ops = [re.match(_CMP, c)["op"] for c in rule.conditions]
            assert ops.count(">=") <= 1 and ops.count("<") <= 1
    _check_rules_read_back(rs, df, labels)


def test_datetime_rules_read_as_days_since():
    rng = np.random.default_rng(4)
    n = 4000
    days = rng.integers(0, 400, n)
    last_seen = pd.Timestamp("2024-06-30") - pd.to_timedelta(days, unit="D")
    labels = (days >= 90).astype(int)
    df = pd.DataFrame({"last_seen": last_seen, "noise": rng.normal(size=n)})
    rs = surrogate_rules(df, labels, _roles(last_seen="datetime", noise="numeric"))
    texts = {s.segment: [r.text for r in s.rules] for s in rs.segments}
    assert texts[1] == ["days since last_seen >= 90"]
    _check_rules_read_back(rs, df, labels)


def test_thresholds_are_readable_and_still_read_back_exactly():
    rng = np.random.default_rng(5)
    n = 5000
    charges = rng.uniform(18.25, 118.75, n).round(2)
    labels = (charges > 70.3519).astype(int) + (charges > 99.1234).astype(int)
    df = pd.DataFrame({"MonthlyCharges": charges})
    rs = surrogate_rules(df, labels, _roles(MonthlyCharges="numeric"))
    for seg in rs.segments:
        for cond in (c for r in seg.rules for c in r.conditions):
            digits = re.sub(r"[^0-9]", "", _CMP.match(cond)["value"]).strip("0")
            assert len(digits) <= 3, cond
    assert rs.fidelity >= 0.98
    _check_rules_read_back(rs, df, labels)


def test_unassigned_rows_are_left_out():
    df, labels = _planted(seed=6)
    labels = labels.copy()
    labels[:1000] = -1
    df.loc[df.index[:1000], "seats"] = 1000  # would wreck the rules if the noise were used
    rs = surrogate_rules(df, labels, ROLES)
    assert rs.n_fit == len(df) - 1000
    assert [s.segment for s in rs.segments] == [0, 1, 2]
    assert rs.fidelity >= 0.95
    _check_rules_read_back(rs, df, labels)


def test_one_segment_is_everyone():
    df, _ = _planted(n=500)
    rs = surrogate_rules(df, np.zeros(len(df), dtype=int), ROLES)
    assert rs.fidelity == 1.0
    ((rule,),) = [s.rules for s in rs.segments]
    assert rule.text == "everyone" and rule.conditions == ()
    assert rule.n == 500 and rule.precision == 1.0 and rule.recall == 1.0


def test_missing_values_all_missing_feature_and_determinism():
    df, labels = _planted(seed=7)
    df["empty"] = np.nan
    df.loc[df.index[::50], "seats"] = np.nan
    roles = _roles(seats="numeric", api_calls_30d="numeric", empty="numeric")
    a = surrogate_rules(df, labels, roles)
    assert a == surrogate_rules(df, labels, roles)
    assert "empty" not in a.features_used
    assert a.note is not None and "seats" in a.note
    assert a.fidelity >= 0.9
    assert isinstance(a.segments, tuple) and type(a.fidelity) is float


def test_merge_keeps_the_tightest_bounds_and_drops_implied_inequalities():
    from copilot.segmentation.analysis.rules import _Column, _Cond

    t = _Column(feature="tenure", kind="numeric")
    a = _Column(feature="Contract", kind="onehot", level="A", code=0)
    b = _Column(feature="Contract", kind="onehot", level="B", code=1)
    path = [
        _Cond(t, "ge", 5.0),
        _Cond(t, "lt", 60.0),
        _Cond(a, "ne", "A"),
        _Cond(t, "ge", 12.0),
        _Cond(t, "lt", 40.0),
        _Cond(b, "eq", "B"),
    ]
    assert [c.text() for c in _merge(path)] == ["tenure >= 12", "tenure < 40", "Contract = B"]
    # Excluding all levels but one reads as that level, only when every row has a level.
    c = _Column(feature="Contract", kind="onehot", level="C", code=2)
    path = [_Cond(a, "ne", "A"), _Cond(t, "lt", 9.0), _Cond(b, "ne", "B")]
    columns = [t, a, b, c]
    assert [x.text() for x in _merge(path, columns, {"Contract"})] == [
        "Contract = C",
        "tenure < 9",
    ]
    assert [x.text() for x in _merge(path, columns, set())] == [
        "Contract != A",
        "Contract != B",
        "tenure < 9",
    ]


def test_bad_settings_and_unusable_input():
    df, labels = _planted(n=200)
    with pytest.raises(SettingsError):
        surrogate_rules(df, labels, ROLES, max_depth=0)
    with pytest.raises(DataError):
        surrogate_rules(df, np.full(len(df), -1), ROLES)
    with pytest.raises(DataError):
        surrogate_rules(df, labels, _roles())


@pytest.mark.integration
def test_real_telco_segments_get_faithful_rules_that_read_back():
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    from tests.conftest import shared_dataset

    df = pd.read_csv(shared_dataset("telco_churn", "WA_Fn-UseC_-Telco-Customer-Churn.csv"))
    roles = _roles(
        tenure="numeric",
        MonthlyCharges="numeric",
        Contract="categorical",
        InternetService="categorical",
        PaperlessBilling="boolean",
    )
    X = pd.get_dummies(df[["Contract", "InternetService"]]).astype(float)
    X = StandardScaler().fit_transform(X.join(df[["tenure", "MonthlyCharges"]]))
    labels = KMeans(4, random_state=0, n_init=4).fit(X).labels_
    rs = surrogate_rules(df, labels, roles)
    assert rs.fidelity >= 0.85 and rs.fidelity_method == "cross-validation"
    _check_rules_read_back(rs, df, labels)
