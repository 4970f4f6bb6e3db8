"""Tests for copilot.segmentation.analysis.pipeline: run_segmentation end to end, and check_settings."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from copilot.core.errors import CopilotError, DataError, SettingsError
from copilot.segmentation.analysis.pipeline import (
    SegmentAnalysis,
    SegmentSettings,
    check_settings,
    run_segmentation,
)
from fixtures.customers import make_customers

ID, OUTCOMES = "customer_id", ("churned", "revenue_12m")


@pytest.fixture(scope="module")
def planted():
    return make_customers(300, 3, seed=1)


@pytest.fixture(scope="module")
def run(planted):
    return run_segmentation(planted.frame)


def without_seconds(analysis: SegmentAnalysis) -> dict:
    data = json.loads(analysis.model_dump_json())
    data.pop("seconds")
    for row in data["sweep"]["rows"]:
        row.pop("seconds")
    return data


def one_sentence(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert msg and "\n" not in msg and msg.endswith(".")
    return msg


# -------------------------------------------------------------------------- whole runs


def test_recovers_planted_segments(planted, run):
    assert run.analysis.choice.algorithm == "gmm"
    assert run.analysis.choice.k == planted.n_segments
    assert adjusted_rand_score(planted.labels, run.labels) >= 0.9
    assert run.analysis.n_rows == len(planted.frame) == len(run.labels) == len(run.confidence)
    assert ((run.confidence >= 0) & (run.confidence <= 1)).all()


def test_reproducible_for_the_same_seed(planted, run):
    again = run_segmentation(planted.frame)
    np.testing.assert_array_equal(again.labels, run.labels)
    np.testing.assert_array_equal(again.confidence, run.confidence)
    assert without_seconds(again.analysis) == without_seconds(run.analysis)
    # the analysis is plain JSON and reads back
    back = SegmentAnalysis.model_validate_json(run.analysis.model_dump_json())
    assert back.choice == run.analysis.choice
    assert back.preparation == run.analysis.preparation


def test_id_and_outcome_columns_are_never_features(planted, run):
    a = run.analysis
    assert a.id_column == ID
    assert set(a.roles.outcomes) == set(OUTCOMES)
    for name in (ID, *OUTCOMES):
        assert name not in a.roles.features
        assert name not in a.preparation.input_columns
    assert set(a.preparation.input_columns) == set(a.roles.features)
    np.testing.assert_array_equal(run.ids.to_numpy(), planted.frame[ID].to_numpy())


def test_explicit_id_and_outcomes_are_never_features(planted):
    df = planted.frame.rename(columns={"customer_id": "ref", "churned": "left_us"})
    settings = SegmentSettings(id_column="ref", outcomes=("left_us", "revenue_12m"), k=3)
    a = run_segmentation(df, settings).analysis
    assert a.id_column == "ref"
    for name in ("ref", "left_us", "revenue_12m"):
        assert name not in a.roles.features
        assert name not in a.preparation.input_columns
    assert set(a.roles.outcomes) == {"left_us", "revenue_12m"}


def test_labels_are_numbered_by_size(planted, run):
    sizes = np.bincount(run.labels[run.labels >= 0])
    assert (np.diff(sizes) <= 0).all()
    assert [s.n for s in run.analysis.sizes if s.segment >= 0] == sizes.tolist()
    # the returned model gives the same public numbers to the same rows
    X = run.analysis.preparation.transform(planted.frame)
    np.testing.assert_array_equal(run.model.assign(X)[0], run.labels)


def test_forced_k_gives_that_many_segments(planted):
    result = run_segmentation(planted.frame, SegmentSettings(k=4))
    assert result.analysis.choice.k == 4
    assert result.analysis.choice.rule == "user's k"
    assert result.analysis.sweep.k_values == (4,)
    assert len(np.unique(result.labels[result.labels >= 0])) == 4
    assert len([s for s in result.analysis.sizes if s.segment >= 0]) == 4


def test_kmeans_setting_yields_a_kmeans_choice(planted):
    result = run_segmentation(planted.frame, SegmentSettings(algorithm="kmeans",
                                                              k_range=(2, 4)))
    assert result.analysis.choice.algorithm == "kmeans"
    assert result.analysis.choice.rule == "best silhouette"
    assert result.model.algorithm == "kmeans"
    assert result.analysis.sweep.algorithms == ("kmeans",)
    assert {r.algorithm for r in result.analysis.sweep.rows} == {"kmeans"}
    sizes = np.bincount(result.labels)
    assert len(sizes) == result.analysis.choice.k and (np.diff(sizes) <= 0).all()


def test_progress_is_reported_up_to_done(planted):
    seen: list[tuple[str, float]] = []
    run_segmentation(planted.frame, SegmentSettings(k=3, algorithm="kmeans"),
                     progress=lambda stage, fraction, message: seen.append((stage, fraction)))
    stages = [s for s, _ in seen]
    assert stages[0] == "roles" and stages[-1] == "done"
    assert {"prepare", "sweep", "fit", "profile", "validate"} <= set(stages)
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_all_numeric_table():
    df = make_customers(300, 3, seed=1).frame
    df = df.drop(columns=["plan", "region", "acquisition_channel", "has_mobile_app"])
    result = run_segmentation(df)
    assert result.analysis.choice.k >= 2


def test_wide_table_with_pca():
    df = make_customers(300, 3, seed=1).frame
    rng = np.random.default_rng(0)
    extra = pd.DataFrame(rng.normal(size=(300, 35)), columns=[f"x{i}" for i in range(35)])
    result = run_segmentation(pd.concat([df, extra], axis=1))
    assert result.analysis.preparation.pca is not None
    assert result.analysis.choice.k >= 2


# ------------------------------------------------------------------------ check_settings


@pytest.fixture(scope="module")
def small():
    return make_customers(25, 2, seed=3).frame


@pytest.mark.parametrize("rows", [0, 5, 1])
def test_too_few_rows_raise_data_error(planted, rows):
    df = planted.frame.iloc[:rows]
    with pytest.raises(DataError) as err:
        check_settings(df, SegmentSettings())
    msg = one_sentence(err)
    assert "row" in msg
    with pytest.raises(DataError):
        run_segmentation(df)


@pytest.mark.parametrize("settings, words", [
    (SegmentSettings(k=25), "k=25"),
    (SegmentSettings(k=40), "k=40"),
    (SegmentSettings(k=1), "k=1"),
    (SegmentSettings(k_range=(1, 4)), "1-4"),
    (SegmentSettings(k_range=(5, 3)), "5-3"),
    (SegmentSettings(k_range=(25, 30)), "25-30"),
    (SegmentSettings(k=3, k_range=(2, 5)), "not both"),
    (SegmentSettings(min_share=0.6), "share"),
    (SegmentSettings.model_construct(algorithm="dbscan"), "dbscan"),
])
def test_impossible_settings_raise_settings_error(small, settings, words):
    with pytest.raises(SettingsError) as err:
        check_settings(small, settings)
    assert words in one_sentence(err)
    assert isinstance(err.value, CopilotError) and err.value.exit_code == 2


def test_settings_errors_are_raised_before_any_work(small):
    with pytest.raises(SettingsError):
        run_segmentation(small, SegmentSettings(k=3, k_range=(2, 5)))


def test_possible_settings_pass(small):
    most = len(small) // 5  # at least five customers per segment on average
    check_settings(small, SegmentSettings(k=most))
    check_settings(small, SegmentSettings(k_range=(2, most), algorithm="hdbscan"))
    with pytest.raises(SettingsError, match="at least 5 customers per segment"):
        check_settings(small, SegmentSettings(k=most + 1))


def test_unknown_algorithm_is_refused_by_the_settings_model():
    with pytest.raises(ValueError):  # pydantic's ValidationError
        SegmentSettings(algorithm="dbscan")


def _few_kinds_of_customer(n: int, seed: int, odd: int = 0) -> tuple[pd.DataFrame, int]:
    """Customers of a few kinds, every customer of a kind identical (one kind rare), and
    ``odd`` customers of a kind of their own each."""
    kinds = pd.DataFrame({"plan": ["basic", "pro", "team", "pro"], "seats": [1, 5, 40, 5],
                          "mobile": ["yes", "no", "yes", "yes"]})
    rng = np.random.default_rng(seed)
    frame = kinds.iloc[rng.choice(len(kinds), n, p=[0.5, 0.25, 0.2, 0.05])].reset_index(drop=True)
    frame.loc[:odd - 1, "seats"] = 100 + np.arange(odd)
    frame.insert(0, "customer_id", [f"C{i:04d}" for i in range(n)])
    return frame, len(frame.drop(columns="customer_id").drop_duplicates())


@pytest.mark.parametrize(("seed", "odd"), [(0, 0), (1, 0), (2, 1), (3, 3)])
def test_k_never_exceeds_the_kinds_of_customer_and_no_fit_warns(seed, odd):
    # k-means warned on every fit with more segments than distinct rows (dozens of lines on the
    # CLI's stderr), and the sweep offered k no partition can have. A customer of a kind of
    # its own is missing from some stability resamples: those refits must not warn either.
    frame, kinds = _few_kinds_of_customer(300, seed, odd)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = run_segmentation(frame, SegmentSettings(id_column="customer_id", seed=seed))
    assert max(run.analysis.sweep.k_values) <= kinds
    assert {row.k for row in run.analysis.sweep.rows} <= set(range(2, kinds + 1))
    assert 2 <= run.analysis.choice.k <= kinds
    with pytest.raises(SettingsError, match=f"only {kinds} distinct combinations"):
        run_segmentation(frame, SegmentSettings(id_column="customer_id", k=kinds + 1))


def test_gaps_count_as_kinds_for_the_mixture_but_not_for_k_means():
    # Seats unknown for a third of the customers: the mixture fits every row, and its rows with
    # gaps are kinds of their own, while k-means fits the complete rows only.
    frame, kinds = _few_kinds_of_customer(400, 4)
    frame["seats"] = frame["seats"].astype(float)
    frame.loc[frame.index % 3 == 0, "seats"] = np.nan
    settings = SegmentSettings(id_column="customer_id", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = run_segmentation(frame, settings.model_copy(update={"k": kinds + 1,
                                                                   "algorithm": "gmm"}))
    assert run.analysis.choice.k == kinds + 1
    with pytest.raises(SettingsError, match=f"only {kinds} distinct"):
        run_segmentation(frame, settings.model_copy(update={"k": kinds + 1,
                                                             "algorithm": "kmeans"}))
