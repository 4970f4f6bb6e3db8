"""Drift and migration: PSI as computed by hand, the migration matrix of customers moved between
planted groups, the verdict's lines (stable, watch, re-cluster) and its wording, unseen levels,
missing shares, customers in one snapshot only, IDs that do not match, tie-heavy features against
their own model, older bundles, and centre shifts named by input feature."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest

from copilot.core.errors import InputError
from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
from copilot.segmentation.analysis.roles import infer_roles
from copilot.segmentation.model.bundle import (
    ARRAYS_FILE,
    JSON_FILE,
    FeatureDistribution,
    SavedModel,
    feature_distributions,
    load_bundle,
    save_bundle,
    save_bundle_with_data,
)
from copilot.segmentation.model.drift import check_snapshot, compare_snapshots
from copilot.segmentation.model.drift_features import (
    categorical_feature_drift,
    numeric_feature_drift,
    psi,
    psi_noise_bound,
)
from copilot.segmentation.model.drift_render import NOTABLE_COLUMN_SHIFT, render_markdown
from copilot.segmentation.model.drift_report import (
    CENTROID_COLUMN_WATCH,
    EMPTY_SHARE,
    MOVED_RECLUSTER,
    MOVED_WATCH,
    PSI_RECLUSTER,
    PSI_WATCH,
    DriftReport,
    FeatureDrift,
    Migration,
)
from copilot.segmentation.model.drift_verdict import decide
from fixtures.customers import make_customers
from fixtures.snapshots import shift_snapshot, with_tied_columns


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model of a table with 4 well separated planted groups, saved and loaded back."""
    table = make_customers(2000, 4, seed=3)
    run = run_segmentation(table.frame, SegmentSettings(id_column="customer_id", seed=0))
    path = save_bundle(run, tmp_path_factory.mktemp("drift") / "model", df=table.frame)
    model = load_bundle(path)
    labels, _ = model.assign(table.frame)
    return table, model, labels


def _term(expected: float, actual: float) -> float:
    e, a = max(expected, EMPTY_SHARE), max(actual, EMPTY_SHARE)
    return (a - e) * math.log(a / e)


# --- PSI by hand ---------------------------------------------------------------------------

def test_psi_matches_a_hand_computation():
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))
    # An empty bin counts as EMPTY_SHARE: large but finite.
    hand = 0.1 * math.log(1.2) + 0.1 * math.log(4 / 3) + (EMPTY_SHARE - 0.2) * math.log(
        EMPTY_SHARE / 0.2)
    assert psi([0.5, 0.3, 0.2], [0.6, 0.4, 0.0]) == pytest.approx(hand)
    assert psi([0.1] * 10, [0.1] * 10) == 0.0


def test_numeric_psi_bins_at_the_stored_deciles():
    # Deciles 0.5, 10.5, ..., 100.5: the reference 0.7 .. 99.7 puts exactly 10 values per bin.
    dist = FeatureDistribution(name="x", kind="numeric",
                               quantiles=tuple(10 * j + 0.5 for j in range(11)))
    old = pd.Series(np.arange(100) + 0.7)
    new = pd.Series(np.r_[np.arange(50), np.arange(50)] + 0.7)  # the lower half, twice over
    # Five bins at 20% instead of 10%, five bins empty.
    hand = 5 * _term(0.1, 0.2) + 5 * _term(0.1, 0.0)
    with_old = numeric_feature_drift(dist, new, old)
    assert with_old.psi == pytest.approx(hand)
    assert [b.reference for b in with_old.bins] == pytest.approx([0.1] * 10)
    assert [b.new for b in with_old.bins] == pytest.approx([0.2] * 5 + [0.0] * 5)
    # Against the model alone, fractional deciles say exactly a tenth per bin: the same PSI.
    assert numeric_feature_drift(dist, new).psi == pytest.approx(hand)
    assert numeric_feature_drift(dist, old, old).psi == 0.0


