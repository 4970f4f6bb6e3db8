"""The ``export`` command through the real CLI (tests/cli_helpers.py): CRM CSV, presets, glossary versions."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from copilot.llm import display_names
from copilot.segmentation.analysis.holdout import holdout_flags
from copilot.segmentation.analysis.pipeline import SegmentAnalysis
from copilot.segmentation.outputs.crm import PRESETS
from copilot.segmentation.outputs.glossary_records import GLOSSARY_FORMAT_VERSION
from fixtures.customers import make_customers
from fixtures.glossary_cases import as_another_table, make_snapshot
from tests.cli_helpers import assert_one_sentence_error, near_share, run_cli
from tests.conftest import shared_dataset

BASE = {"A": 200, "B": 150, "C": 250, "D": 200}


def segment(data: Path, out: Path, k: int) -> Path:
    proc = run_cli("segment", data, "--no-llm", "--k", k, "--algorithm", "kmeans", "--id",
                   "customer_id", "--out-dir", out)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("planted")
    snap = make_snapshot(BASE)
    data = root / "customers.csv"
    snap.frame.to_csv(data, index=False)
    groups = dict(zip(snap.frame["customer_id"], snap.groups, strict=True))
    (root / "groups.json").write_text(json.dumps(groups))
    return {"data": data, "k4": segment(data, root / "k4", 4), "k3": segment(data, root / "k3", 3),
            "groups": root / "groups.json"}


def read_csv_text(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def snapshot_files(*paths: Path) -> dict[str, bytes]:
    out = {}
    for p in paths:
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        out.update({str(f): f.read_bytes() for f in files if f.is_file()})
    return out


def test_the_analysis_holds_out_the_customers_the_export_flags(planted, tmp_path):
    # The strategy's experiment sizes come from analysis.holdout: they must be the CRM's own.
    out = tmp_path / "crm.csv"
    assert run_cli("export", planted["k4"], "--out", out).returncode == 0
    crm = read_csv_text(out)
    flagged = (crm["holdout"] == "true").groupby(crm["segment_id"].astype(int)).sum()
    analysis = json.loads((planted["k4"] / "analysis.json").read_text())
    assert {int(k): v for k, v in analysis["holdout"].items()} == flagged.to_dict()


def test_export_writes_every_customer_with_the_models_version(planted, tmp_path):
    out = tmp_path / "crm.csv"
    proc = run_cli("export", planted["k4"], "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "Wrote 800 customers" in proc.stdout
    crm = read_csv_text(out)
    assert list(crm.columns) == list(PRESETS["generic"].columns)
    assignments = read_csv_text(planted["k4"] / "assignments.csv")
    assert crm["customer_id"].tolist() == assignments["customer_id"].tolist()
    assert crm["segment_id"].tolist() == assignments["segment"].tolist()
    bundle = json.loads((planted["k4"] / "model" / "bundle.json").read_text())
    assert set(crm["model_version"]) == {bundle["bundle_id"]}
    # The segments were assigned when the model was saved.
    stamp = pd.Timestamp(bundle["created_at"]).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    assert set(crm["assigned_at"]) == {stamp}
    # No name given yet: the drafts from the segments' traits, as the memo and the chat say.
    drafts = display_names(SegmentAnalysis.model_validate_json(
        (planted["k4"] / "analysis.json").read_text()))
    assert dict(zip(crm["segment_id"].astype(int), crm["segment_name"], strict=False)) == {
        s: drafts[s] for s in range(4)}
    # About 10% of each segment is held out, each customer by the hash of their ID.
    for seg, rows in crm.groupby("segment_id"):
        assert near_share((rows["holdout"] == "true").sum(), len(rows)), seg
    assert ((crm["holdout"] == "true").to_numpy() == holdout_flags(crm["customer_id"])).all()


@pytest.mark.parametrize("preset", ["hubspot", "salesforce"])
def test_presets_name_the_columns_for_the_crm(planted, tmp_path, preset):
    out = tmp_path / "crm.csv"
    proc = run_cli("export", planted["k4"], "--out", out, "--preset", preset)
    assert proc.returncode == 0, proc.stderr
    crm = read_csv_text(out)
    cols = PRESETS[preset].columns
    assert tuple(crm.columns) == cols
    assert set(crm[cols[4]]) == {"true", "false"}
    pattern = (r"\d{4}-\d\d-\d\d" if preset == "hubspot"
               else r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z")
    assert all(re.fullmatch(pattern, v) for v in crm[cols[6]])
    assert cols[0] in proc.stdout and PRESETS[preset].hint in proc.stdout


def test_ids_with_leading_zeros_survive_segment_and_assign(tmp_path):
    frame = make_customers(400, 3, seed=5).frame
    frame["customer_id"] = [f"{i:06d}" for i in range(1, len(frame) + 1)]
    data = tmp_path / "zeros.csv"
    frame.to_csv(data, index=False)
    out_dir = segment(data, tmp_path / "seg", 3)
    # From the segmentation's own customers ...
    proc = run_cli("export", out_dir, "--out", tmp_path / "a.csv")
    assert proc.returncode == 0, proc.stderr
    assert read_csv_text(tmp_path / "a.csv")["customer_id"].tolist() == frame["customer_id"].tolist()
    # ... and from a table assigned with the saved model.
    proc = run_cli("export", out_dir / "model", "--data", data, "--out", tmp_path / "b.csv",
                   "--preset", "salesforce")
    assert proc.returncode == 0, proc.stderr
    b = read_csv_text(tmp_path / "b.csv")
    assert b["Customer_ID__c"].tolist() == frame["customer_id"].tolist()
    # Same model, same customers, same segments and holdout group either way.
    a = read_csv_text(tmp_path / "a.csv")
    assert a["segment_id"].tolist() == b["Segment_ID__c"].tolist()
    assert a["holdout"].tolist() == b["Segment_Holdout__c"].tolist()


def test_glossary_versions_follow_re_segmentation(planted, tmp_path):
    glossary = tmp_path / "glossary"
    groups = json.loads(planted["groups"].read_text())
    k4 = read_csv_text(planted["k4"] / "assignments.csv")
    seg_of_a = k4.loc[k4["customer_id"].map(groups) == "A", "segment"].iloc[0]
    proc = run_cli("export", planted["k4"], "--out", tmp_path / "v1.csv", "--glossary", glossary,
                   "--owner", f"{seg_of_a}=Ann Lee")
    assert proc.returncode == 0, proc.stderr
    assert "Glossary version 1" in proc.stdout
    v1 = json.loads((glossary / "glossary.json").read_text())
    assert v1["version"] == 1 and len(v1["entries"]) == 4
    assert (glossary / "glossary-v1.json").is_file() and (glossary / "glossary.md").is_file()

    # The same export again changes nothing, so no new version.
    before = snapshot_files(glossary)
    proc = run_cli("export", planted["k4"], "--out", tmp_path / "v1.csv", "--glossary", glossary)
    assert proc.returncode == 0, proc.stderr
    assert "unchanged" in proc.stdout and snapshot_files(glossary) == before

    # k-1 on the same customers: the two close planted groups merge.
    proc = run_cli("export", planted["k3"], "--out", tmp_path / "v2.csv", "--glossary", glossary)
    assert proc.returncode == 0, proc.stderr
    v2 = json.loads((glossary / "glossary.json").read_text())
    assert v2["version"] == 2 and v2["matched_by"] == "customers"
    merged = [c for c in v2["changes"] if c["kind"] == "merged"]
    assert len(merged) == 1
    merged = merged[0]["after"][0]
    assert next(e for e in v2["entries"] if e["segment"] == merged)["owner"] == "Ann Lee"
    assert "merged into" in proc.stdout
    # Nobody named a segment: each is called by its own number, in the CSV as in the glossary
    # (and as the saved model calls it); C and D are "renamed" exactly when k-means numbered
    # them otherwise this time.
    k3 = read_csv_text(planted["k3"] / "assignments.csv")
    number = {v: frame.groupby(frame["customer_id"].map(groups))["segment"].first()
              for v, frame in (("v1", k4), ("v2", k3))}
    renumbered = sorted((int(number["v1"][g]), int(number["v2"][g])) for g in "CD"
                        if number["v1"][g] != number["v2"][g])
    assert sorted((c["before"][0], c["after"][0]) for c in v2["changes"]
                  if c["kind"] == "renamed") == renumbered
    assert {(e["segment"], e["name"]) for e in v2["entries"]} == {
        (s, f"Segment {s}") for s in range(3)}
    crm = read_csv_text(tmp_path / "v2.csv")
    assert all(crm["segment_name"] == "Segment " + crm["segment_id"])
    assert "takes the glossary's names" not in proc.stderr and "glossary call" not in proc.stderr
    md = (glossary / "glossary.md").read_text()
    assert "version 2" in md and "merged into" in md
    assert json.loads((glossary / "glossary-v1.json").read_text())["version"] == 1

    # An owner alone is a change, listed as one.
    proc = run_cli("export", planted["k3"], "--out", tmp_path / "v3.csv", "--glossary", glossary,
                   "--owner", f"{merged}=Bo Chen")
    assert proc.returncode == 0, proc.stderr
    v3 = json.loads((glossary / "glossary.json").read_text())
    assert v3["version"] == 3
    assert [(c["kind"], c["after"]) for c in v3["changes"]] == [("owner", [merged])]
    assert f"\u201cSegment {merged}\u201d is now owned by Bo Chen (was Ann Lee)." in proc.stdout


def named_folder(source: Path, folder: Path, groups: dict[str, str]) -> Path:
    """A copy of a segment folder whose writing.json names each segment after its planted
    groups ("Group A+B"), as an LLM's names would be."""
    shutil.copytree(source, folder)
    rows = read_csv_text(folder / "assignments.csv")
    held = rows.groupby("segment")["customer_id"].agg(
        lambda ids: "+".join(sorted({groups[i] for i in ids})))
    llm = {"writer": "llm", "status": "first try"}
    narratives = [{"segment": int(s), "name": f"Group {g}", "author": llm,
                   "narrative": f"Customers of group {g}."} for s, g in held.items()]
    (folder / "writing.json").write_text(json.dumps({"narratives": narratives}))
    return folder


