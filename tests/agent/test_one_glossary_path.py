"""One glossary path (issue 17): the chat's /glossary and ``export --glossary`` plan and write
the glossary with the same use-case (``copilot.workflow.plan_glossary``), so the same session
gives the same glossary, and a glossary of another table or an owner of no segment is refused
by both with the same sentence.

Before, the chat built its glossary itself: it let the engine's "The previous glossary
describes segments of another table" through where the command said which folder to change,
and it refused an owner of no segment in other words.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from copilot.agent.session import Session
from fixtures.customers import make_customers
from tests.cli_helpers import run_cli


@pytest.fixture
def session(padded_session: Session) -> Session:
    s = padded_session
    assert s.write() is not None  # deterministic drafts: names and narratives
    assert s.rename(1, "Power Users") is not None
    return s


def _glossary(folder: Path) -> dict:
    data = json.loads((folder / "glossary.json").read_text(encoding="utf-8"))
    data.pop("created_at")
    return data


def test_the_chat_and_the_command_write_the_same_glossary(session, tmp_path):
    chat = session.write_glossary(tmp_path / "chat", owners={0: "Jane Doe"})
    assert chat is not None, session.last_error
    proc = run_cli("export", session.session_dir, "--out", tmp_path / "crm.csv", "--glossary",
                   tmp_path / "command", "--owner", "0=Jane Doe")
    assert proc.returncode == 0, proc.stderr
    assert _glossary(tmp_path / "chat") == _glossary(tmp_path / "command")
    names = {e["segment"]: e["name"] for e in _glossary(tmp_path / "chat")["entries"]}
    assert names[1] == "Power Users"
    assert sorted(p.name for p in (tmp_path / "chat").iterdir()) == sorted(
        p.name for p in (tmp_path / "command").iterdir())


def test_an_owner_of_no_segment_is_refused_by_the_chat_as_by_the_command(session, tmp_path):
    assert session.write_glossary(tmp_path / "chat", owners={9: "Jane Doe"}) is None
    proc = run_cli("export", session.session_dir, "--out", tmp_path / "crm.csv", "--glossary",
                   tmp_path / "command", "--owner", "9=Jane Doe")
    assert proc.returncode == 2
    said = "There is no segment 9 to give an owner ({}); the segments are 0, 1, 2."
    assert said.format("/owner") == session.last_error
    assert f"error: {said.format('--owner')}" in proc.stderr
    assert not (tmp_path / "chat").exists() and not (tmp_path / "command").exists()


def test_a_glossary_of_another_table_is_refused_by_the_chat_as_by_the_command(session, tmp_path):
    other = make_customers(300, 3, seed=9).frame
    other.columns = ["customer_id", *(f"other_{i}" for i in range(1, len(other.columns)))]
    other["customer_id"] = [f"{i:06d}" for i in range(1, len(other) + 1)]
    other.to_csv(tmp_path / "other.csv", index=False)
    proc = run_cli("segment", tmp_path / "other.csv", "--no-llm", "--k", 3, "--algorithm",
                   "kmeans", "--id", "customer_id", "--out-dir", tmp_path / "other")
    assert proc.returncode == 0, proc.stderr
    glossary = tmp_path / "glossary"
    proc = run_cli("export", tmp_path / "other", "--out", tmp_path / "o.csv", "--glossary",
                   glossary)
    assert proc.returncode == 0, proc.stderr
    before = (glossary / "glossary.json").read_text(encoding="utf-8")

    assert session.write_glossary(glossary) is None
    proc = run_cli("export", session.session_dir, "--out", tmp_path / "crm.csv", "--glossary",
                   glossary)
    assert proc.returncode == 2
    said = f"The glossary in {glossary} describes segments of another table ("
    assert session.last_error.startswith(said)
    assert said in proc.stderr
    assert (glossary / "glossary.json").read_text(encoding="utf-8") == before
