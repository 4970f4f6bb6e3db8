"""The ``compare`` command through the real CLI (tests/cli_helpers.py), each call a fresh process.

The round trip: segment a table (which saves a model), assign the same table with the saved
model (the same segments), then compare it with a snapshot where a quarter of the customers
moved to other planted groups (re-cluster) and with itself (stable). Also: an --out that would
overwrite an input or the model is refused before anything is written.
"""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from copilot.core.errors import InputError
from copilot.core.files import refuse_overwrite
from fixtures.customers import make_customers
from fixtures.snapshots import shift_snapshot
from tests.cli_helpers import assert_one_sentence_error, run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    table = make_customers(2000, 4, seed=3)
    table.frame.to_csv(root / "data.csv", index=False)
    shifted = shift_snapshot(table, moved_share=0.25, seed=1)
    shifted.frame.to_csv(root / "shifted.csv", index=False)
    proc = run_cli("segment", root / "data.csv", "--out-dir", root / "D", "--no-llm")
    assert proc.returncode == 0, proc.stderr
    return root, table, shifted


def test_the_saved_model_assigns_its_training_data_to_the_same_segments(trained):
    root, table, _ = trained
    proc = run_cli("assign", root / "D" / "model", root / "data.csv", "--out", root / "a.csv")
    assert proc.returncode == 0, proc.stderr
    trained_on = pd.read_csv(root / "D" / "assignments.csv")
    assigned = pd.read_csv(root / "a.csv")
    both = trained_on.merge(assigned, on="customer_id", suffixes=("_train", "_assign"))
    assert len(both) == len(table.frame)
    assert (both["segment_train"] == both["segment_assign"]).all()


