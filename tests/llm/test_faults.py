"""Fault injection through the real client stack (LangChain -> openai SDK -> HTTP on 127.0.0.1).

Each fault must end in a complete writing result, every piece labelled with its author, plus a
one-line notice, within a bounded time: never a crash, a hang or a made-up number.
"""

from __future__ import annotations

import time

import pytest

from copilot.llm.client import DRAFT
from copilot.llm.providers import resolve_settings
from copilot.llm.writing import open_client, write_all
from tests.llm.servers import (
    ScriptedOpenAIServer,
    free_port,
    garbage,
    http_error,
    invalid_json,
    slow,
    truncated,
    wrong_schema,
)
from tests.llm.writer_helpers import small_analysis


def _client(base_url: str, timeout: float = 2.0):
    settings = resolve_settings(
        {"provider": "openai-compatible", "base_url": base_url, "model": "scripted-model",
         "timeout_s": timeout},
        env={"SEGMENT_COPILOT_CONFIG": "/nonexistent/config.toml"},
    )
    return open_client(settings)


def _assert_complete_and_labelled(writing, analysis):
    assert [n.segment for n in writing.narratives] == [p.segment for p in analysis.profiles]
    assert all(n.name and n.narrative for n in writing.narratives)
    assert all(n.author.writer == DRAFT and n.author.status == "fallback" for n in writing.narratives)
    assert writing.recommendation.k == analysis.choice.k
    assert writing.recommendation.author.writer == DRAFT
    assert writing.notices, "a fault must leave a notice"
    for notice in writing.notices:
        assert "\n" not in notice and len(notice) < 400
    if writing.strategy is not None:
        assert len(writing.strategy.opportunities) == len(writing.strategy.ratings)
        assert all(p.author.writer == DRAFT for p in writing.strategy.plans)


@pytest.mark.parametrize(
    "behaviour",
    [
        pytest.param(invalid_json("X"), id="invalid-json"),
        pytest.param(truncated("X"), id="cut-off-at-token-limit"),
        pytest.param(wrong_schema("X", {"title": 3, "story": None}), id="wrong-schema"),
        pytest.param(garbage(), id="garbage-body"),
        pytest.param(http_error(500), id="http-500"),
    ],
)
def test_bad_answers_end_in_labelled_drafts(behaviour):
    analysis = small_analysis()
    with ScriptedOpenAIServer(default=behaviour) as server:
        client = _client(server.base_url)
        writing = write_all(analysis, client, goal="Reduce churn")
        calls = len(server.requests)
    _assert_complete_and_labelled(writing, analysis)
    # Bounded: at most 1 + max_reasks calls per piece, never an endless loop.
    pieces = 1 + 2 * len(analysis.profiles) + len(writing.strategy.plans)
    assert calls <= 3 * pieces


def test_a_timeout_switches_the_model_off_for_the_rest_of_the_pass():
    analysis = small_analysis()
    with ScriptedOpenAIServer(default=slow(5)) as server:
        client = _client(server.base_url, timeout=0.5)
        start = time.perf_counter()
        writing = write_all(analysis, client, goal="Reduce churn")
        took = time.perf_counter() - start
        calls = len(server.requests)
    _assert_complete_and_labelled(writing, analysis)
    assert calls == 1 and took < 5
    assert any("timeout" in n for n in writing.notices)


def test_connection_refused_is_one_notice_and_no_wait():
    analysis = small_analysis()
    client = _client(f"http://127.0.0.1:{free_port()}/v1")
    start = time.perf_counter()
    writing = write_all(analysis, client, goal="Reduce churn")
    assert time.perf_counter() - start < 10
    _assert_complete_and_labelled(writing, analysis)
    assert len(writing.notices) == 1 and "connect" in writing.notices[0]
