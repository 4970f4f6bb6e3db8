"""One CRM path (issue 17): the chat's /crm and ``export`` read a segmentation's customers with
the same reader (``copilot.workflow.read_own_customers``), so they give the same file and
refuse the same damaged input with the same sentence."""

from __future__ import annotations

import pandas as pd
import pytest

from copilot.agent.session import Session
from tests.cli_helpers import run_cli


@pytest.fixture
def session(padded_session: Session) -> Session:
    return padded_session


def test_the_chat_and_the_command_write_the_same_crm_file(session, tmp_path):
    chat = session.export_crm("generic", tmp_path / "chat.csv")
    assert chat is not None, session.last_error
    proc = run_cli("export", session.session_dir, "--out", tmp_path / "command.csv")
    assert proc.returncode == 0, proc.stderr
    a = pd.read_csv(chat, dtype=str, keep_default_na=False)
    b = pd.read_csv(tmp_path / "command.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(a, b)
    assert a["customer_id"].iloc[0] == "000001"  # leading zeros kept


def test_a_damaged_assignments_file_is_refused_by_the_chat_as_by_the_command(session, tmp_path):
    path = session.assignments_path()
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw.iloc[:-5].to_csv(path, index=False)  # five customers lost
    assert session.export_crm("generic", tmp_path / "chat.csv") is None
    assert "does not match the analysis beside it (the row counts differ)" in session.last_error
    assert not (tmp_path / "chat.csv").exists()
    proc = run_cli("export", session.session_dir, "--out", tmp_path / "command.csv")
    assert proc.returncode != 0
    assert "does not match the analysis beside it (the row counts differ)" in proc.stderr