def test_a_spike_in_the_deciles_is_read_as_a_range_not_a_point():
    # Deciles 0,0,0,0,1,...: 30-40% of the training values are 0 (P(X <= 0) is only known to be
    # between 3/10 and 4/10). 38% zeros is consistent with that; 60% is not.
    dist = FeatureDistribution(name="tickets", kind="numeric",
                               quantiles=(0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 20))
    rng = np.random.default_rng(0)

    def snapshot(zeros: float) -> pd.Series:
        n = 1000
        rest = rng.integers(1, 7, n - int(zeros * n))
        return pd.Series(np.r_[np.zeros(int(zeros * n)), rest].astype(float))

    consistent = numeric_feature_drift(dist, snapshot(0.38))
    assert consistent.bins[0].label == "<= 0"
    assert consistent.bins[0].reference == pytest.approx(0.38)
    assert consistent.bins[0].new == pytest.approx(0.38)
    spiky = numeric_feature_drift(dist, snapshot(0.60))
    assert spiky.bins[0].reference == pytest.approx(0.4)  # the most the deciles allow
    assert spiky.psi > consistent.psi


def test_categorical_psi_puts_unseen_levels_in_other():
    dist = FeatureDistribution(name="plan", kind="categorical", levels={"a": 0.5, "b": 0.5})
    new = pd.Series(["a"] * 40 + ["b"] * 40 + ["c"] * 15 + ["d"] * 5 + [None] * 25)
    drift = categorical_feature_drift(dist, new)
    hand = 2 * _term(0.5, 0.4) + _term(0.0, 0.2)
    assert drift.psi == pytest.approx(hand)
    assert [b.label for b in drift.bins] == ["a", "b", "(other)"]
    assert drift.new_levels == pytest.approx({"c": 0.15, "d": 0.05})
    assert drift.missing_new == pytest.approx(0.2)  # missing values are checked apart from PSI


def test_whole_number_levels_match_whether_read_as_int_or_float():
    # A code column with gaps is read as floats ("2.0"); without gaps as ints ("2").
    dist = FeatureDistribution(name="tier", kind="categorical", levels={"1.0": 0.5, "2.0": 0.5})
    drift = categorical_feature_drift(dist, pd.Series([1, 2] * 50))
    assert drift.psi == 0.0 and drift.new_levels == {}


# --- two snapshots -------------------------------------------------------------------------

def test_an_unchanged_snapshot_is_stable_with_nothing_moved(trained):
    table, model, _ = trained
    report = compare_snapshots(table.frame, table.frame.copy(), model)
    assert report.verdict.level == "stable"
    assert report.migration.moved == 0 and report.migration.matched == len(table.frame)
    assert report.segment_psi == 0.0
    assert all(f.psi == 0.0 for f in report.features)
    assert all(s.centroid_shift == 0.0 for s in report.segments)
    assert any("0.0% of the 2,000 customers" in r for r in report.verdict.reasons)
    assert "# Drift report: STABLE" in render_markdown(report)


def _expected_moves(labels: np.ndarray, snapshot) -> np.ndarray:
    """Each customer's segment after the move: a moved customer has its donor's features."""
    after = labels[snapshot.kept].copy()
    moved = snapshot.moved
    after[moved] = labels[snapshot.donors[moved]]
    return after


def test_customers_moved_between_planted_groups_show_in_the_migration_matrix(trained):
    table, model, labels = trained
    snapshot = shift_snapshot(table, moved_share=0.25, seed=1)
    report = compare_snapshots(table.frame, snapshot.frame, model)
    m = report.migration
    before, after = labels[snapshot.kept], _expected_moves(labels, snapshot)
    segments = list(m.segments)
    expected = np.zeros((len(segments), len(segments)), dtype=int)
    np.add.at(expected, ([segments.index(s) for s in before],
                         [segments.index(s) for s in after]), 1)
    assert np.array_equal(np.array(m.counts), expected)
    assert m.moved == int((before != after).sum())
    # The model separates the planted groups, so nearly every moved customer changed segment.
    assert m.moved_share >= 0.9 * 0.25
    assert report.verdict.level == "re-cluster"
    assert report.verdict.reasons[0].startswith(f"{m.moved_share:.1%} of the 2,000 customers")
    rows = np.array(m.row_shares)
    assert np.allclose(rows.sum(axis=1), 1.0)


