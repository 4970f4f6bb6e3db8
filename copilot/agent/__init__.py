"""The conversation layer: a headless ``Session`` that runs the engine and the writers as steps.

Imports the engine and the LLM layer, never a UI: the TUI and any other front end subscribe to
the session's events instead of calling the engine themselves.
"""

from copilot.agent.events import Event, EventKind, Message, Role, Subscriber
from copilot.agent.session import SESSION_FILE, SESSION_VERSION, Session

__all__ = [
           "SESSION_FILE",
           "SESSION_VERSION",
           "Event",
           "EventKind",
           "Message",
           "Role",
           "Session",
           "Subscriber",
]
