"""Smoke test: the real chat app in a real terminal (tmux) with the embedded model.

The README's path: ``segment-copilot chat DATA``, type a goal, get named segments. The test
types into the app with ``send-keys`` and reads the screen with ``capture-pane``; it passes when
a segment name the model wrote (read back from the autosaved session) is on the screen.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from copilot.cli import demo_data_path
from tests.cli_helpers import cli_command

pytestmark = [pytest.mark.llm, pytest.mark.slow]
SIZE = ("160", "50")
# Load, route the goal, segment and name 5 segments on 2 cores: about 2 minutes measured.
NAMES_DEADLINE_S = 600


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def _screen(name: str) -> str:
    return _tmux("capture-pane", "-p", "-t", name)


def _wait_for(predicate, timeout: float, what: str, name: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(2)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s; the screen:\n{_screen(name)}")


def _model_names(session_dir: Path) -> list[str]:
    path = session_dir / "session.json"
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # not written yet, or being replaced (atomic rename)
        return []
    writing = state.get("writing") or {}
    return [n["name"] for n in writing.get("narratives", ())
            if n["author"]["status"] != "fallback"]


def test_chat_in_tmux_names_segments_with_the_embedded_model(tmp_path):
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (.ci/run installs it)")
    name = f"copilot-smoke-{tmp_path.name}"
    session_dir = tmp_path / "session"
    command = " ".join([*cli_command(), "chat", str(demo_data_path()), "--provider", "local",
                        "--session-dir", str(session_dir)])
    _tmux("new-session", "-d", "-s", name, "-x", SIZE[0], "-y", SIZE[1],
          f"cd {tmp_path} && TERM=xterm-256color {command}")
    try:
        _wait_for(lambda: "drive" in _screen(name), 120, "the greeting after loading", name)
        _tmux("send-keys", "-t", name, "Reduce churn among paying customers", "Enter")
        names = _wait_for(lambda: _model_names(session_dir), NAMES_DEADLINE_S,
                          "naming the segments with the embedded model", name)
        _wait_for(lambda: any(n in _screen(name) for n in names), 30,
                  f"one of the model's names {names} on screen", name)
        screen = _screen(name)
        assert "Traceback" not in screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
