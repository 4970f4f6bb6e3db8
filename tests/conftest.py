"""Shared test helpers: where the real public datasets live, and skipping cleanly without them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The real datasets sit beside the project checkout (../shared/datasets); absent on users' machines.
DATASETS = REPO.parent / "shared" / "datasets"

sys.path.insert(0, str(REPO))  # so tests can import the fixtures/ generator


def shared_dataset(*parts: str) -> Path:
    """Path to a file under ../shared/datasets, or skip the test with the reason."""
    path = DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real dataset not available here: {path}")
    return path
