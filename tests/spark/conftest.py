"""One local Spark session (local[2], small and quiet) for every Spark test, on one xdist worker
(``xdist_group("spark")``): starting Java costs about 10 s. Skipped with the reason where
pyspark or Java is missing."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import REPO


def spark_missing() -> str | None:
    """Why the Spark tests cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return 'pyspark is not installed (pip install ".[spark]")'
    home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (home and os.path.exists(os.path.join(home, "bin", "java"))):
        return "Java is not installed (apt-get install openjdk-17-jre-headless)"
    return None


# The tests' jobs are small and short: the JVM's quick compiler alone and one GC thread take
# about a third less CPU than its defaults (54 -> 38 CPU-s for the 200k-row segmentation).
# JDK_JAVA_OPTIONS reaches every JVM the tests start, the CLI runs' included.
JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@pytest.fixture(scope="session")
def spark_env():
    """Skip without pyspark or Java; otherwise the environment every Spark run of the tests
    gets (the workers import the product from this checkout, like the tests do)."""
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
    from copilot.segmentation.spark.session import spark_session

    session = spark_session("local[2]", {"spark.driver.memory": "1g",
                                         "spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()
