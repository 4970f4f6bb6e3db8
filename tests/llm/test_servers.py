"""The local test servers, proven through the real client stack (LangChain -> openai -> httpx).

Each fault test pins what LangChain and the openai SDK really do with that fault, because the
product's error handling (copilot.llm.client) relies on exactly these shapes:

- well-formed tool call       -> ``AIMessage.tool_calls == [{"name", "args": dict, "id", ...}]``
- arguments not valid JSON    -> no exception; ``tool_calls == []`` and ``invalid_tool_calls``
                                 holds ``{"name", "args": <raw string>, "error": "... are not valid
                                 JSON. Received JSONDecodeError ..."}``; finish_reason "tool_calls"
- truncated (max_tokens hit)  -> the same ``invalid_tool_calls`` shape, and
                                 ``response_metadata["finish_reason"] == "length"``
- valid JSON, wrong schema    -> accepted as a normal ``tool_calls`` entry: LangChain does not
                                 validate args against the tool's schema; pydantic must
- plain text, no tool call    -> ``tool_calls == []``, ``invalid_tool_calls == []``, text in content
- HTTP 500 / 429 / 401 / 404 / 400 -> langchain_openai re-raises the openai error as its own
                                 subclass (e.g. ``OpenAIAPIError(openai.InternalServerError,
                                 langchain_core.exceptions.ModelAPIError)``), so both
                                 ``except openai.X`` and ``except langchain_core ModelError`` work
- client timeout              -> ``openai.APITimeoutError`` (a subclass of APIConnectionError)
- connection refused / dropped -> ``openai.APIConnectionError`` ("Connection error.")
- 200 with a non-JSON body    -> NOT an openai error: a bare ``ValueError``. With a JSON content
                                 type it is ``json.JSONDecodeError``; with text/html it is
                                 ``ValueError("Unexpected response type from OpenAI-compatible
                                 endpoint...")``. Catch ValueError, not only openai.APIError.
"""

from __future__ import annotations

import json
import socket
import time

import openai
import pytest
from langchain_core.exceptions import ModelError
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field, ValidationError

from tests.llm.servers import (
    LlamaCppServer,
    ScriptedOpenAIServer,
    disconnect,
    free_port,
    garbage,
    http_error,
    invalid_json,
    slow,
    text,
    tool_call,
    truncated,
    wrong_schema,
)


class SegmentName(BaseModel):
    """A name and a one-line description for a customer segment."""

    name: str = Field(max_length=40)
    description: str = Field(max_length=120)


FORCED = {"type": "function", "function": {"name": "SegmentName"}}
GOOD = {"name": "Value Seekers", "description": "Buy often, only on discount."}


def bound(base_url: str, timeout: float = 2, max_retries: int = 0, **kwargs):
    """The product's way of asking: ChatOpenAI with a forced, named tool call."""
    llm = ChatOpenAI(base_url=base_url, api_key="test", model="m", timeout=timeout,
                     max_retries=max_retries, **kwargs)
    return llm.bind_tools([SegmentName], tool_choice=FORCED)


# --- the happy path and what the client sent ---------------------------------------------------


def test_scripted_tool_call_reaches_langchain_and_request_is_recorded():
    with ScriptedOpenAIServer([tool_call("SegmentName", GOOD)]) as srv:
        assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
        msg = bound(srv.base_url).invoke(
            [SystemMessage("You name segments."), HumanMessage("Name segment 3.")])
    assert [tc["name"] for tc in msg.tool_calls] == ["SegmentName"]
    assert SegmentName.model_validate(msg.tool_calls[0]["args"]) == SegmentName(**GOOD)
    assert msg.invalid_tool_calls == []
    assert msg.response_metadata["finish_reason"] == "tool_calls"

    [sent] = srv.requests
    assert sent["model"] == "m"
    assert sent["messages"] == [{"role": "system", "content": "You name segments."},
                                {"role": "user", "content": "Name segment 3."}]
    assert sent["tool_choice"] == FORCED
    [tool] = sent["tools"]
    assert tool["type"] == "function" and tool["function"]["name"] == "SegmentName"
    assert set(tool["function"]["parameters"]["properties"]) == {"name", "description"}
    assert not sent.get("stream")