def test_a_moved_share_in_the_watch_band_says_watch(trained):
    table, model, labels = trained
    snapshot = shift_snapshot(table, moved_share=0.12, seed=2)
    report = compare_snapshots(table.frame, snapshot.frame, model)
    moved = report.migration.moved_share
    assert moved == pytest.approx(np.mean(labels != _expected_moves(labels, snapshot)))
    assert MOVED_WATCH <= moved < MOVED_RECLUSTER
    assert report.verdict.level == "watch"
    assert len(report.verdict.reasons) == 1 and "changed segment" in report.verdict.reasons[0]


def test_a_feature_shift_is_caught_by_its_psi(trained):
    table, model, _ = trained
    mild = compare_snapshots(table.frame, shift_snapshot(
        table, multiply={"monthly_spend": 1.1}).frame, model)
    doubled = compare_snapshots(table.frame, shift_snapshot(
        table, multiply={"monthly_spend": 2.0}).frame, model)
    mild_psi = {f.name: f.psi for f in mild.features}
    doubled_psi = {f.name: f.psi for f in doubled.features}
    assert 0 < mild_psi["monthly_spend"] < doubled_psi["monthly_spend"]
    assert doubled_psi["monthly_spend"] >= PSI_RECLUSTER
    # Only the shifted column moved.
    assert all(v == 0.0 for k, v in doubled_psi.items() if k != "monthly_spend")
    assert doubled.verdict.level == "re-cluster"
    assert any(r.startswith("PSI of monthly_spend") for r in doubled.verdict.reasons)


def test_levels_unseen_in_training_are_reported(trained):
    table, model, _ = trained
    snapshot = shift_snapshot(table, new_level=("plan", "Ultimate", 0.3), seed=4)
    report = compare_snapshots(table.frame, snapshot.frame, model)
    plan = next(f for f in report.features if f.name == "plan")
    share = (snapshot.frame["plan"] == "Ultimate").sum() / snapshot.frame["plan"].notna().sum()
    assert plan.new_levels == pytest.approx({"Ultimate": share})
    assert plan.psi >= PSI_RECLUSTER
    assert report.verdict.level == "re-cluster"
    assert any("Ultimate" in r for r in report.verdict.reasons)
    assert "new levels" in render_markdown(report)


def test_a_feature_going_missing_is_flagged(trained):
    table, model, _ = trained
    new = table.frame.copy()
    new.loc[np.random.default_rng(5).random(len(new)) < 0.2, "tenure_months"] = np.nan
    report = compare_snapshots(table.frame, new, model)
    tenure = next(f for f in report.features if f.name == "tenure_months")
    assert tenure.missing_change == pytest.approx(new["tenure_months"].isna().mean()
                                                  - table.frame["tenure_months"].isna().mean())
    assert any(r.startswith("The missing share of tenure_months") for r in report.verdict.reasons)
    assert report.verdict.level in ("watch", "re-cluster")


