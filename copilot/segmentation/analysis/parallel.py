"""Independent pieces of the analysis on the machine's cores, with the results of running them
one after another.

Threads, not processes: the pieces (candidate fits in the sweep, per-column statistics) are
numpy, BLAS and scikit-learn's compiled loops, which release the GIL; worker processes would
each import scikit-learn again (about 1.5 s here) and copy their inputs. A piece draws from
no random state it shares with another (each is seeded, or is given the rows it needs), so
which thread runs it, and when, changes nothing in the result.

How many threads: ``SEGMENT_COPILOT_THREADS`` when set (the user's setting; the embedded model
reads it too, and the parallel test suite sets 1), else the cores this process may use, up to
8. Every worker runs its BLAS and OpenMP loops on one thread, so workers x inner threads never
exceed it.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from functools import partial
from typing import TypeVar

from threadpoolctl import ThreadpoolController

T = TypeVar("T")


# The default's ceiling: the sweep has about 40 tasks, and every thread of a column pass holds
# a copy of its column (80 MB on 10 million rows), so more threads buy little and cost memory.
MAX_DEFAULT_THREADS = 8


def engine_threads() -> int:
    """Threads the engine may use: the user's ``SEGMENT_COPILOT_THREADS``, else the cores
    (at most ``MAX_DEFAULT_THREADS``)."""
    raw = os.environ.get("SEGMENT_COPILOT_THREADS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_THREADS))


_controller: ThreadpoolController | None = None


def thread_limits(limits: int | None, user_api: str | None = None):
    """``threadpoolctl.threadpool_limits(limits, user_api)`` through one controller.

    Each ``threadpool_limits`` lists the process's loaded libraries afresh (reads
    /proc/self/maps and opens each one): about 5 ms, and the engine asked for it about 80 times
    a run (each mixture fit, each task batch), 10% of a 600-row run. The libraries are the
    same every time: scikit-learn's OpenMP runtime, imported here first, and NumPy's BLAS."""
    global _controller
    if _controller is None:
        import sklearn.cluster  # noqa: F401  (loads the OpenMP runtime the limits must reach)

        _controller = ThreadpoolController()
    return _controller.limit(limits=limits, user_api=user_api)


def _one_inner_thread() -> None:
    # OpenMP's thread count is a per-thread setting: the caller's limit does not reach a new
    # worker, and scikit-learn's k-means would start one OpenMP team per core in each worker.
    thread_limits(1, user_api="openmp")


def run_all(
    tasks: Sequence[Callable[[], T]],
    *,
    threads: int | None = None,
    done: Callable[[int], None] | None = None,
) -> list[T]:
    """Every task's result, in the tasks' order.

    Tasks run on ``threads`` workers (default ``engine_threads()``), each with one BLAS/OpenMP
    thread; pass the longest tasks first, so that no worker is left with a long one at the
    end. ``done(i)`` is called on the calling thread as task ``i`` finishes (progress).
    """
    workers = min(threads or engine_threads(), len(tasks))
    results: list = [None] * len(tasks)
    with thread_limits(1):  # BLAS's limit is process-wide, OpenMP's is this thread's
        if workers <= 1:
            for i, task in enumerate(tasks):
                results[i] = task()
                if done:
                    done(i)
            return results
        with ThreadPoolExecutor(workers, initializer=_one_inner_thread) as pool:
            futures = {pool.submit(task): i for i, task in enumerate(tasks)}
            try:
                for future in as_completed(futures):
                    i = futures[future]
                    results[i] = future.result()
                    if done:
                        done(i)
            except BaseException:
                for future in futures:  # a failed task (or Ctrl-C) ends the rest unstarted
                    future.cancel()
                raise
    return results


@contextmanager
def beside(fn: Callable[..., T], *args) -> Iterator[Callable[[], T]]:
    """Run ``fn(*args)`` on a thread of its own while the caller's block runs; the block gets
    a function that waits for its result. With one engine thread it runs on the caller's, when
    the result is first asked for: the work happens where it did before it ran beside, so a
    caller's stage timings stay true."""
    if engine_threads() <= 1:
        done: list = []

        def result() -> T:
            if not done:
                done.append(fn(*args))
            return done[0]

        yield result
        return
    with ThreadPoolExecutor(1) as pool:
        yield pool.submit(fn, *args).result


def in_chunks(part: Callable[[int], None], n_rows: int, chunk: int) -> None:
    """Call ``part(start)`` for every chunk of ``n_rows`` rows: on the engine's threads when
    there are several chunks, else here (no pool for one chunk, nor inside a pool's task:
    a sample-sized matrix is one chunk)."""
    starts = range(0, n_rows, chunk)
    if len(starts) <= 1:
        for start in starts:
            part(start)
        return
    run_all([partial(part, start) for start in starts])


_WARNINGS_LOCK = threading.RLock()


@contextmanager
def quiet_warnings(category: type[Warning] = Warning) -> Iterator[None]:
    """``warnings.catch_warnings()`` with ``category`` ignored, safe beside the engine's other
    threads. ``catch_warnings`` saves and restores the process's one list of filters: two
    threads inside it at once (the rules' cross-validation beside the profiles' date parsing
    or the themes' topic model) can leave "ignore" installed, or drop a filter, for the rest
    of the process. The engine's steps take this lock around theirs, so no two overlap."""
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", category)
        yield
