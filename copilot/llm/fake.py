"""A scripted chat model for tests: answers from a queue, records every prompt it was sent.

Each script entry is an ``AIMessage``, a dict of tool arguments (turned into a call of the
tool the caller forced), a string (plain content), an exception (raised, to inject faults) or a
callable ``(messages, kwargs) -> any of those``. When the script runs out it answers with plain
text that holds no JSON, which every writer rejects: tests see the fallback path, never a hang.
The record (``calls``) is how the privacy rule is tested: no prompt may contain a raw row or ID.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

_ids = itertools.count(1)


class ScriptedChatModel(BaseChatModel):
    """Answers from ``script`` in order; ``calls`` records (messages, kwargs) of every call."""

    script: list[Any] = Field(default_factory=list)
    calls: list[tuple[list[BaseMessage], dict[str, Any]]] = Field(default_factory=list)
    model_name: str = "scripted"

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any):
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], tool_choice=tool_choice,
                         **kwargs)

    def prompts(self) -> list[str]:
        """Every message text sent so far, in order."""
        return [str(m.content) for messages, _ in self.calls for m in messages]

    def _generate(self, messages, stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        self.calls.append((list(messages), dict(kwargs)))
        entry = self.script.pop(0) if self.script else "I cannot help with that."
        if callable(entry) and not isinstance(entry, type):
            entry = entry(messages, kwargs)
        if isinstance(entry, BaseException):
            raise entry
        if isinstance(entry, AIMessage):
            message = entry
        elif isinstance(entry, dict):
            message = AIMessage(
                content="",
                tool_calls=[{"name": _forced_tool(kwargs), "args": entry, "id": f"call_{next(_ids)}",
                             "type": "tool_call"}],
                response_metadata={"finish_reason": "tool_calls"},
            )
        else:
            message = AIMessage(content=str(entry), response_metadata={"finish_reason": "stop"})
        return ChatResult(generations=[ChatGeneration(message=message)])


def _forced_tool(kwargs: dict[str, Any]) -> str:
    choice = kwargs.get("tool_choice")
    if isinstance(choice, dict):
        return choice["function"]["name"]
    if isinstance(choice, str) and choice not in ("auto", "any", "required", "none"):
        return choice
    tools = kwargs.get("tools") or [{"function": {"name": "answer"}}]
    return tools[0]["function"]["name"]
