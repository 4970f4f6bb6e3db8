"""A segment's stance: value and risk against the average, from outcomes (or a spend feature)."""

from __future__ import annotations

import pytest

from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
from copilot.segmentation.analysis.stance import (
    is_cumulative,
    is_value_name,
    outcome_polarity,
    segment_stances,
    stance_label,
)
from fixtures.archetypes import make_archetype_table


@pytest.fixture(scope="module")
def telco_run():
    table = make_archetype_table("telco", 2500, seed=11)
    return table, run_segmentation(table.frame, SegmentSettings(
        seed=0, id_column=table.id_column, outcomes=table.outcomes))


@pytest.fixture(scope="module")
def telco(telco_run):
    table, run = telco_run
    return table, run.analysis


@pytest.fixture(scope="module")
def retail():
    table = make_archetype_table("retail", 2500, seed=12)
    return table, run_segmentation(table.frame, SegmentSettings(
        seed=0, id_column=table.id_column, outcomes=table.outcomes)).analysis


@pytest.mark.parametrize(("column", "others", "expected"), [
    ("TotalCharges", ["tenure", "MonthlyCharges"], True),     # a running total beside tenure
    ("total_spend", ["tenure_months"], True),
    ("total_spend_12m", ["tenure_months"], False),            # a window: value
    ("TotalCharges", ["MonthlyCharges"], False),              # nothing says tenure
    ("customer_lifetime_value", ["tenure"], False),           # an estimate of value
    ("total_spend", ["account_age_days"], True),
    ("total_spend", ["age"], False),                          # a person's age is not tenure
])
def test_a_running_total_beside_tenure_is_not_value(column, others, expected):
    assert is_cumulative(column, [column, *others]) is expected


@pytest.mark.parametrize(("column", "expected"), [
    ("MonthlyCharges", True), ("revenue_12m", True), ("avg_order_value", True), ("mrr", True),
    ("orders_12m", False), ("discount_share", False), ("PaymentMethod", False),
    ("days_since_last_order", False), ("support_tickets_90d", False),
])
def test_value_names(column, expected):
    assert is_value_name(column) is expected


@pytest.mark.parametrize(("column", "expected"), [
    ("Churn", "risk"), ("churned_next_6m", "risk"), ("Exited", "risk"), ("cancelled", "risk"),
    ("retained", "safety"), ("renewed", "safety"), ("converted", None), ("target", None),
])
def test_which_way_an_outcome_points(column, expected):
    assert outcome_polarity(column) == expected


def test_labels_cover_every_pair():
    assert stance_label("high", "high") == "high value, at risk"
    assert stance_label("low", "high") == "low value, leaving"
    assert stance_label("high", "low") == "high value, loyal core"
    assert stance_label(None, None) is None


def test_telco_value_is_the_monthly_charge_not_the_running_total(telco):
    table, analysis = telco
    stances = segment_stances(analysis)
    assert stances.value_basis.column == "MonthlyCharges"
    assert stances.value_basis.source == "feature"
    assert stances.risk_basis.column == "Churn"
    assert "MonthlyCharges" in stances.basis_sentence()


def test_planted_churners_are_at_risk_and_planted_loyal_households_are_not(telco_run):
    table, run = telco_run  # the module's run, not a second identical one
    stances = segment_stances(run.analysis)
    # The segment that holds most of each planted archetype.
    import numpy as np

    def found(key):
        planted = [a.key for a in table.archetypes].index(key)
        rows = table.labels == planted
        labels, counts = np.unique(run.labels[rows], return_counts=True)
        return int(labels[counts.argmax()])

    assert stances.of(found("telco_m2m_fiber_churners")).risk == "high"
    assert stances.of(found("telco_long_contract_households")).risk == "low"


def test_retail_value_is_the_revenue_outcome_and_levels_follow_the_figures(retail):
    table, analysis = retail
    stances = segment_stances(analysis)
    assert stances.value_basis.column in table.outcomes and stances.value_basis.source == "outcome"
    for s in stances.segments:
        if s.value == "high":
            assert s.value_figure > stances.value_basis.overall
        if s.risk == "low":
            assert s.risk_figure < stances.risk_basis.overall


def test_no_outcome_means_no_stance():
    table = make_archetype_table("saas", 800, seed=2)
    frame = table.frame.drop(columns=list(table.outcomes) + ["mrr"])
    analysis = run_segmentation(frame, SegmentSettings(seed=0, id_column=table.id_column,
                                                       outcomes=[])).analysis
    stances = segment_stances(analysis)
    assert stances.risk_basis is None and stances.value_basis is None
    assert all(s.label is None for s in stances.segments)
    assert stances.basis_sentence() is None