def test_a_change_inside_segments_that_the_marginals_hide_moves_the_centres(trained):
    table, model, _ = trained
    frame = table.frame
    # discount_share separates the planted groups (precondition, checked here) ...
    groups = frame.groupby(table.labels)["discount_share"]
    separation = (groups.mean() - frame["discount_share"].mean()).abs() / groups.std().mean()
    assert separation.max() > 1.5
    # ... so shuffling it across customers leaves its distribution (every PSI) exactly as it
    # was, but pulls the segments' centres on it towards the middle.
    shuffled = frame.assign(discount_share=np.random.default_rng(0).permutation(
        frame["discount_share"].to_numpy()))
    report = compare_snapshots(frame, shuffled, model)
    assert all(f.psi == 0.0 for f in report.features)
    assert report.verdict.level == "watch"
    assert any("most on discount_share" in r for r in report.verdict.reasons)
    # A column without segment signal shuffled the same way moves no centre.
    noise = frame.assign(referral_code_length=np.random.default_rng(0).permutation(
        frame["referral_code_length"].to_numpy()))
    calm = compare_snapshots(frame, noise, model)
    assert calm.verdict.level == "stable"
    assert all(s.largest_feature_shift < 0.3 for s in calm.segments if s.segment >= 0)


def test_customers_in_one_snapshot_only_are_counted(trained):
    table, model, _ = trained
    snapshot = shift_snapshot(table, drop_share=0.1, seed=6)
    newcomers = table.frame.head(50).assign(customer_id=[f"N{i}" for i in range(50)])
    new = pd.concat([snapshot.frame, newcomers], ignore_index=True)
    m = compare_snapshots(table.frame, new, model).migration
    assert (m.matched, m.only_old, m.only_new) == (1800, 200, 50)
    assert m.moved == 0


def test_ids_that_do_not_match_are_refused_with_one_sentence(trained):
    table, model, _ = trained
    strangers = table.frame.assign(customer_id=[f"X{i}" for i in range(len(table.frame))])
    with pytest.raises(InputError) as err:
        compare_snapshots(table.frame, strangers, model)
    assert "share no customer ID" in str(err.value) and str(err.value).endswith(".")
    with pytest.raises(InputError) as err:
        compare_snapshots(table.frame, table.frame.drop(columns=["customer_id"]), model)
    assert "customer_id" in str(err.value) and "--id" in str(err.value)
    with pytest.raises(InputError) as err:  # a column that is not an ID
        compare_snapshots(table.frame, table.frame, model, id_column="plan")
    assert "does not identify customers" in str(err.value)
    with pytest.raises(InputError) as err:
        compare_snapshots(table.frame, table.frame.drop(columns=["plan"]), model)
    assert "plan" in str(err.value)
    # With two snapshots, the message says which one lacks the column.
    assert str(err.value).startswith("NEW lacks column(s)")
    with pytest.raises(InputError) as err:
        compare_snapshots(table.frame.drop(columns=["plan", "region"]), table.frame, model,
                          old_label="OLD (may.csv)")
    assert str(err.value).startswith("OLD (may.csv) lacks column(s)")
    assert "plan, region" in str(err.value)
    # An assignments file instead of a snapshot has none of the model's columns.
    assignments = pd.DataFrame({"customer_id": table.frame["customer_id"], "segment": 0})
    with pytest.raises(InputError) as err:
        check_snapshot(assignments, model, new_label="NEW (assigned.csv)")
    assert str(err.value).startswith("NEW (assigned.csv) has none of the columns")


def test_ids_read_as_numbers_in_one_file_and_text_in_the_other_still_match(trained):
    table, model, _ = trained
    old = table.frame.assign(customer_id=np.arange(len(table.frame)))
    new = table.frame.assign(customer_id=[str(i) for i in range(len(table.frame))])
    new.loc[0, "customer_id"] = None  # one row without an ID is noted, not matched
    report = compare_snapshots(old, new, model)
    assert report.migration.matched == len(table.frame) - 1
    assert any("have no customer_id" in n for n in report.notes)


# --- one snapshot against the model ----------------------------------------------------------

def test_the_training_data_alone_against_its_model_is_stable(trained):
    table, model, _ = trained
    report = check_snapshot(table.frame, model)
    assert report.mode == "snapshot-vs-model" and report.migration is None
    # The same shares, but for the unassigned share fresh customers would show by chance
    # (about k / n here), which the training rows themselves never reach.
    assert report.segment_psi < 0.01
    # The deciles describe the data they came from: no feature reaches the watch line.
    assert max(f.psi for f in report.features) < PSI_WATCH
    assert report.verdict.level == "stable"
    assert "Migration" not in render_markdown(report)


