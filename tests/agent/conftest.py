"""Shared fixtures of the agent tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot.agent.session import Session
from copilot.llm.providers import LLMSettings
from copilot.segmentation.analysis.pipeline import SegmentSettings
from fixtures.customers import make_customers


@pytest.fixture
def loaded_session(tmp_path: Path) -> Session:
    """A session on 300 planted customers in 3 groups (k-means, k=3, no LLM), table loaded."""
    data = tmp_path / "customers.csv"
    make_customers(300, 3, seed=8).frame.to_csv(data, index=False)
    s = Session(tmp_path / "sess", settings=SegmentSettings(k=3, algorithm="kmeans", seed=0),
                llm=LLMSettings(provider="none"))
    s.load(data)
    return s


@pytest.fixture
def padded_session(tmp_path: Path) -> Session:
    """The same customers with six-digit IDs that keep their leading zeros, segmented (k=3)."""
    frame = make_customers(300, 3, seed=8).frame
    frame["customer_id"] = [f"{i:06d}" for i in range(1, len(frame) + 1)]
    data = tmp_path / "customers.csv"
    frame.to_csv(data, index=False)
    s = Session(tmp_path / "sess", settings=SegmentSettings(id_column="customer_id", k=3,
                                                            algorithm="kmeans", seed=0),
                llm=LLMSettings(provider="none"))
    s.load(data)
    s.segment()
    return s
