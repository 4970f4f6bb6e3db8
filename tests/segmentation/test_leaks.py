"""Leaks never become features (issue 16): a column that nearly determines an outcome, or whose
name is built from an outcome's, is left out by default with a warning that says so and how to
keep it; --keep (the chat's /include) keeps it."""

from __future__ import annotations

import numpy as np
import pytest

from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
from fixtures.customers import make_customers


@pytest.fixture(scope="module")
def leaky():
    frame = make_customers(800, 3, seed=12).frame
    rng = np.random.default_rng(2)
    churned = (frame["churned"] == "Yes").to_numpy()
    # Computed from the label, as a bank table's "complaint resolved after exit" columns are.
    frame["risk_index"] = np.where(churned, 0.9, 0.1) + rng.normal(0, 0.01, len(frame))
    frame["churned_reason_code"] = rng.choice(["A", "B", "C"], len(frame))
    return frame


def test_a_leak_is_flagged_and_left_out(leaky):
    a = run_segmentation(leaky, SegmentSettings(id_column="customer_id", k=3,
                                                algorithm="kmeans")).analysis
    assert "risk_index" not in a.roles.features
    assert "churned_reason_code" not in a.roles.features
    role = a.roles.get("risk_index")
    assert role.role == "excluded" and "churned" in role.reason and "--keep" in role.reason
    assert a.roles.get("churned_reason_code").role == "excluded"
    leak = next(f for f in a.quality.findings if f.kind == "leakage"
                and f.columns[0] == "risk_index")
    assert "left out of the features" in leak.message and "--keep risk_index" in leak.message
    # the segments no longer reproduce the label
    churn = next(v for v in a.validation if v.name == "churned")
    rates = [s.value for s in churn.segments if s.value is not None]
    assert max(rates) < 0.9


def test_keep_keeps_a_leak_the_user_wants(leaky):
    a = run_segmentation(leaky, SegmentSettings(id_column="customer_id", k=3,
                                                algorithm="kmeans",
                                                keep=("risk_index",))).analysis
    assert "risk_index" in a.roles.features
    assert "churned_reason_code" not in a.roles.features


def test_include_in_the_chat_keeps_a_left_out_leak(leaky, tmp_path):
    from copilot.agent.agent import Agent
    from copilot.agent.session import Session
    from copilot.llm.providers import LLMSettings

    data = tmp_path / "bank.csv"
    leaky.to_csv(data, index=False)
    s = Session(tmp_path / "s", settings=SegmentSettings(id_column="customer_id", k=3,
                                                         algorithm="kmeans"),
                llm=LLMSettings(provider="none"))
    s.load(data)
    s.segment()
    assert "risk_index" not in s.analysis.roles.features
    Agent(s).handle("/include risk_index")
    assert "risk_index" in s.settings.keep
    assert "risk_index" in s.analysis.roles.features
