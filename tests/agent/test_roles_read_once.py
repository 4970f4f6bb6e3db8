"""Roles and quality are read once per analysis (issue 17): the chat's inspect step reads them,
and the segmentation that follows under the same settings takes them as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

import copilot.segmentation.analysis.pipeline as pipeline
from copilot.agent.session import Session
from copilot.llm.providers import LLMSettings
from copilot.segmentation.analysis.pipeline import SegmentSettings
from fixtures.customers import make_customers


@pytest.fixture
def session(tmp_path: Path) -> Session:
    frame = make_customers(300, 3, seed=8).frame
    data = tmp_path / "customers.csv"
    frame.to_csv(data, index=False)
    s = Session(tmp_path / "sess", settings=SegmentSettings(k=3, algorithm="kmeans", seed=0),
                llm=LLMSettings(provider="none"))
    s.load(data)
    return s


@pytest.fixture
def reads(monkeypatch):
    """How often the pipeline infers roles and reports quality."""
    counts = {"roles": 0, "quality": 0}

    def counted(name, real):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(pipeline, "infer_roles", counted("roles", pipeline.infer_roles))
    monkeypatch.setattr(pipeline, "quality_report", counted("quality", pipeline.quality_report))
    return counts


def test_segmenting_after_inspecting_reads_the_roles_once(session, reads):
    roles, quality = session.inspect()
    analysis = session.segment()
    assert analysis is not None, session.last_error
    assert reads == {"roles": 0, "quality": 0}
    assert analysis.roles.features == roles.features and analysis.quality == quality


def test_other_settings_read_the_roles_again(session, reads):
    roles, _ = session.inspect()
    dropped = roles.features[0]
    analysis = session.segment(exclude=[dropped])
    assert analysis is not None, session.last_error
    assert reads == {"roles": 1, "quality": 1}
    assert dropped not in analysis.roles.features
