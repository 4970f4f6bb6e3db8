"""What a session tells its subscribers, and what it remembers of the conversation.

Events are fire-and-forget notifications for a front end (a progress line, a result to show, an
error sentence); messages are the conversation itself, kept and saved with the session.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from copilot.core import Frozen

EventKind = Literal["progress", "tool_call", "result", "message", "error"]
Role = Literal["user", "assistant", "tool"]


class Event(Frozen):
    """One notification from a session step.

    ``tool_call`` opens a step, ``progress`` comes from the engine or the LLM client while it
    runs, ``result`` or ``error`` closes it (``error`` text is one sentence for the user);
    ``message`` is a conversation turn added with ``Session.say``.
    """

    kind: EventKind
    text: str
    data: dict[str, Any] = Field(default_factory=dict)


#: A front end's callback; it runs synchronously inside the step that emits.
Subscriber = Callable[[Event], None]


def _now() -> datetime:
    return datetime.now(UTC)


class Message(Frozen):
    """One conversation turn, as saved in ``session.json``."""

    role: Role
    text: str
    timestamp: datetime = Field(default_factory=_now)
