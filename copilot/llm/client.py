"""One structured LLM call with a bounded, validated re-ask, and who wrote what.

``LLMClient.ask`` sends a rendered prompt, forces the answer into a pydantic schema (a named
tool call: grammar-constrained on llama.cpp, function calling elsewhere), validates it, runs
the writer's business checks (grounding, shortlist, uniqueness) and, when anything fails,
re-asks with the error text, at most ``max_reasks`` times. It never raises for model trouble:
the caller gets an ``Answer`` whose ``value`` is None and whose ``failure`` says why, and falls
back to a labelled deterministic draft.

Transport failures (timeout, connection refused, bad key, unknown model) switch the client
off for the rest of the pass: one notice, and no minute-long wait per remaining segment.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from copilot.core import Frozen
from copilot.llm.prompts import RenderedPrompt, load_prompt

Check = Callable[[Any], list[str]]
Status = Literal["first try", "after re-ask", "fallback"]
DRAFT = "deterministic draft"


class Authorship(Frozen):
    """Who wrote a piece of output: the model (provider and name) or the deterministic draft."""

    writer: str  # "provider/model" or "deterministic draft"
    provider: str | None
    model: str | None
    prompt_id: str
    prompt_version: int
    attempts: int  # model calls made for this piece (0 when the model was never asked)
    status: Status
    notice: str | None = None  # one line: why it fell back


@dataclass
class Answer:
    """The outcome of ``LLMClient.ask``: a validated value, or why there is none."""

    value: Any | None
    attempts: int
    failure: str | None = None  # one line, present when value is None
    problems: list[str] = field(default_factory=list)  # the last rejection's reasons
    seconds: float = 0.0

    @property
    def status(self) -> Status:
        if self.value is None:
            return "fallback"
        return "first try" if self.attempts == 1 else "after re-ask"


class LLMClient:
    """A chat model plus the bookkeeping every writer needs.

    Parameters
    ----------
    chat_model
        A LangChain chat model supporting ``bind_tools``; None means "no LLM": every writer
        returns its deterministic draft.
    provider, model
        Recorded in every ``Authorship``.
    max_reasks
        Re-asks after the first answer (so at most ``1 + max_reasks`` calls per piece).
    on_event
        Receives one-line progress messages ("segment 2 of 5: re-asking (name not unique)").
    reask_temperature
        Sampling temperature for re-asks (None: the model's own). First answers are greedy for
        reproducibility; a small model asked again at temperature 0 repeats its rejected answer
        word for word (measured on the embedded model), so re-asks sample, with a fixed seed.
        Left None for hosted OpenAI models, some of which refuse a temperature.
    """

    def __init__(
        self,
        chat_model: Any | None,
        *,
        provider: str,
        model: str | None,
        max_reasks: int = 2,
        timeout_s: float | None = None,
        on_event: Callable[[str], None] | None = None,
        reask_temperature: float | None = None,
    ) -> None:
        self.chat_model = chat_model
        self.provider = provider
        self.model = model
        self.max_reasks = max_reasks
        self.timeout_s = timeout_s
        self.on_event = on_event or (lambda message: None)
        self.reask_temperature = reask_temperature
        self.down: str | None = None if chat_model is not None else "no LLM provider is configured"
        self.notices: list[str] = []
        self.calls = 0
        # One record per model call: what it was for, its seconds and tokens, and the problems
        # its answer was refused for (empty when it passed). Benchmarks read it.
        self.log: list[dict[str, Any]] = []

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.model}" if self.model else self.provider

    def authorship(self, prompt: RenderedPrompt, answer: Answer) -> Authorship:
        """Record who wrote the piece ``answer`` belongs to."""
        if answer.value is None:
            return Authorship(
                writer=DRAFT,
                provider=self.provider,
                model=self.model,
                prompt_id=prompt.id,
                prompt_version=prompt.version,
                attempts=answer.attempts,
                status="fallback",
                notice=answer.failure,
            )
        return Authorship(
            writer=self.label,
            provider=self.provider,
            model=self.model,
            prompt_id=prompt.id,
            prompt_version=prompt.version,
            attempts=answer.attempts,
            status=answer.status,
        )

    def ask(
        self,
        prompt: RenderedPrompt,
        schema: type[BaseModel],
        check: Check,
        *,
        what: str,
        repair: Callable[[Any], Any] | None = None,
        text: Callable[[str], dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        reasks: int | None = None,
        guide: type[BaseModel] | None = None,
    ) -> Answer:
        """Ask for ``schema``; validate; re-ask with the errors; never raise for model trouble.

        ``repair`` may tidy a schema-valid answer before it is checked (e.g. keep the first four
        sentences of a longer narrative): a fix that needs no judgement costs no model call.

        ``text`` asks for plain text instead of a forced tool call and reads it into the fields
        of ``schema`` (``lambda t: {"narrative": t}``). On the embedded model a JSON grammar
        slows writing by about a third (measured: 17 against 26 tokens a second), which prose
        does not need; the answer is validated and checked the same way. A text cut off at
        ``max_tokens`` is not refused here: ``repair`` keeps its whole sentences.

        ``reasks`` lowers the client's ``max_reasks`` for one piece: a long answer that the
        model rarely fixes on a second re-ask (measured) gets one, then its labelled draft.

        ``guide`` is a stricter schema sent as the tool definition only: a grammar-constrained
        runtime (llama.cpp) generates within it, while the answer is validated against
        ``schema``. A model that ignores the stricter form is judged by the checks, not refused
        for its shape.
        """
        start = time.perf_counter()
        if self.down is not None:
            return Answer(None, 0, failure=f"{what}: {self.down}")
        from langchain_core.messages import HumanMessage, SystemMessage

        base = ([SystemMessage(prompt.system)] if prompt.system else []) + [HumanMessage(prompt.user)]
        messages = list(base)
        bound = self._bound(schema, guide, text, max_tokens)
        problems: list[str] = []
        failure = None
        attempts = 0
        allowed = self.max_reasks if reasks is None else min(reasks, self.max_reasks)
        for attempt in range(1 + allowed):
            attempts = attempt + 1
            self.calls += 1
            call = bound
            if attempt and self.reask_temperature is not None:
                call = bound.bind(temperature=self.reask_temperature, seed=attempt)
            started = time.perf_counter()
            try:
                message = call.invoke(messages)
            except Exception as err:  # noqa: BLE001 - every provider error becomes a notice
                failure, fatal = self._request_failed(err, what, attempts)
                if fatal:
                    break
                problems = [f"the request failed ({failure})"]
                continue
            if message.response_metadata.get("finish_reason") == "timeout":
                failure = f"the model took longer than {self.timeout_s:g} s"
                self.down = failure
                self._notice(f"{self.label} is too slow here ({failure}); the rest is drafted without it.")
                break
            args, value, problems = _read(message, schema, check, text, repair)
            self._log(what, attempts, started, message, problems, args)
            if value is not None and not problems:
                return Answer(value, attempts, seconds=time.perf_counter() - start)
            failure = "its answers failed validation: " + "; ".join(problems)[:300]
            self.on_event(f"{what}: answer {attempts} rejected ({problems[0][:90]})")
            if attempt < allowed:
                messages = base + [HumanMessage(render_reask(problems, text is not None))]
        return Answer(
            None, attempts, failure=f"{what}: {failure}", problems=problems,
            seconds=time.perf_counter() - start,
        )

    def _bound(
        self,
        schema: type[BaseModel],
        guide: type[BaseModel] | None,
        text: Callable[[str], dict[str, Any]] | None,
        max_tokens: int | None,
    ) -> Any:
        """The chat model bound for one piece: a forced tool call, or plain text."""
        tool = (guide or schema).__name__
        limits = {"max_tokens": max_tokens} if max_tokens else {}
        if text is None:
            bound = self.chat_model.bind_tools(
                [guide or schema], tool_choice={"type": "function", "function": {"name": tool}}, **limits
            )
        else:
            bound = self.chat_model.bind(**limits) if limits else self.chat_model
        return bound

    def _request_failed(self, err: Exception, what: str, attempts: int) -> tuple[str, bool]:
        """(what went wrong, whether the model is down for the rest) of a failed request, told
        as a notice (down) or an event (one attempt lost)."""
        kind, fatal = classify_error(err, self.timeout_s)
        if fatal:
            self.down = kind
            self._notice(f"{self.label} stopped answering: {kind}; the rest is drafted without it.")
        else:
            self.on_event(f"{what}: attempt {attempts} failed ({kind})")
        return kind, fatal

    def _log(self, what: str, attempts: int, started: float, message: Any,
             problems: list[str], args: Any) -> None:
        usage = message.response_metadata.get("token_usage") or {}
        self.log.append({"what": what, "attempt": attempts,
                         "seconds": round(time.perf_counter() - started, 2),
                         "prompt_tokens": usage.get("prompt_tokens"),
                         "completion_tokens": usage.get("completion_tokens"),
                         "problems": list(problems),
                         "answer": (args if isinstance(args, str)
                                    else json.dumps(args, ensure_ascii=False))[:400]})

    def _notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)
        self.on_event(text)


def _read(
    message: Any,
    schema: type[BaseModel],
    check: Check,
    text: Callable[[str], dict[str, Any]] | None,
    repair: Callable[[Any], Any] | None,
) -> tuple[Any, Any, list[str]]:
    """(the raw answer, the validated, repaired value or None, its problems) of one reply."""
    args, problems = (parse_answer(message) if text is None
                      else parse_text_answer(message, text))
    value = None
    if not problems:
        try:
            fields = ({k: v for k, v in args.items() if k != "text"}
                      if text is not None and isinstance(args, dict) else args)
            value = schema.model_validate(fields)
        except ValidationError as err:
            problems = describe_validation_error(err)
    if value is not None and repair is not None:
        value = repair(value)
    if value is not None:
        problems = check(value)
    return args, value, problems


def render_reask(problems: list[str], plain: bool = False) -> str:
    """The re-ask message: one line per problem, without the rejected answer.

    Quoting the rejected answer back made the embedded model copy it word for word, re-asks
    at a sampling temperature included (measured: three identical plans in a row); the
    problem lines quote the faulty words, which is what a model needs to fix them.
    """
    lines = "\n".join(f"- {p}" for p in problems[:8])
    return load_prompt("reask_text" if plain else "reask").render(problems=lines).user


_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)


def parse_answer(message: Any) -> tuple[Any, list[str]]:
    """Pull the structured arguments out of a chat message, or say why that is impossible."""
    finish = message.response_metadata.get("finish_reason")
    if finish == "length":
        return _raw(message), ["Your answer was cut off at the length limit; write shorter text."]
    if message.tool_calls:
        return message.tool_calls[0]["args"], []
    if getattr(message, "invalid_tool_calls", None):
        raw = message.invalid_tool_calls[0].get("args") or ""
        return raw, ["Your answer was not valid JSON; return one JSON object with the fields asked."]
    content = message.content if isinstance(message.content, str) else ""
    # Models that ignore tool calling often write the JSON into the text, fenced or bare.
    value = _json_object_in(content)
    if value is not None:
        return value, []
    return content, ["Your answer had no JSON object; return one JSON object with the fields asked."]


def _json_object_in(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text``, fenced (```json) or bare, or None."""
    for candidate in [m.group(1) for m in _FENCE.finditer(text)] + [text.strip()]:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def parse_text_answer(message: Any, read: Callable[[str], dict[str, Any]]) -> tuple[Any, list[str]]:
    """A plain-text answer read into fields (a tool call or a JSON object is taken as is).

    The fields carry the raw text under ``"text"`` too, so a re-ask can quote it.
    """
    if message.tool_calls:
        return message.tool_calls[0]["args"], []
    content = message.content if isinstance(message.content, str) else ""
    raw = content.strip()
    value = _json_object_in(raw)
    if value is not None:
        return value, []
    if not raw.strip('"').strip():
        return content, ["Your answer was empty; write the text asked for."]
    return {**read(raw.strip('"').strip()), "text": raw}, []


def _raw(message: Any) -> Any:
    if message.tool_calls:
        return message.tool_calls[0]["args"]
    if getattr(message, "invalid_tool_calls", None):
        return message.invalid_tool_calls[0].get("args") or ""
    return message.content


def describe_validation_error(err: ValidationError) -> list[str]:
    """Pydantic errors as short sentences a small model can act on."""
    out = []
    for item in err.errors()[:6]:
        where = ".".join(str(p) for p in item["loc"]) or "answer"
        out.append(f"Field '{where}': {item['msg']}.")
    return out


def classify_error(err: BaseException, timeout_s: float | None) -> tuple[str, bool]:
    """One line for a provider error and whether it makes further calls pointless."""
    try:
        import openai
    except ImportError:  # pragma: no cover - openai is a dependency
        openai = None
    name = type(err).__name__
    if openai is not None:
        if isinstance(err, openai.APITimeoutError):
            return f"no answer within {timeout_s:g} s (timeout)" if timeout_s else "timeout", True
        if isinstance(err, openai.APIConnectionError):
            return "could not connect (connection refused or no network)", True
        if isinstance(err, openai.AuthenticationError | openai.PermissionDeniedError):
            return "the API key was refused", True
        if isinstance(err, openai.NotFoundError):
            return "the server does not know this model", True
        if isinstance(err, openai.APIStatusError):
            return f"the server answered HTTP {err.status_code}", err.status_code == 429
    if isinstance(err, TimeoutError):
        return "timeout", True
    if isinstance(err, ConnectionError):
        return "could not connect", True
    if isinstance(err, ValueError | KeyError | TypeError):  # garbage bodies, bad JSON
        return f"an unreadable answer ({name})", False
    return f"an unexpected error ({name}: {str(err)[:80]})", True
