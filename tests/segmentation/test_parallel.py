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


def test_warnings_quieted_on_two_threads_at_once_leave_the_filters_as_they_were():
    # catch_warnings saves and restores one process-wide list: a second thread entering it
    # while the first is inside, and leaving after, used to leave "ignore" installed.
    import threading
    import warnings

    from copilot.segmentation.analysis.parallel import quiet_warnings

    before = list(warnings.filters)
    inside = threading.Event()

    def first():
        with quiet_warnings():
            inside.set()
            time.sleep(0.02)

    def second():  # enters while the first is inside, leaves after it
        inside.wait()
        with quiet_warnings(UserWarning):
            time.sleep(0.1)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert warnings.filters == before


def test_beside_on_one_thread_runs_the_work_when_its_result_is_asked_for(monkeypatch):
    from copilot.segmentation.analysis.parallel import beside

    monkeypatch.setenv("SEGMENT_COPILOT_THREADS", "1")
    calls: list[int] = []
    with beside(lambda x: calls.append(x) or x * 2, 21) as result:
        assert calls == []  # not before the block's own work
        assert result() == 42 and result() == 42
    assert calls == [21]
