"""ChatLocalLlama: pure helpers (fast) and the real embedded model (marked ``llm``).

Real-model timings on 2 vCPUs: load about 4 s once per module, a forced tool call with a
~50-token answer about 5 s, the rest about 1 s each.
"""

from __future__ import annotations

import sys
import time
from enum import Enum
from typing import Annotated

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field, StringConstraints

from copilot.llm.local_chat import (
    ChatLocalLlama,
    _template_tool_calls,
    _tool_message,
    bounded_ints_as_enums,
    forced_tool,
    grammar_for_schema,
    to_llama_messages,
)
from copilot.llm.local_model import MODEL_NAME


class Channel(str, Enum):
    email = "email"
    sms = "sms"
    push = "push"


class Plan(BaseModel):
    """A marketing plan for one customer segment."""

    name: str = Field(max_length=40, description="a short segment name")
    channel: Channel
    # Bound every string: the grammar then caps it, and a 1.5B model cannot loop inside one.
    actions: list[Annotated[str, StringConstraints(max_length=80)]] = Field(
        min_length=1, max_length=3, description="short actions"
    )
    priority: int = Field(ge=1, le=5)


class Other(BaseModel):
    """Something else."""

    note: str


TOOLS = [convert_to_openai_tool(Plan), convert_to_openai_tool(Other)]
FORCE_PLAN = {"type": "function", "function": {"name": "Plan"}}


# --- pure helpers (no model) --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("tools", "choice", "expected"),
    [
        (TOOLS, FORCE_PLAN, "Plan"),
        (TOOLS, "Other", "Other"),
        (TOOLS[:1], "any", "Plan"),
        (TOOLS[:1], "required", "Plan"),
        (TOOLS, "any", None),  # several tools: nothing to force
        (TOOLS, "auto", None),
        (TOOLS, None, None),
        (None, FORCE_PLAN, None),
    ],
)
def test_forced_tool(tools, choice, expected):
    tool = forced_tool(tools, choice)
    assert (tool["function"]["name"] if tool else None) == expected


def test_forced_tool_unknown_name_is_a_programming_error():
    with pytest.raises(ValueError, match="Nope"):
        forced_tool(TOOLS, "Nope")


def test_small_integer_ranges_become_enums_and_keep_property_order():
    schema = TOOLS[0]["function"]["parameters"]
    out = bounded_ints_as_enums(schema)
    assert out["properties"]["priority"]["enum"] == [1, 2, 3, 4, 5]
    assert list(out["properties"]) == ["name", "channel", "actions", "priority"]
    assert "enum" not in schema["properties"]["priority"]  # the input is not mutated
    wide = bounded_ints_as_enums({"type": "integer", "minimum": 0, "maximum": 10_000})
    assert "enum" not in wide
    exclusive = bounded_ints_as_enums({"type": "integer", "exclusiveMinimum": 0, "maximum": 3})
    assert exclusive["enum"] == [1, 2, 3]
    grammar = grammar_for_schema(schema)._grammar
    assert 'priority ::= "1" | "2" | "3" | "4" | "5"' in grammar
    # the grammar emits keys in the schema's order (name first), not sorted
    root = next(line for line in grammar.splitlines() if line.startswith("root ::="))
    assert root.index("name-kv") < root.index("actions-kv")


def test_message_conversion_is_plain_and_deterministic():
    messages = [
        SystemMessage("sys"),
        HumanMessage([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]),
        AIMessage("", tool_calls=[{"name": "Plan", "args": {"x": "é"}, "id": "1"}]),
        ToolMessage("ok", tool_call_id="1"),
        HumanMessage("again"),
    ]
    assert to_llama_messages(messages) == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "ab"},
        {"role": "assistant", "content": '{"x": "é"}'},
        {"role": "tool", "content": "ok"},
        {"role": "user", "content": "again"},
    ]


