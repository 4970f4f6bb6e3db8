"""SVG snapshots of the main screens at a fixed size (pytest-textual-snapshot).

Update them with ``pytest tests/tui --snapshot-update`` after a deliberate change, and look at
the new SVGs before committing them. They must not depend on the machine or the moment: the
working folder is ``tmp_path`` (paths on screen are relative), nothing shows a time or a
duration, the cursor does not blink, and the memo's data line, which names the table by its
absolute path, is pinned to the file name.
"""

from __future__ import annotations

import pytest

from copilot.agent.agent import Agent
from copilot.agent.session import Session
from tests.tui.conftest import NO_LLM, SETTINGS, SIZE, make_app, scripted_client, send, settle


@pytest.fixture
def analysed(workdir) -> Session:
    """A session after load, goal, a sweep over k=3-6 and a rename, built without the app (as a
    resume is)."""
    session = Session("session", settings=SETTINGS, llm=NO_LLM)
    agent = Agent(session, client=scripted_client())
    for message in ("/load customers.csv", "Reduce churn among new customers", "/sweep 3-6",
                    "/rename 1 Power Users"):
        agent.handle(message)
    assert session.analysis is not None and session.analysis.sweep.k_values == (3, 4, 5, 6)
    a = session.analysis
    session.analysis = a.model_copy(update={"source": {**a.source, "path": "customers.csv"}})
    return session


def steady(pilot) -> None:
    """No blinking cursor: a screenshot would catch it on or off."""
    pilot.app.query_one("#prompt").cursor_blink = False


def test_start_screen(workdir, snap_compare):
    assert snap_compare(make_app(model=False), terminal_size=SIZE, run_before=steady)


def test_segments_after_a_live_conversation(workdir, snap_compare):
    async def converse(pilot):
        steady(pilot)
        await settle(pilot)
        await send(pilot, "Reduce churn among new customers")
        await send(pilot, "/k 3")
        await send(pilot, "/rename 1 Power Users")
        await pilot.press("f3")

    assert snap_compare(make_app(data="customers.csv"), terminal_size=SIZE, run_before=converse)


@pytest.mark.parametrize("key", ["f2", "f4", "f5", "f6"], ids=["data", "sweep", "map", "memo"])
def test_panels_of_an_analysed_session(analysed, snap_compare, key):
    async def open_panel(pilot):
        steady(pilot)
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)

    assert snap_compare(make_app(session=analysed), terminal_size=SIZE, run_before=open_panel)
