"""``--engine spark`` against the local engine, on a local Spark session (see conftest.py).

The claims: on a 200k-row planted table the Spark engine (the model chosen on a 20k-row
stratified sample, every row scored in Spark) finds the local engine's segments (ARI >= 0.95)
and the same outcome tests within rounding; its outcome math from aggregates is the local
math exactly; ``assign_spark`` gives every row the local ``assign``'s segment, confidence and
holdout flag; rows without IDs are numbered as the local engine numbers them; a Parquet output
replaces only an earlier Parquet output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from copilot.core import InputError
from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
from copilot.segmentation.analysis.roles import infer_roles, outcome_values
from copilot.segmentation.analysis.validate import validate_outcome_sums, validate_outcomes
from copilot.segmentation.model.assign import assign_table
from copilot.segmentation.model.bundle import load_bundle
from copilot.segmentation.spark.aggregate import outcome_sums
from copilot.segmentation.spark.assign import assign_spark
from copilot.segmentation.spark.parquet import write_parquet
from copilot.segmentation.spark.read import with_row_numbers
from copilot.segmentation.spark.sample import draw_sample
from copilot.segmentation.spark.segment import segment_spark
from fixtures.planted import make_planted

pytestmark = [pytest.mark.xdist_group("spark"),
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

SETTINGS = SegmentSettings(id_column="customer_id", outcomes=("churned", "revenue_next_year"),
                           seed=0)


def _table(n: int) -> tuple[pd.DataFrame, np.ndarray]:
    planted = make_planted(n, "clipped", seed=1)
    frame = planted.frame.copy()
    rng = np.random.default_rng(5)
    # A continuous outcome with many ties (whole amounts) that differs by segment.
    frame["revenue_next_year"] = np.round(rng.gamma(2.0, 40.0 + 25.0 * planted.labels))
    return frame, planted.labels


@pytest.fixture(scope="module")
def both_engines(spark, tmp_path_factory):
    frame, _ = _table(200_000)
    folder = tmp_path_factory.mktemp("spark200k")
    frame.to_parquet(folder / "table.parquet")
    local = run_segmentation(frame, SETTINGS)
    result = segment_spark(str(folder / "table.parquet"), SETTINGS, folder / "out", spark=spark,
                           sample_rows=20_000)
    return frame, local, result, folder


def test_spark_finds_the_local_segments_on_200k_rows(both_engines):
    frame, local, result, folder = both_engines
    assert result.analysis.source["sample_rows"] == 20_000
    assert result.analysis.source["sample_stratum"] == "churned"
    assert result.analysis.n_rows == 200_000
    spark_rows = pd.read_parquet(folder / "out" / "assignments.parquet")
    assert len(spark_rows) == 200_000 and spark_rows["customer_id"].is_unique
    joined = pd.DataFrame({"customer_id": frame["customer_id"], "local": local.labels}).merge(
        spark_rows, on="customer_id")
    assert len(joined) == 200_000
    assert adjusted_rand_score(joined["local"], joined["segment"]) >= 0.95
    assert result.analysis.choice.k == local.analysis.choice.k
    # The stratified sample keeps the churn rate of the table (exact quotas per level).
    sample_rate = result.sample_run.analysis.validation[0].overall
    assert abs(sample_rate - frame["churned"].mean()) < 1e-4


def test_spark_gives_the_local_outcome_tests_within_rounding(both_engines):
    _, local, result, _ = both_engines
    for mine, theirs in zip(result.analysis.validation, local.analysis.validation, strict=True):
        assert (mine.name, mine.test, mine.significant, mine.magnitude) == \
            (theirs.name, theirs.test, theirs.significant, theirs.magnitude)
        # The test, p and effect size as a reader sees them (the span of rates may differ in
        # its last digit: a few customers sit in other segments).
        assert mine.summary.split("(", 1)[1] == theirs.summary.split("(", 1)[1]
        assert mine.effect_size == pytest.approx(theirs.effect_size, abs=0.005)
        assert mine.overall == pytest.approx(theirs.overall, rel=1e-9)
        # Customers farther from their segment than any sampled one are unassigned: a few.
        assert theirs.n - 200 <= mine.n <= theirs.n
        # Each segment's rate or mean, matched by size order (numbering follows size).
        ours = sorted(s.value for s in mine.segments)
        local_values = sorted(s.value for s in theirs.segments)
        assert ours == pytest.approx(local_values, rel=0.01)
    sizes = sorted(s.n for s in result.analysis.sizes if s.segment >= 0)
    local_sizes = sorted(s.n for s in local.analysis.sizes)
    assert sizes == pytest.approx(local_sizes, rel=0.01)


def test_the_aggregate_math_is_the_local_math(spark):
    rng = np.random.default_rng(3)
    n = 4_000
    labels = np.where(rng.random(n) < 0.01, -1, rng.integers(0, 4, n))
    spend = np.round(rng.gamma(2.0, 10.0 + 5 * np.clip(labels, 0, None)))  # many ties
    spend[:50] = np.nan
    churned = rng.random(n) < 0.1 + 0.1 * np.clip(labels, 0, None)
    df = pd.DataFrame({"spend_next_year": spend, "churned": churned})
    roles = infer_roles(df, outcomes=["spend_next_year", "churned"])
    local = validate_outcomes(df, labels, roles)
    scored = spark.createDataFrame(pd.DataFrame({
        "segment": labels.astype("int32"),
        **{f"o{i}": outcome_values(df, roles.get(name)).to_numpy()
           for i, name in enumerate(roles.outcomes)}}))
    assert {v.kind for v in local} == {"binary", "continuous"}
    for i, theirs in enumerate(local):
        role = roles.get(theirs.name)
        mine = validate_outcome_sums(outcome_sums(scored, f"o{i}", theirs.name,
                                                  role.outcome_kind, role.outcome_phrase))
        assert mine.summary == theirs.summary
        assert (mine.n, mine.n_missing) == (theirs.n, theirs.n_missing)
        assert mine.statistic == pytest.approx(theirs.statistic, rel=1e-9)
        assert mine.p_value == pytest.approx(theirs.p_value, rel=1e-6, abs=1e-300)
        assert mine.overall == pytest.approx(theirs.overall, rel=1e-12)
        for a, b in zip(mine.segments, theirs.segments, strict=True):
            assert (a.segment, a.n) == (b.segment, b.n)
            assert a.value == pytest.approx(b.value, rel=1e-12)
            assert a.ci_low == pytest.approx(b.ci_low, rel=1e-9)
            assert a.ci_high == pytest.approx(b.ci_high, rel=1e-9)
        assert mine.unassigned.value == pytest.approx(theirs.unassigned.value, rel=1e-12)


def test_assign_spark_gives_every_row_the_local_assignment(both_engines, spark, tmp_path):
    frame, _, result, _ = both_engines
    model = load_bundle(result.files["model"])
    new = frame.iloc[:30_000].drop(columns=["churned"])
    new.to_csv(tmp_path / "new.csv", index=False)
    assigned = assign_spark(model, str(tmp_path / "new.csv"), tmp_path / "new.parquet",
                            spark=spark)
    ours = pd.read_parquet(tmp_path / "new.parquet")
    theirs = assign_table(model, new).frame
    assert assigned.n_rows == len(ours) == len(theirs) == 30_000
    joined = ours.merge(theirs, on="customer_id", suffixes=("", "_local"))
    assert len(joined) == 30_000
    for column in ("segment", "segment_name", "holdout", "model_version"):
        assert (joined[column] == joined[f"{column}_local"]).all(), column
    assert np.allclose(joined["confidence"], joined["confidence_local"])
    assert ours["assigned_at"].nunique() == 1  # one run, one time, as the local assign writes


def test_the_sample_is_seeded_and_keeps_each_level_s_share(spark):
    frame = spark.range(0, 20_000, numPartitions=3).selectExpr(
        "id", "CASE WHEN id % 10 = 0 THEN 'yes' WHEN id % 10 < 4 THEN NULL ELSE 'no' END AS churn")
    first = draw_sample(frame, cap=1_000, seed=7, stratum="churn")
    rows = first.frame.toPandas()
    assert (first.n_rows, first.n_sample, len(rows)) == (20_000, 1_000, 1_000)
    assert (rows["churn"] == "yes").sum() == 100 and rows["churn"].isna().sum() == 300
    assert rows["id"].is_monotonic_increasing  # back in read order
    again = draw_sample(frame, cap=1_000, seed=7, stratum="churn").frame.toPandas()
    other = draw_sample(frame, cap=1_000, seed=8, stratum="churn").frame.toPandas()
    assert rows["id"].tolist() == again["id"].tolist()
    assert rows["id"].tolist() != other["id"].tolist()


def test_rows_without_ids_are_numbered_in_read_order(spark):
    frame = spark.range(0, 1_000, numPartitions=4)
    numbered = with_row_numbers(frame).toPandas()
    assert (numbered["row"] == numbered["id"] + 1).all()


def test_a_parquet_output_replaces_only_an_earlier_parquet_output(spark, tmp_path):
    small = spark.range(0, 10, numPartitions=2)
    out = write_parquet(small, tmp_path / "a.parquet")
    write_parquet(spark.range(0, 5, numPartitions=1), out)  # an earlier output: replaced
    assert len(pd.read_parquet(out)) == 5
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    (tmp_path / "file.parquet").write_text("not spark's")
    for taken in ("mine", "file.parquet"):
        with pytest.raises(InputError, match="will not be replaced"):
            write_parquet(small, tmp_path / taken)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert not list(tmp_path.glob(".*staging*"))
