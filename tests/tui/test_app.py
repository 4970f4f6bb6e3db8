"""The chat app driven through Pilot: a whole conversation, bad input, errors and resume.

Assertions are on the session's state and on what the widgets show.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from rich.console import Console
from rich.text import Text
from textual.widgets import DataTable, Label, ProgressBar, Static, TabbedContent

from copilot.agent.session import Session
from copilot.tui.app import GREETING, CopilotApp
from copilot.tui.charts import CHOSEN_MARK
from copilot.tui.chat import AssistantTurn, ChatPane, TraceLine, UserTurn
from copilot.tui.panels import SegmentMap
from tests.tui.conftest import (
    NO_LLM,
    SETTINGS,
    SIZE,
    make_app,
    record_notifications,
    send,
    settle,
)


def chat_lines(app: CopilotApp) -> list[str]:
    """The chat's turns and trace lines as plain text, in order."""
    out = []
    for widget in app.query_one(ChatPane).log_view.children:
        if isinstance(widget, AssistantTurn):
            out.append(widget.reply)
        elif isinstance(widget, Static):
            out.append(str(widget.content))
    return out


def static_text(app: CopilotApp, selector: str) -> str:
    """What a Static shows (Rich text or table), as plain text."""
    content = app.query_one(selector, Static).content
    if isinstance(content, Text):
        return content.plain
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()