def test_tool_message_valid_and_invalid():
    ok = _tool_message("Plan", '{"a": 1}', "stop", {"finish_reason": "stop"},
                       {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2})
    assert ok.tool_calls[0]["args"] == {"a": 1} and ok.tool_calls[0]["id"].startswith("call_")
    cut = _tool_message("Plan", '{"a": ', "length", {"finish_reason": "length"},
                        {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2})
    assert cut.tool_calls == [] and cut.content == '{"a": '
    assert cut.invalid_tool_calls[0]["args"] == '{"a": ' and "cut off" in cut.invalid_tool_calls[0]["error"]
    not_obj = _tool_message("Plan", "[1]", "stop", {}, {"input_tokens": 0, "output_tokens": 0,
                                                        "total_tokens": 0})
    assert not_obj.invalid_tool_calls and not not_obj.tool_calls


def test_template_tool_calls_are_parsed_from_qwen_markup():
    text = '<tool_call>\n{"name": "Other", "arguments": {"note": "hi"}}\n</tool_call>'
    calls = _template_tool_calls(text, TOOLS)
    assert [(c["name"], c["args"]) for c in calls] == [("Other", {"note": "hi"})]
    assert _template_tool_calls(text, None) == []
    assert _template_tool_calls(text.replace("Other", "Unknown"), TOOLS) == []


# --- the real embedded model --------------------------------------------------------------------

MESSAGES = [
    SystemMessage("You are a marketing analyst. Answer with the requested JSON only."),
    HumanMessage("Segment: young urban customers who buy often on mobile, small baskets. "
                 "Propose a plan."),
]


@pytest.fixture(scope="module")
def chat(local_model_path):
    """One model load for the module; later ChatLocalLlama instances share it."""
    model = ChatLocalLlama(model_path=str(local_model_path), max_tokens=160)
    start = time.monotonic()
    model.load()
    print(f"model load: {time.monotonic() - start:.1f} s")
    return model


@pytest.mark.llm
def test_forced_tool_call_returns_valid_arguments(chat):
    bound = chat.bind_tools([Plan], tool_choice=FORCE_PLAN)
    message = bound.invoke(MESSAGES)
    meta = message.response_metadata
    print(f"forced tool call: {meta['elapsed_s']} s, {meta['token_usage']}")
    assert meta["finish_reason"] == "stop" and meta["model_name"] == MODEL_NAME
    assert message.invalid_tool_calls == [] and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call["name"] == "Plan" and call["type"] == "tool_call"
    plan = Plan.model_validate(call["args"])  # enum, list bounds and the 1..5 range all hold
    assert 1 <= len(plan.actions) <= 3 and plan.channel in Channel
    assert message.usage_metadata["output_tokens"] > 5
    assert message.usage_metadata["total_tokens"] == (
        message.usage_metadata["input_tokens"] + message.usage_metadata["output_tokens"])


@pytest.mark.llm
def test_plain_answer(chat):
    message = chat.invoke([HumanMessage("What is 2 + 2? Answer with the number only.")])
    assert message.response_metadata["finish_reason"] == "stop"
    assert "4" in message.content and message.tool_calls == []
    assert message.response_metadata["elapsed_s"] > 0


@pytest.mark.llm
def test_length_limit_gives_an_invalid_tool_call_not_an_exception(chat):
    short = ChatLocalLlama(model_path=chat.model_path, max_tokens=5)
    message = short.bind_tools([Plan], tool_choice="Plan").invoke(MESSAGES)
    assert message.response_metadata["finish_reason"] == "length"
    assert message.tool_calls == [] and len(message.invalid_tool_calls) == 1
    bad = message.invalid_tool_calls[0]
    assert bad["name"] == "Plan" and bad["args"].startswith("{") and bad["error"]
    assert message.usage_metadata["output_tokens"] == 5


