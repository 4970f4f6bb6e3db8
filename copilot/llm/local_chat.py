"""A LangChain chat model running the embedded GGUF model in-process with llama-cpp-python.

Why not ``llama_cpp.Llama.create_chat_completion``: it has no ``stopping_criteria`` parameter,
so a wall-clock timeout cannot be enforced through it. This module does what its chat handler
does (render the GGUF's Jinja chat template, tokenize, add a grammar) and calls
``create_completion`` itself with a deadline criterion.

A forced single tool is answered with a JSON-schema grammar built from the tool's parameters
instead of putting the tool schema into the prompt: the output is guaranteed to be JSON with
the right keys, enums and lengths, and the prompt stays 200-280 tokens shorter. Integer
``minimum``/``maximum`` are not enforced by llama.cpp's schema converter; small ranges are
rewritten into an enum here and everything is validated again upstream anyway.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

# Integer ranges up to this many values become an enum so the grammar enforces the bounds.
MAX_INT_ENUM = 100


class _Loaded:
    """One loaded model with its chat formatter and the lock serializing its use."""

    def __init__(self, llm: Any) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llm = llm
        self.lock = threading.Lock()  # a Llama (its context and KV cache) is not thread-safe
        self.closed = False  # set under ``lock`` by close_models: no call may use it after
        eos_id, bos_id = llm.token_eos(), llm.token_bos()
        self.formatter = Jinja2ChatFormatter(
            template=llm.metadata["tokenizer.chat_template"],
            eos_token=_token_text(llm, eos_id),
            bos_token=_token_text(llm, bos_id),
            stop_token_ids=[eos_id],
        )


def default_threads() -> int:
    """Threads for the embedded model: ``SEGMENT_COPILOT_THREADS``, else 2.

    Two is this machine's core count and llama.cpp's best here; more threads than free cores
    make its threads wait on each other (measured: the suite's two real-model tests side by
    side, 2 threads each on 2 cores, took 604 and 689 s and timed out), so a host running other work, such as the parallel test suite, sets 1.
    """
    raw = os.environ.get("SEGMENT_COPILOT_THREADS", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else 2


_CACHE: dict[tuple[str, int, int], _Loaded] = {}
_CACHE_LOCK = threading.Lock()
_EXIT = {"registered": False, "closing": False}


class ModelClosedError(RuntimeError):
    """The process is exiting and its models are freed: a call still running on a daemon
    thread (the chat app leaves them when the user quits) gets this, never a freed model."""


def _token_text(llm: Any, token: int) -> str:
    return llm.detokenize([token], special=True).decode("utf-8") if token != -1 else ""


def load_llama(model_path: str, n_ctx: int = 4096, n_threads: int = 2, seed: int = 0) -> _Loaded:
    """Load the model once per (path, n_ctx, n_threads) per process: it costs seconds and 1.3 GB."""
    key = (str(Path(model_path).resolve()), n_ctx, n_threads)
    with _CACHE_LOCK:
        if _EXIT["closing"]:
            raise ModelClosedError("the embedded model is closed: the process is exiting")
        if key not in _CACHE:
            from llama_cpp import Llama

            llm = Llama(
                model_path=key[0],
                n_ctx=n_ctx,
                n_threads=n_threads,  # the library default is cpu_count // 2: 1 thread on 2 cores
                use_mmap=False,  # about 0.6 GB less RSS and no slower
                verbose=False,
                seed=seed,
            )
            if "tokenizer.chat_template" not in llm.metadata:
                llm.close()
                raise ValueError(f"{model_path} has no chat template in its GGUF metadata")
            if not _EXIT["registered"]:
                atexit.register(close_models)
                _EXIT["registered"] = True
            _CACHE[key] = _Loaded(llm)
        return _CACHE[key]


def close_models() -> None:
    """Free every loaded model now (registered with ``atexit`` when the first one loads).

    Left to the garbage collector at interpreter exit, a Llama is freed after llama_cpp's own
    module globals are gone, and Python prints "Exception ignored in Llama.__del__" with a
    traceback (TypeError: 'NoneType' object is not callable) on the way out. Exit handlers run
    while the modules are whole. No model loads after this, and a call that was waiting for a
    model's lock finds it closed (``ModelClosedError``) instead of using freed memory."""
    # The exit does not wait for a model still loading or answering (a call ends at its
    # deadline): a model left open only costs the message.
    if not _CACHE_LOCK.acquire(timeout=2.0):
        return
    try:
        _EXIT["closing"] = True
        loaded = list(_CACHE.values())
        _CACHE.clear()
    finally:
        _CACHE_LOCK.release()
    for model in loaded:
        if not model.lock.acquire(timeout=2.0):
            continue
        try:
            model.closed = True
            # One model's failure to close must not keep the others open.
            with contextlib.suppress(Exception):
                model.llm.close()
        finally:
            model.lock.release()


