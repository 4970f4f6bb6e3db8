"""One display-name rule (issue 17): before any model writes, the segments panel, the chat's
answers, crm.csv (from the chat and from ``export``) and the memo call a segment by the same
name: ``copilot.llm.display_names``, a draft from its traits, not "Segment 2" in some places
and a trait name in others."""

from __future__ import annotations

import pandas as pd
import pytest

from copilot.agent import segment_names
from copilot.agent.session import Session
from copilot.llm import display_names
from copilot.report import render_memo
from tests.cli_helpers import run_cli


@pytest.fixture
def session(loaded_session: Session) -> Session:
    loaded_session.segment()
    return loaded_session


def test_before_the_model_writes_every_surface_uses_the_draft_names(session, tmp_path):
    assert session.writing is None  # nothing written: the names are the deterministic drafts
    names = display_names(session.analysis)
    assert sorted(names) == sorted(p.segment for p in session.analysis.profiles)
    assert not any(n == f"Segment {s}" for s, n in names.items())
    assert segment_names(session) == names  # the panel and the chat's answers
    chat = session.export_crm("generic", tmp_path / "chat.csv")
    assert chat is not None, session.last_error
    proc = run_cli("export", session.session_dir, "--out", tmp_path / "command.csv")
    assert proc.returncode == 0, proc.stderr
    for path in (chat, tmp_path / "command.csv"):
        crm = pd.read_csv(path, dtype=str, keep_default_na=False)
        by_segment = dict(zip(crm["segment_id"].astype(int), crm["segment_name"], strict=False))
        assert by_segment == {s: n for s, n in names.items() if s in by_segment}
    memo = render_memo(session.analysis, None, goal=None)
    assert all(name in memo for name in names.values())


def test_a_rename_reaches_every_surface(session, tmp_path):
    assert session.rename(1, "Weekend Browsers") is not None, session.last_error
    names = display_names(session.analysis, session.writing)
    assert names[1] == "Weekend Browsers" and segment_names(session) == names
    chat = session.export_crm("generic", tmp_path / "chat.csv")
    crm = pd.read_csv(chat, dtype=str, keep_default_na=False)
    assert set(crm.loc[crm["segment_id"] == "1", "segment_name"]) == {"Weekend Browsers"}
    assert "Weekend Browsers" in render_memo(session.analysis, session.writing, goal=None)