def test_a_split_keeps_the_name_on_its_main_part_only(planted, tmp_path):
    groups = json.loads(planted["groups"].read_text())
    k3 = named_folder(planted["k3"], tmp_path / "k3", groups)
    glossary = tmp_path / "glossary"
    proc = run_cli("export", k3, "--out", tmp_path / "v1.csv", "--glossary", glossary)
    assert proc.returncode == 0, proc.stderr
    # k+1, nobody named: A+B splits; A (200 of its 350 customers) keeps "Group A+B".
    proc = run_cli("export", planted["k4"], "--out", tmp_path / "v2.csv", "--glossary", glossary)
    assert proc.returncode == 0, proc.stderr
    crm = read_csv_text(tmp_path / "v2.csv")
    name_of = crm.groupby(crm["customer_id"].map(groups))["segment_name"].agg(set)
    seg_of = crm.groupby(crm["customer_id"].map(groups))["segment_id"].first()
    assert name_of.to_dict() == {"A": {"Group A+B"}, "B": {f"Segment {seg_of['B']}"},
                                 "C": {"Group C"}, "D": {"Group D"}}
    # One name per segment in the CSV, and the glossary says the same.
    pairs = set(zip(crm["segment_id"], crm["segment_name"], strict=True))
    assert len(pairs) == len({n for _, n in pairs}) == 4
    v2 = json.loads((glossary / "glossary.json").read_text())
    assert {(str(e["segment"]), e["name"]) for e in v2["entries"]} == pairs
    split = [c for c in v2["changes"] if c["kind"] == "split"]
    assert len(split) == 1 and len(set(split[0]["after_names"])) == 2
    # The saved model has no names: the CSV's differ from what assign writes, and a note says so.
    notes = [ln for ln in proc.stderr.splitlines() if "glossary call" in ln]
    assert len(notes) == 1
    assert "names kept from glossary version 1" in notes[0] and "assign writes" in notes[0]
    for g in "ACD":
        assert f"segment {seg_of[g]} \u201c{next(iter(name_of[g]))}\u201d" in notes[0]
    assert f"segment {seg_of['B']} " not in notes[0]


