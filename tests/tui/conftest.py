"""Helpers for the app tests: a small table in the working folder, sessions, a scripted model.

Every test runs in its own ``tmp_path`` as the working folder, so the table is ``customers.csv``
and the session folder is ``session``: relative paths on screen keep the snapshots the same on
every machine. pytest-asyncio is not installed: the Pilot tests are sync functions that call
``asyncio.run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import textual.constants

from copilot.agent.agent import Agent
from copilot.agent.session import Session
from copilot.llm.client import LLMClient
from copilot.llm.providers import LLMSettings
from copilot.segmentation.analysis.pipeline import SegmentSettings
from copilot.tui.app import CopilotApp
from fixtures.customers import make_customers
from tests.llm.writer_helpers import answer_writer, fake_client

SIZE = (140, 45)
# k-means over k=2..6 on 300 rows: a real sweep in well under a second.
SETTINGS = SegmentSettings(id_column="customer_id", algorithm="kmeans", k_range=(2, 6), seed=0)
NO_LLM = LLMSettings(provider="none")


def _goal(messages, kwargs) -> dict[str, Any]:
    """The router's answer for free text before any segments: the user stated the goal."""
    return {"action": "set_goal"}


def _answer_by_tool(messages, kwargs):
    """A well-behaved model whatever the order of calls (a re-ask shifts a fixed script); a
    schema it does not know gets a non-answer, which the callers turn into their fallback."""
    choice = kwargs.get("tool_choice")
    if isinstance(choice, dict) and choice["function"]["name"] == "ActionChoice":
        return _goal(messages, kwargs)
    return answer_writer(messages, kwargs)


def scripted_client() -> LLMClient:
    client, _model = fake_client([_answer_by_tool] * 400)
    return client


@pytest.fixture(autouse=True)
def _no_animations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps made here run with Textual's animations off (its ``TEXTUAL_ANIMATIONS=none``, read
    when an app is made). The tests check what the app shows, not how it moves there, and the
    animation frames took about 7 of the folder's 72 CPU-seconds, from the engine's thread."""
    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` as the working folder, with ``customers.csv`` (300 rows, 3 planted segments)."""
    monkeypatch.chdir(tmp_path)
    make_customers(300, 3, seed=2).frame.to_csv(tmp_path / "customers.csv", index=False)
    return tmp_path


def make_app(*, data: str | None = None, model: bool = True,
             session: Session | None = None) -> CopilotApp:
    """An app on a new session in ``session`` (relative), with the scripted model or none."""
    session = session or Session("session", settings=SETTINGS, llm=NO_LLM)
    agent = Agent(session, client=scripted_client() if model else None)
    return CopilotApp(session, agent, data=data)


def record_notifications(app: CopilotApp) -> list[tuple[str, str]]:
    """(severity, message) of every notification the app raises from now on."""
    seen: list[tuple[str, str]] = []
    notify = app.notify

    def recording(message, *args, **kwargs):
        seen.append((kwargs.get("severity", "information"), str(message)))
        return notify(message, *args, **kwargs)

    app.notify = recording  # type: ignore[method-assign]
    return seen


async def settle(pilot) -> None:
    """Wait for the running step and for the messages its worker posted."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def send(pilot, text: str) -> None:
    """Type ``text`` in the input, press Enter, and wait until the step is done."""
    prompt = pilot.app.query_one("#prompt")
    prompt.focus()
    prompt.value = text
    await pilot.press("enter")
    await settle(pilot)