def test_a_shifted_snapshot_alone_is_caught(trained):
    table, model, _ = trained
    report = check_snapshot(shift_snapshot(table, multiply={"monthly_spend": 2.0}).frame, model)
    assert report.verdict.level == "re-cluster"
    assert report.verdict.reasons[0].startswith("PSI of monthly_spend")


def test_the_report_round_trips_through_json(trained):
    table, model, _ = trained
    report = compare_snapshots(table.frame, shift_snapshot(table, moved_share=0.2).frame, model)
    assert DriftReport.model_validate_json(report.model_dump_json()) == report
    assert report.thresholds.psi_recluster == PSI_RECLUSTER


# --- tied values: the training's own bin shares ------------------------------------------------

TIED = ("returns_count", "returned_value_share", "active_months_share")


def _without_bin_shares(model: SavedModel) -> SavedModel:
    """The model as an engine saved it before bin shares were stored."""
    old = tuple(d.model_copy(update={"bin_shares": (), "n_rows": None})
                for d in model.info.distributions)
    return SavedModel(model.info.model_copy(update={"distributions": old}), model.model)


def test_the_bundle_stores_each_bin_s_exact_training_share():
    # 55 values of 0.5, 30 of 1.5, 10 of 2.5 and 5 of 3.5. Deciles: 0.5 from the minimum to the
    # 50th percentile, 1.5 from the 60th to the 80th, 2.5 at the 90th, 3.5 the maximum. Bins
    # (-inf, 0.5], (0.5, 1.5], (1.5, 2.5], (2.5, inf) hold 55, 30, 10 and 5 of the 100 values.
    df = pd.DataFrame({"x": np.r_[[0.5] * 55, [1.5] * 30, [2.5] * 10, [3.5] * 5]})
    (dist,) = feature_distributions(df, infer_roles(df))
    assert dist.quantiles == (0.5,) * 6 + (1.5,) * 3 + (2.5, 3.5)
    assert list(dist.bin_edges) == [0.5, 1.5, 2.5]
    assert dist.bin_shares == pytest.approx((0.55, 0.30, 0.10, 0.05))
    assert dist.n_rows == 100
    # The training values against their own distribution: nothing moved.
    assert numeric_feature_drift(dist, df["x"]).psi == 0.0
    # From the deciles alone, 2.5 (one decile, not a whole number) reads as exactly 90% at or
    # below it, not 95%: a shift that is not there.
    approximated = numeric_feature_drift(dist.model_copy(update={"bin_shares": ()}), df["x"])
    assert [b.reference for b in approximated.bins] == pytest.approx([0.55, 0.30, 0.05, 0.10])
    assert approximated.psi == pytest.approx(_term(0.05, 0.10) + _term(0.10, 0.05))


@pytest.fixture(scope="module")
def tied(tmp_path_factory):
    """A model of a table with counts, a spike of zeros and twelfths, saved and loaded back."""
    table = with_tied_columns(make_customers(1500, 4, seed=7), seed=1)
    run = run_segmentation(table.frame, SegmentSettings(id_column="customer_id", seed=0))
    path = save_bundle(run, tmp_path_factory.mktemp("tied") / "model", df=table.frame)
    return table, path, load_bundle(path)


