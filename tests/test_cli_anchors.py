"""``segment --anchor/--anchor-mode/--text`` through the real CLI (tests/cli_helpers.py): anchors reported
per segment or segmented within, per-level folders with combined names, one-sentence errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from copilot.segmentation.analysis.anchors import POOLED_LEVEL
from copilot.segmentation.analysis.pipeline import SegmentAnalysis
from copilot.segmentation.model.bundle import load_bundle
from fixtures.feedback import make_feedback
from tests.cli_helpers import assert_one_sentence_error, run_cli

ROWS = 900
#: A customer this sure of its segment cannot change segment on a rounding difference.
CLEAR_CONFIDENCE = 0.6


@pytest.fixture(scope="module")
def feedback():
    return make_feedback(ROWS, 3, seed=12)


@pytest.fixture(scope="module")
def feedback_csv(feedback, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "feedback.csv"
    feedback.frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def within(feedback_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("within") / "out"
    proc = run_cli("segment", feedback_csv, "--anchor", "industry", "--anchor-mode", "within",
                   "--k", "3", "--out-dir", out)
    assert proc.returncode == 0, proc.stderr
    return proc, out


def test_within_writes_combined_assignments_and_one_folder_per_level(feedback, within):
    _, out = within
    frame = feedback.frame
    assignments = pd.read_csv(out / "assignments.csv", keep_default_na=False)
    assert list(assignments.columns) == ["customer_id", "industry", "segment", "segment_name",
                                         "confidence"]
    assert assignments["customer_id"].tolist() == frame["customer_id"].tolist()
    assert assignments["industry"].tolist() == frame["industry"].tolist()
    anchored = json.loads((out / "anchored.json").read_text())
    assert anchored["anchor_column"] == "industry"
    segmented = [g for g in anchored["groups"] if g["segmented"]]
    assert set(anchored["folders"]) == {g["level"] for g in segmented}
    for g in anchored["groups"]:
        rows = assignments[assignments["industry"].isin(g["members"])]
        assert len(rows) == g["n_rows"]
        if not g["segmented"]:
            assert (rows["segment"] == -1).all() and (rows["segment_name"] == "").all()
            continue
        # "Retail / Segment 0": the level (or the pool of small levels) and its own segment.
        assert set(rows["segment_name"]) == set(g["segment_names"])
        assert all(name.startswith(f"{g['level']} / Segment ") for name in g["segment_names"])
        folder = out / anchored["folders"][g["level"]]
        analysis = SegmentAnalysis.model_validate_json((folder / "analysis.json").read_text())
        assert analysis.n_rows == g["n_rows"] and analysis.choice.k == g["k"] == 3
        assert analysis.roles.get("industry").role == "excluded"
        local = pd.read_csv(folder / "assignments.csv")
        assert local["customer_id"].tolist() == rows["customer_id"].tolist()
        # The level's own segment s is the combined "<level> / Segment s".
        expected = [g["segment_names"][s] for s in local["segment"]]
        assert rows["segment_name"].tolist() == expected
        # Its saved model reassigns the level's customers to the same segments. Only customers
        # between two segments (confidence near 1/2) may flip on a last-digit difference in
        # another process; a model of another level would disagree on most of them.
        labels, _ = load_bundle(folder / "model").assign(
            frame[frame["industry"].isin(g["members"])].reset_index(drop=True))
        same = labels == local["segment"].to_numpy()
        assert same[local["confidence"].to_numpy() >= CLEAR_CONFIDENCE].all()
        assert same.mean() >= 0.98
    # The fixture has rare industries: they are pooled (or skipped), never lost.
    assert any(g["level"] == POOLED_LEVEL or not g["segmented"] for g in anchored["groups"])


def test_within_prints_a_summary_per_level(within):
    proc, out = within
    anchored = json.loads((out / "anchored.json").read_text())
    assert "segmented within each level of industry" in proc.stdout
    for g in anchored["groups"]:
        assert f"  {g['level']}" in proc.stdout
        for name in g["segment_names"]:
            assert f"    {name}: " in proc.stdout
    assert f"{anchored['n_segments']} segments in all" in proc.stdout
    assert "Healthcare: " in proc.stderr or "Retail: " in proc.stderr  # progress per level


def test_within_without_an_id_column_numbers_rows_in_the_whole_table(feedback, tmp_path):
    path = tmp_path / "noid.csv"
    feedback.frame.drop(columns=["customer_id"]).to_csv(path, index=False)
    out = tmp_path / "out"
    proc = run_cli("segment", path, "--anchor", "industry", "--anchor-mode", "within",
                   "--k", "2", "--no-text", "--out-dir", out)
    assert proc.returncode == 0, proc.stderr
    assignments = pd.read_csv(out / "assignments.csv")
    assert assignments["row"].tolist() == list(range(1, ROWS + 1))
    folders = json.loads((out / "anchored.json").read_text())["folders"]
    level, folder = next(iter(folders.items()))
    local = pd.read_csv(out / folder / "assignments.csv")
    # Row numbers point at the same customers as in the combined file.
    assert (assignments.set_index("row").loc[local["row"], "industry"] == level).all()


def test_report_mode_keeps_named_anchors_and_text_in_the_analysis(feedback_csv, tmp_path):
    out = tmp_path / "named"
    proc = run_cli("segment", feedback_csv, "--anchor", "region", "--text", "feedback",
                   "--k", "3", "--out-dir", out)
    assert proc.returncode == 0, proc.stderr
    analysis = json.loads((out / "analysis.json").read_text())
    assert [a["column"] for a in analysis["anchors"]["anchors"]] == ["region"]
    assert [t["column"] for t in analysis["themes"]] == ["feedback"]
    assert analysis["settings"]["anchors"] == ["region"]
    assert "WHAT CUSTOMERS SAY" in proc.stdout and "\nANCHORS" in proc.stdout
    assert "finding themes" in proc.stderr

    off = tmp_path / "off"
    proc = run_cli("segment", feedback_csv, "--no-anchors", "--no-text", "--k", "3",
                   "--out-dir", off)
    assert proc.returncode == 0, proc.stderr
    analysis = json.loads((off / "analysis.json").read_text())
    assert analysis["anchors"] is None and analysis["themes"] == []
    assert "WHAT CUSTOMERS SAY" not in proc.stdout and "\nANCHORS" not in proc.stdout


def test_bad_anchor_choices_are_one_sentence_and_exit_2(feedback_csv, tmp_path, within):
    out = tmp_path / "o"
    several = run_cli("segment", feedback_csv, "--anchor", "industry", "--anchor", "region",
                      "--anchor-mode", "within", "--out-dir", out)
    assert_one_sentence_error(several, "one anchor", "industry, region")
    none = run_cli("segment", feedback_csv, "--anchor-mode", "within", "--out-dir", out)
    assert_one_sentence_error(none, "--anchor COL", "industry")  # the suggestions are named
    missing = run_cli("segment", feedback_csv, "--anchor", "sector", "--out-dir", out)
    assert_one_sentence_error(missing, "'sector' is not in the table")
    text = run_cli("segment", feedback_csv, "--text", "comments", "--out-dir", out)
    assert_one_sentence_error(text, "'comments' is not in the table")
    both = run_cli("segment", feedback_csv, "--anchor", "industry", "--no-anchors")
    assert_one_sentence_error(both, "--no-anchors")
    ask = run_cli("ask", "find segments", "--data", feedback_csv, "--anchor", "industry",
                  "--anchor-mode", "within", "--session-dir", tmp_path / "s")
    assert_one_sentence_error(ask, "segment command only")
    assert not out.exists() and not (tmp_path / "s").exists()


def test_within_refuses_a_folder_holding_a_whole_table_analysis(feedback_csv, tmp_path):
    out = tmp_path / "plain"
    out.mkdir()
    (out / "analysis.json").write_text("{}")
    proc = run_cli("segment", feedback_csv, "--anchor", "industry", "--anchor-mode", "within",
                   "--out-dir", out)
    assert_one_sentence_error(proc, "another --out-dir")
    assert not (out / "assignments.csv").exists()


def test_a_within_anchor_folder_exports_every_customer_with_their_level_s_model(
        feedback, within, tmp_path):
    _, out = within
    crm = tmp_path / "crm.csv"
    proc = run_cli("export", out, "--preset", "hubspot", "--out", crm)
    assert proc.returncode == 0, proc.stderr
    rows = pd.read_csv(crm, dtype=str, keep_default_na=False)
    assignments = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert rows.iloc[:, 0].tolist() == assignments["customer_id"].tolist()
    # Segment IDs are numbered across levels, so no two levels share one in the CRM.
    ids = rows.filter(like="segment_id").iloc[:, 0]
    names = rows.filter(like="segment_name").iloc[:, 0]
    assert (names.groupby(ids).nunique() == 1).all()
    anchored = json.loads((out / "anchored.json").read_text())
    for level, folder in anchored["folders"].items():
        bundle = load_bundle(out / folder / "model")
        mine = rows[assignments["industry"].isin(
            next(g["members"] for g in anchored["groups"] if g["level"] == level)).to_numpy()]
        assert set(mine.filter(like="model_version").iloc[:, 0]) == {bundle.info.bundle_id}
        assert all(n.startswith(f"{level} / ") for n in
                   mine.filter(like="segment_name").iloc[:, 0] if n != "unassigned")
    assert_one_sentence_error(run_cli("export", out, "--out", tmp_path / "x.csv",
                                      "--glossary", tmp_path / "g"), "levels", "--glossary")
