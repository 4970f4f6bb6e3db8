"""``features --engine spark``: an event log's per-customer features aggregated by Spark SQL.

The features are the data floor's one catalogue (``build_features``), run through Spark's
spelling of the few expressions that differ (``SPARK_SQL``): no second feature list. DuckDB
reads and cleans the log in one streaming pass (the time and amount readers, the Latin-1
fallback, the cut-off checks are its SQL), writes the cleaned events, a few narrow columns, as
one Parquet file, and Spark runs the aggregation over it: the group-bys per customer and per
order, distinct counts, gaps between orders, medians, event shares and outcomes. The table and
its notes are the ones the local engine writes.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from copilot.core import DataError
from copilot.segmentation.data import (
    SPARK_SQL,
    EventFeatures,
    EventSpec,
    Queries,
    SqlDialect,
    build_features,
)
from copilot.segmentation.spark.session import require_pyspark, resolve_master, spark_session

# The session's settings the catalogue's SQL relies on: times in UTC (as DuckDB's), Arrow to
# bring the per-customer table back, and DuckDB's forgiving arithmetic (x / 0 is NULL; the
# catalogue guards its divisions, this keeps a missed one a blank, as locally, not an error).
_SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "false",
}


def spark_features(
    path_or_frame: str | Path | pd.DataFrame,
    spec: EventSpec,
    *,
    as_of: str | date | datetime | None = None,
    horizon_days: int | None = None,
    progress=None,
    master: str | None = None,
) -> EventFeatures:
    """``build_features`` with the aggregation on Spark (``master``: a Spark master URL, by
    default ``local[*]``; see ``spark_session``). Same table, summary and notes.

    Raises InputError when pyspark (``pip install ".[spark]"``) or Java is missing, DataError
    when Spark fails on the events, and whatever ``build_features`` raises for the log.
    """
    require_pyspark()  # before the log is read: a missing extra is said at once
    say = progress or (lambda stage, fraction, message: None)

    def on_spark(events: Path):
        # Starting Spark takes 10-20 s locally: say so, or the wait looks like a hang.
        say("spark", 0.4, f"handing the cleaned events to Spark ({resolve_master(master)})")
        return _on_spark(events, master)

    return build_features(path_or_frame, spec, as_of=as_of, horizon_days=horizon_days,
                          progress=progress, aggregate_with=on_spark)


@dataclass(frozen=True)
class SparkQueries:
    """The catalogue's SQL on a Spark session; results come back as pandas (per customer)."""

    session: Any
    dialect: SqlDialect = SPARK_SQL

    def execute(self, sql: str) -> None:
        self.session.sql(sql)  # DDL (the temp views) runs when the statement is analysed

    def rows(self, sql: str) -> list[tuple]:
        return [tuple(row) for row in self.session.sql(sql).collect()]

    def frame(self, sql: str) -> pd.DataFrame:
        with warnings.catch_warnings():
            # pyspark 4's Arrow conversion warns on every column under pandas 3 about a
            # keyword pandas deprecated: noise to a user, the values are right (tested).
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            return self.session.sql(sql).toPandas()


@contextmanager
def _on_spark(events: Path, master: str | None) -> Iterator[Queries]:
    """Spark queries over the cleaned events (a Parquet file) as the view ``ev``."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    session = _own_session(spark_session(master))
    views = ("ev", "fe")
    try:
        # A file: URI, so a cluster whose default file system is HDFS still reads the local
        # path (which its machines must mount; see the README).
        session.read.parquet(events.resolve().as_uri()).createOrReplaceTempView("ev")
        yield SparkQueries(session)
    except (PySparkException, Py4JError) as exc:
        raise DataError(f"Spark could not aggregate the events ({_first_line(exc)}); check "
                        "the --master URL, or run without --engine spark.") from None
    finally:
        for view in views:  # the Parquet file goes with the run's folder
            try:
                session.catalog.dropTempView(view)
            except (PySparkException, Py4JError):
                pass


def _own_session(session):
    """A session of its own (temp views and SQL settings) over the shared SparkContext, so the
    settings here never change another user's queries; Spark Connect shares the one session."""
    try:
        own = session.newSession()
    except Exception:  # noqa: BLE001 - Spark Connect has no newSession in some releases
        own = session
    for key, value in _SQL_CONF.items():
        own.conf.set(key, value)
    return own


def _first_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return (text[:160] + "...") if len(text) > 160 else text.rstrip(".")