def test_a_glossary_of_another_table_is_refused(planted, tmp_path):
    glossary = tmp_path / "glossary"
    proc = run_cli("export", planted["k4"], "--out", tmp_path / "v1.csv", "--glossary", glossary)
    assert proc.returncode == 0, proc.stderr
    # The same customer IDs, but none of the columns: another table.
    other = tmp_path / "other.csv"
    as_another_table(make_snapshot(BASE).frame, 4).to_csv(other, index=False)
    out_dir = segment(other, tmp_path / "other", 4)
    out = tmp_path / "crm.csv"
    out.write_text("old\n")
    before = snapshot_files(out, glossary)
    proc = run_cli("export", out_dir, "--out", out, "--glossary", glossary)
    assert_one_sentence_error(proc, f"The glossary in {glossary} describes segments of another "
                              "table", "0 in common", "give a new --glossary folder")
    assert snapshot_files(out, glossary) == before


@pytest.mark.integration
def test_a_glossary_of_another_real_table_is_refused(tmp_path):
    mall = shared_dataset("mall_customers", "Mall_Customers.csv")
    wholesale = shared_dataset("wholesale_customers", "Wholesale_customers_data.csv")
    runs = {}
    for name, data in (("mall", mall), ("wholesale", wholesale)):
        runs[name] = tmp_path / name
        proc = run_cli("segment", data, "--no-llm", "--out-dir", runs[name])
        assert proc.returncode == 0, proc.stderr
    glossary = tmp_path / "glossary"
    proc = run_cli("export", runs["mall"], "--out", tmp_path / "m.csv", "--glossary", glossary)
    assert proc.returncode == 0, proc.stderr
    # Both number their customers 1, 2, ...: matching by IDs alone would pair strangers.
    proc = run_cli("export", runs["wholesale"], "--out", tmp_path / "w.csv", "--glossary",
                   glossary)
    assert_one_sentence_error(proc, "another table", "give a new --glossary folder")
    assert not (tmp_path / "w.csv").exists()


