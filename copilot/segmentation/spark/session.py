"""One SparkSession for the Spark backend (``segment``/``assign``/``features --engine spark``).

Spark is an optional extra: pyspark is imported here, inside the functions, so the engine stays
importable without it, and a missing pyspark or Java is one sentence saying how to install it.
The master comes from the caller (``--master``), else ``SPARK_REMOTE`` (Spark Connect, read by
pyspark itself), else ``SPARK_MASTER``, else ``local[*]``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from copilot.core import InputError, atomic_write_text

INSTALL_HINT = 'pip install ".[spark]"'


def spark_missing_sentence(what: str = "pyspark") -> str:
    """The one sentence a user reads when ``--engine spark`` cannot start."""
    if what == "java":
        return (
            "--engine spark needs Java 17 or later to run Spark locally: install a JRE "
            "(for example 'apt-get install openjdk-17-jre-headless') or set JAVA_HOME, "
            "or point --master at a cluster."
        )
    return f"--engine spark needs the spark extra: install it with '{INSTALL_HINT}'."


def require_pyspark() -> Any:
    """The pyspark module, or an InputError saying how to install it."""
    try:
        import pyspark
    except ImportError:
        raise InputError(spark_missing_sentence("pyspark")) from None
    return pyspark


def resolve_master(master: str | None = None) -> str:
    """The master URL a session will use: the argument, ``SPARK_REMOTE``, ``SPARK_MASTER``, else
    ``local[*]``. A ``sc://`` URL means Spark Connect."""
    if master:
        return master
    return os.environ.get("SPARK_REMOTE") or os.environ.get("SPARK_MASTER") or "local[*]"


def _java_present() -> bool:
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return True
    return shutil.which("java") is not None


# Small and quiet defaults for a local session: the driver samples, fits a model on at most a
# few hundred thousand rows, and reads back only aggregates; shuffles are of per-segment sums.
_LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
}

# Spark's default log4j profile prints a dozen WARN lines on every start (hostname, native
# Hadoop); a CLI's stderr is for the user's progress and errors, so only Spark's errors show.
_LOG4J = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
"""


def _quiet_log_option() -> str:
    path = Path(tempfile.gettempdir()) / "segment-copilot-log4j2.properties"
    if not path.exists() or path.read_text(encoding="utf-8") != _LOG4J:
        atomic_write_text(path, _LOG4J)
    return f"-Dlog4j.configurationFile=file:{path}"


def quiet_pandas_warning() -> None:
    """pyspark 4 warns on every pandas UDF that it does not yet 'fully support' pandas 3; the
    engine's pandas code is tested under both, so the warning is noise to a user."""
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> Any:
    """Get or create the SparkSession for ``master`` (see ``resolve_master``).

    ``sc://host:port`` connects through Spark Connect (pyspark's connect client must be
    installed); any other URL (``local[2]``, ``spark://host:7077``, ``yarn``, ``k8s://...``) is a
    classic session. An active session is reused, so tests and one CLI run start Java once.
    """
    require_pyspark()
    quiet_pandas_warning()
    from pyspark.sql import SparkSession

    url = resolve_master(master)
    settings = {**_LOCAL_CONF, **(conf or {})}
    if url.startswith("sc://"):
        builder = SparkSession.builder.remote(url)
        for key, value in settings.items():
            if key.startswith("spark.sql."):  # the rest belongs to the server's own start-up
                builder = builder.config(key, value)
        return builder.getOrCreate()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if url.startswith("local") and not _java_present():
        raise InputError(spark_missing_sentence("java"))
    if url.startswith("local"):
        # Local Python workers run this interpreter, which has pandas, pyarrow and the engine;
        # a bare 'python3' on the PATH may have none of them.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(url).appName("segment-copilot")
    settings.setdefault("spark.driver.extraJavaOptions", _quiet_log_option())
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
