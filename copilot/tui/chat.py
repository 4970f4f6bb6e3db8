"""The chat pane: conversation turns, the steps' trace lines, and the status of the running step."""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, Markdown, ProgressBar, Static

from copilot.agent import Event, Message

READY = "Ready. Type a message or /help."


def reply_markdown(text: str) -> str:
    """The agent's plain-text reply as Markdown that keeps its lines and indentation.

    Replies are formatted in code with single newlines and aligned columns; Markdown would join
    the lines into one paragraph and collapse the spaces. Hard breaks keep the lines and
    no-break spaces keep the indentation (they also stop "  0. Name" from becoming a list).
    """
    paragraphs = re.split(r"\n\s*\n", text.strip())
    out = []
    for para in paragraphs:
        lines = [_keep_spaces(line.rstrip()) for line in para.split("\n")]
        out.append("  \n".join(lines))
    return "\n\n".join(out)


def _keep_spaces(line: str) -> str:
    stripped = line.lstrip(" ")
    indent = len(line) - len(stripped)
    # "1. x" and "- x" would open a list that swallows the following lines; keep them text.
    stripped = re.sub(r"^(\d+)([.)]) ", r"\1\\\2 ", stripped)
    stripped = re.sub(r"^([-+*]) ", r"\\\1 ", stripped)
    stripped = re.sub(r" {2,}", lambda m: "\u00a0" * len(m.group()), stripped)
    return "\u00a0" * indent + stripped


class UserTurn(Static):
    """What the user typed."""

    def __init__(self, text: str) -> None:
        super().__init__(Text(text), classes="turn user")


class AssistantTurn(Markdown):
    """The agent's reply, shown as Markdown."""

    def __init__(self, text: str) -> None:
        super().__init__(reply_markdown(text), classes="turn assistant")
        self.reply = text  # as the agent wrote it


class TraceLine(Static):
    """A dim line for a tool call, a result or a note; red for an error."""

    def __init__(self, text: str, kind: str) -> None:
        mark = {"tool_call": "→ ", "result": "✓ ", "error": "✗ ", "note": "· "}.get(kind, "")
        super().__init__(Text(mark + text), classes=f"trace {kind}")


class ChatPane(Vertical):
    """The conversation (scrolling), a status line with a progress bar for the running step."""

    DEFAULT_CSS = """
    ChatPane { height: 1fr; }
    ChatPane #chat-log { height: 1fr; padding: 0 1; }
    ChatPane .turn { margin: 1 0 0 0; }
    ChatPane .user { color: $text; background: $boost; padding: 0 1; text-style: bold; }
    ChatPane .assistant { padding: 0 1; margin: 1 0 0 0; border-left: thick $accent; }
    ChatPane .assistant > * { margin: 0 0 1 0; }
    ChatPane .assistant > *:last-child { margin: 0; }
    ChatPane .trace { color: $text-muted; padding: 0 1; }
    ChatPane .trace.error { color: $error; text-style: bold; }
    ChatPane #status-row { height: 1; padding: 0 1; }
    ChatPane #status { width: 1fr; color: $text-muted; }
    ChatPane #progress { width: 30; display: none; }
    ChatPane.busy #progress { display: block; }
    ChatPane.busy #status { color: $warning; }
    """

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="chat-log")
        with Horizontal(id="status-row"):
            yield Label(READY, id="status")
            yield ProgressBar(total=1.0, show_eta=False, id="progress")

    @property
    def log_view(self) -> VerticalScroll:
        return self.query_one("#chat-log", VerticalScroll)

    def add(self, widget: Static | Markdown) -> None:
        log = self.log_view
        log.mount(widget)
        log.scroll_end(animate=False)

    def add_message(self, message: Message | Event) -> None:
        """A conversation turn (a saved ``Message`` or a ``message`` event)."""
        role = message.role if isinstance(message, Message) else message.data.get("role")
        if role == "user":
            self.add(UserTurn(message.text))
        elif role == "assistant":
            self.add(AssistantTurn(message.text))
        else:
            self.add(TraceLine(message.text, "note"))

    def add_trace(self, text: str, kind: str) -> None:
        self.add(TraceLine(text, kind))

    def clear(self) -> None:
        self.log_view.remove_children()

    def set_busy(self, busy: bool, text: str | None = None) -> None:
        self.set_class(busy, "busy")
        if busy:
            self.query_one("#progress", ProgressBar).update(total=1.0, progress=0.0)
        self.set_status(text or ("Working..." if busy else READY))

    def set_status(self, text: str) -> None:
        self.query_one("#status", Label).update(Text(text, no_wrap=True, overflow="ellipsis"))

    def set_progress(self, fraction: float) -> None:
        self.query_one("#progress", ProgressBar).update(total=1.0,
                                                       progress=max(0.0, min(1.0, fraction)))
