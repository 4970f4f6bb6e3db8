"""``segment --engine spark``: the local engine's analysis of a table too large for one machine.

1. Spark reads the table and draws a seeded sample stratified by the outcome (``sample``).
2. The local engine runs on the sample as it always does (roles, quality, preparation, sweep,
   k, validation) and saves its model: the same bundle ``assign`` uses.
3. Spark scores every row with that bundle (``score``, ``mapInPandas`` over ``assign_table``).
4. The sizes, the confidence summary, the holdout counts and the outcome tests are recomputed
   over every row from Spark aggregates (``aggregate``); the rest of the analysis (quality,
   sweep, profiles' feature statistics, rules, themes, anchors, projection) is the sample's,
   and ``analysis.json`` says so in ``source.from_sample``.
5. The assignments are written as Parquet (``assignments.parquet``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copilot.core import DataError, SettingsError, atomic_write_text
from copilot.segmentation.analysis import (
    SegmentAnalysis,
    SegmentationRun,
    SegmentSettings,
    infer_roles,
    run_segmentation,
)
from copilot.segmentation.model import load_bundle, save_bundle
from copilot.segmentation.spark.aggregate import segment_counts, validate_outcomes_spark
from copilot.segmentation.spark.parquet import write_parquet
from copilot.segmentation.spark.read import read_spark_table, with_row_numbers
from copilot.segmentation.spark.sample import SAMPLE_ROWS, Sample, draw_sample
from copilot.segmentation.spark.score import (
    Scoring,
    check_first_rows,
    refusals_as_sentences,
    score_rows,
)
from copilot.segmentation.spark.session import resolve_master, spark_session

Progress = Callable[[str, float, str], None]
ASSIGNMENTS_PARQUET = "assignments.parquet"
#: Rows read to find the outcome the sample is stratified by (roles read on the sample later).
_HEAD_ROWS = 20_000
#: What analysis.json describes from the sample, not from every row (source.from_sample).
FROM_SAMPLE = ["roles", "quality", "preparation", "sweep", "choice",
               "profiles (feature and category statistics; sizes and shares are of every row)",
               "rules", "themes", "anchors", "projection"]


@dataclass(frozen=True)
class SparkSegmentation:
    analysis: SegmentAnalysis  # sizes, confidence, holdout and validation over every row
    sample_run: SegmentationRun  # the local engine's run on the sample
    files: dict[str, Path]


def segment_spark(data: str, settings: SegmentSettings, out: str | Path, *,
                  master: str | None = None, spark: Any = None, sample_rows: int = SAMPLE_ROWS,
                  names: dict[int, str] | None = None, progress: Progress | None = None
                  ) -> SparkSegmentation:
    """Segment the table ``data`` (Parquet, CSV or a table name) with Spark and the local
    engine, writing ``model/``, ``assignments.parquet`` and ``analysis.json`` into ``out``
    (a folder the caller publishes whole)."""
    if settings.scope is not None:
        raise SettingsError("--engine spark segments the whole table; leave out the scope, or "
                            "write the customers in scope to their own table first.")
    say = progress or (lambda stage, fraction, message: None)
    clock = time.perf_counter()
    say("read", 0.0, f"reading {data} with Spark")
    spark = spark or spark_session(master)
    frame, fmt = read_spark_table(spark, data)
    sample = _sample(frame, settings, sample_rows)
    say("sample", 0.03, f"sampling {sample.n_sample:,} of {sample.n_rows:,} rows")
    pdf = sample.frame.toPandas()
    seconds = {"spark_read_and_sample": round(time.perf_counter() - clock, 3)}
    source = {"path": str(data), "format": fmt, "rows": sample.n_rows,
              "columns": len(frame.columns), "engine": "spark",
              "master": spark_master(spark),
              "sample_rows": sample.n_sample, "sample_stratum": sample.stratum or "none",
              "from_sample": FROM_SAMPLE if sample.n_sample < sample.n_rows else []}

    def local_progress(stage: str, fraction: float, message: str) -> None:
        if stage != "done":
            say(stage, 0.05 + 0.6 * fraction, f"{message} (on the sample)")

    run = run_segmentation(pdf, settings, source=source, progress=local_progress)
    folder = Path(out)
    model = load_bundle(save_bundle(run, folder / "model", names=names, df=pdf))
    clock = time.perf_counter()
    analysis, parquet = _score_everyone(frame, run, model, folder, say)
    seconds["spark_score_and_aggregate"] = round(time.perf_counter() - clock, 3)
    analysis = analysis.model_copy(update={"seconds": {**run.analysis.seconds, **seconds}})
    analysis_file = atomic_write_text(folder / "analysis.json",
                                      analysis.model_dump_json(indent=2))
    say("done", 1.0, "analysis complete")
    return SparkSegmentation(analysis, run, {"assignments": parquet, "analysis": analysis_file,
                                             "model": folder / "model"})


def spark_master(spark: Any) -> str:
    try:
        return str(spark.sparkContext.master)
    except (AttributeError, NotImplementedError, RuntimeError):  # Spark Connect: no context
        return resolve_master(None)


def _sample(frame: Any, settings: SegmentSettings, cap: int) -> Sample:
    """The sample, stratified by the first binary outcome the first rows' roles name."""
    head = frame.limit(_HEAD_ROWS).toPandas()
    if head.empty:
        raise DataError("The table has no rows; supply a table with one row per customer.")
    roles = infer_roles(head, id_column=settings.id_column, exclude=list(settings.exclude),
                        outcomes=list(settings.outcomes) if settings.outcomes else None)
    binary = [o for o in roles.outcomes if roles.get(o).outcome_kind == "binary"]
    return draw_sample(frame, cap=cap, seed=settings.seed,
                       stratum=binary[0] if binary else None)


def _score_everyone(frame: Any, run: SegmentationRun, model: Any, folder: Path, say: Progress
                    ) -> tuple[SegmentAnalysis, Path]:
    """Score every row with the saved model, write the assignments, and put the full-table
    aggregates in the sample's analysis."""
    from pyspark import StorageLevel

    a = run.analysis
    id_column = a.id_column
    if id_column is None:  # numbered as the local engine numbers them: 1, 2, ... in file order
        frame, id_column = with_row_numbers(frame, "row"), "row"
    outcomes = tuple(v.name for v in a.validation)
    scoring = Scoring(model, id_column, outcomes=outcomes, roles=a.roles, crm=False)
    check_first_rows(frame, scoring)
    say("score", 0.7, "scoring every row with the saved model in Spark")
    scored = score_rows(frame, scoring).persist(StorageLevel.MEMORY_AND_DISK)
    with refusals_as_sentences(scored):
        parquet = write_parquet(scored.select(id_column, "segment", "confidence"),
                                folder / ASSIGNMENTS_PARQUET)
        say("aggregate", 0.85, "sizes and outcome tests over every row")
        sizes, confidence, holdout = segment_counts(scored)
        validation = validate_outcomes_spark(scored, a.roles, outcomes)
    by_segment = {s.segment: s for s in sizes}
    profiles = tuple(p.model_copy(update={"size": by_segment[p.segment].n,
                                          "share": by_segment[p.segment].share})
                     if p.segment in by_segment else p for p in a.profiles)
    analysis = a.model_copy(update={
        "n_rows": sum(s.n for s in sizes), "sizes": sizes, "confidence": confidence,
        "holdout": holdout, "validation": validation, "profiles": profiles})
    return analysis, parquet