def _text(content: Any) -> str:
    """LangChain content (a string or a list of blocks) as plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def to_llama_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages as chat-template dicts, deterministically.

    Deterministic rendering matters: llama-cpp-python reuses the KV cache for the longest
    common token prefix of consecutive prompts, so a shared system prompt is evaluated once.
    An assistant tool call is rendered as the JSON object it was generated as (this model
    answers forced tools as bare JSON), which also keeps the re-ask prompt a prefix extension.
    """
    out: list[dict[str, Any]] = []
    for msg in messages:
        if isinstance(msg, SystemMessage):
            out.append({"role": "system", "content": _text(msg.content)})
        elif isinstance(msg, HumanMessage):
            out.append({"role": "user", "content": _text(msg.content)})
        elif isinstance(msg, AIMessage):
            text = _text(msg.content)
            if msg.tool_calls and not text:
                text = "\n".join(
                    json.dumps(call["args"], ensure_ascii=False) for call in msg.tool_calls
                )
            out.append({"role": "assistant", "content": text})
        elif isinstance(msg, ToolMessage):
            out.append({"role": "tool", "content": _text(msg.content)})
        elif isinstance(msg, ChatMessage):
            out.append({"role": msg.role, "content": _text(msg.content)})
        else:
            raise TypeError(f"unsupported message type for the local model: {msg.type}")
    return out


def forced_tool(tools: Sequence[Mapping[str, Any]] | None, tool_choice: Any) -> dict | None:
    """The one tool the caller forces, or None (no tools, "auto", "none", or several)."""
    if not tools:
        return None
    by_name = {t["function"]["name"]: t for t in tools}
    name = None
    if isinstance(tool_choice, Mapping):
        name = (tool_choice.get("function") or {}).get("name")
    elif tool_choice in ("any", "required", True) and len(tools) == 1:
        name = tools[0]["function"]["name"]
    elif isinstance(tool_choice, str) and tool_choice not in ("auto", "none", "any", "required"):
        name = tool_choice
    if name is None:
        return None
    if name not in by_name:
        raise ValueError(f"tool_choice names {name!r}, which is not among the bound tools")
    return dict(by_name[name])


