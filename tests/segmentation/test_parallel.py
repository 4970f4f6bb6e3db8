"""Tests for copilot.segmentation.analysis.parallel: the engine's threads."""

from __future__ import annotations

import time

import pytest

from copilot.segmentation.analysis.parallel import engine_threads, in_chunks, run_all


@pytest.mark.parametrize(("setting", "expected"), [("1", 1), ("3", 3), (" 2 ", 2)])
def test_the_users_thread_setting_is_respected(monkeypatch, setting, expected):
    monkeypatch.setenv("SEGMENT_COPILOT_THREADS", setting)
    assert engine_threads() == expected


@pytest.mark.parametrize("setting", ["", "0", "two", "-1"])
def test_without_a_valid_setting_every_core_is_used(monkeypatch, setting):
    monkeypatch.setenv("SEGMENT_COPILOT_THREADS", setting)
    assert engine_threads() >= 1


@pytest.mark.parametrize("threads", [1, 2])
def test_results_come_back_in_the_tasks_order(threads):
    # Earlier tasks sleep longer, so on two threads they finish last.
    tasks = [lambda i=i: (time.sleep(0.01 * (4 - i)), i)[1] for i in range(4)]
    finished: list[int] = []
    assert run_all(tasks, threads=threads, done=finished.append) == [0, 1, 2, 3]
    assert sorted(finished) == [0, 1, 2, 3]


def test_a_failing_task_raises_its_own_error():
    def boom():
        raise ValueError("task failed")

    with pytest.raises(ValueError, match="task failed"):
        run_all([lambda: 1, boom, lambda: 3], threads=2)


def test_chunks_cover_every_row_once():
    seen: list[int] = []
    in_chunks(lambda start: seen.extend(range(start, min(start + 4, 10))), 10, 4)
    assert sorted(seen) == list(range(10))
