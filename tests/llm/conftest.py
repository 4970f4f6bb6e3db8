"""Fixtures shared by the LLM tests: the real embedded model, assembled once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def local_model_path():
    """The assembled embedded GGUF (seconds on the very first run, then a cached stamp check)."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from copilot.core.errors import SettingsError
    from copilot.llm.local_model import ensure_model

    try:
        return ensure_model()
    except SettingsError as err:
        pytest.skip(f"embedded model not available: {err}")
