"""Default initiatives come from the table's own columns; the goal's campaign count caps plans."""

from __future__ import annotations

import pytest

from copilot.llm.initiatives import computed_fit, default_initiatives, goal_kind
from copilot.llm.strategy import campaign_cap, combined_fit
from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
from copilot.segmentation.analysis.stance import segment_stances
from fixtures.archetypes import make_archetype_table

SAAS_ONLY = ("in-app", "seat", "feature")


def _analysis(domain, seed):
    table = make_archetype_table(domain, 2000, seed=seed)
    return run_segmentation(table.frame, SegmentSettings(
        seed=0, id_column=table.id_column, outcomes=table.outcomes)).analysis


@pytest.fixture(scope="module")
def telco():
    return _analysis("telco", 21)


@pytest.fixture(scope="module")
def saas():
    return _analysis("saas", 22)


def test_a_telco_retention_list_speaks_of_contracts_and_support_not_saas(telco):
    texts = [i.text.lower() for i in default_initiatives(telco, "Reduce churn")]
    assert 3 <= len(texts) <= 5
    assert any("contract" in t for t in texts)
    assert not any(word in t for t in texts for word in SAAS_ONLY), texts


def test_a_saas_retention_list_speaks_of_its_own_columns(saas):
    texts = [i.text.lower() for i in default_initiatives(saas, "Reduce churn")]
    assert any(word in t for t in texts for word in ("support", "login", "features", "api")), texts
    assert not any("contract" in t for t in texts)


def test_retention_defaults_target_the_segments_at_risk(telco):
    stances = segment_stances(telco)
    risky = [s.segment for s in stances.segments if s.risk == "high"]
    first = default_initiatives(telco, "Reduce churn")[0]
    assert risky and max(computed_fit(first, telco, s, stances.of(s)) for s in risky) >= 4


def test_growth_defaults_differ_from_retention(telco):
    growth = {i.text for i in default_initiatives(telco, "Grow revenue with upsell")}
    retention = {i.text for i in default_initiatives(telco, "Reduce churn")}
    assert growth != retention


@pytest.mark.parametrize(("goal", "cap"), [
    ("Find segments to reduce churn; we can run at most 5 campaigns.", 5),
    ("Reduce churn with up to three campaigns", 3),
    ("no more than 2 audiences please", 2),
    ("We can only run 4 campaigns", 4),
    ("Reduce churn", None),
    ("Reduce churn among our 5 biggest regions", None),
])
def test_the_campaign_cap_is_read_from_the_goal(goal, cap):
    assert campaign_cap(goal) == cap


def test_goal_kinds():
    assert goal_kind("Reduce churn among paying customers") == "retention"
    assert goal_kind("Grow expansion revenue") == "growth"
    assert goal_kind("Improve onboarding activation") == "activation"


def test_combined_fit_orders_judgement_first_then_target():
    assert combined_fit(True, 5) == 5 and combined_fit(True, 3) == 4 and combined_fit(True, 1) == 3
    assert combined_fit(False, 5) == 2 and combined_fit(False, 3) == 1