def test_a_rename_in_a_session_is_a_new_glossary_version(planted, tmp_path):
    from copilot.agent.session import Session
    from copilot.llm.providers import LLMSettings

    session = Session(tmp_path / "session", llm=LLMSettings(provider="none"))
    assert session.load(planted["data"]) is not None
    assert session.segment(k=4, algorithm="kmeans", id_column="customer_id") is not None
    assert session.write() is not None  # names (deterministic drafts without an LLM)
    glossary = tmp_path / "glossary"
    proc = run_cli("export", session.session_dir, "--out", tmp_path / "a.csv", "--glossary",
                   glossary, "--preset", "hubspot")
    assert proc.returncode == 0, proc.stderr
    assert session.rename(1, "Power Users") is not None
    proc = run_cli("export", session.session_dir, "--out", tmp_path / "b.csv", "--glossary",
                   glossary, "--preset", "hubspot")
    assert proc.returncode == 0, proc.stderr
    v2 = json.loads((glossary / "glossary.json").read_text())
    assert [(c["kind"], c["before"], c["after"], c["after_names"]) for c in v2["changes"]] == [
        ("renamed", [1], [1], ["Power Users"])]
    assert "is now called \u201cPower Users\u201d" in proc.stdout
    crm = read_csv_text(tmp_path / "b.csv")
    assert set(crm.loc[crm["segment_id"] == "1", "segment_name"]) == {"Power Users"}


def test_names_and_definitions_come_from_the_writing(planted, tmp_path):
    folder = tmp_path / "named"
    shutil.copytree(planted["k4"], folder)
    llm = {"writer": "llm", "status": "first try"}
    narratives = [
        {"segment": 0, "name": "Steady Savers", "author": llm,
         "narrative": "Small accounts that renew quietly. They rarely call support."},
        {"segment": 1, "name": "Big Spenders", "author": {"writer": "deterministic draft"},
         "narrative": "31% of customers (250). Compared with all customers: ..."},
    ]
    (folder / "writing.json").write_text(json.dumps({"narratives": narratives}))
    glossary = tmp_path / "glossary"
    proc = run_cli("export", folder, "--out", tmp_path / "crm.csv", "--glossary", glossary)
    assert proc.returncode == 0, proc.stderr
    crm = read_csv_text(tmp_path / "crm.csv")
    names = dict(zip(crm["segment_id"], crm["segment_name"], strict=True))
    # With --glossary the CSV takes the glossary's names, which keep given names only.
    assert (names["0"], names["1"], names["2"]) == ("Steady Savers", "Big Spenders", "Segment 2")
    entries = {e["segment"]: e for e in json.loads((glossary / "glossary.json").read_text())[
        "entries"]}
    assert entries[0]["definition"] == "Small accounts that renew quietly."
    # A deterministic draft opens with the size: the glossary writes its own line instead.
    assert entries[1]["definition_source"] == "engine"
    assert entries[1]["definition"].startswith("Customers ")


