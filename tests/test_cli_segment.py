"""The ``segment`` and ``demo`` commands through the real CLI (tests/cli_helpers.py)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fixtures.customers import make_customers
from tests.cli_helpers import assert_one_sentence_error, near_share, run_cli


@pytest.fixture(scope="module")
def customers_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "customers.csv"
    make_customers(600, 3, seed=11).frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def default_run(customers_csv, tmp_path_factory):
    """One ``segment`` run with every default, read by the tests that only look at it."""
    out = tmp_path_factory.mktemp("default") / "out"
    return run_cli("segment", customers_csv, "--out-dir", out), out


@pytest.fixture(scope="module")
def trained_once(customers_csv, tmp_path_factory):
    """One ``segment --k 3`` run whose saved model the ``assign`` tests score with."""
    out = tmp_path_factory.mktemp("trained") / "out"
    proc = run_cli("segment", customers_csv, "--out-dir", out, "--k", "3")
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def trained(trained_once, tmp_path):
    """The shared ``--k 3`` run's folder, copied into the test's own ``tmp_path / "out"``, so
    a test that (wrongly) wrote into it could not change what the others read."""
    import shutil

    return shutil.copytree(trained_once, tmp_path / "out")


def test_segment_writes_assignments_and_analysis(customers_csv, default_run):
    proc, out = default_run
    assert proc.returncode == 0, proc.stderr
    # stdout is the readable summary; progress goes to stderr.
    assert "SEGMENTS" in proc.stdout and "OUTCOMES" in proc.stdout
    assert "analysis complete" in proc.stderr and "analysis complete" not in proc.stdout
    assignments = pd.read_csv(out / "assignments.csv")
    assert list(assignments.columns) == ["customer_id", "segment", "confidence"]
    assert len(assignments) == 600
    assert assignments["confidence"].between(0, 1).all()
    analysis = json.loads((out / "analysis.json").read_text())
    k = analysis["choice"]["k"]
    assert set(assignments["segment"]) <= set(range(-1, k))
    for key in ("roles", "quality", "sweep", "choice", "profiles", "rules", "validation"):
        assert key in analysis
    assert analysis["choice"]["reason"]
    assert "customer_id" not in analysis["roles"]["features"]
    assert {"churned", "revenue_12m"} <= set(analysis["roles"]["outcomes"])
    # The saved model sits beside the assignments and reproduces them.
    from copilot.segmentation.model.bundle import load_bundle

    assert str(out / "model") in proc.stdout
    labels, _ = load_bundle(out / "model").assign(pd.read_csv(customers_csv))
    assert (labels == assignments["segment"].to_numpy()).all()


def test_segment_json_and_forced_k(customers_csv, tmp_path):
    proc = run_cli("segment", customers_csv, "--k", "4", "--algorithm", "kmeans", "--json",
                   "--out-dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    analysis = json.loads(proc.stdout)
    assert analysis["choice"]["k"] == 4 and analysis["choice"]["algorithm"] == "kmeans"
    assert len([p for p in analysis["profiles"] if p["segment"] >= 0]) == 4


def test_same_seed_same_assignments(customers_csv, default_run, tmp_path):
    # The default run used seed 0 (the documented default): a second process given --seed 0
    # must write the same bytes.
    a, b = default_run[1], tmp_path / "b"
    assert default_run[0].returncode == 0
    assert run_cli("segment", customers_csv, "--out-dir", b, "--seed", "0").returncode == 0
    assert (a / "assignments.csv").read_bytes() == (b / "assignments.csv").read_bytes()
    ja, jb = (json.loads((d / "analysis.json").read_text()) for d in (a, b))
    ja.pop("seconds"), jb.pop("seconds")
    for j in (ja, jb):
        for row in j["sweep"]["rows"]:
            row.pop("seconds")
    assert ja == jb


def test_without_id_column_rows_are_numbered(tmp_path):
    df = make_customers(300, 3, seed=2).frame.drop(columns=["customer_id"])
    path = tmp_path / "noid.csv"
    df.to_csv(path, index=False)
    # --k 3: the numbering, not the sweep, is under test.
    proc = run_cli("segment", path, "--out-dir", tmp_path / "o", "--k", "3")
    assert proc.returncode == 0, proc.stderr
    assignments = pd.read_csv(tmp_path / "o" / "assignments.csv")
    assert list(assignments["row"]) == list(range(1, 301))


def test_demo_runs_on_bundled_data(tmp_path):
    proc = run_cli("demo", "--out-dir", tmp_path / "demo")
    assert proc.returncode == 0, proc.stderr
    assert "Segment 0" in proc.stdout
    assert (tmp_path / "demo" / "assignments.csv").exists()
    assert str(tmp_path / "demo") in proc.stdout  # it says where the files are


# --- bad input: one sentence, exit code 2, no traceback -------------------------------------

def _write(tmp_path, name, content: bytes | str):
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def test_missing_path(tmp_path):
    assert_one_sentence_error(run_cli("segment", tmp_path / "nope.csv"), "nope.csv")


def test_empty_file(tmp_path):
    assert_one_sentence_error(run_cli("segment", _write(tmp_path, "e.csv", "")), "empty")


def test_header_only(tmp_path):
    path = _write(tmp_path, "h.csv", "id,spend,visits\n")
    assert_one_sentence_error(run_cli("segment", path), "h.csv")


def test_only_an_id_column(tmp_path):
    path = _write(tmp_path, "ids.csv", "customer_id\n" + "\n".join(f"C{i}" for i in range(50)))
    assert_one_sentence_error(run_cli("segment", path, "--out-dir", tmp_path / "o"), "feature")


def test_one_row(tmp_path):
    path = _write(tmp_path, "one.csv", "id,spend,visits\n1,10.5,3\n")
    assert_one_sentence_error(run_cli("segment", path, "--out-dir", tmp_path / "o"), "1 row")


def test_all_missing_columns(tmp_path):
    rows = "\n".join(f"C{i},," for i in range(60))
    path = _write(tmp_path, "blank.csv", "customer_id,spend,visits\n" + rows)
    assert_one_sentence_error(run_cli("segment", path, "--out-dir", tmp_path / "o"), "feature")


def test_binary_file_named_csv(tmp_path):
    path = _write(tmp_path, "bin.csv", bytes(range(256)) * 40)
    assert_one_sentence_error(run_cli("segment", path), "bin.csv")


def test_unknown_outcome(customers_csv, tmp_path):
    proc = run_cli("segment", customers_csv, "--outcome", "churnd", "--out-dir", tmp_path)
    assert_one_sentence_error(proc, "churnd")
    assert "churned" in proc.stderr  # suggests the close match


def test_k_larger_than_rows(tmp_path):
    df = make_customers(40, 3, seed=1).frame
    path = tmp_path / "small.csv"
    df.to_csv(path, index=False)
    assert_one_sentence_error(run_cli("segment", path, "--k", "80", "--out-dir", tmp_path / "out"),
                              "k=80")


def test_bad_k_range_and_unknown_option(customers_csv):
    assert_one_sentence_error(run_cli("segment", customers_csv, "--k-range", "seven"), "range")
    assert_one_sentence_error(run_cli("segment", customers_csv, "--frobnicate"), "frobnicate")


def test_non_utf8_text_is_read_not_refused(tmp_path):
    # A latin-1, semicolon-separated export is ordinary input: it loads and segments.
    df = make_customers(200, 3, seed=5).frame
    df["region"] = df["region"].replace({"Europe": "Européen", "LatAm": "América Latina"})
    path = tmp_path / "latin1.csv"
    df.to_csv(path, index=False, sep=";", encoding="latin-1")
    # --k 3: the reading, not the sweep, is under test.
    proc = run_cli("segment", path, "--out-dir", tmp_path / "o", "--json", "--k", "3")
    assert proc.returncode == 0, proc.stderr
    analysis = json.loads(proc.stdout)
    assert "region" in analysis["roles"]["features"]


def test_out_dir_that_is_a_file(customers_csv, tmp_path):
    blocker = _write(tmp_path, "taken", "x")
    assert_one_sentence_error(run_cli("segment", customers_csv, "--out-dir", blocker), "taken")


def test_assign_with_the_saved_model(customers_csv, trained, tmp_path):
    out = trained
    frame = pd.read_csv(customers_csv)
    new = frame.sample(200, random_state=1).assign(extra_col=1)
    new.loc[new.index[:3], [c for c in frame.columns if c not in
                            ("customer_id", "churned", "revenue_12m")]] = None
    new.to_csv(tmp_path / "new.csv", index=False)
    proc = run_cli("assign", out / "model", tmp_path / "new.csv", "--out", tmp_path / "crm.csv")
    assert proc.returncode == 0, proc.stderr
    crm = pd.read_csv(tmp_path / "crm.csv")
    assert list(crm.columns) == ["customer_id", "segment", "segment_name", "confidence",
                                 "holdout", "model_version", "assigned_at"]
    assert len(crm) == 200  # nothing dropped
    assert (crm["segment_name"] == "unscored").sum() == 3 and "3 row(s)" in proc.stderr
    assert "extra_col" in proc.stderr
    # the other rows get the segment the training run gave them
    trained = pd.read_csv(out / "assignments.csv").set_index("customer_id")["segment"]
    scored = crm[crm["segment_name"] != "unscored"]
    assert (scored["segment"].to_numpy() == trained.loc[scored["customer_id"]].to_numpy()).all()
    assert crm["model_version"].nunique() == 1 and crm["confidence"].between(0, 1).all()
    # about 10% of each segment held out, the same customers on a re-run
    for _, group in crm.groupby("segment_name"):
        assert near_share(group["holdout"].sum(), len(group))
    again = run_cli("assign", out / "model", tmp_path / "new.csv", "--out", tmp_path / "b.csv")
    assert again.returncode == 0
    assert (pd.read_csv(tmp_path / "b.csv")["holdout"] == crm["holdout"]).all()


def test_assign_bad_input(customers_csv, trained, tmp_path):
    out = trained
    frame = pd.read_csv(customers_csv)
    frame.drop(columns=["plan"]).to_csv(tmp_path / "missing.csv", index=False)
    assert_one_sentence_error(run_cli("assign", out / "model", tmp_path / "missing.csv",
                                      "--out", tmp_path / "x.csv"), "plan")
    frame.assign(tenure_months="long").to_csv(tmp_path / "retyped.csv", index=False)
    assert_one_sentence_error(run_cli("assign", out / "model", tmp_path / "retyped.csv",
                                      "--out", tmp_path / "x.csv"), "tenure_months", "text")
    assert_one_sentence_error(run_cli("assign", tmp_path, customers_csv, "--out",
                                      tmp_path / "x.csv"), "no saved model")
    assert not (tmp_path / "x.csv").exists()


def test_a_newer_or_corrupted_model_is_one_sentence_and_nothing_is_overwritten(
        customers_csv, trained, tmp_path):
    import shutil

    out = trained
    kept = tmp_path / "previous.csv"
    kept.write_text("customer_id,segment\n1,0\n")
    newer = shutil.copytree(out / "model", tmp_path / "newer")
    info = json.loads((newer / "bundle.json").read_text())
    (newer / "bundle.json").write_text(json.dumps({**info, "version": info["version"] + 1}))
    corrupt = shutil.copytree(out / "model", tmp_path / "corrupt")
    (corrupt / "bundle.json").write_text((corrupt / "bundle.json").read_text()[:200])
    swapped = shutil.copytree(out / "model", tmp_path / "swapped")
    (swapped / "arrays.npz").write_bytes(b"PK\x03\x04 not the arrays")
    for model, words in ((newer, ("newer", "upgrade")), (corrupt, ("corrupt",)),
                         (swapped, ("does not match",))):
        assert_one_sentence_error(run_cli("assign", model, customers_csv, "--out", kept), *words)
        assert_one_sentence_error(run_cli("compare", customers_csv, "--model", model), *words)
        assert kept.read_text() == "customer_id,segment\n1,0\n"


def test_assign_never_writes_over_its_data_or_its_model(customers_csv, trained, tmp_path):
    out = trained
    data = tmp_path / "new.csv"
    data.write_bytes(customers_csv.read_bytes())
    before = {p: p.read_bytes() for p in (data, *(out / "model").iterdir())}
    assert_one_sentence_error(run_cli("assign", out / "model", data, "--out", data),
                              "is the input")
    assert_one_sentence_error(run_cli("assign", out, data, "--out", out / "model" / "bundle.json"),
                              "inside the input folder")
    assert {p: p.read_bytes() for p in before} == before


def test_assign_refuses_a_table_without_the_id_column_unless_told_which_it_is(
        customers_csv, trained, tmp_path):
    out = trained
    frame = pd.read_csv(customers_csv, dtype={"customer_id": str})
    renamed = tmp_path / "renamed.csv"
    frame.rename(columns={"customer_id": "account"}).to_csv(renamed, index=False)
    crm = tmp_path / "crm.csv"
    # Row numbers would match no customer in a CRM: refused, naming both columns.
    assert_one_sentence_error(run_cli("assign", out / "model", renamed, "--out", crm),
                              "'customer_id'", "account", "--id")
    assert not crm.exists()
    assert_one_sentence_error(run_cli("assign", out / "model", renamed, "--out", crm,
                                      "--id", "acount"), "acount", "account")
    proc = run_cli("assign", out / "model", renamed, "--out", crm, "--id", "account")
    assert proc.returncode == 0, proc.stderr
    assert "ignored" not in proc.stderr  # the ID column is not an unknown extra column
    by_id = pd.read_csv(crm, dtype={"account": str})
    plain = tmp_path / "plain.csv"
    assert run_cli("assign", out / "model", customers_csv, "--out", plain).returncode == 0
    same = pd.read_csv(plain, dtype={"customer_id": str})
    assert by_id["account"].tolist() == same["customer_id"].tolist()
    # The same customers, the same segments and the same holdout under either column name.
    assert by_id[["segment", "holdout"]].equals(same[["segment", "holdout"]])


def test_a_bad_holdout_share_is_refused_before_the_file_is_scored(customers_csv, trained,
                                                                    tmp_path):
    out = trained
    assert_one_sentence_error(run_cli("assign", out / "model", customers_csv, "--out",
                                      tmp_path / "x.csv", "--holdout-share", "0.7"),
                              "holdout share")


def test_the_segment_summary_shows_each_segments_stance(default_run):
    from copilot.segmentation.analysis.pipeline import SegmentAnalysis
    from copilot.segmentation.analysis.stance import segment_stances

    proc, out = default_run
    assert proc.returncode == 0, proc.stderr
    analysis = SegmentAnalysis.model_validate_json((out / "analysis.json").read_text())
    stances = segment_stances(analysis)
    segments = proc.stdout[proc.stdout.index("\nSEGMENTS\n"):]
    assert " ".join(segments.split()).startswith(f"SEGMENTS {stances.basis_sentence()}")
    for p in analysis.profiles:
        label = stances.of(p.segment).label
        title = f"Segment {p.segment}" if p.segment >= 0 else "Unassigned"
        assert f"  {title}: {p.size:,} customers (" in segments
        if label:
            line = next(x for x in segments.splitlines() if x.startswith(f"  {title}: "))
            assert line.endswith(f"), {label}"), line
    assert any(s.label for s in stances.segments)
