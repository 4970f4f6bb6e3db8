"""The meaning checks on hand-built evidence: each refuses what the table contradicts and lets
the true statement pass (a check that refuses everything would pass the first half alone)."""

from __future__ import annotations

import pytest

from copilot.llm.meaning import SegmentEvidence, check_name_meaning, check_name_specific
from copilot.llm.narrative_checks import (
    check_bindings,
    check_multipliers,
    check_stance_words,
    check_superlatives,
    check_wishes,
)
from copilot.llm.option_claims import check_option_claims
from copilot.llm.plan_checks import (
    check_flat_row,
    check_plan_form,
    check_plan_specific,
    check_plumbing,
    check_promise,
)
from copilot.llm.traits import Trait, trait_aliases


def _t(feature, sign, level=None):
    return Trait(feature, level, sign, trait_aliases(feature, level))


def evidence(**over) -> SegmentEvidence:
    """A segment that uses little discount, churns above average, is worth less than average,
    is mostly without TechSupport, on the Pro plan, and has short tenure."""
    traits = (
        _t("discount_share", -1), _t("logins_30d", -1), _t("tenure_months", -1),
        _t("TechSupport", 1, "No"), _t("TechSupport", -1, "Yes"), _t("plan", 1, "Pro"),
        _t("churned", 1), _t("revenue_12m", -1),
    )
    base = dict(
        segment=2, traits=traits, distinguishing=(0, 2, 3, 5, 6),
        z={"discount_share": -1.2, "logins_30d": -0.6, "tenure_months": -0.9},
        ratios={6: 1.9, 7: 0.7, 0: 0.5}, ranks={6: (2, 5), 2: (5, 5), 7: (4, 5)},
        value_lean=-1, risk_lean=1, value_level="low", risk_level="high",
        stance="low value, leaving", value_column="revenue_12m", risk_column="churned",
        columns=("discount_share", "logins_30d", "tenure_months", "TechSupport", "plan"),
        outcomes=("churned", "revenue_12m"), levels=frozenset({"pro", "basic", "no", "yes"}),
    )
    return SegmentEvidence(**{**base, **over})


# --- names ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "Discount Savers",         # the segment uses less discount than average
    "Loyal Regulars",          # it churns above average
    "Premium Buyers",          # it is worth less than average
    "Power Users",             # its usage is below average
    "Veteran Accounts",        # its tenure is short
    "Tech Support Seekers",    # TechSupport = Yes is rare here
    "Efficient Users",         # a sentiment that hides a segment at risk
    "Revenue Seekers",         # an outcome as a wish
])
def test_names_the_table_contradicts_are_refused(name):
    assert check_name_meaning(name, evidence()), name


@pytest.mark.parametrize("name", [
    "No-Discount Leavers",     # "no" turns the discount claim round; leaving is right
    "At-Risk Newcomers",
    "Budget Pro Plan Leavers", # "Pro" is the table's own plan level, over-represented here
    "Light Users",
    "At-Risk Without Tech Support",
])
def test_names_that_fit_the_table_pass(name):
    assert check_name_meaning(name, evidence()) == [], name


def test_loyal_is_refused_only_when_churn_is_above_average():
    assert check_name_meaning("Loyal Regulars", evidence())
    assert check_name_meaning("Loyal Regulars", evidence(risk_lean=-1, risk_level="low")) == []


def test_a_name_of_stance_words_alone_or_unrelated_words_is_not_specific():
    ev = evidence()
    assert "only the stance" in check_name_specific("Low Value Leaving Customers", ev)[0]
    assert "nothing about" in check_name_specific("Curious Withpremiums", ev)[0]
    assert check_name_specific("At-Risk Short Tenure", ev) == []
    assert check_name_specific("Light Discount Users", ev) == []  # a column word


# --- narratives -------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "They seek a lower revenue over the next 12 months.",
    "These customers value lower churned rates and stability.",
    "They want to reduce churn.",
    "They value No TechSupport and cheap plans.",
])
def test_outcomes_or_absences_written_as_wishes_are_refused(text):
    assert check_wishes(text, evidence()), text


@pytest.mark.parametrize("text", [
    "These high value customers churn more than others.",  # "value" as a noun
    "They value fast answers from support.",                # a taste, not an outcome
    "Their churned rate is higher than average.",           # an outcome as a fact
])
def test_facts_and_tastes_are_not_wishes(text):
    assert check_wishes(text, evidence()) == [], text


def test_stance_words_in_prose_must_agree_with_the_stance():
    ev = evidence()
    assert check_stance_words("These loyal customers renew every year.", ev)
    assert check_stance_words("These premium customers pay the most.", ev)
    assert check_stance_words("These customers are not loyal.", ev) == []
    assert check_stance_words("These customers are at risk of leaving.", ev) == []


def test_superlatives_are_checked_against_the_ranks():
    ev = evidence()
    assert "ranks 2nd" in check_superlatives("They have the highest churned rate.", ev)[0]
    assert check_superlatives("Their tenure_months is the lowest of all.", ev) == []
    assert check_superlatives("Most customers here are on Pro.", ev) == []


def test_word_multipliers_are_checked_against_the_ratio():
    ev = evidence()
    assert check_multipliers("They are twice as likely to be churned.", ev) == []  # 1.9
    assert check_multipliers("They have half the discount_share of others.", ev) == []  # 0.5
    assert check_multipliers("They bring in twice the revenue_12m.", ev)  # 0.7


# --- the k advice -----------------------------------------------------------------------------