def bad_cases(planted: dict[str, Path], tmp: Path) -> list[tuple[list, tuple[str, ...]]]:
    (tmp / "empty").mkdir()
    (tmp / "a_folder.csv").mkdir()
    return [
        ([tmp / "missing", "--out", "OUT"], ("does not exist",)),
        ([tmp / "empty", "--out", "OUT"], ("holds no segments",)),
        ([planted["k4"] / "model", "--out", "OUT"], ("--data",)),
        ([planted["k4"], "--out", tmp / "a_folder.csv"], ("is a folder",)),
        ([planted["k4"], "--out", tmp / "crm.txt"], (".csv",)),
        ([planted["k4"], "--out", "OUT", "--glossary", "GLOSSARY", "--owner", "Ann"],
         ("SEGMENT=NAME",)),
        ([planted["k4"], "--out", "OUT", "--owner", "1=Ann"], ("--owner", "needs --glossary")),
        ([planted["k4"], "--out", "OUT", "--glossary", "GLOSSARY", "--owner", "9=Bob"],
         ("segment 9",)),
        ([planted["k4"], "--out", planted["k4"] / "assignments.csv"], ("inputs",)),
        ([planted["k4"] / "model", "--data", planted["data"], "--out", "OUT", "--glossary",
          "GLOSSARY"], ("analysis",)),
        ([planted["k4"] / "model", "--data", planted["k4"] / "analysis.json", "--out", "OUT"],
         ("analysis.json",)),
    ]


@pytest.mark.parametrize("case", range(11))
def test_bad_input_is_one_sentence_and_leaves_outputs_alone(planted, tmp_path, case):
    out = tmp_path / "crm.csv"
    out.write_text("customer_id,segment_id\nkeep,me\n")
    glossary = tmp_path / "glossary"
    glossary.mkdir()
    (glossary / "glossary.md").write_text("# an earlier glossary\n")
    args, words = bad_cases(planted, tmp_path)[case]
    args = [str(out) if a == "OUT" else str(glossary) if a == "GLOSSARY" else a for a in args]
    before = snapshot_files(out, glossary, planted["k4"])
    proc = run_cli("export", *args)
    assert_one_sentence_error(proc, *words)
    assert snapshot_files(out, glossary, planted["k4"]) == before


@pytest.mark.parametrize("content, words", [
    ("{broken", ("corrupt",)),
    (json.dumps({"format": "segment-copilot-glossary",
                 "format_version": GLOSSARY_FORMAT_VERSION + 1}), ("newer", "upgrade")),
])
def test_a_damaged_or_newer_glossary_stops_the_export(planted, tmp_path, content, words):
    out = tmp_path / "crm.csv"
    out.write_text("old\n")
    glossary = tmp_path / "glossary"
    glossary.mkdir()
    (glossary / "glossary.json").write_text(content)
    before = snapshot_files(out, glossary)
    proc = run_cli("export", planted["k4"], "--out", out, "--glossary", glossary)
    assert_one_sentence_error(proc, *words)
    assert snapshot_files(out, glossary) == before


def test_export_help_documents_sources_and_presets():
    proc = run_cli("export", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for words in ("--preset", "hubspot", "salesforce", "--glossary", "--data", "session",
                  "segment --out-dir", "renamed, merged, split, resized", "owner",
                  "needs --glossary"):
        assert words in text, words


def test_a_copied_segment_folder_exports_the_same_file(planted, tmp_path):
    # Nothing in the folder points outside it: a copy exports byte-identically.
    copy = tmp_path / "copy"
    shutil.copytree(planted["k4"], copy)
    for source, name in ((planted["k4"], "a.csv"), (copy, "b.csv")):
        assert run_cli("export", source, "--out", tmp_path / name).returncode == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