@pytest.mark.llm
def test_timeout_stops_generation_quickly(chat):
    slow = ChatLocalLlama(model_path=chat.model_path, timeout_s=0.5, max_tokens=400)
    start = time.monotonic()
    message = slow.invoke([HumanMessage("Write a 300-word essay about customer clustering.")])
    elapsed = time.monotonic() - start
    assert message.response_metadata["finish_reason"] == "timeout"
    # The prompt evaluation (~40 tokens, about a second) cannot be interrupted; generation can.
    # Quiet machine: 1-2 s. The margin is for a machine busy with other CPU-bound work.
    assert elapsed < 10, elapsed
    assert message.usage_metadata["output_tokens"] < 40


@pytest.mark.llm
def test_with_structured_output_uses_the_grammar(chat):
    plan = chat.with_structured_output(Plan).invoke(MESSAGES)
    assert isinstance(plan, Plan)


FAKE_LLAMA_CPP = '''
class Llama:
    def __init__(self, model_path, **kwargs):
        self.metadata = {"tokenizer.chat_template": "{{ messages }}"}
        self.closed = False

    def token_eos(self):
        return -1

    def token_bos(self):
        return -1

    def close(self):
        self.closed = True
        print("closed", flush=True)

    def __del__(self):
        if not self.closed:  # the real one fails here once its module globals are gone
            raise TypeError("'NoneType' object is not callable")
'''
FAKE_FORMAT = '''
class Jinja2ChatFormatter:
    def __init__(self, **kwargs):
        pass
'''


def test_a_loaded_model_is_closed_at_exit_without_a_traceback(tmp_path):
    # Left to the garbage collector at interpreter exit, llama_cpp's Llama printed "Exception
    # ignored in Llama.__del__" and a traceback after the suite (and any run that loaded it).
    import subprocess

    from tests.conftest import REPO

    package = tmp_path / "llama_cpp"
    package.mkdir()
    (package / "__init__.py").write_text(FAKE_LLAMA_CPP, encoding="utf-8")
    (package / "llama_chat_format.py").write_text(FAKE_FORMAT, encoding="utf-8")
    (tmp_path / "model.gguf").write_bytes(b"")
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]];"
            "from copilot.llm.local_chat import load_llama; load_llama(sys.argv[3])")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path), str(REPO),
                           str(tmp_path / "model.gguf")],
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["closed"]
    assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr


def test_after_the_exit_handler_no_model_loads_and_a_waiting_call_finds_it_closed(
        monkeypatch, tmp_path):
    # The chat app leaves model calls running on daemon threads when the user quits: one that
    # got its model before the exit handler freed it must not use freed memory, and none may
    # load the 1.3 GB model again while the interpreter shuts down.
    import types

    from copilot.llm import local_chat

    fake = types.ModuleType("llama_cpp")
    exec(FAKE_LLAMA_CPP, fake.__dict__)  # noqa: S102 - the test's own fake module
    formats = types.ModuleType("llama_cpp.llama_chat_format")
    exec(FAKE_FORMAT, formats.__dict__)  # noqa: S102
    monkeypatch.setitem(sys.modules, "llama_cpp", fake)
    monkeypatch.setitem(sys.modules, "llama_cpp.llama_chat_format", formats)
    monkeypatch.setattr(local_chat, "_CACHE", {})
    monkeypatch.setattr(local_chat, "_EXIT", {"registered": True, "closing": False})
    model_file = tmp_path / "model.gguf"
    model_file.write_bytes(b"")
    loaded = local_chat.load_llama(str(model_file))
    local_chat.close_models()
    assert loaded.closed and loaded.llm.closed
    with pytest.raises(local_chat.ModelClosedError):
        local_chat.load_llama(str(model_file))
    chat = ChatLocalLlama(model_path=str(model_file))
    monkeypatch.setattr(local_chat, "load_llama", lambda *args: loaded)
    with pytest.raises(local_chat.ModelClosedError):
        chat.invoke([HumanMessage(content="hello")])
