"""The numbers of the analysis that describe every row, from Spark aggregates: segment sizes,
the confidence summary, the holdout counts, and each outcome's rates or means with intervals
and its test across the segments (the local engine's math, fed sums instead of rows)."""

from __future__ import annotations

from typing import Any

from copilot.segmentation.analysis import (
    ConfidenceSummary,
    GroupSums,
    OutcomeSums,
    OutcomeValidation,
    RoleReport,
    SegmentSize,
    validate_outcome_sums,
)
from copilot.segmentation.spark.score import OUTCOME_PREFIX

#: percentile_approx's accuracy for the segments' medians of a continuous outcome: a relative
#: rank error of about 1/10,000.
MEDIAN_ACCURACY = 10_000


def segment_counts(scored: Any) -> tuple[tuple[SegmentSize, ...], ConfidenceSummary,
                                          dict[int, int]]:
    """Sizes (segments in order, then the unassigned), the confidence summary and the
    customers the default holdout flags per segment, in one pass."""
    from pyspark.sql import functions as F

    rows = scored.groupBy("segment").agg(
        F.count(F.lit(1)).alias("n"), F.sum("confidence").alias("conf"),
        F.sum((F.col("confidence") < 0.5).cast("long")).alias("low"),
        F.sum(F.col("holdout").cast("long")).alias("held")).collect()
    total = sum(r["n"] for r in rows)
    ordered = sorted(rows, key=lambda r: (r["segment"] < 0, r["segment"]))
    sizes = tuple(SegmentSize(segment=int(r["segment"]), n=int(r["n"]), share=r["n"] / total)
                  for r in ordered)
    confidence = ConfidenceSummary(
        mean=sum(r["conf"] or 0.0 for r in rows) / total,
        share_below_half=sum(r["low"] or 0 for r in rows) / total,
        unassigned=sum(r["n"] for r in rows if r["segment"] < 0))
    holdout = {int(r["segment"]): int(r["held"] or 0) for r in ordered}
    return sizes, confidence, holdout


def validate_outcomes_spark(scored: Any, roles: RoleReport, outcomes: tuple[str, ...]
                            ) -> tuple[OutcomeValidation, ...]:
    """``validate_outcomes`` over every scored row: one ``OutcomeValidation`` per outcome."""
    out = []
    for i, name in enumerate(outcomes):
        role = roles.get(name)
        sums = outcome_sums(scored, f"{OUTCOME_PREFIX}{i}", name, role.outcome_kind,
                            role.outcome_phrase)
        out.append(validate_outcome_sums(sums))
    return tuple(out)


def outcome_sums(scored: Any, column: str, name: str, kind: str, phrase: str | None = None
                 ) -> OutcomeSums:
    """The sufficient statistics of one outcome column of the scored rows."""
    from pyspark.sql import functions as F

    v = F.col(column)
    valid = v.isNotNull() & ~F.isnan(v) & (F.abs(v) != float("inf"))
    value = F.when(valid, v)
    continuous = kind != "binary"
    aggs = [F.count(value).alias("n"), F.sum(value).alias("total"),
            F.count(F.lit(1)).alias("rows"), F.min(value).alias("lo"), F.max(value).alias("hi")]
    if continuous:
        aggs += [F.stddev_samp(value).alias("sd"),
                 F.percentile_approx(value, 0.5, MEDIAN_ACCURACY).alias("median")]
    rows = scored.groupBy("segment").agg(*aggs).collect()
    ranks, ties = _rank_sums(scored, column, valid) if continuous else ({}, 0.0)
    groups = tuple(GroupSums(
        segment=int(r["segment"]), n=int(r["n"]), total=float(r["total"] or 0.0),
        sd=r["sd"] if continuous else None,
        median=r["median"] if continuous else None,
        rank_sum=ranks.get(int(r["segment"]))) for r in rows)
    assigned = [r for r in rows if r["segment"] >= 0 and r["n"]]
    n_valid = sum(int(r["n"]) for r in rows)
    return OutcomeSums(
        name=name, kind="binary" if not continuous else "continuous", groups=groups,
        n_missing=sum(int(r["rows"]) - int(r["n"]) for r in rows),
        overall=sum(float(r["total"] or 0.0) for r in rows) / n_valid if n_valid else None,
        minimum=min((r["lo"] for r in assigned), default=None),
        maximum=max((r["hi"] for r in assigned), default=None),
        phrase=phrase, ties=ties)


def _rank_sums(scored: Any, column: str, valid: Any) -> tuple[dict[int, float], float]:
    """Each segment's sum of mid-ranks of the outcome among the segmented rows, and the ties
    term sum(t^3 - t): Kruskal-Wallis exactly, from a count per distinct value."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    assigned = scored.where(valid & (F.col("segment") >= 0)).select(
        "segment", F.col(column).alias("v"))
    per_value = assigned.groupBy("v").agg(F.count(F.lit(1)).alias("t"))
    # One ordered pass over the distinct values: the rank where each value's run of ties ends.
    order = Window.orderBy("v").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    ranked = per_value.withColumn("mid", F.sum("t").over(order) - (F.col("t") - 1) / 2.0)
    ranked = ranked.cache()
    ties = ranked.agg(F.sum(F.pow(F.col("t"), 3) - F.col("t"))).collect()[0][0] or 0.0
    sums = (assigned.groupBy("segment", "v").agg(F.count(F.lit(1)).alias("c"))
            .join(ranked, on="v").groupBy("segment")
            .agg(F.sum(F.col("c") * F.col("mid")).alias("r")).collect())
    ranked.unpersist()
    return {int(r["segment"]): float(r["r"]) for r in sums}, float(ties)
