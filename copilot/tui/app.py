"""The Textual chat app over one ``Session`` and its ``Agent``.

Workers post, handlers change state: every agent step runs in a worker (its blocking part on a
daemon thread, see ``in_daemon_thread``); the session's events reach the app as
``SessionEvent`` messages (``post_message`` is thread-safe), and only the message handlers touch
widgets. One step runs at a time. A message sent meanwhile is answered at once when code can
answer it from the computed table (a ranking, the sizes, a segment's figures); any other is
queued, shown as queued, and sent when the step ends. An exception in a step becomes an error
notification and a red line in the chat, never a crash.
"""

from __future__ import annotations

import asyncio
import shlex
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Header, Input, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from copilot.agent import SLASH_HELP, Agent, Event, Session
from copilot.tui.chat import AssistantTurn, ChatPane
from copilot.tui.panels import (
    DataPanel,
    MapPanel,
    MemoPanel,
    PanelView,
    SegmentsPanel,
    SweepPanel,
)

GREETING = ("Hello. Load a customer table with /load PATH (CSV, TSV, Parquet, Excel or JSON, one "
            "row per customer), then tell me what the segments should drive, e.g. reduce churn. "
            "/help lists the commands; F1 shows them with the keys.")
KEYS_HELP = ("Keys: F2-F6 switch the panels (Data, Segments, Sweep, Map, Memo), ctrl+s writes "
             "the memo, ctrl+l clears the chat view (the conversation is kept), ctrl+q quits. "
             "/clear also clears the chat view.")
PANELS = {"data": DataPanel, "segments": SegmentsPanel, "sweep": SweepPanel, "map": MapPanel,
          "memo": MemoPanel}
AGENT_GROUP = "agent"
T = TypeVar("T")
# Results after which the panels may show something new (others only add a chat line).
_PANEL_STEPS = frozenset({"load", "set_goal", "segment", "write", "draft_strategy", "rename",
                          "configure", "set_reported_columns"})