OPTIONS = [
    {"option": "Gaussian mixture, k=5", "k": 5, "silhouette": 0.19, "stability": 0.92,
     "icl": 52000, "smallest_segment_pct": 6.0},
    {"option": "Gaussian mixture, k=4", "k": 4, "silhouette": 0.203, "stability": 1.0,
     "icl": 53000, "smallest_segment_pct": 9.0},
    {"option": "k-means, k=3", "k": 3, "silhouette": 0.15, "stability": 0.8, "icl": None,
     "smallest_segment_pct": 12.0},
]


def test_the_issues_false_comparison_is_refused():
    text = ("The silhouette score of 0.19 is higher than the other options. The stability score "
            "of 0.92 is also higher.")
    problems = check_option_claims(text, "Gaussian mixture, k=5", OPTIONS)
    assert len(problems) == 2 and all("is false" in p for p in problems)


@pytest.mark.parametrize(("text", "subject"), [
    ("It has the lowest (best) ICL, 52000.", "Gaussian mixture, k=5"),
    ("It has the highest silhouette (0.203) and stability (1.0).", "Gaussian mixture, k=4"),
    ("Its smallest segment, 12.0%, is the largest of all options.", "k-means, k=3"),
    ("It has a lower ICL than k=4.", "Gaussian mixture, k=5"),
])
def test_true_comparisons_pass(text, subject):
    assert check_option_claims(text, subject, OPTIONS) == []


def test_icl_read_as_compactness_or_praised_high_is_refused():
    text = "The ICL score of 53000 is very high, indicating that the clusters are very compact."
    assert any("compact" in p for p in check_option_claims(text, "Gaussian mixture, k=4", OPTIONS))


def test_a_superlative_about_another_option_is_checked_for_that_option():
    text = "k=3 has the highest silhouette of all options."
    assert check_option_claims(text, "Gaussian mixture, k=4", OPTIONS)


# --- plans ------------------------------------------------------------------------------------

def test_a_plan_that_could_sit_under_any_segment_is_refused():
    ev = evidence()
    generic = ["Monitor the effectiveness of the initiative.", "Communicate the plan to the team."]
    assert any("any segment" in p for p in check_plan_specific(generic, "Win-back offer", ev))
    specific = ["Call customers without TechSupport to offer a setup session.",
                "Email the win-back offer to short tenure_months customers."]
    assert check_plan_specific(specific, "Win-back offer", ev) == []


def test_an_action_that_restates_the_initiative_is_refused():
    ev = evidence()
    problems = check_plan_specific(
        ["Run proactive success check-ins for at-risk accounts.",
         "Call customers without TechSupport first."],
        "Proactive success check-ins for at-risk accounts", ev)
    assert any("restates" in p for p in problems)


@pytest.mark.parametrize("text", [
    "The initiative will show a significant reduction in churn.",
    "This guarantees lower churn.",
    "Churn will drop for these customers.",
])
def test_a_promised_result_is_refused(text):
    assert check_promise(text)


def test_a_hypothesis_is_not_a_promise():
    assert check_promise("The offer lowers churn for these customers compared with the holdout "
                         "group.") == []


def test_flat_fit_rows_and_duplicate_actions_and_plumbing():
    assert check_flat_row([5, 5, 5], 1) and check_flat_row([3, 3], 1)
    assert check_flat_row([1, 1, 1], 1) == []  # "none of these fits" is an answer
    assert check_flat_row([5, 3, 1], 1) == []
    assert check_plan_form(["Email them.", "email  them."])
    assert check_plumbing("Based on the context provided, k=4 is best.")
    assert check_plumbing("CONTEXT.goal is met.") and check_plumbing("Plain words.") == []


def test_a_name_for_what_the_segment_mostly_lacks_is_refused():
    """ "Internet Service Users" for the segment without internet (Telco, measured), unless a
    "no" or "without" stands in front of it; said once however many columns say it."""
    traits = (_t("InternetService", 1, "No"), _t("InternetService", -1, "Fiber optic"),
              _t("StreamingTV", 1, "No internet service"), _t("plan", 1, "Pro"))
    ev = evidence(traits=traits, distinguishing=(0, 1, 2, 3), risk_lean=-1, risk_level="low",
                  stance="loyal", columns=("InternetService", "StreamingTV", "plan"))
    refused = [p for p in check_name_meaning("Internet Service Users", ev) if "mostly lack" in p]
    assert len(refused) == 1 and "InternetService = No" in refused[0]
    for fine in ("No Internet Households", "Without Internet Service", "Pro Plan Households"):
        assert not any("mostly lack" in p for p in check_name_meaning(fine, ev)), fine


def test_a_real_figure_given_to_the_wrong_trait_is_refused():
    """ "a 17.7% churn rate" where 17.7% is the segment's share (Telco, measured)."""
    ev = evidence()
    phrases = ["lower discount_share (median 0 vs 0.085 overall)",
               "higher churned rate (41.3% vs 21.1% overall)"]
    wrong = check_bindings("These customers, with a 17.7% churned rate, use little discount.",
                           ev, phrases, others=[17.7])
    assert len(wrong) == 1 and "churned" in wrong[0] and "41.3" in wrong[0]
    for right in ("They are 17.7% of customers, with a churned rate of 41.3% against 21.1%.",
                  "Their churned rate is 41.3%, above the 21.1% overall.",
                  "A 41% churned rate sets them apart."):  # a rounding is the number check's
        assert check_bindings(right, ev, phrases, others=[17.7]) == [], right