def test_the_training_table_against_its_own_model_is_stable_on_tie_heavy_data(tied):
    table, _, model = tied
    assert set(TIED) <= set(model.info.features)  # the tied columns are in the model
    report = check_snapshot(table.frame, model)
    assert report.verdict.level == "stable"
    assert {f.name for f in report.features if f.psi is not None} >= set(TIED)
    assert all(f.psi == pytest.approx(0.0, abs=1e-12) for f in report.features
               if f.psi is not None)
    assert report.segment_psi < 0.01  # only the expected unassigned share differs
    assert report.n_reference == len(table.frame)
    assert f"against the model's training data ({len(table.frame):,} rows)" in render_markdown(
        report)
    # What the bin shares fixed: from the deciles alone, the twelfths cross the watch line.
    before = check_snapshot(table.frame, _without_bin_shares(model))
    assert before.verdict.level == "watch"
    assert {f.name: f.psi for f in before.features}["active_months_share"] >= PSI_WATCH


def test_a_bundle_saved_before_bin_shares_keeps_its_id_and_falls_back(tied, tmp_path):
    table, path, model = tied
    info = json.loads((path / JSON_FILE).read_text())
    for dist in info["distributions"]:
        assert "n_rows" in dist  # the new bundle has them ...
        dist.pop("bin_shares", None)
        dist.pop("n_rows")
    # ... an older engine wrote none, and hashed its JSON without them (bundle._content_id).
    hashed = {k: v for k, v in info.items() if k not in ("created_at", "bundle_id")}
    info["bundle_id"] = hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()
                                       ).hexdigest()[:16]
    older = tmp_path / "older"
    older.mkdir()
    (older / JSON_FILE).write_text(json.dumps(info))
    (older / ARRAYS_FILE).write_bytes((path / ARRAYS_FILE).read_bytes())
    loaded = load_bundle(older)  # refused if the new fields changed the content ID
    assert loaded.info.bundle_id == info["bundle_id"] != model.info.bundle_id
    assert all(d.bin_shares == () and d.n_rows is None for d in loaded.info.distributions)
    report = check_snapshot(table.frame, loaded)
    assert report.n_reference is None
    fallback = check_snapshot(table.frame, _without_bin_shares(model))
    assert [f.psi for f in report.features] == [f.psi for f in fallback.features]


# --- centre shifts, named by input feature -----------------------------------------------------

def test_centre_shifts_name_the_input_feature_even_when_the_model_uses_pca(trained, tmp_path):
    table, _, _ = trained
    run = run_segmentation(table.frame, SegmentSettings(id_column="customer_id", seed=0, pca=5))
    model = load_bundle(save_bundle(run, tmp_path / "model", df=table.frame))
    assert model.info.preparation.output_names[0] == "PC1"  # precondition: clusters on PCs
    doubled = shift_snapshot(table, multiply={"monthly_spend": 2.0}).frame
    report = compare_snapshots(table.frame, doubled, model)
    inputs = set(model.info.preparation.input_columns)
    for s in (s for s in report.segments if s.segment >= 0):
        assert set(s.feature_shifts) == inputs
        assert s.largest_shift_feature == "monthly_spend"
        assert s.largest_shift_direction == "higher"
        # Spend is prepared on the log scale: doubling it moves every customer by ln 2, about
        # 1.26 of the planted within-group spread of 0.55 (less the missing values and
        # outliers blur), far past CENTROID_COLUMN_WATCH; no other feature moved.
        assert s.largest_feature_shift > 0.8 * CENTROID_COLUMN_WATCH
        # The others move only as far as the customers who changed segment take them.
        others = max(v for k, v in s.feature_shifts.items() if k != "monthly_spend")
        assert others < NOTABLE_COLUMN_SHIFT
    markdown = render_markdown(report)
    assert "most: monthly_spend" in markdown and "PC" not in markdown
    # Against the model alone the shift is seen through the components: still named by
    # feature, and the report says it can read low.
    alone = check_snapshot(doubled, model)
    assert all(s.largest_shift_feature == "monthly_spend" or s.largest_feature_shift < 0.5
               for s in alone.segments if s.centroid_shift is not None)
    assert any("principal components" in note for note in alone.notes)


