"""``assign --engine spark``: every row of a large table scored by a saved model in Spark and
written as a Parquet folder with the columns ``assign`` writes (the same ``assign_table`` runs
on each batch, so each customer gets the segment, confidence and holdout flag the local
``assign`` gives)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copilot.core import InputError
from copilot.segmentation.analysis import DEFAULT_SALT, check_share
from copilot.segmentation.model import SavedModel
from copilot.segmentation.spark.parquet import check_parquet_out, write_parquet
from copilot.segmentation.spark.read import read_spark_table, with_row_numbers
from copilot.segmentation.spark.score import (
    CHECK_ROWS,
    Scoring,
    check_first_rows,
    refusals_as_sentences,
    score_rows,
)
from copilot.segmentation.spark.session import spark_session


@dataclass(frozen=True)
class SparkAssigned:
    path: Path
    n_rows: int
    counts: dict[str, int]  # customers per segment name, the largest first
    notes: tuple[str, ...]


def assign_spark(model: SavedModel, data: str, out: str | Path, *, master: str | None = None,
                 spark: Any = None, holdout_share: float = 0.1, salt: str = DEFAULT_SALT,
                 id_column: str | None = None) -> SparkAssigned:
    """Assign every row of ``data`` (Parquet, CSV or a table name) to ``model``'s segments and
    write them to the Parquet folder ``out``."""
    check_share(holdout_share)
    out = Path(out).expanduser()
    check_parquet_out(out)
    spark = spark or spark_session(master)
    frame, _ = read_spark_table(spark, data)
    notes: list[str] = []
    if id_column is None and model.info.id_column is None:
        # Numbered on the JVM in read order (batches would each start again at 1).
        frame, id_column = with_row_numbers(frame, "row"), "row"
        notes.append("The model was trained without an ID column, so rows are numbered in "
                     "the order Spark reads them.")
    # id_column None: the training ID column, and the engine's sentence when the table lacks it
    scoring = Scoring(model, id_column, crm=True, holdout_share=holdout_share, salt=salt)
    first = check_first_rows(frame, scoring)
    notes += [f"In the first {CHECK_ROWS:,} rows: {n[0].lower()}{n[1:]}" for n in first]
    scored = score_rows(frame, scoring).cache()
    with refusals_as_sentences(scored):
        path = write_parquet(scored, out)
        rows = scored.groupBy("segment_name").count().collect()
    counts = dict(sorted(((r[0], int(r[1])) for r in rows), key=lambda kv: -kv[1]))
    if not counts:
        raise InputError(f"{data} has no rows; give a table with one row per customer.")
    return SparkAssigned(path, sum(counts.values()), counts, tuple(notes))