async def in_daemon_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` in a daemon thread and await its result.

    Textual's thread workers run in the default executor, which ``asyncio.run`` joins on exit:
    quitting during a minutes-long model call would leave a dead screen until it ended. A daemon
    thread is dropped at exit instead; sessions save atomically after each step, so an abandoned
    step loses only itself.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.cancelled():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def run() -> None:
        try:
            result = (True, fn(*args))
        except BaseException as err:  # noqa: BLE001 - handed to the awaiting worker
            result = (False, err)
        try:
            loop.call_soon_threadsafe(settle, *result)
        except RuntimeError:  # the loop is closed: the app has quit
            pass

    threading.Thread(target=run, name="copilot-step", daemon=True).start()
    return await future


class SessionEvent(Message):
    """A session event, posted from the worker thread that emitted it."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class Inspected(Message):
    """Roles and quality of the loaded table, computed by a worker before any segmentation."""

    def __init__(self, roles: Any, quality: Any, error: str | None) -> None:
        super().__init__()
        self.roles, self.quality, self.error = roles, quality, error


class CopilotApp(App[int]):
    """The conversational front end: chat on the left, panels on the right."""

    TITLE = "Segment Copilot"
    CSS = """
    #main { height: 1fr; }
    #left { width: 2fr; min-width: 40; border-right: vkey $panel; }
    #side { width: 3fr; }
    #prompt { margin: 0 1; }
    TabbedContent { height: 1fr; }
    TabPane { padding: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit_app", "Quit", priority=True),
        Binding("f1", "help", "Help"),
        Binding("f2", "tab('data')", "Data"),
        Binding("f3", "tab('segments')", "Segments"),
        Binding("f4", "tab('sweep')", "Sweep"),
        Binding("f5", "tab('map')", "Map"),
        Binding("f6", "tab('memo')", "Memo"),
        Binding("ctrl+s", "write_memo", "Write memo"),
        Binding("ctrl+l", "clear_chat", "Clear chat"),
        Binding("escape", "focus_input", "Input", show=False),
    ]

    def __init__(self, session: Session, agent: Agent, *, data: str | None = None) -> None:
        super().__init__()
        self.session = session
        self.agent = agent
        self.data = data
        self.busy = False
        self._unsubscribe = None
        self._quiet = False  # set on the worker thread while the app inspects for its panels
        self._inspection: tuple[Any, Any, str | None] = (None, None, None)
        self._last_sweep = None
        self._sweep_key: tuple[Any, ...] | None = None
        self._errors_this_step = 0
        self._quit_armed = False
        self.queued: deque[str] = deque()  # messages sent while a step ran, in order

    # --- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield ChatPane(id="chat")
                yield Input(placeholder="A message or a /command (/help lists them)",
                            id="prompt")
            with TabbedContent(id="side", initial="data"):
                with TabPane("Data", id="data"):
                    yield DataPanel(id="data-panel")
                with TabPane("Segments", id="segments"):
                    yield SegmentsPanel(id="segments-panel")
                with TabPane("Sweep", id="sweep"):
                    yield SweepPanel(id="sweep-panel")
                with TabPane("Map", id="map"):
                    yield MapPanel(id="map-panel")
                with TabPane("Memo", id="memo"):
                    yield MemoPanel(id="memo-panel")
        yield Footer()

    @property
    def chat(self) -> ChatPane:
        return self.query_one("#chat", ChatPane)

    def on_mount(self) -> None:
        self.sub_title = str(self.session.session_dir)
        self._unsubscribe = self.session.subscribe(self._forward)
        chat = self.chat
        for message in self.session.conversation:
            chat.add_message(message)
        for notice in self.session.notices:
            self.notify(notice, severity="warning", timeout=8, markup=False)
        if not self.session.conversation and not self.data:
            chat.add(AssistantTurn(GREETING))  # shown, not part of the conversation
        self.refresh_panels()
        self.query_one("#prompt", Input).focus()
        if self.data:
            self.start(f"/load {shlex.quote(self.data)}")
        elif self.session.data_path is not None and self.session.analysis is None:
            self._begin("Reading the table again.")
            self._inspect_worker()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # --- input --------------------------------------------------------------------------------

    @on(Input.Submitted, "#prompt")
    def submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        if text.lower() == "/clear":
            event.input.clear()
            self.action_clear_chat()
            return
        event.input.clear()
        if self.busy and self.agent.answer_now(text) is not None:
            return  # answered from the table at once; the turn reaches the chat as events
        self.start(text)

    def start(self, text: str) -> bool:
        """Send ``text`` to the agent in a worker; while a step runs, queue it (shown in the
        chat and the status line) and return False: it is sent when the step ends."""
        if self.busy:
            self.queued.append(text)
            self.chat.add_trace(f"Queued: {text} (sent when the current step ends; "
                                f"{len(self.queued)} waiting)", "note")
            self.notify(f"Queued until the current step ends: {text}", markup=False)
            return False
        self._begin("Working...")
        self._agent_worker(text)
        return True

    def _begin(self, status: str) -> None:
        self.busy = True
        self._errors_this_step = 0
        self._quit_armed = False
        self.chat.set_busy(True, status)

    # --- workers (no widget access in here) ---------------------------------------------------

    def _forward(self, event: Event) -> None:
        """Session subscriber: runs on whatever thread emits; only posts."""
        if self._quiet:
            return
        try:
            self.post_message(SessionEvent(event))
        except RuntimeError:  # the app has closed its loop: nobody is listening any more
            pass

    @work(exclusive=True, group=AGENT_GROUP, exit_on_error=False)
    async def _agent_worker(self, text: str) -> str:
        return await in_daemon_thread(self._handle, text)

    @work(exclusive=True, group=AGENT_GROUP, exit_on_error=False)
    async def _inspect_worker(self) -> None:
        await in_daemon_thread(self._inspect)

    def _handle(self, text: str) -> str:
        reply = self.agent.handle(text)
        self._inspect()
        return reply

    def _inspect(self) -> None:
        """Roles and quality for the Data panel while there are no segments (they hold them)."""
        s = self.session
        if s.data_path is None or s.analysis is not None:
            return
        self._quiet = True  # the panel's own look is not a step the user asked for
        try:
            roles, quality = s.inspect()
        finally:
            self._quiet = False
        self.post_message(Inspected(roles, quality, None if roles else s.last_error))

    # --- handlers -----------------------------------------------------------------------------

    def on_session_event(self, message: SessionEvent) -> None:
        event, chat = message.event, self.chat
        step = event.data.get("step")
        if event.kind == "message":
            chat.add_message(event)
        elif event.kind == "tool_call":
            chat.add_trace(event.text, "tool_call")
            chat.set_status(self._with_queue(f"Running {step}..."))
        elif event.kind == "result":
            chat.add_trace(event.text, "result")
            if step in _PANEL_STEPS:
                self.refresh_panels()
        elif event.kind == "progress":
            chat.set_status(self._with_queue(event.text))
            if event.data.get("fraction") is not None:
                chat.set_progress(float(event.data["fraction"]))
            if event.data.get("stage") in ("agent", "name"):
                chat.add_trace(event.text, "note")
        elif event.kind == "error":
            self._errors_this_step += 1
            chat.add_trace(event.text, "error")
            self.notify(event.text, title="Error", severity="error", timeout=8, markup=False)

    def _with_queue(self, status: str) -> str:
        return f"{status} ({len(self.queued)} queued)" if self.queued else status

    def on_inspected(self, message: Inspected) -> None:
        self._inspection = (message.roles, message.quality, message.error)
        self.refresh_panels()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != AGENT_GROUP:
            return
        if event.state == WorkerState.ERROR:
            err = event.worker.error
            text = (f"That step stopped on an internal error ({type(err).__name__}: {err}); "
                    "the session keeps everything up to the last finished step.")
            self.chat.add_trace(text, "error")
            if not self._errors_this_step:  # the session's own error event already notified
                self.notify(text, title="Error", severity="error", timeout=10, markup=False)
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.busy = False
            self.chat.set_busy(False)
            self.refresh_panels()
            if self.queued:  # the next message the user sent while this step ran
                self.start(self.queued.popleft())

    def refresh_panels(self) -> None:
        """Redraw what changed; a panel that fails to draw is a notification, not a crash."""
        s = self.session
        if s.analysis is not None:
            self._inspection = (None, None, None)
            self._remember_sweep()
        roles, quality, error = self._inspection
        view = PanelView(s, roles=roles, quality=quality, inspect_error=error,
                         last_sweep=self._last_sweep)
        # Only the visible panel is drawn (the data table and the memo take a while to build);
        # the others catch up when their tab is opened.
        panel = PANELS[self.query_one(TabbedContent).active]
        try:
            self.query_one(panel).show(view)
        except Exception as err:  # noqa: BLE001 - a drawing bug must not take the chat down
            self.notify(f"The {panel.__name__.removesuffix('Panel').lower()} panel could not be "
                        f"drawn ({type(err).__name__}: {err}).", severity="error", markup=False)

    def _remember_sweep(self) -> None:
        """Keep the last sweep over several k, so choosing one k still shows the curve."""
        a = self.session.analysis
        settings = a.settings.model_copy(update={"k": None, "k_range": None})
        key = (self.session.data_path, settings)
        if len(a.sweep.k_values) > 1:
            self._last_sweep, self._sweep_key = a.sweep, key
        elif key != self._sweep_key:
            self._last_sweep = self._sweep_key = None

    @on(TabbedContent.TabActivated)
    def tab_opened(self) -> None:
        self.refresh_panels()

    # --- actions ------------------------------------------------------------------------------

    def action_quit_app(self) -> None:
        """Quit; while a step runs, only on a second press (the step is abandoned)."""
        if self.busy and not self._quit_armed:
            self._quit_armed = True
            self.notify("A step is still running. Press ctrl+q again to quit and abandon it "
                        "(everything saved before it stays).", severity="warning", markup=False)
            return
        self.exit(0)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_help(self) -> None:
        self.chat.add_trace(SLASH_HELP + "\n" + KEYS_HELP, "note")

    def action_write_memo(self) -> None:
        self.start("/memo")

    def action_clear_chat(self) -> None:
        self.chat.clear()

    def action_focus_input(self) -> None:
        self.query_one("#prompt", Input).focus()