def test_without_pca_the_model_alone_sees_the_same_feature_shift(trained):
    table, model, _ = trained
    doubled = shift_snapshot(table, multiply={"monthly_spend": 2.0}).frame
    with_old = compare_snapshots(table.frame, doubled, model)
    alone = check_snapshot(doubled, model)
    for a, b in zip(with_old.segments, alone.segments, strict=True):
        if a.centroid_shift is None:
            continue
        assert a.largest_shift_feature == b.largest_shift_feature == "monthly_spend"
        assert a.largest_shift_direction == b.largest_shift_direction == "higher"
    assert any("most on monthly_spend" in r and "higher" in r for r in alone.verdict.reasons)


# --- notes ---------------------------------------------------------------------------------------

def test_unassigned_rows_are_explained_for_the_comparison(trained):
    table, model, _ = trained
    new = table.frame.copy()
    wild = list(table.informative)
    new.loc[:19, wild] = new.loc[:19, wild] * 1000  # 20 customers far from every segment
    report = compare_snapshots(table.frame, new, model)
    unassigned = next(s for s in report.segments if s.segment == -1)
    assert unassigned.new_share == pytest.approx(20 / len(new))
    assert any(n.startswith("NEW: 20 row(s) (1.0%)") and "count as unassigned" in n
               for n in report.notes)
    # assign's own note tells the user to run compare: pointless inside compare.
    assert not any("compare" in n for n in report.notes)


# --- the verdict's wording -----------------------------------------------------------------------

def _migration(moved: int, matched: int = 1000) -> Migration:
    return Migration(id_column="id", segments=(0, 1), names=("A", "B"),
                     counts=((matched - moved, moved), (0, 0)),
                     row_shares=((1 - moved / matched, moved / matched), (0.0, 0.0)),
                     matched=matched, moved=moved, moved_share=moved / matched, only_old=0,
                     only_new=0)


def test_a_distribution_past_the_line_while_customers_kept_their_segment_is_said_honestly():
    fresh = FeatureDrift(name="Fresh", kind="numeric", psi=0.218)
    # The rule stands: a PSI of 0.2 or more is a re-cluster ...
    kept = decide([fresh], 0.0, [], _migration(9))
    assert kept.level == "re-cluster"
    # ... but the reason and the summary say that 99.1% kept their segment.
    assert kept.reasons == (("PSI of Fresh is 0.218; re-cluster at 0.2: the distribution of "
                             "Fresh moved, while 99.1% of the 1,000 customers in both snapshots "
                             "kept their segment."),)
    assert "99.1% of the customers in both snapshots kept their segment" in kept.summary
    assert "no longer describe" not in kept.summary
    # Customers changing segment is what says the segments no longer describe them.
    moved = decide([fresh], 0.0, [], _migration(200))
    assert moved.level == "re-cluster" and "no longer describe" in moved.summary
    assert moved.reasons[0].startswith("20.0% of the 1,000 customers")
    assert "kept their segment" not in " ".join(moved.reasons)
    # Without a migration (one snapshot against the model) nothing is known about who kept.
    alone = decide([fresh], 0.0, [], None)
    assert alone.reasons == ("PSI of Fresh is 0.218; re-cluster at 0.2.",)
    assert "may no longer describe" in alone.summary


def test_the_report_leads_with_the_verdict_s_own_summary(trained):
    table, model, _ = trained
    report = compare_snapshots(table.frame, shift_snapshot(
        table, multiply={"monthly_spend": 2.0}).frame, model)
    assert report.verdict.level == "re-cluster" and report.migration.moved_share < MOVED_WATCH
    assert f"**Verdict: re-cluster**: {report.verdict.summary}" in render_markdown(report)
    assert "kept their segment" in report.verdict.summary


# --- small tables: sampling noise is not drift ------------------------------------------------