def test_a_snapshot_where_a_quarter_moved_says_re_cluster(trained):
    root, _, shifted = trained
    proc = run_cli("compare", root / "data.csv", root / "shifted.csv", "--model",
                   root / "D" / "model", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["verdict"]["level"] == "re-cluster"
    # Who should have moved: a moved customer now has its donor's features, so it takes the
    # segment the model gave the donor in training.
    segments = pd.read_csv(root / "D" / "assignments.csv").set_index("customer_id")["segment"]
    ids = shifted.frame["customer_id"]
    before = segments.loc[ids].to_numpy()
    after = before.copy()
    donors = shifted.donors[shifted.moved]
    after[shifted.moved] = segments.iloc[donors].to_numpy()  # assignments keep the table's order
    migration = report["migration"]
    assert migration["moved"] == int((before != after).sum())
    assert migration["moved_share"] >= 0.15
    assert report["verdict"]["reasons"][0].startswith(f"{migration['moved_share']:.1%}")


def test_an_unchanged_snapshot_says_stable(trained, tmp_path):
    root, _, _ = trained
    out = tmp_path / "report.md"
    copy = tmp_path / "data-copy.csv"
    copy.write_bytes((root / "data.csv").read_bytes())
    proc = run_cli("compare", root / "data.csv", copy, "--model", root / "D" / "model",
                   "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# Drift report: STABLE")
    assert "0 (0.0%) changed segment" in proc.stdout
    assert "PSI of the segment shares: 0.000" in proc.stdout
    assert "same file" not in proc.stdout  # equal content, but two files
    assert out.read_text() == proc.stdout  # --out holds the same report
    assert "verdict: stable" in proc.stderr


def test_the_same_file_as_old_and_new_is_noted_not_refused(trained, tmp_path):
    root, _, _ = trained
    data = root / "data.csv"
    link = tmp_path / "link.csv"
    os.link(data, link)  # the same file under another name
    for new in (data, link):
        proc = run_cli("compare", data, new, "--model", root / "D" / "model")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("# Drift report: STABLE")
        assert "The two snapshots are the same file" in proc.stdout
        assert "note: The two snapshots are the same file" in proc.stderr


def test_a_snapshot_alone_is_checked_against_the_model(trained):
    root, _, _ = trained
    proc = run_cli("compare", root / "data.csv", "--model", root / "D" / "model", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["mode"] == "snapshot-vs-model" and report["migration"] is None
    assert report["verdict"]["level"] == "stable"


def test_without_a_model_one_is_trained_on_old_and_the_output_says_so(trained):
    root, _, _ = trained
    proc = run_cli("compare", root / "data.csv", root / "shifted.csv")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# Drift report: RE-CLUSTER")
    assert "trained here on data.csv with the engine defaults" in proc.stdout
    # The same data and defaults as segment: the same model.
    bundle = json.loads((root / "D" / "model" / "bundle.json").read_text())
    assert f"Model {bundle['bundle_id']}" in proc.stdout


def test_bad_input_is_one_sentence_and_exit_2(trained, tmp_path):
    root, table, _ = trained
    model = root / "D" / "model"
    data = root / "data.csv"
    assert_one_sentence_error(run_cli("compare", data, tmp_path / "nope.csv", "--model", model),
                              "nope.csv", "does not exist")
    assert_one_sentence_error(run_cli("compare", data, data, "--model", model, "--id", "acct"),
                              "acct", "--id")
    strangers = table.frame.assign(customer_id=[f"X{i}" for i in range(len(table.frame))])
    strangers.to_csv(tmp_path / "strangers.csv", index=False)
    assert_one_sentence_error(run_cli("compare", data, tmp_path / "strangers.csv", "--model",
                                      model), "share no customer")
    table.frame.drop(columns=["plan"]).to_csv(tmp_path / "no_plan.csv", index=False)
    # The message names the snapshot that lacks the column.
    assert_one_sentence_error(run_cli("compare", data, tmp_path / "no_plan.csv", "--model",
                                      model), "NEW (no_plan.csv) lacks column(s)", "plan")
    assert_one_sentence_error(run_cli("compare", tmp_path / "no_plan.csv", "--model", model),
                              "NEW (no_plan.csv) lacks column(s)", "plan")
    assert_one_sentence_error(run_cli("compare", data, "--model", tmp_path), "no saved model")
    assert_one_sentence_error(run_cli("compare", data), "--model")
    assert_one_sentence_error(run_cli("compare", data, data, data), "one or two snapshots")


def test_help_names_both_forms():
    proc = run_cli("compare", "--help")
    assert proc.returncode == 0
    assert "compare OLD NEW" in proc.stdout and "compare NEW --model" in proc.stdout
    assert all(word in proc.stdout for word in ("--id", "--out", "--json"))


# --- --out never overwrites an input ----------------------------------------------------------

def test_an_out_that_would_overwrite_an_input_or_the_model_is_refused(trained, tmp_path):
    root, _, _ = trained
    model = root / "D" / "model"
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_bytes((root / "data.csv").read_bytes())
    new.write_bytes((root / "shifted.csv").read_bytes())
    before = {p: p.read_bytes() for p in (old, new, *model.iterdir())}
    link = tmp_path / "new-link.csv"
    link.symlink_to(new)
    for out, needle in ((new, "is the input"), (link, "is the input"),
                        (tmp_path / "." / "old.csv", "is the input"),
                        (model / "bundle.json", "inside the input folder"),
                        (model / "report.md", "inside the input folder")):
        proc = run_cli("compare", old, new, "--model", model, "--out", out)
        assert_one_sentence_error(proc, needle)
        assert proc.stdout == ""
    # One snapshot against the model, the model given as the folder segment wrote.
    assert_one_sentence_error(run_cli("compare", new, "--model", root / "D", "--out",
                                      model / "bundle.json"), "inside the input folder")
    assert {p: p.read_bytes() for p in before} == before  # nothing was touched ...
    assert not (model / "report.md").exists()  # ... or added


def test_an_out_beside_the_model_is_fine(trained):
    root, _, _ = trained
    # --model names the folder segment wrote: only its model/ folder is the model.
    out = root / "D" / "drift.md"
    proc = run_cli("compare", root / "data.csv", "--model", root / "D", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == proc.stdout


def test_refuse_overwrite_compares_files_not_spellings(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("id\n1\n")
    folder = tmp_path / "model"
    folder.mkdir()
    os.link(data, tmp_path / "hard.csv")
    for out in (data, tmp_path / "hard.csv", tmp_path / "model" / ".." / "data.csv"):
        with pytest.raises(InputError, match="would overwrite that input"):
            refuse_overwrite(out, data)
    for out in (folder, folder / "x" / "report.md"):
        with pytest.raises(InputError, match="inside the input folder"):
            refuse_overwrite(out, data, folder)
    refuse_overwrite(tmp_path / "report.md", data, folder)  # anything else passes
    refuse_overwrite(tmp_path / "model-report.md", folder)  # a name that only starts alike


def test_too_few_customers_to_judge_is_said_not_called_stable(trained, tmp_path):
    root, table, _ = trained
    for n in (1, 2, 15):
        small = tmp_path / f"small{n}.csv"
        table.frame.head(n).to_csv(small, index=False)
        proc = run_cli("compare", root / "data.csv", small, "--model", root / "D" / "model")
        assert_one_sentence_error(proc, "too few to judge")
        assert "STABLE" not in proc.stdout
        proc = run_cli("compare", small, "--model", root / "D" / "model")
        assert_one_sentence_error(proc, "too few to judge")


def test_infinite_and_absurd_numbers_are_missing_values_with_a_note(trained, tmp_path):
    root, table, _ = trained
    frame = table.frame.copy()
    frame.loc[3, "monthly_spend"] = float("inf")
    frame.loc[5, "monthly_spend"] = float("-inf")
    frame.loc[7, "sessions_30d"] = 1e308
    path = tmp_path / "inf.csv"
    frame.to_csv(path, index=False)
    proc = run_cli("segment", path, "--out-dir", tmp_path / "o", "--no-llm", "--k", "4")
    assert proc.returncode == 0, proc.stderr
    assert "monthly_spend: 2 infinite or impossibly large value(s)" in proc.stderr
    assert "sessions_30d: 1 infinite" in proc.stderr
    proc = run_cli("compare", root / "data.csv", path, "--model", root / "D" / "model")
    assert proc.returncode == 0, proc.stderr
