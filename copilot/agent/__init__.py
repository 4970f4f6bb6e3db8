"""The conversation layer: a headless ``Session`` that runs the engine and the writers as steps.

Imports the engine and the LLM layer, never a UI: the TUI and any other front end subscribe to
the session's events instead of calling the engine themselves.
"""

from copilot.agent.agent import Agent
from copilot.agent.answers import stance_labels, with_stance
from copilot.agent.events import Event, EventKind, Message, Role, Subscriber
from copilot.agent.router import SLASH_HELP
from copilot.agent.session import SESSION_FILE, SESSION_VERSION, Session
from copilot.agent.views import profile_text, segment_names

__all__ = [
    "Agent",
    "Event",
    "EventKind",
    "Message",
    "Role",
    "SESSION_FILE",
    "SESSION_VERSION",
    "SLASH_HELP",
    "Session",
    "Subscriber",
    "profile_text",
    "segment_names",
    "stance_labels",
    "with_stance",
]