def table_rows(app: CopilotApp) -> list[list[str]]:
    table = app.query_one("#segments-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def open_tab(pilot, tab: str) -> None:
    pilot.app.query_one(TabbedContent).active = tab
    await pilot.pause()


def test_whole_conversation_with_the_scripted_model(workdir):
    """load (DATA) -> goal in plain words -> /sweep -> /k 3 -> /rename -> /memo."""
    app = make_app(data="customers.csv")
    session = app.session

    async def main():
        async with app.run_test(size=SIZE) as pilot:
            notes = record_notifications(app)
            await settle(pilot)
            # load: the table is in, the app asks for the goal, the Data panel shows the roles.
            assert session.data_path == workdir / "customers.csv"
            assert "What should these segments drive?" in chat_lines(app)[-1]
            assert "customer_id" in static_text(app, "#data-columns")
            assert "300 rows" in static_text(app, "#data-summary")

            # the goal in plain words; the standard path runs to the memo.
            await send(pilot, "Reduce churn among new customers")
            assert session.goal == "Reduce churn among new customers"
            assert session.analysis is not None and session.writing is not None
            assert session.writing.strategy is not None
            assert (workdir / "session" / "memo.md").is_file()
            lines = chat_lines(app)
            assert "Reduce churn among new customers" in lines
            assert any(line.startswith("→ segment(") for line in lines)  # tool calls stream in
            assert any(line.startswith("✓ Named") for line in lines)  # and their results
            # each name is a line of its own as soon as it is chosen, before the narratives
            named = [line for line in lines if " is named " in line]
            assert len(named) == len(session.writing.narratives)
            assert all(n.name in " ".join(named) for n in session.writing.narratives)
            assert "The memo is in session/memo.md." in lines[-1]

            # /sweep: a sweep over several k, drawn with the chosen k marked.
            await send(pilot, "/sweep")
            assert len(session.analysis.sweep.k_values) == 5
            await open_tab(pilot, "sweep")
            chart = static_text(app, "#sweep-chart")
            assert CHOSEN_MARK in chart

            # /k 3: three segments, named again; the sweep curve is still shown, k=3 marked.
            await send(pilot, "/k 3")
            assert session.analysis.choice.k == 3
            assert session.writing is not None and len(session.writing.narratives) == 3
            chart = static_text(app, "#sweep-chart")
            k_line, mark_line = chart.splitlines()[-3:-1]
            assert mark_line.index(CHOSEN_MARK) == k_line.index("3")
            assert "then you chose k=3" in static_text(app, "#sweep-title")

            # /rename: the session keeps the user's name; the table and the map show it.
            await send(pilot, "/rename 1 Power Users")
            assert session.user_names == {1: "Power Users"}
            await open_tab(pilot, "segments")
            rows = table_rows(app)
            assert [r[0] for r in rows] == ["0", "1", "2"]
            assert rows[1][1:3] == ["Power Users", "yours"]
            assert {r[2] for r in (rows[0], rows[2])} == {"model"}  # the scripted model's names
            assert lines_with(chat_lines(app), "Segment 1 is now Power Users.")
            await open_tab(pilot, "map")
            assert "Power Users" in static_text(app, "#map-legend")
            assert app.query_one(SegmentMap)._points is not None

            # /memo: written again, with the new name; the preview shows it too.
            memo = workdir / "session" / "memo.md"
            memo.unlink()
            await send(pilot, "/memo")
            assert memo.is_file() and "Power Users" in memo.read_text(encoding="utf-8")
            assert "Wrote the memo to session/memo.md" in chat_lines(app)[-1]
            await open_tab(pilot, "memo")
            assert "Power Users" in app.query_one("#memo-text", Static).content.markup
            assert not [n for n in notes if n[0] == "error"], notes
            assert not app.busy

    asyncio.run(main())


def lines_with(lines: list[str], text: str) -> list[str]:
    return [line for line in lines if text in line]


def test_start_screen_greets_and_keys_switch_panels(workdir):
    app = make_app(model=False)

    async def main():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert chat_lines(app) == [GREETING]
            assert app.session.conversation == []
            assert app.sub_title == "session"
            for key, tab in (("f3", "segments"), ("f4", "sweep"), ("f5", "map"), ("f6", "memo"),
                             ("f2", "data")):
                await pilot.press(key)
                assert app.query_one(TabbedContent).active == tab
            await pilot.press("f1")
            assert "/rename N NAME" in chat_lines(app)[-1]
            await pilot.press("ctrl+l")
            await pilot.pause()
            assert chat_lines(app) == []
            assert app.focused is app.query_one("#prompt")

    asyncio.run(main())


def test_bad_command_gets_one_sentence_and_no_crash(workdir):
    app = make_app(data="customers.csv", model=False)

    async def main():
        async with app.run_test(size=SIZE) as pilot:
            notes = record_notifications(app)
            await settle(pilot)
            await send(pilot, "/k x")
            assert chat_lines(app)[-2:] == ["/k x", "Give one number after /k, for example /k 4."]
            assert app.session.analysis is None and not notes
            await send(pilot, "/frobnicate")
            assert chat_lines(app)[-1] == ("There is no command /frobnicate; type /help for the "
                                           "list.")
            assert app.is_running and not app.busy

    asyncio.run(main())


def test_missing_file_is_an_error_notification(workdir):
    app = make_app(model=False)

    async def main():
        async with app.run_test(size=SIZE) as pilot:
            notes = record_notifications(app)
            await send(pilot, "/load nope.csv")
            errors = [text for severity, text in notes if severity == "error"]
            assert len(errors) == 1 and "nope.csv" in errors[0], notes
            assert app.session.data_path is None
            error_lines = [w for w in app.query(TraceLine) if w.has_class("error")]
            assert len(error_lines) == 1 and "nope.csv" in str(error_lines[0].content)
            assert "nope.csv" in chat_lines(app)[-1]  # the reply says it too
            assert app.is_running and not app.busy

    asyncio.run(main())


def test_an_exception_in_a_step_is_a_notification_not_a_crash(workdir, monkeypatch):
    app = make_app(model=False)
    working = app.agent.handle

    def broken(text: str) -> str:
        raise RuntimeError("the engine fell over")

    monkeypatch.setattr(app.agent, "handle", broken)

    async def main():
        async with app.run_test(size=SIZE) as pilot:
            notes = record_notifications(app)
            await send(pilot, "/sweep")
            assert [s for s, _ in notes] == ["error"]
            assert "RuntimeError: the engine fell over" in notes[0][1]
            assert app.is_running and not app.busy
            # The app still works afterwards. (Not monkeypatch.undo(): it would also undo the
            # workdir's chdir, and the session would save into the repository.)
            app.agent.handle = working
            await send(pilot, "/help")
            assert "/rename N NAME" in chat_lines(app)[-1]

    asyncio.run(main())


def test_a_message_sent_while_busy_is_queued_shown_and_sent_next(workdir, monkeypatch):
    app = make_app(model=False)
    release = __import__("threading").Event()
    handled: list[str] = []

    def slow(text: str) -> str:
        handled.append(text)
        app.session.report_progress("Sweeping k-means, k=3.")  # as the engine reports
        if len(handled) == 1:
            release.wait(10)
        return "done"

    monkeypatch.setattr(app.agent, "handle", slow)

    async def main():
        async with app.run_test(size=SIZE) as pilot:
            notes = record_notifications(app)
            prompt = app.query_one("#prompt")
            prompt.value = "/sweep"
            await pilot.press("enter")
            await pilot.pause()
            assert app.busy
            assert str(app.query_one("#status", Label).content) == "Sweeping k-means, k=3."
            assert app.query_one("#progress", ProgressBar).display
            prompt.value = "/k 4"
            await pilot.press("enter")
            await pilot.pause()
            assert prompt.value == ""  # taken: no second Enter needed
            assert list(app.queued) == ["/k 4"]
            assert any(line.startswith("· Queued: /k 4") for line in chat_lines(app))
            assert "Queued" in notes[-1][1]
            app.session.report_progress("Sweeping k-means, k=4.")
            await pilot.pause()
            assert str(app.query_one("#status", Label).content).endswith("(1 queued)")
            # UI keys still work while the step runs; quitting asks for a second press.
            await pilot.press("f4")
            assert app.query_one(TabbedContent).active == "sweep"
            await pilot.press("ctrl+q")
            await pilot.pause()
            assert app.is_running and "ctrl+q again" in notes[-1][1]
            release.set()
            await settle(pilot)
            await settle(pilot)
            assert handled == ["/sweep", "/k 4"] and not app.busy and not app.queued
            assert not app.query_one("#progress", ProgressBar).display

    asyncio.run(main())


def test_a_ranking_question_is_answered_at_once_while_the_model_writes(workdir, monkeypatch):
    """Code-answerable questions do not wait for a step: the answer is from the table."""
    session = Session("session", settings=SETTINGS, llm=NO_LLM)
    session.load("customers.csv")
    session.segment()
    app = make_app(model=False, session=session)
    release = __import__("threading").Event()
    handled: list[str] = []

    def slow(text: str) -> str:
        handled.append(text)
        release.wait(10)
        return "done"

    monkeypatch.setattr(app.agent, "handle", slow)
    rates = {x.segment: x.value for x in next(v for v in session.analysis.validation
                                               if v.name == "churned").segments
             if x.value is not None}
    top = max(rates, key=rates.get)

    async def main():
        async with app.run_test(size=SIZE) as pilot:
            await send_nowait(pilot, "/names")
            assert app.busy
            await send_nowait(pilot, "which segment churns the most?")
            await send_nowait(pilot, "/profile 0")
            assert not app.queued  # both answered, nothing waits
            lines = chat_lines(app)
            answer = next(line for line in lines if "highest churned rate" in line)
            assert f"(segment {top})" in answer.splitlines()[0]
            assert f"{rates[top]:.0%}" in answer.splitlines()[0]
            from copilot.agent.views import profile_text
            first = profile_text(session, 0).splitlines()[0]
            assert any(line.startswith(first) for line in lines)
            release.set()
            await settle(pilot)
            assert handled == ["/names"]

    asyncio.run(main())


async def send_nowait(pilot, text: str) -> None:
    prompt = pilot.app.query_one("#prompt")
    prompt.focus()
    prompt.value = text
    await pilot.press("enter")
    await pilot.pause()
    await pilot.pause()


def test_resume_shows_the_saved_conversation_and_results(workdir):
    first = make_app(data="customers.csv", model=False)

    async def build():
        async with first.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await send(pilot, "/goal reduce churn")
            await send(pilot, "/rename 1 Night Owls")

    asyncio.run(build())
    saved = [m.text for m in first.session.conversation]

    session = Session.resume("session", llm=NO_LLM)
    app = make_app(model=False, session=session)

    async def main():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            lines = chat_lines(app)
            assert lines == saved
            assert isinstance(app.query(UserTurn).first(), UserTurn)
            assert len(app.query(AssistantTurn)) == 3
            await open_tab(pilot, "segments")
            assert [r[1] for r in table_rows(app)][1] == "Night Owls"
            await send(pilot, "/k 3")  # the table is read again from its path
            assert app.session.analysis.choice.k == 3
            memo = workdir / "session" / "memo.md"
            memo.unlink()
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert memo.is_file()
            await pilot.press("ctrl+q")  # nothing running: quits at once
            await pilot.pause()
            assert not app.is_running

    asyncio.run(main())


def test_resume_without_segments_reads_the_table_for_the_data_panel(workdir):
    first = make_app(data="customers.csv", model=False)

    async def build():
        async with first.run_test(size=SIZE) as pilot:
            await settle(pilot)

    asyncio.run(build())
    app = make_app(model=False, session=Session.resume("session", llm=NO_LLM))

    async def main():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert "300 rows, 17 columns" in static_text(app, "#data-summary")
            assert not app.busy

    asyncio.run(main())


def test_run_chat_reports_a_missing_session_in_one_sentence(tmp_path, capsys):
    from copilot.tui.run import run_chat

    code = run_chat(None, session_dir=tmp_path / "nothing", resume=True, llm=NO_LLM)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: There is no saved session in") and err.count("\n") == 1


def test_run_chat_builds_the_app_and_returns_its_exit_code(tmp_path, monkeypatch):
    from copilot.tui import run as run_module

    seen = {}

    def fake_run(self):
        seen["app"] = self
        self._return_code = 0

    monkeypatch.setattr(CopilotApp, "run", fake_run)
    code = run_module.run_chat("customers.csv", session_dir=tmp_path / "s", resume=False,
                               llm=NO_LLM)
    app = seen["app"]
    assert code == 0 and app.data == "customers.csv"
    assert app.session.session_dir == Path(tmp_path / "s") and app.agent.session is app.session
