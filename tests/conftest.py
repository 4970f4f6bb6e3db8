"""Shared test helpers: where the real public datasets live, and skipping cleanly without them."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The real datasets sit beside the project checkout (../shared/datasets); absent on users' machines.
DATASETS = REPO.parent / "shared" / "datasets"

sys.path.insert(0, str(REPO))  # so tests can import the fixtures/ generator

# pytest caches each test module's assertion-rewritten bytecode, unless bytecode writing is off
# (PYTHONDONTWRITEBYTECODE, set on some machines and CI images): then every worker of every run
# rewrote the 3,300 asserts of the suite again, about 6 s of a worker's start. The test
# processes write their caches (under __pycache__, ignored by git) whatever the setting; the
# product's own processes the tests start keep the machine's setting.
sys.dont_write_bytecode = False


def shared_dataset(*parts: str) -> Path:
    """Path to a file under ../shared/datasets, or skip the test with the reason."""
    path = DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real dataset not available here: {path}")
    return path


TELCO = ("telco_churn", "WA_Fn-UseC_-Telco-Customer-Churn.csv")


@pytest.fixture(scope="session")
def telco_cli_explicit(tmp_path_factory):
    """The real Telco table segmented once through the CLI with ``--outcome Churn
    --json`` (about 20 s on 2 cores). Tests that read it carry ``xdist_group("telco")``, so
    they run on one worker and share this one run (test_real_datasets checks the run itself,
    test_trace the memo written from its analysis.json)."""
    from tests.cli_helpers import run_cli

    data = shared_dataset(*TELCO)
    out = tmp_path_factory.mktemp("telco_explicit")
    proc = run_cli("segment", data, "--out-dir", out, "--json", "--outcome", "Churn")
    return {"proc": proc, "out": out, "data": data}


def spark_missing() -> str | None:
    """Why the Spark tests cannot run here (pyspark or Java missing), or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return 'pyspark is not installed (pip install ".[spark]")'
    home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (home and os.path.exists(os.path.join(home, "bin", "java"))):
        return "Java is not installed (apt-get install openjdk-17-jre-headless)"
    return None


# The tests' Spark jobs are small and short: the JVM's quick compiler alone and one GC thread
# take far less CPU than its defaults (features on online_retail with the start: 43 -> 24 JVM
# CPU-s). JDK_JAVA_OPTIONS reaches every JVM the tests start, the CLI runs' included.
JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@pytest.fixture(scope="session")
def spark_env():
    """Skip without pyspark or Java; otherwise the environment every Spark run of the tests
    gets (Spark's Python workers import the product from this checkout, like the tests do)."""
    reason = spark_missing()
    if reason:
        pytest.skip(reason)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JDK_JAVA_OPTIONS", JAVA_OPTIONS)
        path = os.environ.get("PYTHONPATH", "")
        if str(REPO) not in path.split(os.pathsep):
            patch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO), path) if p))
        yield