def bounded_ints_as_enums(schema: Any) -> Any:
    """Copy of ``schema`` with small bounded integer ranges turned into enums.

    llama.cpp's JSON-schema grammar ignores integer ``minimum``/``maximum`` (it produced
    ``1000000000000000`` for a bounded field); an enum of the allowed values is enforced.
    """
    if isinstance(schema, list):
        return [bounded_ints_as_enums(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: bounded_ints_as_enums(value) for key, value in schema.items()}
    if out.get("type") == "integer" and "enum" not in out:
        low, high = out.get("minimum"), out.get("maximum")
        if isinstance(out.get("exclusiveMinimum"), int | float):
            low = int(out["exclusiveMinimum"]) + 1
        if isinstance(out.get("exclusiveMaximum"), int | float):
            high = int(out["exclusiveMaximum"]) - 1
        if isinstance(low, int | float) and isinstance(high, int | float):
            low, high = int(-(-low // 1)), int(high // 1)
            if 0 < high - low + 1 <= MAX_INT_ENUM:
                out["enum"] = list(range(low, high + 1))
    return out


@lru_cache(maxsize=64)
def _grammar(schema_json: str) -> Any:
    """A grammar per schema, built once: a LlamaGrammar only holds the GBNF text."""
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    try:
        return LlamaGrammar.from_json_schema(schema_json, verbose=False)
    except Exception:  # noqa: BLE001 - an unsupported schema still gets valid JSON, like llama_cpp
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)


def grammar_for_schema(schema: Mapping[str, Any]) -> Any:
    # No sort_keys: the grammar emits properties in schema order, and the order is part of the
    # prompt design (e.g. a name before its rationale).
    return _grammar(json.dumps(bounded_ints_as_enums(copy.deepcopy(dict(schema)))))


class ChatLocalLlama(BaseChatModel):
    """The embedded GGUF model as a LangChain chat model, in-process, offline.

    Forced tool calls (``bind_tools(..., tool_choice={"type": "function", "function":
    {"name": N}})``, a bare name, or ``"any"`` with one tool) are grammar-constrained to the
    tool's JSON schema. ``response_metadata["finish_reason"]`` is ``"stop"``, ``"length"``
    (``max_tokens`` reached: a tool call is then an ``invalid_tool_call``) or ``"timeout"``
    (``timeout_s`` passed during generation). The prompt evaluation itself cannot be
    interrupted, so a timeout fires at the first token after the deadline.
    """

    model_path: str
    n_ctx: int = 4096
    n_threads: int = Field(default_factory=default_threads)
    temperature: float = 0.0
    max_tokens: int = 512
    seed: int = 0
    timeout_s: float | None = 120.0
    # Reuse the KV cache for the prompt prefix shared with the previous call (saves seconds per
    # call with a shared system prompt). Greedy output then depends slightly on that history:
    # re-evaluating fewer tokens changes float rounding. False re-evaluates the whole prompt.
    cache_prompt: bool = True

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-local"

    @property
    def model_name(self) -> str:
        """The GGUF file's stem: what outputs record as the model."""
        return Path(self.model_path).stem

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "n_ctx": self.n_ctx,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
        }

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable | BaseTool],
        *,
        tool_choice: dict | str | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools as OpenAI tool dicts; ``tool_choice`` forces one (see the class doc)."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def load(self) -> Any:
        """The shared ``llama_cpp.Llama`` for this model (loaded on first use)."""
        return load_llama(self.model_path, self.n_ctx, self.n_threads, self.seed).llm

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = kwargs.get("tools")
        tool = forced_tool(tools, kwargs.get("tool_choice"))
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        sampling = {"temperature": kwargs.get("temperature", self.temperature),
                    "seed": kwargs.get("seed", self.seed)}
        timeout_s = kwargs.get("timeout_s", self.timeout_s)
        chat = to_llama_messages(messages)

        grammar = None
        if tool is not None:
            grammar = grammar_for_schema(tool["function"].get("parameters") or {"type": "object"})
        elif isinstance(kwargs.get("response_format"), Mapping):
            fmt = kwargs["response_format"]
            if fmt.get("type") == "json_object":
                grammar = grammar_for_schema(fmt.get("schema") or {"type": "object"})

        loaded = load_llama(self.model_path, self.n_ctx, self.n_threads, self.seed)
        start = time.monotonic()
        with loaded.lock:
            if loaded.closed:
                raise ModelClosedError("the embedded model is closed: the process is exiting")
            text, finish, usage = self._complete(
                loaded,
                chat,
                # Unforced tools go into the template (Qwen's tool prompt); forced ones are the
                # grammar's job, which keeps the prompt short.
                tools=tools if tool is None and tools and kwargs.get("tool_choice") != "none"
                else None,
                grammar=grammar,
                stop=stop,
                max_tokens=max_tokens,
                deadline=None if timeout_s is None else start + timeout_s,
                **sampling,
            )
        elapsed = time.monotonic() - start

        metadata = {
            "finish_reason": finish,
            "model_name": self.model_name,
            "token_usage": usage,
            "elapsed_s": round(elapsed, 3),
        }
        usage_metadata = {
            "input_tokens": usage["prompt_tokens"],
            "output_tokens": usage["completion_tokens"],
            "total_tokens": usage["total_tokens"],
        }
        if tool is not None:
            message = _tool_message(tool["function"]["name"], text, finish, metadata,
                                    usage_metadata)
        else:
            message = AIMessage(content=text, tool_calls=_template_tool_calls(text, tools),
                                response_metadata=metadata, usage_metadata=usage_metadata)
        return ChatResult(generations=[ChatGeneration(message=message)],
                          llm_output={"model_name": self.model_name, "token_usage": usage})

    def _complete(
        self,
        loaded: _Loaded,
        chat: list[dict[str, Any]],
        *,
        tools: Any,
        grammar: Any,
        stop: list[str] | None,
        max_tokens: int | None,
        deadline: float | None,
        temperature: float,
        seed: int,
    ) -> tuple[str, str, dict[str, int]]:
        """Render, tokenize and generate, as llama_cpp's chat handler does, plus a deadline."""
        from llama_cpp import StoppingCriteriaList

        llm = loaded.llm
        if not self.cache_prompt:
            llm.reset()  # n_tokens = 0: no prefix match, the whole prompt is evaluated again
        rendered = loaded.formatter(messages=chat, tools=tools)
        prompt = llm.tokenize(rendered.prompt.encode("utf-8"),
                              add_bos=not rendered.added_special, special=True)
        stops = list(stop or [])
        if rendered.stop:
            stops += rendered.stop if isinstance(rendered.stop, list) else [rendered.stop]

        timed_out = False

        def past_deadline(_tokens: Any, _logits: Any) -> bool:
            nonlocal timed_out
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
            return timed_out

        criteria = StoppingCriteriaList([past_deadline])
        if rendered.stopping_criteria is not None:
            criteria.extend(rendered.stopping_criteria)  # the template's end-of-turn token

        result = llm.create_completion(
            prompt=prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            # create_chat_completion's defaults, so answers match the documented measurements
            top_p=0.95,
            top_k=40,
            min_p=0.05,
            repeat_penalty=1.0,
            stop=stops,
            seed=seed,
            stopping_criteria=criteria,
            grammar=grammar,
        )
        choice = result["choices"][0]
        # llama_cpp reports a stopping criterion as "stop"; only ours means "timeout". A deadline
        # that passes right after the last token also counts: the caller waited that long.
        finish = "timeout" if timed_out else (choice.get("finish_reason") or "stop")
        usage = dict(result.get("usage") or {})
        usage.setdefault("prompt_tokens", len(prompt))
        usage.setdefault("completion_tokens", 0)
        usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
        return choice["text"], finish, usage


