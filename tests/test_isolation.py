"""The suite never falls through to the embedded model by accident."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def provider_seen_by_module_fixture():
    # Module fixtures (e.g. the CLI runs on real datasets) are set up before function-scoped
    # fixtures; CI once ran the embedded model on Telco from one of them and timed out.
    return os.environ.get("SEGMENT_COPILOT_PROVIDER")


def test_module_scoped_fixtures_see_no_llm(provider_seen_by_module_fixture):
    assert provider_seen_by_module_fixture == "none"
