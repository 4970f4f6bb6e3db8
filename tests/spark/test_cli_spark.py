"""``segment --engine spark`` and ``assign --engine spark`` through the command line, against
the local engine on the same small table (a table under the sample cap is taken whole, in
order, so the Spark engine fits exactly what the local one does), and the one sentence a user
reads without the spark extra.

``segment`` runs in a process of its own, which starts its own Spark; ``assign`` runs in the
test's process on the tests' Spark session (``run_cli_here``): a second Java start would add
about 20 CPU-seconds and prove nothing more."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from fixtures.planted import make_planted
from tests.cli_helpers import assert_one_sentence_error, run_cli, run_cli_here
from tests.conftest import REPO

pytestmark = [pytest.mark.xdist_group("spark"),
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]


@pytest.fixture(scope="module")
def runs(spark_env, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-spark")
    frame = make_planted(2_000, "clipped", seed=2).frame
    frame.to_parquet(folder / "customers.parquet")
    frame.drop(columns=["churned"]).to_csv(folder / "new.csv", index=False)
    common = ("--k", "3", "--seed", "0")
    local = run_cli("segment", folder / "customers.parquet", *common,
                    "--out-dir", folder / "local")
    spark = run_cli("segment", folder / "customers.parquet", *common, "--engine", "spark",
                    "--master", "local[2]", "--out-dir", folder / "spark")
    return folder, local, spark


def test_segment_engine_spark_gives_the_local_segments(runs):
    folder, local, spark = runs
    assert local.returncode == 0, local.stderr
    assert spark.returncode == 0, spark.stderr
    assert "assignments.parquet" in spark.stdout
    theirs = pd.read_csv(folder / "local" / "assignments.csv", dtype={"customer_id": str})
    ours = pd.read_parquet(folder / "spark" / "assignments.parquet")
    joined = theirs.merge(ours, on="customer_id", suffixes=("_local", ""))
    assert len(joined) == len(theirs) == len(ours) == 2_000
    assert (joined["segment"] == joined["segment_local"]).all()
    analysis = json.loads((folder / "spark" / "analysis.json").read_text())
    assert analysis["source"]["engine"] == "spark"
    assert analysis["source"]["from_sample"] == []  # the whole table was the sample
    local_analysis = json.loads((folder / "local" / "analysis.json").read_text())
    assert analysis["validation"][0]["summary"] == local_analysis["validation"][0]["summary"]
    assert (folder / "spark" / "model" / "bundle.json").is_file()


def test_assign_engine_spark_gives_the_local_assignments(runs, spark):
    folder, _, segmented = runs
    assert segmented.returncode == 0, segmented.stderr
    model = folder / "spark" / "model"
    ours = run_cli_here("assign", model, folder / "new.csv", "--engine", "spark", "--master",
                   "local[2]", "--out", folder / "new.parquet")
    theirs = run_cli("assign", model, folder / "new.csv", "--out", folder / "new-local.csv")
    assert ours.returncode == 0, ours.stderr
    assert theirs.returncode == 0, theirs.stderr
    # The same counts per segment name, printed the same way.
    assert ours.stdout.splitlines()[1:] == theirs.stdout.splitlines()[1:]
    a = pd.read_parquet(folder / "new.parquet")
    b = pd.read_csv(folder / "new-local.csv", dtype={"customer_id": str})
    joined = a.merge(b, on="customer_id", suffixes=("", "_local"))
    assert len(joined) == 2_000
    for column in ("segment", "segment_name", "holdout", "model_version"):
        assert (joined[column] == joined[f"{column}_local"]).all(), column


def test_assign_engine_spark_refuses_a_csv_out(runs, spark):
    folder, _, segmented = runs
    assert segmented.returncode == 0, segmented.stderr
    proc = run_cli_here("assign", folder / "spark" / "model", folder / "new.csv", "--engine",
                   "spark", "--out", folder / "crm.csv")
    assert_one_sentence_error(proc, "Parquet folder", "assigned.parquet")
    assert not (folder / "crm.csv").exists()


def test_without_the_extra_engine_spark_says_how_to_install_it(tmp_path):
    frame = make_planted(200, "clipped", seed=3).frame
    frame.to_parquet(tmp_path / "t.parquet")
    code = ("import sys; sys.modules['pyspark'] = None\n"  # import pyspark -> ImportError
            "from copilot.cli import main\n"
            f"sys.exit(main(['segment', {str(tmp_path / 't.parquet')!r}, '--engine', 'spark', "
            f"'--out-dir', {str(tmp_path / 'out')!r}, '--no-llm']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, check=False, timeout=120)
    assert_one_sentence_error(proc, 'pip install ".[spark]"')
    assert not (tmp_path / "out").exists()
