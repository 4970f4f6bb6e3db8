"""The Textual chat app: the only package that imports textual."""

from copilot.tui.run import run_chat

__all__ = [
    "run_chat",
]