@pytest.fixture(scope="session")
def spark(spark_env):
    """One local Spark session (local[2], small and quiet) for every Spark test: starting Java
    costs about 10 CPU-seconds. Tests that use it carry ``xdist_group("spark")`` so one worker
    starts it once."""
    from copilot.segmentation.spark import spark_session

    session = spark_session("local[2]", {"spark.driver.memory": "1g",
                                         "spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


@pytest.fixture(autouse=True, scope="session")
def _no_llm_unless_asked(tmp_path_factory):
    """Tests run the engine without any LLM unless they choose a provider themselves.

    The CLI's default provider is the embedded model (seconds per call); tests that want
    writing pick ``fake`` or the real model explicitly. A developer's own config file must not
    leak in either. Session scope on purpose: module- and session-scoped fixtures (which run
    the CLI on real datasets) are set up before any function-scoped fixture, so a
    function-scoped guard would leave them on the embedded model.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEGMENT_COPILOT_PROVIDER", "none")
        patch.setenv("SEGMENT_COPILOT_CONFIG", str(tmp_path_factory.getbasetemp() / "no-config.toml"))
        if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
            # The other workers keep the other cores busy: a 2-thread model beside them
            # waits on itself (see copilot.llm.local_chat.default_threads).
            patch.setenv("SEGMENT_COPILOT_THREADS", os.environ.get("SEGMENT_COPILOT_THREADS", "1"))
        for name in ("SEGMENT_COPILOT_MODEL", "SEGMENT_COPILOT_BASE_URL", "SEGMENT_COPILOT_API_KEY",
                     "SEGMENT_COPILOT_FAKE_SCRIPT", "OPENAI_API_KEY"):
            patch.delenv(name, raising=False)
        yield


INNER_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def pytest_configure(config):
    """With several workers, each gets its share of the cores for its OpenMP and BLAS loops.

    By default every worker's k-means, silhouettes and matrix products started one thread per
    core, so two workers ran four busy threads on two cores, and OpenMP's threads spin while
    they wait for work: measured on this 2-core machine, the suite's CPU time went 470 -> 425 s
    and its wall time 363 -> 326 s with one inner thread a worker. The engine applies the same
    rule to its own threads (copilot.segmentation.analysis.parallel). Set on the controller,
    before xdist starts its workers: the variables must be in place before a worker loads the
    libraries, and every process a test starts (the CLI runs, Spark's Python workers) inherits
    them. A variable the developer set is kept.
    """
    workers = len(getattr(config.option, "tx", None) or ())
    if hasattr(config, "workerinput") or workers <= 1:
        return
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    share = str(max(1, cores // workers))
    if all(os.environ.setdefault(name, share) == share for name in INNER_THREAD_VARIABLES):
        os.environ["SEGMENT_COPILOT_TEST_INNER_THREADS"] = share  # what test_isolation checks


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Group tests for ``--dist loadgroup`` (pytest-xdist): a file's tests stay on one worker,
    so its module fixtures run once, and every test of the real model runs on one worker, one
    after another, so no two models ever share the cores.

    ``tryfirst``: xdist's worker reads the ``xdist_group`` marks in its own
    ``pytest_collection_modifyitems``, and this conftest is registered before that plugin, so
    without it the marks came too late: no test was grouped, a file's tests were spread over
    both workers and each worker built the module's fixtures (test_engine_quality: 87 s twice).
    """
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue  # a group of its own: tests of several files sharing a session fixture
        group = "llm" if item.get_closest_marker("llm") else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
    # Longest units of work first (the real-model group: minutes on one worker; then the files
    # that take close to a minute each), so they run beside the rest instead of after it: the
    # suite ended with one core idle for its last minutes. xdist keeps this order only with
    # --no-loadscope-reorder (pyproject's addopts): by default it sorts the groups by their
    # number of tests, which put the real-model group (8 tests) near the end of the queue.
    def order(item) -> int:
        if item.get_closest_marker("llm"):
            return 0
        path = item.nodeid.split("::")[0]
        return 1 + (SLOW_FILES.index(path) if path in SLOW_FILES else len(SLOW_FILES))

    items.sort(key=order)


# Measured on 2 cores (seconds per file, summed over its tests), slowest first: the longest
# units start first and the short files fill the end, so both workers finish together (the
# TUI files, 25-33 s each, used to come last and left one worker idle for 10-15 s). The Spark
# group (a JVM, three files, about 100 s on one worker) starts first.
SLOW_FILES = ("tests/spark/test_spark_engine.py", "tests/spark/test_cli_spark.py",
              "tests/test_spark_features.py",
              "tests/segmentation/test_events.py", "tests/test_engine_quality.py",
              "tests/test_real_datasets.py", "tests/tui/test_app.py",
              "tests/segmentation/test_drift.py", "tests/tui/test_snapshots.py",
              "tests/agent/test_scope_goal.py", "tests/test_cli_features.py",
              "tests/test_cli_publish.py", "tests/test_cli_segment.py",
              "tests/tui/test_rankings_telco.py", "tests/segmentation/test_choosing_k.py",
              "tests/agent/test_agent.py", "tests/llm/test_writers.py",
              "tests/test_cli_compare.py")
