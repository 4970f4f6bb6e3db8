"""Smoke test: the real chat app in a real terminal (tmux) with the embedded model.

The README's path: ``segment-copilot chat DATA``, type a goal, get named segments. The test
types into the app with ``send-keys`` and reads the screen with ``capture-pane``; it passes when
the chat announces a name the model wrote ("Segment 2 is named ..." without "(deterministic
draft)"), the first words a user waits for. The rest of the writing pass (k advice, narratives)
is the real-model writing tests' business; waiting for it here doubled this test's time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest

from copilot.cli import demo_data_path
from tests.cli_helpers import cli_command

pytestmark = [pytest.mark.llm, pytest.mark.slow]
SIZE = ("160", "50")
# Load, route the goal, segment and name the first segments: about 2 minutes measured on one
# thread beside the rest of the suite.
NAMES_DEADLINE_S = 600
_ANNOUNCED = re.compile(r"Segment -?\d+ is named (.+)")


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


def _model_names(screen: str) -> list[str]:
    """Names the chat announced as chosen by the model (a draft is announced as such)."""
    rests = [m.group(1) for m in _ANNOUNCED.finditer(screen)]
    # The rest of the screen row may hold a panel beside the chat: cut at its border.
    return [re.split(r"\s{2,}|[▕▏│┃]", rest)[0].strip() for rest in rests
            if "deterministic draft" not in rest]


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
        # The chat panel wraps a long line, so the captured name may be its first words only;
        # the names' form is the writing tests' business.
        _wait_for(lambda: _model_names(_screen(name)), NAMES_DEADLINE_S,
                  "a segment named by the embedded model on screen", name)
        assert "Traceback" not in _screen(name)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