_TOOL_CALL = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.DOTALL)


def _template_tool_calls(text: str, tools: Sequence[Mapping[str, Any]] | None) -> list[dict]:
    """Tool calls the model wrote in Qwen's ``<tool_call>{"name":..,"arguments":..}`` form.

    Only for unforced tools; this model rarely does it (it tends to answer in a ```json
    block instead, which callers parse from the content).
    """
    if not tools or "<tool_call>" not in text:
        return []
    names = {t["function"]["name"] for t in tools}
    calls = []
    for match in _TOOL_CALL.finditer(text):
        try:
            call = json.loads(match.group(1))
        except ValueError:
            continue
        if isinstance(call, dict) and call.get("name") in names:
            args = call.get("arguments")
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except ValueError:
                    continue
            if isinstance(args, dict):
                calls.append({"name": call["name"], "args": args, "id": _call_id(),
                              "type": "tool_call"})
    return calls


_CALLS = iter(range(1, 1 << 62))
_CALLS_LOCK = threading.Lock()


def _call_id() -> str:
    with _CALLS_LOCK:
        return f"call_{next(_CALLS)}"


def _tool_message(
    name: str, text: str, finish: str, metadata: dict[str, Any], usage: dict[str, int]
) -> AIMessage:
    """A forced tool's output as a tool call, or an invalid tool call when it is not an object."""
    call_id = _call_id()
    try:
        args = json.loads(text)
        error = None if isinstance(args, dict) else "the answer is JSON but not an object"
    except ValueError as err:
        error = f"the answer is not valid JSON ({err})"
        if finish in ("length", "timeout"):
            error = f"the answer was cut off ({finish}) before the JSON was complete"
    if error is None:
        return AIMessage(
            content="",
            tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}],
            response_metadata=metadata,
            usage_metadata=usage,
        )
    return AIMessage(
        content=text,
        invalid_tool_calls=[{"name": name, "args": text, "id": call_id, "error": error,
                             "type": "invalid_tool_call"}],
        response_metadata=metadata,
        usage_metadata=usage,
    )
