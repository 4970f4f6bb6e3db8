"""A goal's population read against the table (issue 14): the words find a column level, or
become a question; a scoped analysis segments only those rows and says how many of how many."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from copilot.core.errors import DataError, SettingsError
from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
from copilot.segmentation.analysis.scope import Scope, find_scope, parse_scope
from fixtures.archetypes import make_archetype_table
from fixtures.customers import make_customers


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return make_customers(600, 4, seed=7).frame


SKIP = ("customer_id", "churned", "revenue_12m")


@pytest.mark.parametrize(("goal", "conditions"), [
    ("Grow revenue for enterprise accounts", {"plan": {"Enterprise"}}),
    ("reduce churn among customers in Europe", {"region": {"Europe"}}),
    ("Keep our APAC customers on the Business plan", {"region": {"APAC"},
                                                       "plan": {"Business"}}),
    ("reduce churn among mobile app users", {"has_mobile_app": {"Yes"}}),
    ("win back customers without the mobile app", {"has_mobile_app": {"No"}}),
    ("upsell among customers from paid acquisition", {"acquisition_channel": {"Paid"}}),
])
def test_population_words_find_the_column_level(customers, goal, conditions):
    found = find_scope(goal, customers, skip=SKIP)
    assert found is not None and found.scope is not None, goal
    got = {c: set(levels) for c, levels in found.scope.conditions}
    assert got == conditions
    mask = found.scope.mask(customers)
    expected = np.ones(len(customers), dtype=bool)
    for column, levels in conditions.items():
        expected &= customers[column].isin(levels).to_numpy()
    assert (mask == expected).all()


@pytest.mark.parametrize("goal", [
    "Reduce churn among paying customers",  # every customer pays: no level, no question
    "Find segments for a retention campaign",
    "which segment churns the most?",
    "reduce churn among them",
    "Plan campaigns for customers who might leave soon",
    "grow revenue among our high-value customers",  # a stance the segments will show
])
def test_goals_that_name_no_population_leave_the_table_whole(customers, goal):
    assert find_scope(goal, customers, skip=SKIP) is None


def test_words_no_level_matches_become_a_question(customers):
    found = find_scope("reduce churn among customers in Antarctica", customers, skip=SKIP)
    assert found is not None and found.scope is None
    assert "Antarctica" in found.question and "/scope" in found.question
    assert "all customers will be segmented" in found.question


def test_the_outcome_never_scopes(customers):
    found = find_scope("reduce churn among churned = Yes customers", customers, skip=SKIP)
    assert found is None or found.scope is None or all(
        c != "churned" for c, _ in found.scope.conditions)


def test_another_generators_region_level():
    """The archetype generator's SaaS export (not written for this module): "customers in
    EMEA" is its region level, and a plan tier read from "team accounts"."""
    frame = make_archetype_table("saas", seed=102).frame
    found = find_scope("grow expansion revenue for customers in EMEA", frame,
                       skip=("account_id", "churned"))
    assert found.scope.conditions == (("region", ("EMEA",)),)
    found = find_scope("reduce churn among team accounts", frame, skip=("account_id",))
    assert found.scope.conditions == (("plan", ("Team",)),)


def test_a_tie_between_columns_that_keep_other_rows_is_asked_not_guessed():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"tier": rng.choice(["Gold", "Silver"], 200),
                          "badge": rng.choice(["Gold", "Bronze"], 200),
                          "spend": rng.normal(size=200)})
    found = find_scope("reduce churn among gold customers", frame)
    assert found.scope is None and found.question


def test_a_yes_no_column_named_by_the_goal_and_negated():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"SeniorCitizen": rng.integers(0, 2, 300),
                          "spend": rng.normal(size=300)})
    assert find_scope("reduce churn among senior citizens", frame).scope.conditions == (
        ("SeniorCitizen", ("1",)),)
    assert find_scope("reduce churn among non-senior customers", frame).scope.conditions == (
        ("SeniorCitizen", ("0",)),)


