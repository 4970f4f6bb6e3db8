"""Tests for the archetype table generator in fixtures/archetypes.py.

A naming benchmark trusts these archetypes: if a segment planted as deal hunters did not have
high discounts in the data, a name saying so would be marked wrong for the generator's fault.
So beside the catalogue's shape, these tests check that each planted claim (high and low
columns, categorical levels, churn and revenue tendencies) shows in generated tables.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import cross_val_score
from sklearn.tree import DecisionTreeClassifier

import fixtures.archetypes as arch_mod
from fixtures.archetypes import (
    ARCHETYPES,
    DOMAINS,
    MIN_SHARE,
    Archetype,
    ArchetypeTable,
    domain_archetypes,
    make_archetype_table,
)

N = 3000
ID_PATTERNS = {
    "saas": r"^acc_[0-9a-f]{8}$",
    "retail": r"^R\d{7}$",
    "telco": r"^\d{4}-[A-Z]{5}$",
}
# Words that claim customers stay, and words that claim they leave: a name of a high-churn
# archetype must not say the first, nor one of a low-churn archetype the second.
STAYING = {"loyal", "sticky", "committed", "retained", "devoted", "faithful", "stable", "steady",
           "secure", "safe"}
LEAVING = {"churning", "churners", "churned", "lapsed", "lapsing", "risk", "flight", "lost",
           "departed", "dormant", "leaving", "former"}


def _churned(table: ArchetypeTable) -> pd.Series:
    return table.frame[table.outcomes[0]].isin(["Yes", 1])


@pytest.fixture(scope="module", params=[(d, s) for d in DOMAINS for s in (0, 7)],
                ids=lambda p: f"{p[0]}-seed{p[1]}")
def table(request) -> ArchetypeTable:
    domain, seed = request.param
    return make_archetype_table(domain, N, seed=seed)


# --- The catalogue -------------------------------------------------------------------------


def test_catalogue_size_and_keys():
    assert len(ARCHETYPES) >= 12
    keys = [a.key for a in ARCHETYPES]
    assert len(set(keys)) == len(keys)
    assert len({a.title for a in ARCHETYPES}) == len(ARCHETYPES)
    for domain in DOMAINS:
        mine = domain_archetypes(domain)
        assert len(mine) >= 3
        assert all(a.domain == domain and a.key.startswith(f"{domain}_") for a in mine)
    assert {a.domain for a in ARCHETYPES} == set(DOMAINS)


@pytest.mark.parametrize("arch", ARCHETYPES, ids=lambda a: a.key)
def test_fits_and_rules_out_are_generous_disjoint_words(arch: Archetype):
    for words in (arch.fits, arch.rules_out):
        assert 8 <= len(words) <= 15
        assert len(set(words)) == len(words)
        # Single lowercase words, so a benchmark can match them against a name's tokens.
        assert all(re.fullmatch(r"[a-z]+", w) for w in words), words
    assert not set(arch.fits) & set(arch.rules_out)


@pytest.mark.parametrize("arch", ARCHETYPES, ids=lambda a: a.key)
def test_the_title_is_itself_a_fitting_name(arch: Archetype):
    title_words = set(re.findall(r"[a-z]+", arch.title.lower()))
    assert title_words & set(arch.fits), arch.title
    assert not title_words & set(arch.rules_out), arch.title


@pytest.mark.parametrize("arch", ARCHETYPES, ids=lambda a: a.key)
def test_churn_words_agree_with_the_planted_churn(arch: Archetype):
    if arch.churn_tendency == "high":
        assert not set(arch.fits) & STAYING
        assert set(arch.rules_out) & STAYING  # a churn risk must not be called loyal
    if arch.churn_tendency == "low":
        assert not set(arch.fits) & LEAVING
        assert set(arch.rules_out) & LEAVING


def test_every_domain_has_high_and_low_churn_archetypes():
    for domain in DOMAINS:
        tendencies = {a.churn_tendency for a in domain_archetypes(domain)}
        assert {"high", "low"} <= tendencies, domain


@pytest.mark.parametrize("arch", ARCHETYPES, ids=lambda a: a.key)
def test_profiles_name_real_columns_with_moderate_shifts(arch: Archetype):
    table = make_archetype_table(arch.domain, 200, seed=0)
    numeric = [c for c in table.features if c not in table.noise]
    assert arch.profile and (arch.high or arch.low)
    for column, shift in arch.profile:
        assert column in numeric and column not in table.outcomes
        assert abs(shift) <= 3.0  # separable, not trivially so
    for column, probs in arch.levels:
        observed = set(table.frame[column].dropna().astype(str))
        assert set(dict(probs)) <= observed | {"True", "False"}, column
        assert all(0.0 <= p <= 1.0 for _, p in probs) and sum(p for _, p in probs) <= 1 + 1e-9
    assert 0.0 < arch.churn_rate < 1.0


@pytest.mark.parametrize("domain", DOMAINS)
def test_archetypes_of_a_domain_differ_on_several_columns(domain: str):
    columns = sorted({c for a in domain_archetypes(domain) for c, _ in a.profile})
    for a, b in itertools.combinations(domain_archetypes(domain), 2):
        gaps = np.array([abs(a.shift(c) - b.shift(c)) for c in columns])
        assert (gaps >= 1.0).sum() >= 2, (a.key, b.key)
        assert np.linalg.norm(gaps) >= 2.5, (a.key, b.key)


# --- Generated tables ----------------------------------------------------------------------


def test_table_shape_ids_and_labels(table: ArchetypeTable):
    df = table.frame
    k = len(table.archetypes)
    assert len(df) == N and table.labels.shape == (N,)
    assert table.archetypes == domain_archetypes(table.domain)
    assert list(df.columns) == [table.id_column, *table.features, *table.outcomes]
    ids = df[table.id_column]
    assert ids.is_unique and ids.notna().all()
    assert ids.astype(str).str.match(ID_PATTERNS[table.domain]).all()
    assert set(np.unique(table.labels)) == set(range(k))
    shares = np.bincount(table.labels, minlength=k) / N
    assert shares.min() >= MIN_SHARE - 0.002
    assert shares.max() - shares.min() > 0.02  # unequal sizes, not k equal parts
    assert set(table.noise) <= set(table.features) and len(table.noise) >= 1


def test_outcomes_are_present_and_never_features(table: ArchetypeTable):
    df = table.frame
    assert 1 <= len(table.outcomes) <= 2
    assert not set(table.outcomes) & set(table.features)
    churn = df[table.outcomes[0]]
    assert churn.notna().all() and len(set(churn)) == 2 and set(churn) in ({"Yes", "No"}, {0, 1})
    if table.domain in ("saas", "retail"):
        revenue = df[table.outcomes[1]]
        assert pd.api.types.is_float_dtype(revenue) and revenue.notna().all()
        assert (revenue >= 0).all() and revenue.nunique() > N // 2


def test_outcome_names_are_not_features_in_any_domain():
    tables = [make_archetype_table(d, 300, seed=1) for d in DOMAINS]
    outcomes = {o for t in tables for o in t.outcomes}
    features = {f for t in tables for f in t.features}
    planted = {c for a in ARCHETYPES for c, _ in (*a.profile, *a.levels)}
    assert len(outcomes) == 5
    assert not outcomes & features and not outcomes & planted


def test_values_look_like_an_export(table: ArchetypeTable):
    df = table.frame
    numeric = [c for c in table.features
               if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    counts = [c.name for c in arch_mod._DOMAINS[table.domain].columns if c.kind == "count"]
    for name in counts:
        values = df[name].dropna()
        assert (values >= 0).all() and (values == np.round(values)).all(), name
    shares = [c for c in numeric if "share" in c]
    for name in shares:
        assert df[name].dropna().between(0, 1).all()
    # A few percent missing in some feature columns, none in the ID or the outcomes.
    missing = df[list(table.features)].isna().mean()
    assert (missing > 0).sum() >= 3
    assert missing.max() <= 0.12
    assert df[[table.id_column, *table.outcomes]].notna().all().all()
    # Categoricals are tied to the archetypes, so some level differs by segment.
    cats = [c for c in table.features if c not in numeric and c not in table.noise]
    assert cats
    for name in cats:
        by_segment = pd.crosstab(table.labels, df[name].astype(str), normalize="index")
        assert (by_segment.max() - by_segment.min()).max() > 0.25, name


@pytest.mark.parametrize("domain", DOMAINS)
def test_same_seed_same_table_other_seed_other_table(domain: str):
    a = make_archetype_table(domain, 500, seed=3)
    b = make_archetype_table(domain, 500, seed=3)
    c = make_archetype_table(domain, 500, seed=4)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert np.array_equal(a.labels, b.labels)
    assert not a.frame.equals(c.frame) and not np.array_equal(a.labels, c.labels)


def test_the_domain_joins_the_seed():
    sizes = [np.bincount(make_archetype_table(d, 600, seed=5).labels)[:3] for d in DOMAINS]
    assert not all(np.array_equal(sizes[0], s) for s in sizes[1:])


# --- Planted claims show in the data -------------------------------------------------------


def test_marked_columns_differ_from_the_rest_in_the_planted_direction(table: ArchetypeTable):
    df = table.frame
    for s, arch in enumerate(table.archetypes):
        seg = df[table.labels == s]
        for column in arch.high:
            assert seg[column].median() > df[column].median(), (arch.key, column)
        for column in arch.low:
            assert seg[column].median() < df[column].median(), (arch.key, column)


def test_every_planted_shift_shows_against_the_average_customer(table: ArchetypeTable):
    # Against the domain's average customer (the profile's own reference, z = 0), every shift
    # of half an SD or more shows with its sign, whatever the other segments are.
    spec = arch_mod._DOMAINS[table.domain]
    df = table.frame
    for s, arch in enumerate(table.archetypes):
        seg = df[table.labels == s]
        for col in spec.columns:
            shift = arch.shift(col.name)
            if abs(shift) < 0.5:
                continue
            average = col.base  # the value at z = 0, before counts are rounded
            median = seg[col.name].median()
            assert (median > average) if shift > 0 else (median < average), (arch.key, col.name)


def test_categorical_levels_follow_the_planted_probabilities(table: ArchetypeTable):
    df = table.frame
    for s, arch in enumerate(table.archetypes):
        seg = df[table.labels == s]
        for column, probs in arch.levels:
            values = seg[column].dropna()
            if column == "TechSupport":  # only asked of customers with internet service
                values = values[seg.loc[values.index, "InternetService"] != "No"]
            values = values.astype(str)
            for level, p in probs:
                se = np.sqrt(p * (1 - p) / max(len(values), 1))
                assert abs((values == level).mean() - p) <= max(0.08, 4 * se), (arch.key, level)


def test_churn_follows_the_planted_rates(table: ArchetypeTable):
    churned = _churned(table)
    observed = {a.key: churned[table.labels == s].mean() for s, a in enumerate(table.archetypes)}
    for arch in table.archetypes:
        assert abs(observed[arch.key] - arch.churn_rate) < 0.1, arch.key
    high = [observed[a.key] for a in table.archetypes if a.churn_tendency == "high"]
    low = [observed[a.key] for a in table.archetypes if a.churn_tendency == "low"]
    assert high and low and min(high) > max(low)


def test_revenue_follows_the_planted_levels(table: ArchetypeTable):
    # Telco has no revenue outcome; there the revenue level is the monthly bill.
    revenue = table.frame[table.outcomes[1] if len(table.outcomes) > 1 else "MonthlyCharges"]
    medians = {a.revenue_tendency: [] for a in table.archetypes}
    for s, arch in enumerate(table.archetypes):
        medians[arch.revenue_tendency].append(revenue[table.labels == s].median())
    assert medians.get("high") and medians.get("low")
    assert min(medians["high"]) > max(medians["low"])


def test_noise_columns_carry_no_segment_signal(table: ArchetypeTable):
    df = table.frame
    for name in table.noise:
        col = df[name]
        if pd.api.types.is_numeric_dtype(col):
            means = col.groupby(table.labels).mean()
            assert (means.max() - means.min()) < 0.35 * col.std(), name
        else:
            shares = pd.crosstab(table.labels, col.astype(str), normalize="index")
            assert (shares.max() - shares.min()).max() < 0.12, name


def test_segments_are_separable_but_no_single_column_separates_them(table: ArchetypeTable):
    df = table.frame
    numeric = [c for c in table.features if c not in table.noise
               and pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    x = np.log1p(df[numeric].clip(lower=0).fillna(df[numeric].median()))
    cats = [c for c in table.features if c not in numeric and c not in table.noise]
    x = pd.concat([x, pd.get_dummies(df[cats].astype(str), dtype=float)], axis=1)
    # Balanced accuracy, so that a dominant segment does not flatter a one-column guess.
    score = "balanced_accuracy"
    both = cross_val_score(LinearDiscriminantAnalysis(), x, table.labels, cv=3, scoring=score)
    assert both.mean() >= 0.8
    k = len(table.archetypes)
    single = max(
        cross_val_score(DecisionTreeClassifier(max_leaf_nodes=k, random_state=0),
                        x[[c]], table.labels, cv=3, scoring=score).mean()
        for c in numeric
    )
    assert single < 0.6


# --- Domain rules and quirks ---------------------------------------------------------------


def test_saas_rules():
    t = make_archetype_table("saas", N, seed=2)
    df = t.frame
    trial = df["is_trial"]
    assert pd.api.types.is_bool_dtype(trial) and trial.any()
    assert (df.loc[trial, "mrr"] == 0).all() and (df.loc[trial, "tenure_months"] <= 1).all()
    assert ((df["logins_30d"] == 0) == (df["days_since_last_login"] > 30)).all()


def test_retail_rules():
    t = make_archetype_table("retail", N, seed=2)
    df = t.frame
    none = df["orders_12m"] == 0
    assert none.any()
    assert df.loc[none, "avg_order_value"].isna().all()
    assert (df.loc[none, "days_since_last_order"] > 365).all()
    assert (df.loc[~none, "days_since_last_order"] <= 365).all()
    assert (df["coupon_uses"] <= df["orders_12m"]).all()
    spend = df["orders_12m"] * df["avg_order_value"]
    ok = spend.notna() & (spend > 0)
    ratio = df.loc[ok, "total_spend_12m"] / spend[ok]
    assert ratio.between(0.85, 1.15).all()


def test_telco_rules_and_the_total_charges_trap():
    t = make_archetype_table("telco", N, seed=2)
    df = t.frame
    no_internet = df["InternetService"] == "No"
    assert (df.loc[no_internet, "TechSupport"] == "No internet service").all()
    assert df.loc[~no_internet, "TechSupport"].isin(["Yes", "No"]).all()
    assert set(df["SeniorCitizen"]) == {0, 1}
    ok = df["TotalCharges"].notna()
    assert np.allclose(df.loc[ok, "TotalCharges"],
                       df.loc[ok, "MonthlyCharges"] * df.loc[ok, "tenure"], rtol=0.06)
    # Cumulative charges are mostly tenure, not value: a trap for a namer.
    by_tenure = df["TotalCharges"].corr(df["tenure"], method="spearman")
    by_charges = df["TotalCharges"].corr(df["MonthlyCharges"], method="spearman")
    assert by_tenure > by_charges + 0.2


# --- Choosing archetypes, errors, CLI ------------------------------------------------------


def test_a_subset_in_the_order_given():
    keys = ["retail_loyal_regulars", "retail_deal_hunters"]
    t = make_archetype_table("retail", 1000, archetypes=keys, seed=0)
    assert [a.key for a in t.archetypes] == keys
    assert set(np.unique(t.labels)) == {0, 1}
    churned = _churned(t)
    assert churned[t.labels == 0].mean() < churned[t.labels == 1].mean()
    df = t.frame
    assert df["orders_12m"][t.labels == 0].median() > df["orders_12m"][t.labels == 1].median()


@pytest.mark.parametrize(
    ("domain", "keys"),
    [
        ("banking", None),
        ("retail", ["retail_loyal_regulars"]),
        ("retail", ["retail_loyal_regulars", "saas_power_users"]),
        ("retail", ["retail_loyal_regulars", "retail_loyal_regulars"]),
        ("telco", ["telco_heavy_data_users", "no_such_archetype"]),
    ],
)
def test_bad_requests_are_refused(domain, keys):
    with pytest.raises(ValueError):
        make_archetype_table(domain, 500, archetypes=keys)


def test_a_tiny_table_still_has_every_archetype():
    t = make_archetype_table("saas", 12, seed=0)
    assert set(np.unique(t.labels)) == set(range(len(t.archetypes)))


def test_main_writes_a_csv_and_names_the_archetypes(tmp_path, monkeypatch, capsys):
    out = tmp_path / "retail.csv"
    monkeypatch.setattr("sys.argv", ["archetypes.py", str(out), "--domain", "retail",
                                     "--rows", "400", "--seed", "1"])
    arch_mod.main()
    written = pd.read_csv(out)
    expected = make_archetype_table("retail", 400, seed=1)
    assert list(written.columns) == list(expected.frame.columns) and len(written) == 400
    printed = capsys.readouterr().out
    for s, arch in enumerate(expected.archetypes):
        assert f"segment {s}: {arch.key}" in printed