def _halves(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    half = len(frame) // 2
    return (frame.iloc[order[:half]].reset_index(drop=True),
            frame.iloc[order[half:]].reset_index(drop=True))


def _model_of(frame: pd.DataFrame, tmp_path, **settings) -> SavedModel:
    run = run_segmentation(frame, SegmentSettings(**settings))
    return load_bundle(save_bundle_with_data(run, frame, tmp_path / "model"))


def test_psi_noise_bound_shrinks_with_the_samples_and_covers_chance():
    shares = [0.3, 0.3, 0.2, 0.1, 0.05, 0.05]
    bounds = [psi_noise_bound(shares, n, n) for n in (100, 1_000, 10_000)]
    assert bounds[0] > bounds[1] > bounds[2] and bounds[0] > PSI_RECLUSTER > bounds[2]
    # Against a reference known exactly the noise is about half (one sample, not two).
    assert psi_noise_bound(shares, 1_000, None) < bounds[1]
    # It is a high quantile of what two unchanged samples give: 1% of draws at most exceed it.
    rng = np.random.default_rng(9)
    draws = [psi(rng.multinomial(100, shares) / 100, rng.multinomial(100, shares) / 100)
             for _ in range(2000)]
    assert np.mean(np.array(draws) > bounds[0]) <= 0.02


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_half_of_a_small_table_against_a_model_of_the_other_is_not_re_cluster(
        seed, tmp_path):
    # 300 customers: the second half is the same population, so nothing should say re-cluster.
    table = make_customers(300, 3, seed=seed + 20).frame
    first, second = _halves(table, seed)
    model = _model_of(first, tmp_path, id_column="customer_id", seed=0)
    report = check_snapshot(second, model)
    assert report.verdict.level != "re-cluster", report.verdict.reasons
    assert report.segments[-1].segment != -1 or report.segments[-1].reference_share > 0


def test_a_real_shift_in_a_small_table_is_still_caught(tmp_path):
    table = make_customers(300, 3, seed=21)
    first, second = _halves(table.frame, 0)
    model = _model_of(first, tmp_path, id_column="customer_id", seed=0)
    column = next(c for c in model.info.features if pd.api.types.is_float_dtype(second[c])
                  and second[c].nunique() > 50)
    tripled = second.assign(**{column: second[column] * 3})
    report = check_snapshot(tripled, model)
    assert report.verdict.level == "re-cluster"
    moved = next(f for f in report.features if f.name == column)
    assert moved.psi > moved.psi_noise > 0


@pytest.mark.integration
@pytest.mark.parametrize(("folder", "name", "id_column"), [
    ("mall_customers", "Mall_Customers.csv", "CustomerID"),
    ("wholesale_customers", "Wholesale_customers_data.csv", "Customer ID"),
])
def test_real_small_tables_split_in_two_are_not_re_cluster(folder, name, id_column, tmp_path):
    from tests.conftest import shared_dataset

    path = shared_dataset(folder, name)
    frame = pd.read_csv(path)
    levels = []
    for seed in range(4):
        first, second = _halves(frame, seed)
        model = _model_of(first, tmp_path / str(seed), id_column=id_column, seed=0)
        levels.append(check_snapshot(second, model).verdict.level)
    assert "re-cluster" not in levels, levels


def test_lines_crossed_within_chance_are_reported_but_not_counted():
    by_chance = FeatureDrift(name="seats", kind="numeric", psi=0.25, psi_noise=0.4,
                             missing_reference=0.08, missing_new=0.14, missing_noise=0.09)
    verdict = decide([by_chance], 0.0, (), None)
    assert verdict.level == "stable"
    assert any("PSI of seats is 0.250" in r and "not counted" in r for r in verdict.reasons)
    assert any("missing share of seats" in r and "not counted" in r for r in verdict.reasons)
    real = by_chance.model_copy(update={"psi_noise": 0.1, "missing_noise": 0.02})
    assert decide([real], 0.0, (), None).level == "re-cluster"
    assert decide([by_chance], 0.3, (), None, segment_noise=0.1).level == "re-cluster"
