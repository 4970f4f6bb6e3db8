"""The rows the local engine chooses the model on: a seeded sample, stratified by the outcome.

Each level of the stratum (the first binary outcome, when there is one) keeps its share of the
table exactly (largest remainders), so a 3% churn rate is 3% in the sample too; within a level
rows are drawn by a seeded random key, then put back in the order they were read, so the same
``--seed`` on the same files gives the same sample and the same model. A table no larger than
the cap is taken whole, in order: then the Spark engine fits exactly what the local one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The most rows the local engine fits on (its sweep subsamples further on its own).
SAMPLE_ROWS = 200_000
#: A stratum with more levels than this is not a stratum (an ID, a continuous outcome).
MAX_STRATA = 50
# Candidates are drawn with some slack over the target share, then cut to the exact quota.
_SLACK = 1.1


@dataclass(frozen=True)
class Sample:
    frame: Any  # the sampled Spark DataFrame, in read order
    n_rows: int  # rows of the whole table
    n_sample: int
    stratum: str | None  # the column the sample is stratified by


def draw_sample(frame: Any, *, cap: int = SAMPLE_ROWS, seed: int = 0,
                stratum: str | None = None) -> Sample:
    """A sample of at most ``cap`` rows of ``frame`` (see the module docstring)."""
    from pyspark.sql import functions as F

    key = F.coalesce(F.col(stratum).cast("string"), F.lit("\x00missing")) if stratum else \
        F.lit("all")
    counts = {row[0]: row[1] for row in frame.groupBy(key.alias("s")).count().collect()}
    n_rows = sum(counts.values())
    if n_rows <= cap:
        return Sample(frame, n_rows, n_rows, stratum if len(counts) > 1 else None)
    if len(counts) > MAX_STRATA:
        key, counts, stratum = F.lit("all"), {"all": n_rows}, None
    quotas = _quotas(counts, cap)
    share = min(1.0, _SLACK * cap / n_rows + 100.0 / n_rows)
    drawn = (frame.withColumn("__pos", F.monotonically_increasing_id())
             .withColumn("__key", F.rand(seed)).where(F.col("__key") < share)
             .withColumn("__s", key))
    from pyspark.sql import Window

    quota = F.create_map(*[x for s, q in quotas.items() for x in (F.lit(s), F.lit(q))])
    ranked = drawn.withColumn(
        "__rank", F.row_number().over(Window.partitionBy("__s").orderBy("__key", "__pos")))
    kept = (ranked.where(F.col("__rank") <= F.element_at(quota, F.col("__s")))
            .orderBy("__pos").drop("__pos", "__key", "__s", "__rank"))
    return Sample(kept, n_rows, sum(quotas.values()), stratum)


def _quotas(counts: dict[str, int], cap: int) -> dict[str, int]:
    """Each level's rows in a sample of ``cap``, proportional to its count (largest
    remainders, so they sum to ``cap``); every present level keeps at least one row."""
    total = sum(counts.values())
    exact = {s: cap * n / total for s, n in counts.items()}
    quotas = {s: max(1, int(e)) for s, e in exact.items()}
    for s in sorted(exact, key=lambda s: (int(exact[s]) - exact[s], s))[: cap - sum(quotas.values())]:
        quotas[s] += 1
    return quotas
