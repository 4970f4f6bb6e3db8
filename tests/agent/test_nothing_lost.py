"""Nothing lost (issue 15): an output never takes the place of an input, of the saved model or of
the session's own files; a new session never writes into a folder of other files; a model never
chooses a path; a session stopped mid-way resumes from what is on disk, and an edited one is
checked against itself."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage

from copilot.agent.agent import Agent
from copilot.agent.session import Session
from copilot.llm.providers import LLMSettings
from copilot.segmentation.analysis.pipeline import SegmentSettings
from fixtures.customers import make_customers
from tests.cli_helpers import assert_one_sentence_error, run_cli
from tests.llm.writer_helpers import fake_client

NO_LLM = LLMSettings(provider="none")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def session(tmp_path: Path) -> Session:
    data = tmp_path / "customers.csv"
    make_customers(300, 3, seed=8).frame.to_csv(data, index=False)
    s = Session(tmp_path / "sess", settings=SegmentSettings(id_column="customer_id", k=3,
                                                            algorithm="kmeans", seed=0),
                llm=NO_LLM)
    s.load(data)
    s.segment()
    return s


@pytest.mark.parametrize("target", ["customers.csv", "sess/model/bundle.json",
                                    "sess/session.json", "sess/analysis.json",
                                    "sess/assignments.csv"])
def test_memo_never_takes_the_place_of_an_input_the_model_or_the_session(tmp_path, session,
                                                                         target):
    path = tmp_path / target
    before = _digest(path)
    proc = run_cli("memo", session.session_dir, "--out", path, cwd=tmp_path)
    assert_one_sentence_error(proc)
    assert _digest(path) == before
    # and the session still works: the model loads, the memo goes where it should
    assert run_cli("memo", session.session_dir, cwd=tmp_path).returncode == 0


def test_session_outputs_refuse_the_table_whatever_the_tool(session):
    table = session.data_path
    before = _digest(table)
    assert session.export_assignments(table) is None and "input" in session.last_error
    assert session.export_crm("generic", table) is None
    assert session.write_glossary(session.model_path()) is None
    assert _digest(table) == before


def test_ask_refuses_an_out_that_is_its_data_before_any_work(tmp_path):
    data = tmp_path / "customers.csv"
    make_customers(300, 3, seed=8).frame.to_csv(data, index=False)
    before = _digest(data)
    proc = run_cli("ask", "reduce churn", "--data", data, "--out", data, "--provider", "none",
                   "--session-dir", tmp_path / "s", cwd=tmp_path)
    assert_one_sentence_error(proc, "overwrite")
    assert _digest(data) == before
    assert not (tmp_path / "s" / "analysis.json").exists()  # refused before the analysis


def test_a_new_session_never_writes_into_a_folder_of_other_files(tmp_path):
    data = tmp_path / "customers.csv"
    make_customers(300, 3, seed=8).frame.to_csv(data, index=False)
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "memo.md").write_text("my own memo")
    (folder / "assignments.csv").write_text("id,segment\n1,2\n")
    proc = run_cli("ask", "reduce churn", "--data", data, "--provider", "none",
                   "--session-dir", folder, cwd=tmp_path)
    assert_one_sentence_error(proc, "already holds files")
    assert (folder / "memo.md").read_text() == "my own memo"
    assert (folder / "assignments.csv").read_text() == "id,segment\n1,2\n"


def test_a_models_tool_call_cannot_choose_a_path(tmp_path, session):
    victim = tmp_path / "unrelated.txt"
    victim.write_text("keep me")
    client, _ = fake_client([
        AIMessage(content="", tool_calls=[{"name": "export_memo", "args": {"path": str(victim)},
                                           "id": "c1", "type": "tool_call"}]),
        AIMessage(content="", tool_calls=[{"name": "assign_customers",
                                           "args": {"path": "/etc/passwd"}, "id": "c2",
                                           "type": "tool_call"}]),
        AIMessage(content="The memo is written.")])
    Agent(session, client=client, mode="tools").handle("write the memo please")
    assert victim.read_text() == "keep me"
    assert (session.session_dir / "memo.md").is_file()  # the default, inside the session
    assert not list(session.session_dir.glob("assigned-*"))
    # A path the user typed is the user's: it is used.
    mine = tmp_path / "board-memo.md"
    client, _ = fake_client([
        AIMessage(content="", tool_calls=[{"name": "export_memo", "args": {"path": str(mine)},
                                           "id": "c3", "type": "tool_call"}]),
        AIMessage(content="Written.")])
    Agent(session, client=client, mode="tools").handle(f"write the memo to {mine}")
    assert mine.is_file()


def test_a_session_stopped_after_its_analysis_resumes_from_disk(session):
    # As a kill between writing the segments and saving the session leaves it.
    state = json.loads(session.path.read_text())
    state["analysis_file"] = state["writing"] = None
    session.path.write_text(json.dumps(state))
    again = Session.resume(session.session_dir, llm=NO_LLM)
    assert again.analysis is not None and again.analysis.choice.k == 3
    assert any("read back from analysis.json" in n for n in again.notices)
    assert again.export_memo() is not None


def test_an_edited_session_is_checked_against_itself(tmp_path, session):
    on_disk = session.session_dir / "analysis.json"
    state = json.loads(on_disk.read_text())
    state["choice"]["k"] = 99
    on_disk.write_text(json.dumps(state))
    proc = run_cli("memo", session.session_dir, "--out", tmp_path / "m.md", cwd=tmp_path)
    assert proc.returncode == 2 and "k=99 but holds 3 segments" in proc.stderr
    assert not (tmp_path / "m.md").exists()


def test_a_formula_name_is_text_in_every_csv_for_spreadsheets(tmp_path, session):
    """A segment renamed "=HYPERLINK(...)" must not run in whoever opens the CRM file."""
    import pandas as pd

    evil = '=HYPERLINK("http://e.vil","x")'  # 31 characters: a name can be 40
    assert session.rename(0, evil) is not None
    for path in (session.export_crm("hubspot"), session.export_assignments(),
                 session.assign_new(session.data_path, tmp_path / "assigned.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        cells = frame.to_numpy().ravel().tolist()
        assert not any(c.startswith(("=", "+", "@")) for c in cells), path
        assert any(c == "'" + evil for c in cells), path  # kept, shown as text
