"""``segment-copilot chat``: build the session and the agent, run the app, return an exit code."""

from __future__ import annotations

import sys
from pathlib import Path

from copilot.core import CopilotError
from copilot.llm import LLMSettings


def run_chat(data: str | None, *, session_dir: Path, resume: bool,
             llm: LLMSettings | None, query: str | None = None,
             table: str | None = None) -> int:
    """Open the chat app on a new session in ``session_dir`` (or the saved one with ``resume``).

    ``data`` is loaded through the agent once the app is up, as if typed as ``/load DATA``;
    a database URL (with ``query`` or ``table``) is loaded before the app opens. A
    session that cannot be opened (nothing saved, a corrupt file, a bad LLM configuration) is
    one sentence on stderr and the error's exit code (2 for bad input). ``llm`` None keeps a
    resumed session's saved LLM settings (a new session then resolves them from the
    environment). Returns the app's exit code (0, or 1 if it stopped on an internal error).
    """
    from copilot.agent import Agent, Session
    from copilot.tui.app import CopilotApp

    try:
        session = (Session.resume(session_dir, llm=llm) if resume
                   else Session(session_dir, llm=llm))
    except CopilotError as err:
        sys.stderr.write(f"error: {err}\n")  # the CLI's own form for a CopilotError
        return err.exit_code
    if data is not None and (query or table or "://" in data):
        # A database is read before the app opens, not typed into the chat as /load: the URL
        # holds a password, which must not enter the conversation the session saves.
        if session.load(data, query=query, table=table) is None:
            sys.stderr.write(f"error: {session.last_error}\n")
            return 2
        data = None
    app = CopilotApp(session, Agent(session), data=data)
    app.run()
    return app.return_code or 0
