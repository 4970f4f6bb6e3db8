"""Roles and quality are read once per analysis (issue 17): the chat's inspect step reads them,
and the segmentation that follows under the same settings takes them as they are."""

from __future__ import annotations

import pytest

import copilot.segmentation.analysis.pipeline as pipeline
from copilot.agent.session import Session


@pytest.fixture
def session(loaded_session: Session) -> Session:
    return loaded_session


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