def test_parse_scope_is_strict_and_case_blind(customers):
    assert parse_scope("Plan=enterprise", customers).conditions == (("plan", ("Enterprise",)),)
    assert parse_scope("region=Europe, APAC", customers).conditions == (
        ("region", ("Europe", "APAC")),)
    with pytest.raises(SettingsError, match="no column 'tier'"):
        parse_scope("tier=Gold", customers)
    with pytest.raises(SettingsError, match="no level 'Mars'.*Europe"):
        parse_scope("region=Mars", customers)
    with pytest.raises(SettingsError, match="COLUMN=LEVEL"):
        parse_scope("enterprise", customers)


def test_too_few_customers_in_scope_is_one_sentence(customers):
    frame = customers.assign(tier=["Gold"] * 7 + ["Silver"] * (len(customers) - 7))
    with pytest.raises(DataError) as err:
        Scope(conditions=(("tier", ("Gold",)),)).apply(frame)
    assert "Only 7 of 600" in str(err.value) and "/scope all" in str(err.value)
    assert str(err.value).count(". ") <= 1


def test_a_scoped_analysis_segments_only_those_rows_and_reports_them(customers):
    scope = find_scope("grow revenue for enterprise accounts", customers, skip=SKIP).scope
    run = run_segmentation(customers, SegmentSettings(id_column="customer_id", k=3,
                                                      algorithm="kmeans", scope=scope))
    a = run.analysis
    n = int((customers["plan"] == "Enterprise").sum())
    assert a.n_rows == n == len(run.labels) == a.scope.rows
    assert a.scope.of_rows == len(customers)
    assert set(run.ids) == set(customers.loc[customers["plan"] == "Enterprise", "customer_id"])
    # The scope's column has one value left: it cannot shape the segments.
    assert "plan" not in a.roles.features
    sentence = a.scope.sentence()
    assert f"{n:,} customers with plan = Enterprise" in sentence and "600" in sentence
    # Saved and read back whole (analysis.json).
    from copilot.segmentation.analysis.pipeline import SegmentAnalysis
    again = SegmentAnalysis.model_validate_json(a.model_dump_json())
    assert again.scope == a.scope and again.settings.scope == scope


def test_a_scoped_model_marks_other_customers_out_of_scope_and_drift_leaves_them_out(
        customers, tmp_path):
    """A model trained on enterprise accounts has no segment for a Basic customer: assign says
    so instead of a confident wrong segment, and a drift check compares like with like."""
    from copilot.segmentation.model.assign import assign_table
    from copilot.segmentation.model.bundle import load_bundle, save_bundle
    from copilot.segmentation.model.drift import check_snapshot

    scope = Scope(conditions=(("plan", ("Enterprise",)),))
    run = run_segmentation(customers, SegmentSettings(id_column="customer_id", k=3,
                                                      algorithm="kmeans", scope=scope))
    folder = save_bundle(run, tmp_path / "model", df=scope.apply(customers))
    model = load_bundle(folder)
    assert model.info.scope == scope
    result = assign_table(model, customers)
    inside = (customers["plan"] == "Enterprise").to_numpy()
    frame = result.frame
    assert (frame.loc[~inside, "segment_name"] == "out of scope").all()
    assert (frame.loc[~inside, "segment"] == -1).all()
    assert (frame.loc[~inside, "confidence"] == 0).all()
    # the scoped customers get the segments the run gave them
    assert (frame.loc[inside, "segment"].to_numpy() == run.labels).all()
    assert any(f"{int((~inside).sum()):,} row(s) are outside" in n and "plan = Enterprise" in n
               for n in result.notes)
    report = check_snapshot(customers, model, new_label="june.csv")
    assert report.n_new == int(inside.sum())
    assert any("outside the model's scope" in n for n in report.notes)
    # A table without the scope's column is scored whole, and said to be.
    result = assign_table(model, customers.drop(columns=["plan"]))
    assert any("lacks that column" in n for n in result.notes)
