"""Tests for copilot.segmentation.analysis.prepare: skew, clipping, missingness, one-hot weights, PCA."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from copilot.core.errors import DataError
from copilot.segmentation.analysis.prepare import (
    MISSING_LEVEL,
    OTHER_LEVEL,
    Preparation,
    fit_preparation,
    skew_transform,
)
from copilot.segmentation.analysis.roles import infer_roles

N = 1000


def prepare(df: pd.DataFrame, **kw) -> Preparation:
    overrides = kw.pop("overrides", None)
    return fit_preparation(df, infer_roles(df, outcomes=[], overrides=overrides), **kw)


def step(prep: Preparation, name: str):
    return next(s for s in prep.numeric if s.name == name)


def cat_step(prep: Preparation, name: str):
    return next(s for s in prep.categorical if s.name == name)


def column(prep: Preparation, X: np.ndarray, name: str) -> np.ndarray:
    return X[:, prep.feature_names.index(name)]


def block(prep: Preparation, X: np.ndarray, name: str) -> np.ndarray:
    idx = [i for i, f in enumerate(prep.feature_names) if f.startswith(f"{name} = ")]
    return X[:, idx]


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    """Numeric, boolean, categorical (with missing and a rare level) and datetime columns."""
    rng = np.random.default_rng(7)
    plan = rng.choice(["Basic", "Pro", "Business"], N, p=[0.5, 0.3, 0.2]).astype(object)
    plan[rng.random(N) < 0.05] = None
    plan[:5] = "Legacy"  # 0.5%: rare
    spend = rng.lognormal(4, 1, N)
    spend[rng.random(N) < 0.08] = np.nan
    return pd.DataFrame({
        "spend": spend,
        "tenure": rng.normal(24, 6, N),
        "balance": -rng.lognormal(0, 1, N) * 10,
        "has_app": rng.choice(["Yes", "No"], N),
        "plan": plan,
        "signup": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 700, N), "D"),
    })


# ------------------------------------------------------------------------------------ skew


def test_lognormal_column_gets_log1p_and_symmetric_column_none():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"spend": rng.lognormal(4, 1, N), "score": rng.normal(50, 10, N)})
    prep = prepare(df)
    assert step(prep, "spend").transform == "log1p"
    assert step(prep, "score").transform == "none"
    assert any("spend" in note and "log1p" in note for note in prep.notes)
    # log1p actually applied: the prepared column is close to symmetric.
    x = column(prep, prep.transform(df), "spend")
    assert abs(np.mean(x) - np.median(x)) < 0.1


def test_skewed_column_with_negatives_gets_yeo_johnson():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"balance": -rng.lognormal(0, 1, N) * 10 + 3})
    assert (df["balance"] < 0).any()
    s = step(prepare(df), "balance")
    assert s.transform == "yeo-johnson"
    assert s.yeo_johnson_lambda is not None and np.isfinite(s.yeo_johnson_lambda)


def test_far_fence_clipping_bounds_a_planted_outlier():
    rng = np.random.default_rng(2)
    for name, values in {
        "score": rng.normal(50, 10, N),
        "spend": rng.lognormal(4, 0.8, N),
    }.items():
        values = values.copy()
        values[17] = np.median(values) * 1000
        df = pd.DataFrame({name: values})
        prep = prepare(df)
        s = step(prep, name)
        x = column(prep, prep.transform(df), name)
        # The outlier lands exactly on the upper far fence, not 1000x away.
        assert x[17] == pytest.approx((s.clip_high - s.center) / s.scale)
        assert x[17] == x.max()
        assert x[17] < 10
        # and it does not inflate the spread of the other rows
        assert np.std(np.delete(x, 17)) == pytest.approx(1.0, abs=0.05)


# ---------------------------------------------------------------------------- missingness


def test_mcar_missing_values_get_no_indicator_and_stay_nan():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, N), rng.normal(5, 2, N)
    a[rng.random(N) < 0.1] = np.nan
    df = pd.DataFrame({"a": a, "b": b})
    prep = prepare(df)
    assert not step(prep, "a").missing_indicator
    assert "a is missing" not in prep.feature_names
    X = prep.transform(df)
    assert X.shape == (N, 2)
    np.testing.assert_array_equal(np.isnan(X[:, 0]), np.isnan(a))
    assert not np.isnan(prep.transform(df, impute=True)).any()


def test_missingness_tied_to_another_column_gets_an_indicator():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, N), rng.normal(5, 2, N)
    a[b > np.quantile(b, 0.9)] = np.nan  # missing exactly where b is high
    df = pd.DataFrame({"a": a, "b": b})
    prep = prepare(df)
    s = step(prep, "a")
    assert s.missing_indicator
    assert not step(prep, "b").missing_indicator
    assert s.missing_share == pytest.approx(0.1)
    X = prep.transform(df)
    ind = column(prep, X, "a is missing")
    assert X.shape == (N, 3)
    # Two values, higher where the value is missing, unit variance.
    assert (ind[np.isnan(a)] > 0).all() and (ind[~np.isnan(a)] < 0).all()
    assert np.var(ind) == pytest.approx(1.0)
    assert any("informative" in note for note in prep.notes)


# ---------------------------------------------------------------------------- categoricals


def test_one_hot_block_has_unit_total_variance_whatever_the_levels():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({
        "two": rng.choice(["a", "b"], N, p=[0.7, 0.3]),
        "twelve": rng.choice([f"L{i:02d}" for i in range(12)], N),
        "x": rng.normal(0, 1, N),
    })
    prep = prepare(df, overrides={"two": "categorical"})
    assert len(cat_step(prep, "two").levels) == 2
    assert len(cat_step(prep, "twelve").levels) == 12
    X = prep.transform(df)
    two, twelve = block(prep, X, "two"), block(prep, X, "twelve")
    assert two.shape[1] == 2 and twelve.shape[1] == 12
    assert np.var(two, axis=0).sum() == pytest.approx(1.0)
    assert np.var(twelve, axis=0).sum() == pytest.approx(1.0)
    assert np.var(column(prep, X, "x")) == pytest.approx(1.0, abs=0.05)
    # centred: every one-hot column has mean 0 on the fit data
    np.testing.assert_allclose(twelve.mean(axis=0), 0.0, atol=1e-12)


def test_boolean_becomes_one_unit_variance_column():
    rng = np.random.default_rng(6)
    df = pd.DataFrame({"has_app": rng.choice(["Yes", "No"], N, p=[0.2, 0.8])})
    prep = prepare(df)
    s = step(prep, "has_app")
    assert s.source == "boolean" and s.true_value == "Yes"
    x = column(prep, prep.transform(df), "has_app")
    assert np.var(x) == pytest.approx(1.0)
    assert (x[df["has_app"].eq("Yes").to_numpy()] > 0).all()


def test_rare_levels_fold_into_other(mixed):
    prep = prepare(mixed)
    s = cat_step(prep, "plan")
    assert "Legacy" not in s.levels
    assert OTHER_LEVEL in s.levels
    assert MISSING_LEVEL in s.levels  # 5% missing is a level of its own
    X = prep.transform(mixed)
    other = block(prep, X, "plan")[:, s.levels.index(OTHER_LEVEL)]
    # the 5 rare rows are exactly the "(other)" rows
    assert (other > 0).sum() == 5 and (other[:5] > 0).all()


def test_unseen_levels_map_to_other_without_crashing(mixed):
    prep = prepare(mixed)
    s = cat_step(prep, "plan")
    new = mixed.iloc[:3].copy()
    new["plan"] = ["Galaxy", "Legacy", "Basic"]
    X = block(prep, prep.transform(new), "plan")
    assert np.isfinite(X).all()
    np.testing.assert_allclose(X[0], X[1])  # unseen and rare: both "(other)"
    assert X[0].argmax() == s.levels.index(OTHER_LEVEL)
    assert X[2].argmax() == s.levels.index("Basic")


def test_unseen_levels_without_other_give_an_all_zero_one_hot_row():
    rng = np.random.default_rng(8)
    df = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], N),
                       "x": rng.normal(0, 1, N)})
    prep = prepare(df)
    s = cat_step(prep, "colour")
    assert OTHER_LEVEL not in s.levels
    new = pd.DataFrame({"colour": ["purple", "red"], "x": [0.0, 0.0]})
    X = block(prep, prep.transform(new), "colour")
    assert np.isfinite(X).all()
    # all-zero one-hot, centred and weighted
    np.testing.assert_allclose(X[0], -np.asarray(s.means) * s.weight)
    assert X[1].argmax() == s.levels.index("red")


# ------------------------------------------------------------------------ new data, JSON


def test_transform_with_a_missing_column_raises_one_sentence(mixed):
    prep = prepare(mixed)
    with pytest.raises(DataError) as err:
        prep.transform(mixed.drop(columns=["tenure"]))
    msg = str(err.value)
    assert "tenure" in msg
    assert "\n" not in msg and msg.endswith(".")
    assert msg.count(". ") == 0


def test_transform_ignores_extra_columns_and_order(mixed):
    prep = prepare(mixed)
    shuffled = mixed[mixed.columns[::-1]].assign(extra=1.0)
    np.testing.assert_array_equal(prep.transform(shuffled), prep.transform(mixed))


def test_preparation_round_trips_through_json(mixed):
    rng = np.random.default_rng(9)
    df = mixed.copy()
    # an informative missing-value indicator too
    df.loc[df["tenure"] > df["tenure"].quantile(0.9), "balance"] = np.nan
    prep = prepare(df)
    kinds = {s.transform for s in prep.numeric}
    assert {"log1p", "yeo-johnson"} <= kinds
    assert any(s.missing_indicator for s in prep.numeric)
    assert {s.source for s in prep.numeric} == {"numeric", "boolean", "datetime"}
    back = Preparation.model_validate_json(prep.model_dump_json())
    assert back == prep
    new = df.sample(200, random_state=1).copy()
    new["plan"] = rng.choice(["Basic", "Unknown"], 200)
    np.testing.assert_array_equal(back.transform(new), prep.transform(new))
    np.testing.assert_array_equal(back.transform(df), prep.transform(df))


def test_pca_round_trips_through_json():
    df = wide_table()
    prep = prepare(df)
    assert prep.pca is not None
    back = Preparation.model_validate_json(prep.model_dump_json())
    np.testing.assert_array_equal(back.transform(df), prep.transform(df))


# ------------------------------------------------------------------------------------- PCA


def wide_table(n: int = 400, p: int = 45) -> pd.DataFrame:
    rng = np.random.default_rng(10)
    latent = rng.normal(size=(n, 3))
    values = latent @ rng.normal(size=(3, p)) + 0.3 * rng.normal(size=(n, p))
    values[rng.random((n, p)) < 0.05] = np.nan
    return pd.DataFrame(values, columns=[f"f{i}" for i in range(p)])


def test_pca_engages_for_a_wide_table():
    df = wide_table()
    prep = prepare(df)
    assert len(prep.feature_names) > 40
    assert prep.pca is not None
    k = prep.pca.n_components
    assert 1 <= k <= 30
    assert sum(prep.pca.explained_variance_ratio) >= 0.9
    X = prep.transform(df)
    assert X.shape == (len(df), k)
    assert not np.isnan(X).any()  # gaps are filled before projecting
    assert prep.output_names == tuple(f"PC{i + 1}" for i in range(k))
    assert prep.layout().continuous == tuple(range(k))
    assert prep.layout().categorical == ()
    assert any("PCA" in note for note in prep.notes)


def test_pca_stays_off_for_a_narrow_table(mixed):
    prep = prepare(mixed)
    assert len(prep.feature_names) <= 40
    assert prep.pca is None
    assert prep.output_names == prep.feature_names
    assert prepare(wide_table(), pca=None).pca is None
    assert prepare(mixed, pca=2).pca.n_components == 2


# ------------------------------------------------------------------------------- layout


def test_layout_lists_booleans_indicators_and_categorical_blocks():
    rng = np.random.default_rng(11)
    b = rng.normal(5, 2, N)
    a = rng.normal(0, 1, N)
    a[b > np.quantile(b, 0.9)] = np.nan
    df = pd.DataFrame({
        "a": a,
        "has_app": rng.choice(["Yes", "No"], N),
        "b": b,
        "plan": rng.choice(["Basic", "Pro", "Business"], N),
        "region": rng.choice(["EU", "US", "APAC", "LatAm"], N),
    })
    prep = prepare(df)
    names = prep.feature_names
    assert names[:4] == ("a", "has_app", "b", "a is missing")
    lay = prep.layout()
    assert lay.continuous == (0, 2)
    plan = tuple(i for i, f in enumerate(names) if f.startswith("plan = "))
    region = tuple(i for i, f in enumerate(names) if f.startswith("region = "))
    assert len(plan) == 3 and len(region) == 4
    assert lay.categorical == ((1,), (3,), plan, region)
    # every matrix column is in exactly one place
    used = list(lay.continuous) + [i for blk in lay.categorical for i in blk]
    assert sorted(used) == list(range(len(names)))
    assert prep.transform(df).shape[1] == len(names)


def test_no_feature_columns_raises_data_error():
    df = pd.DataFrame({"customer_id": [f"C{i}" for i in range(50)], "constant": [1] * 50})
    with pytest.raises(DataError) as err:
        prepare(df)
    assert "\n" not in str(err.value) and str(err.value).endswith(".")


def test_unseen_levels_raise_no_deprecation_warning():
    import warnings

    rng = np.random.default_rng(8)
    df = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], N)})
    prep = prepare(df)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prep.transform(pd.DataFrame({"colour": ["purple", "red"]}))


def test_datetime_becomes_days_before_the_latest_date():
    rng = np.random.default_rng(12)
    days = rng.integers(0, 500, N)
    df = pd.DataFrame({"signup": pd.Timestamp("2021-01-01") + pd.to_timedelta(days, "D")})
    prep = prepare(df)
    s = step(prep, "signup")
    assert s.source == "datetime"
    assert pd.Timestamp(s.reference_time) == df["signup"].max()
    x = column(prep, prep.transform(df), "signup")
    raw = days.max() - days  # days before the latest date
    np.testing.assert_allclose(x, (raw - s.center) / s.scale)


def test_timezone_aware_datetimes_are_supported():
    rng = np.random.default_rng(13)
    days = rng.integers(0, 500, N)
    df = pd.DataFrame({
        "signup": pd.Timestamp("2021-01-01", tz="UTC") + pd.to_timedelta(days, "D"),
    })
    prep = prepare(df)
    x = column(prep, prep.transform(df), "signup")
    assert np.isfinite(x).all()


def test_a_level_that_repeats_another_columns_fact_is_counted_once():
    # Telco-shaped: "No internet service" in every service column is InternetService = No for
    # exactly the same customers, and "No phone service" is PhoneService = No. The first column
    # keeps the fact; in the others those rows read as not applicable (NaN), with a note.
    rng = np.random.default_rng(3)
    n = 400
    internet = rng.choice(["DSL", "Fiber optic", "No"], n, p=[0.4, 0.4, 0.2])
    phone = rng.choice(["Yes", "No"], n, p=[0.9, 0.1])

    def service() -> np.ndarray:
        return np.where(internet == "No", "No internet service", rng.choice(["Yes", "No"], n))

    df = pd.DataFrame({
        "PhoneService": phone,
        "MultipleLines": np.where(phone == "No", "No phone service", rng.choice(["Yes", "No"], n)),
        "InternetService": internet,
        "OnlineSecurity": service(),
        "StreamingTV": service(),
        "tenure": rng.integers(1, 72, n).astype(float),
    })
    prep = fit_preparation(df, infer_roles(df))
    steps = {s.name: s for s in prep.categorical}
    assert steps["InternetService"].implied == ()
    assert steps["OnlineSecurity"].implied == ("No internet service",)
    assert steps["StreamingTV"].implied == ("No internet service",)
    assert steps["MultipleLines"].implied == ("No phone service",)
    assert any("OnlineSecurity" in note and "InternetService = No" in note for note in prep.notes)
    X = prep.transform(df)
    names = prep.output_names
    security = [i for i, c in enumerate(names) if c.startswith("OnlineSecurity")]
    no_internet = internet == "No"
    assert np.isnan(X[no_internet][:, security]).all()
    assert not np.isnan(X[~no_internet][:, security]).any()
    # an ordinary categorical that merely correlates keeps every level
    df["plan"] = np.where(rng.random(n) < 0.9, internet, "Other")
    assert {s.name: s for s in fit_preparation(df, infer_roles(df)).categorical}["plan"].implied == ()


@pytest.mark.parametrize("lam", [-1.3, -1e-17, 0.0, 0.42, 1.0, 2.0, 2.0 + 1e-17, 3.1])
def test_the_yeo_johnson_transform_is_scipys_value_for_value(lam):
    """prepare.yeo_johnson (no masked copies when every value is on one side of 0) gives
    scipy's values exactly: all positive, all negative, mixed, and the formulas' special
    cases at lambda 0 and 2."""
    from scipy import stats

    from copilot.segmentation.analysis.prepare import yeo_johnson

    rng = np.random.default_rng(7)
    spend = rng.lognormal(3, 1.5, 2000)
    for x in (spend, -spend, spend - np.median(spend), np.zeros(5), np.array([0.0, -0.0, 1e-300])):
        assert np.array_equal(yeo_johnson(x, lam), stats.yeojohnson(x, lmbda=lam))


def _columns_of_every_shape(rng: np.random.Generator) -> list[np.ndarray]:
    """Non-negative columns like the ones the log-scale check reads: lognormal spend, uniform,
    three bumps, counts, rounded waits, a pile of zeros, and a few ties-heavy ones."""
    out = []
    for i in range(60):
        n = int(rng.integers(30, 3001))
        kind = i % 6
        if kind == 0:
            y = rng.lognormal(rng.normal(2, 1), rng.uniform(0.2, 2), n)
        elif kind == 1:
            y = rng.uniform(0, rng.uniform(1, 1000), n)
        elif kind == 2:
            y = np.concatenate([rng.normal(m, s, n // 3 + 1) for m, s in
                                zip(rng.uniform(30, 100, 3), rng.uniform(1, 10, 3))])[:n]
        elif kind == 3:
            y = rng.poisson(rng.uniform(1, 50), n).astype(float)
        elif kind == 4:
            y = np.round(rng.exponential(100, n), 2)
        else:
            y = np.where(rng.random(n) < 0.3, 0.0, rng.gamma(2, 50, n))
        out.append(np.clip(y, 0, None))
    return out


def test_the_one_dimensional_mixture_scores_as_scikit_learns_does():
    # The log-scale check's own EM replaces scikit-learn's GaussianMixture for speed; it must
    # give the estimator's score (same seeds, steps and stopping rule) on both scales.
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    from copilot.segmentation.analysis.prepare import gaussian_mixture_1d_score

    for x in _columns_of_every_shape(np.random.default_rng(7)):
        for y in (x, np.log1p(x)):
            reg = 1e-3 * float(y.var())
            gm = GaussianMixture(3, reg_covar=reg, random_state=0, n_init=1,
                                 init_params="k-means++")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                expected = gm.fit(y[:, None]).score(y[:, None])
            assert gaussian_mixture_1d_score(y, reg_covar=reg) == pytest.approx(
                expected, rel=1e-10, abs=1e-10)


def test_columns_prepared_on_threads_give_the_same_preparation_and_matrix(monkeypatch):
    # Large tables fit and transform their numeric columns on the engine's threads; the
    # notes keep table order and every value is the one-thread value.
    import copilot.segmentation.analysis.prepare as prepare_module
    from fixtures.customers import make_customers

    df = make_customers(3000, seed=12).frame
    df["signed_up"] = pd.Timestamp("2024-01-01") - pd.to_timedelta(
        np.arange(len(df)) % 700, unit="D")
    roles = infer_roles(df)
    first = next(c for c in roles.features if roles.get(c).role == "numeric")
    # Gaps that say something: the customers at the top of another column lack a sign-up.
    df.loc[df[first] > df[first].quantile(0.8), "signed_up"] = pd.NaT
    roles = infer_roles(df)
    monkeypatch.setenv("SEGMENT_COPILOT_THREADS", "1")
    alone = fit_preparation(df, roles)
    X_alone = alone.transform(df)
    monkeypatch.setattr(prepare_module, "PARALLEL_ROWS", 100)
    monkeypatch.setenv("SEGMENT_COPILOT_THREADS", "3")
    threaded = fit_preparation(df, roles)
    assert threaded == alone
    assert any(s.missing_indicator for s in alone.numeric)
    assert len(alone.notes) >= 3
    np.testing.assert_array_equal(threaded.transform(df), X_alone)


def test_a_far_outlier_that_overflows_the_trial_transform_warns_nothing():
    # Left-skewed values with negatives pick a Yeo-Johnson lambda above 1; one value near 1e200
    # then overflows the trial transform. The transform is refused (the values are not all
    # finite after it); NumPy's overflow warning must not reach the user's terminal.
    rng = np.random.default_rng(0)
    values = np.r_[10 - rng.exponential(3, 500), [1e200, -5.0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = step(prepare(pd.DataFrame({"margin": values})), "margin")
        assert s.transform == "none"
        # New rows beyond the fitted range are bounded by the clip, without a warning.
        fitted = step(prepare(pd.DataFrame({"margin": values[:-2]})), "margin")
        assert fitted.transform == "yeo-johnson" and fitted.yeo_johnson_lambda > 1
        out = skew_transform(np.array([1e200, 3.0, np.nan]), "yeo-johnson",
                             fitted.yeo_johnson_lambda)
    assert np.isinf(out[0]) and np.isfinite(out[1]) and np.isnan(out[2])
