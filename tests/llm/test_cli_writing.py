"""The writing pass and `doctor` through the real CLI (tests/cli_helpers.py) (fake and broken providers).

The writing pass runs on ``segment`` over a small table with k in 3-4: the same pass as on the
demo's 4,000 rows (tests/test_cli_segment.py and test_cli_ask_memo.py run the demo itself),
for a third of the sweep's time."""

from __future__ import annotations

import json

import pytest

from fixtures.customers import make_customers
from tests.cli_helpers import assert_one_sentence_error, run_cli
from tests.llm.servers import free_port


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("writing") / "customers.csv"
    make_customers(400, 3, seed=5).frame.to_csv(path, index=False)
    return path


def _segment(table, *args):
    return run_cli("segment", table, "--k-range", "3-4", *args)


def _script(tmp_path, answers) -> str:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(answers))
    return str(path)


def test_segment_with_the_fake_provider_writes_a_labelled_writing_file(tmp_path, monkeypatch,
                                                                       table):
    # The script answers the k recommendation with an option outside the shortlist every time:
    # it must be refused, and everything still completes as labelled drafts.
    monkeypatch.setenv("SEGMENT_COPILOT_FAKE_SCRIPT", _script(tmp_path, [{"option": "k=99"}] * 3))
    out = tmp_path / "out"
    proc = _segment(table, "--provider", "fake", "--out-dir", out, "--goal", "Grow revenue")
    assert proc.returncode == 0, proc.stderr
    writing = json.loads((out / "writing.json").read_text())
    analysis = json.loads((out / "analysis.json").read_text())
    assert writing["provider"] == "fake"
    assert writing["recommendation"]["k"] == analysis["choice"]["k"]
    assert writing["recommendation"]["author"]["status"] == "fallback"
    assert len(writing["narratives"]) == analysis["choice"]["k"]
    assert all(n["author"]["writer"] == "deterministic draft" for n in writing["narratives"])
    assert writing["strategy"]["initiatives_source"].startswith("defaults for a growth goal")
    assert writing["prompt_versions"]["name_segment"] >= 1
    assert "SEGMENT NAMES" in proc.stdout and "[deterministic draft]" in proc.stdout
    assert "notice:" in proc.stderr and "Traceback" not in proc.stderr


def test_no_llm_writes_numbers_only(tmp_path, table):
    out = tmp_path / "out"
    proc = _segment(table, "--no-llm", "--out-dir", out)
    assert proc.returncode == 0, proc.stderr
    assert not (out / "writing.json").exists() and "SEGMENT NAMES" not in proc.stdout


def test_unreachable_server_still_completes_with_one_notice(tmp_path, table):
    out = tmp_path / "out"
    proc = _segment(table, "--provider", "openai-compatible", "--model", "m", "--base-url",
                    f"http://127.0.0.1:{free_port()}/v1", "--timeout", "3", "--out-dir", out)
    assert proc.returncode == 0, proc.stderr
    notices = [ln for ln in proc.stderr.splitlines() if ln.startswith("notice:")]
    assert len(notices) == 1 and "connect" in notices[0]
    assert (out / "writing.json").exists()


def test_bad_llm_settings_fail_fast_with_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGMENT_COPILOT_TIMEOUT", "soon")
    proc = run_cli("demo", "--out-dir", tmp_path / "out")
    assert_one_sentence_error(proc, "timeout")
    assert not (tmp_path / "out").exists()  # refused before any long work


def test_initiatives_file_problems_are_one_sentence(tmp_path):
    empty = tmp_path / "initiatives.txt"
    empty.write_text("\n  \n")
    proc = run_cli("demo", "--provider", "fake", "--initiatives", empty, "--out-dir", tmp_path / "o")
    assert_one_sentence_error(proc, "empty")


def test_doctor_reports_a_working_fake_provider(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGMENT_COPILOT_FAKE_SCRIPT",
                       _script(tmp_path, [{"status": "ok", "segments": 4}]))
    proc = run_cli("doctor", "--provider", "fake")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Provider: fake (from flag)" in proc.stdout and "Answers: yes" in proc.stdout


def test_doctor_says_what_to_do_when_the_provider_does_not_answer():
    proc = run_cli("doctor", "--provider", "openai-compatible", "--model", "m", "--base-url",
                   f"http://127.0.0.1:{free_port()}/v1", "--timeout", "3")
    assert proc.returncode == 1
    assert "Answers: no" in proc.stdout and "connect" in proc.stdout
    assert "is the server running" in proc.stdout and "Traceback" not in proc.stderr


def test_doctor_names_the_missing_key():
    proc = run_cli("doctor", "--provider", "openai")
    assert proc.returncode == 1 and "OPENAI_API_KEY" in proc.stdout