def test_queue_is_consumed_in_order_then_repeats_the_last_behaviour():
    with ScriptedOpenAIServer([text("one"), text("two")]) as srv:
        llm = ChatOpenAI(base_url=srv.base_url, api_key="test", model="m", timeout=2,
                         max_retries=0)
        assert [llm.invoke("hi").content for _ in range(3)] == ["one", "two", "two"]
        assert srv.pending == 0 and len(srv.requests) == 3
    with ScriptedOpenAIServer([text("first")], default=text("default")) as srv:
        llm = ChatOpenAI(base_url=srv.base_url, api_key="test", model="m", timeout=2,
                         max_retries=0)
        assert [llm.invoke("hi").content for _ in range(2)] == ["first", "default"]


def test_models_endpoint_and_unknown_paths():
    with ScriptedOpenAIServer(model="served-name") as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="test", max_retries=0, timeout=2)
        assert [m.id for m in client.models.list()] == ["served-name"]
        with pytest.raises(openai.NotFoundError):
            client.embeddings.create(model="m", input="x")
    assert [(c.method, c.path) for c in srv.calls] == [("GET", "/v1/models"),
                                                        ("POST", "/v1/embeddings")]


def test_streaming_is_reassembled_by_langchain():
    with ScriptedOpenAIServer([text("Hello there"), tool_call("SegmentName", GOOD)]) as srv:
        llm = ChatOpenAI(base_url=srv.base_url, api_key="test", model="m", timeout=2,
                         max_retries=0, streaming=True)
        assert "".join(str(c.content) for c in llm.stream("hi")) == "Hello there"
        msg = llm.bind_tools([SegmentName], tool_choice=FORCED).invoke("hi")
    assert msg.tool_calls[0]["args"] == GOOD
    assert all(r["stream"] for r in srv.requests)


# --- malformed answers: no exception, LangChain sorts them into tool_calls / invalid_tool_calls --


def test_invalid_json_arguments_become_invalid_tool_calls():
    with ScriptedOpenAIServer([invalid_json("SegmentName")]) as srv:
        msg = bound(srv.base_url).invoke("Name it.")
    assert msg.tool_calls == []
    [bad] = msg.invalid_tool_calls
    assert bad["name"] == "SegmentName"
    assert bad["args"] == '{"name": "Value Seek'  # the raw string, for a re-ask prompt
    assert "are not valid JSON" in bad["error"]
    assert msg.response_metadata["finish_reason"] == "tool_calls"


def test_truncated_arguments_are_invalid_tool_calls_with_finish_reason_length():
    with ScriptedOpenAIServer([truncated("SegmentName", GOOD)]) as srv:
        msg = bound(srv.base_url).invoke("Name it.")
    assert msg.tool_calls == []
    [bad] = msg.invalid_tool_calls
    assert json.dumps(GOOD).startswith(bad["args"]) and bad["args"] != json.dumps(GOOD)
    assert "are not valid JSON" in bad["error"]
    # The only signal that says "raise max_tokens" rather than "re-ask": check it first.
    assert msg.response_metadata["finish_reason"] == "length"


def test_wrong_schema_passes_langchain_and_is_caught_by_pydantic():
    with ScriptedOpenAIServer([wrong_schema("SegmentName", {"title": 3})]) as srv:
        msg = bound(srv.base_url).invoke("Name it.")
    assert msg.invalid_tool_calls == []
    assert msg.tool_calls[0]["args"] == {"title": 3}
    with pytest.raises(ValidationError):
        SegmentName.model_validate(msg.tool_calls[0]["args"])


def test_text_instead_of_the_forced_tool_call():
    with ScriptedOpenAIServer([text("```json\n{}\n```")]) as srv:
        msg = bound(srv.base_url).invoke("Name it.")
    assert msg.tool_calls == [] and msg.invalid_tool_calls == []
    assert msg.content == "```json\n{}\n```"


# --- transport and HTTP faults: exceptions --------------------------------------------------------


def test_slow_server_times_out_quickly_and_shutdown_does_not_wait_for_the_sleeper():
    srv = ScriptedOpenAIServer([slow(5)]).start()
    t0 = time.monotonic()
    with pytest.raises(openai.APITimeoutError) as err:
        bound(srv.base_url, timeout=1).invoke("Name it.")
    waited = time.monotonic() - t0
    assert 0.9 < waited < 2.5
    assert isinstance(err.value, openai.APIConnectionError)  # timeouts are connection errors too
    t0 = time.monotonic()
    srv.stop()  # the handler is still inside its 5 s sleep
    assert time.monotonic() - t0 < 1.0


