"""One segment-and-write path (issue 17): ``segment-copilot segment`` and the chat's segment and
write steps publish a run with the same use-cases (``copilot.workflow.segment_table``,
``write_segments``, ``AnalysisFolder.rename_model``), so the same table and settings give the
same folder: the same assignments, analysis, names and saved model.

Before, the command had its own copy of the steps (it wrote the files and saved the model once
with the written names, where the chat saves it with "Segment N" and renames it after writing);
the two copies gave the same folder for this case, and this test keeps them one path.
"""

from __future__ import annotations

import json
from pathlib import Path

from copilot.agent.session import Session
from copilot.llm.providers import LLMSettings
from copilot.segmentation.analysis.pipeline import SegmentSettings
from fixtures.customers import make_customers
from tests.cli_helpers import run_cli


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _untimed(value):
    """``value`` without the timings, which differ from run to run."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def test_the_command_and_the_chat_publish_the_same_run(tmp_path):
    frame = make_customers(300, 3, seed=8).frame
    data = tmp_path / "customers.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "out"
    proc = run_cli("segment", data.resolve(), "--provider", "fake", "--k", 3, "--algorithm",
                   "kmeans", "--id", "customer_id", "--seed", 0, "--out-dir", out)
    assert proc.returncode == 0, proc.stderr

    session = Session(tmp_path / "sess", settings=SegmentSettings(
        id_column="customer_id", k=3, algorithm="kmeans", seed=0),
        llm=LLMSettings(provider="fake"))
    assert session.load(data) is not None
    assert session.segment() is not None
    assert session.write() is not None, session.last_error
    chat = session.session_dir

    assert (out / "assignments.csv").read_bytes() == (chat / "assignments.csv").read_bytes()
    assert _untimed(_json(out / "analysis.json")) == _untimed(_json(chat / "analysis.json"))
    written = _json(out / "writing.json")
    assert [n["name"] for n in written["narratives"]] == [
        n.name for n in session.writing.narratives]
    command_model, chat_model = _json(out / "model" / "bundle.json"), _json(
        chat / "model" / "bundle.json")
    for bundle in (command_model, chat_model):
        bundle.pop("created_at")
    assert command_model == chat_model  # the same names, hence the same model version
    assert (out / "model" / "arrays.npz").read_bytes() == (
        chat / "model" / "arrays.npz").read_bytes()
