"""Reading a customer table into Spark: a Parquet file or folder, a CSV file, or a table name
of the session's catalog; and numbering its rows the way the local engine does (1, 2, ...)
when it has no ID column."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from copilot.core import DataError

_CSV = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)  # hdfs://, s3a://, abfss:// ...
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")


def read_spark_table(spark: Any, data: str) -> tuple[Any, str]:
    """``(DataFrame, format)`` for ``data``: a path (local or a URL such as ``hdfs://`` or
    ``s3a://``) to Parquet or CSV, or the name of a table Spark knows. One sentence when it is
    none of these."""
    text = str(data)
    name = text.lower()
    local = Path(text).expanduser()
    if not _URL.match(text) and not local.exists():
        if _TABLE_NAME.match(text) and not name.endswith((".parquet", *_CSV)):
            if spark.catalog.tableExists(text):
                return spark.table(text), "table"
            raise DataError(f"'{text}' is neither a file nor a table Spark knows; give a "
                            "Parquet file or folder, a CSV file, or a table name of the "
                            "cluster's catalog.")
        raise DataError(f"File '{text}' does not exist; check the path and the file name.")
    path = text if _URL.match(text) else str(local)
    if name.endswith(_CSV):
        sep = "\t" if ".tsv" in name else ","
        frame = spark.read.csv(path, header=True, inferSchema=True, sep=sep,
                               mode="PERMISSIVE", encoding="UTF-8")
        return _named_columns(frame), "csv"
    if name.endswith(".parquet") or local.is_dir() or _URL.match(text):
        return spark.read.parquet(path), "parquet"
    raise DataError(f"--engine spark reads Parquet (a file or a folder of them), CSV or a "
                    f"table name, not '{local.suffix or text}'; convert the table to Parquet, "
                    "or use the local engine.")


def _named_columns(frame: Any) -> Any:
    """Column names as the local loader leaves them: stripped of surrounding spaces."""
    renamed = {c: c.strip() for c in frame.columns if c != c.strip()}
    for old, new in renamed.items():
        frame = frame.withColumnRenamed(old, new)
    return frame


def with_row_numbers(frame: Any, column: str = "row") -> Any:
    """``frame`` with ``column`` numbering its rows 1, 2, ... in the order they were read, so a
    table without IDs gets the row numbers the local engine gives it. Computed on the JVM from
    each partition's size (no Python round trip over the rows)."""
    from pyspark.sql import functions as F

    positioned = frame.withColumn("__mid", F.monotonically_increasing_id())
    sizes = dict(positioned.groupBy(F.spark_partition_id().alias("p")).count().collect())
    starts, total = [], 0
    for p in range(max(sizes, default=-1) + 1):
        starts.append(total)
        total += sizes.get(p, 0)
    offsets = F.array(*[F.lit(s) for s in starts]) if starts else F.array(F.lit(0))
    pid = F.shiftright(F.col("__mid"), 33)
    within = F.col("__mid").bitwiseAND(F.lit((1 << 33) - 1))
    numbered = positioned.withColumn(column, F.element_at(offsets, (pid + 1).cast("int"))
                                     + within + 1)
    return numbered.drop("__mid")