def test_slow_then_answers_within_the_timeout():
    with ScriptedOpenAIServer([slow(0.2, then=tool_call("SegmentName", GOOD))]) as srv:
        msg = bound(srv.base_url, timeout=2).invoke("Name it.")
    assert msg.tool_calls[0]["args"] == GOOD


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
        (429, openai.RateLimitError),
        (401, openai.AuthenticationError),
        (404, openai.NotFoundError),
        (400, openai.BadRequestError),
    ],
)
def test_http_errors_raise_the_openai_status_classes(status, exc):
    with (ScriptedOpenAIServer([http_error(status, f"scripted {status}")]) as srv,
          pytest.raises(exc) as err):
        bound(srv.base_url).invoke("Name it.")
    assert err.value.status_code == status
    assert err.value.message == f"Error code: {status} - scripted {status}"
    assert isinstance(err.value, ModelError)  # langchain_openai's wrapper subclass


def test_retries_see_the_repeated_fault_then_succeed():
    script = [http_error(500), http_error(429, retry_after=0), tool_call("SegmentName", GOOD)]
    with ScriptedOpenAIServer(script) as srv:
        t0 = time.monotonic()
        msg = bound(srv.base_url, max_retries=2).invoke("Name it.")
        elapsed = time.monotonic() - t0
    assert msg.tool_calls[0]["args"] == GOOD
    assert len(srv.requests) == 3
    assert srv.requests[0]["messages"] == srv.requests[2]["messages"]
    assert elapsed < 5


def test_garbage_body_is_a_plain_value_error_not_an_openai_error():
    with ScriptedOpenAIServer([garbage()]) as srv, pytest.raises(json.JSONDecodeError):
        bound(srv.base_url).invoke("Name it.")
    with (ScriptedOpenAIServer([garbage(content_type="text/html")]) as srv,
          pytest.raises(ValueError, match="Unexpected response type") as err):
        bound(srv.base_url).invoke("Name it.")
    assert not isinstance(err.value, openai.OpenAIError)


def test_dropped_connection_is_a_connection_error():
    with (ScriptedOpenAIServer([disconnect()]) as srv,
          pytest.raises(openai.APIConnectionError) as err):
        bound(srv.base_url).invoke("Name it.")
    assert not isinstance(err.value, openai.APITimeoutError)


def test_connection_refused_on_a_closed_port():
    port = free_port()
    with socket.socket() as probe:  # nothing listens there (the port was just released)
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    t0 = time.monotonic()
    with pytest.raises(openai.APIConnectionError) as err:
        bound(f"http://127.0.0.1:{port}/v1").invoke("Name it.")
    assert not isinstance(err.value, openai.APITimeoutError)
    assert str(err.value) == "Connection error."
    assert time.monotonic() - t0 < 1.5


def test_stopped_server_refuses_connections():
    with ScriptedOpenAIServer([text("x")]) as srv:
        url = srv.base_url
    with pytest.raises(openai.APIConnectionError):
        bound(url).invoke("Name it.")


# --- the real llama.cpp server ------------------------------------------------------------------


def test_llama_cpp_server_reports_an_early_exit_with_its_log(tmp_path):
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] not installed")
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a model" * 100)
    server = LlamaCppServer(bad, log_dir=tmp_path)
    with pytest.raises(RuntimeError, match="Failed to load model from file"):
        server.start()
    assert server.process is None and server.log_path is not None and server.log_path.exists()


@pytest.mark.llm
@pytest.mark.slow
def test_llama_cpp_server_answers_a_forced_tool_call(local_model_path):
    # local_model_path comes from tests/llm/conftest.py; the server extra is checked here.
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] not installed")
    # About 3 s to start and 8 s for this call (212 prompt + ~30 generated tokens) on 2 vCPUs;
    # the generous timeout is for a machine busy with other work, not the expected time.
    with LlamaCppServer(local_model_path, alias="qwen-local") as srv:
        assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
        models = openai.OpenAI(base_url=srv.base_url, api_key="none").models.list()
        assert [m.id for m in models] == ["qwen-local"]
        llm = ChatOpenAI(base_url=srv.base_url, api_key="none", model=srv.model, timeout=180,
                         max_retries=0, temperature=0, max_tokens=120)
        msg = llm.bind_tools([SegmentName], tool_choice=FORCED).invoke(
            "Name this customer segment: buys weekly, mostly on discount, low basket value.")
        process = srv.process
    assert process is not None and process.poll() is not None  # stopped, no orphan
    assert msg.invalid_tool_calls == [], msg.invalid_tool_calls
    [call] = msg.tool_calls
    assert call["name"] == "SegmentName"
    SegmentName.model_validate(call["args"])
