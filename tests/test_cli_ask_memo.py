"""``ask``, ``memo`` and ``demo`` through the real CLI (tests/cli_helpers.py): answers on stdout, progress on
stderr, exit codes, the JSON contract, resumed sessions and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from fixtures.customers import make_customers
from tests.cli_helpers import assert_one_sentence_error, run_cli


@pytest.fixture(scope="module")
def customers_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ask") / "customers.csv"
    make_customers(500, 3, seed=5).frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def asked(customers_csv, tmp_path_factory):
    """One ``ask --json`` run (no LLM: deterministic drafts), shared by the tests below."""
    root = tmp_path_factory.mktemp("asked")
    proc = run_cli("ask", "Find segments to reduce churn among paying customers", "--data",
                   customers_csv, "--json", "--session-dir", root / "s", "--k-range", "2-4",
                   "--algorithm", "kmeans", cwd=root)
    return proc, root


def test_ask_json_has_the_contract(asked):
    proc, root = asked
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # stdout holds the JSON and nothing else
    assert {"k", "algorithm", "segments", "strategy", "memo_path"} <= set(out)
    assert out["algorithm"] == "kmeans" and 2 <= out["k"] <= 4
    assert len(out["segments"]) == out["k"]
    for seg in out["segments"]:
        assert {"id", "name", "size", "share", "narrative", "written_by"} <= set(seg)
        assert seg["written_by"] == "deterministic draft"  # no LLM in tests: labelled drafts
    assert sum(s["size"] for s in out["segments"]) == 500
    assert abs(sum(s["share"] for s in out["segments"]) - 1) < 1e-6
    assert out["goal"] == "Find segments to reduce churn among paying customers"
    assert out["strategy"]["goal"] == out["goal"]
    memo = Path(out["memo_path"])
    assert memo.is_file() and memo.parent == root / "s"
    text = memo.read_text(encoding="utf-8")
    for seg in out["segments"]:
        assert seg["name"] in text
    # progress and steps went to stderr, not stdout
    assert "> segment(" in proc.stderr


def test_ask_answers_in_plain_text_and_writes_the_memo_where_asked(customers_csv, tmp_path):
    proc = run_cli("ask", "use 3 segments", "--data", customers_csv, "--out", tmp_path / "m.md",
                   "--algorithm", "kmeans", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("3 segments of 500 customers")
    assert (tmp_path / "m.md").is_file()
    assert f"The memo is in {tmp_path / 'm.md'}" in proc.stdout
    # a new session folder was made under the working directory
    sessions = list((tmp_path / "segment-copilot-sessions").glob("ask-*/session.json"))
    assert len(sessions) == 1


def test_memo_from_a_resumed_session(asked, tmp_path):
    _, root = asked
    out = tmp_path / "again" / "memo.md"
    proc = run_cli("memo", root / "s", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    text = out.read_text(encoding="utf-8")
    assert "Reduce churn" in text or "reduce churn" in text
    for chart in text.split("](")[1:]:
        target = chart.split(")")[0]
        if target.endswith(".png"):
            assert (out.parent / target).is_file(), target


def test_ask_bad_input(customers_csv, tmp_path):
    assert_one_sentence_error(run_cli("ask", "churn", "--data", tmp_path / "nope.csv",
                                      cwd=tmp_path), "nope.csv")
    assert_one_sentence_error(run_cli("ask", "/k 400", "--data", customers_csv, cwd=tmp_path),
                              "k")
    assert_one_sentence_error(run_cli("ask", "leave out plan", "--data", customers_csv,
                                      "--exclude", "no_such_column", cwd=tmp_path),
                              "no_such_column")
    proc = run_cli("ask", "churn", cwd=tmp_path)  # --data missing: a usage error
    assert proc.returncode == 2 and "--data" in proc.stderr and "Traceback" not in proc.stderr


def test_ask_refuses_to_overwrite_a_saved_session(asked, customers_csv):
    _, root = asked
    before = (root / "s" / "session.json").read_bytes()
    proc = run_cli("ask", "churn", "--data", customers_csv, "--session-dir", root / "s")
    assert_one_sentence_error(proc, "already holds a saved session")
    assert (root / "s" / "session.json").read_bytes() == before


def test_memo_bad_input(tmp_path):
    assert_one_sentence_error(run_cli("memo", tmp_path / "nothing"), "no saved session")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "session.json").write_text("{not json")
    assert_one_sentence_error(run_cli("memo", tmp_path / "broken"), "corrupt")


def test_demo_writes_a_memo_and_says_where(tmp_path):
    proc = run_cli("demo", "--out-dir", tmp_path / "demo", "--no-llm")
    assert proc.returncode == 0, proc.stderr
    memo = tmp_path / "demo" / "memo.md"
    assert memo.is_file() and str(memo) in proc.stderr
    assert "Segment" in memo.read_text(encoding="utf-8")
    # ... and the operational end of the path: a CRM file, the glossary and the saved model,
    # whose segments are the ones the demo computed.
    crm = pd.read_csv(tmp_path / "demo" / "crm.csv", dtype=str)
    trained = pd.read_csv(tmp_path / "demo" / "assignments.csv", dtype=str)
    assert (crm["segment_id"].to_numpy() == trained["segment"].to_numpy()).all()
    assert 0.09 < (crm["holdout"] == "true").mean() < 0.11
    glossary = json.loads((tmp_path / "demo" / "glossary" / "glossary.json").read_text())
    assert glossary["version"] == 1 and len(glossary["entries"]) == crm["segment_id"].nunique()
    assert (tmp_path / "demo" / "model" / "bundle.json").is_file()


def test_chat_bad_input_is_one_sentence_before_the_app_starts(customers_csv, tmp_path, asked):
    assert_one_sentence_error(run_cli("chat", tmp_path / "nope.csv", cwd=tmp_path), "nope.csv")
    assert_one_sentence_error(run_cli("chat", "--resume", tmp_path / "nothing", cwd=tmp_path),
                              "no saved session")
    assert_one_sentence_error(run_cli("chat", customers_csv, "--resume", tmp_path, cwd=tmp_path),
                              "either")
    _, root = asked  # a folder that holds a session is never overwritten by a new one
    assert_one_sentence_error(run_cli("chat", customers_csv, "--session-dir", root / "s",
                                      cwd=tmp_path), "--resume")


def test_ask_json_gives_each_segment_its_stance(asked):
    from copilot.segmentation.analysis.pipeline import SegmentAnalysis
    from copilot.segmentation.analysis.stance import segment_stances

    proc, root = asked
    out = json.loads(proc.stdout)
    saved = json.loads((root / "s" / "analysis.json").read_text(encoding="utf-8"))
    stances = segment_stances(SegmentAnalysis.model_validate(saved))
    assert stances.risk_basis is not None and stances.risk_basis.column == "churned"
    for seg in out["segments"]:
        assert "stance" in seg
        assert seg["stance"] == stances.of(seg["id"]).label  # words: "high value, at risk"
    assert any(seg["stance"] for seg in out["segments"])
    # The memo written beside it shows the same stances.
    memo = Path(out["memo_path"]).read_text(encoding="utf-8")
    for seg in out["segments"]:
        if seg["stance"]:
            assert f"**Stance:** {seg['stance']}" in memo
