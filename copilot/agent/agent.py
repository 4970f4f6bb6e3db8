"""The agent: a chat message in, tool calls over the session, a reply out.

Two ways to pick tools, one set of tools:

- ``router`` (the embedded model, OpenAI-compatible servers, no model at all): the message is
  routed to one action (``router.route``: slash commands and unambiguous phrasings in code,
  else a schema-constrained intent from the model), that tool runs, and a deterministic planner
  carries on along the standard path (segment, then name, then strategy with a goal) so that
  "use 4 segments" ends with four *named* segments, not a bare refit.
- ``tools`` (capable providers): the model chooses tools itself through LangChain tool calling,
  for a few rounds; its final prose must cite only figures the tools returned or the computed
  facts, or the reply becomes the tools' own (computed) text, labelled.

Every reply's figures come from the engine: tool texts are formatted from results in code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from copilot.agent.answers import computed_answer, question_facts, stance_labels
from copilot.agent.rankings import is_ranking_question, ranking_json
from copilot.agent.router import SLASH_HELP, Routed, route, route_pattern, route_state
from copilot.agent.session import Session
from copilot.agent.tools import ToolResult, call_tool, tool_schemas
from copilot.agent.views import segment_names, strategy_text
from copilot.core import percent
from copilot.llm import (
    LLMClient,
    check_numbers,
    collect_numbers,
    ignorable_names,
    load_prompt,
    text_for_model,
)

Mode = Literal["auto", "router", "tools"]
# Providers whose models choose tools reliably; the rest are routed (see LOCAL_LLM.md: the
# small embedded model never emits a tool call when the choice is left to it).
TOOL_CALLING_PROVIDERS = frozenset({"openai"})
MAX_TOOL_ROUNDS = 6
# After these steps the planner carries on: new or changed segments get named (and planned).
_REFIT = frozenset({"choose_k", "sweep", "set_roles"})
# In single-shot mode these run before the standard path; anything else runs after it.
_SETUP = frozenset({"set_goal", "set_scope", "choose_k", "sweep", "set_roles"})
# A message that asks rather than tells: only these are answered while a step runs.
_ASKS = re.compile(r"\?\s*$|^(?:what|which|who|whom|how|where|tell me|show me|list|give me)\b",
                   re.IGNORECASE)


@dataclass(frozen=True)
class AskResult:
    """The outcome of ``Agent.ask``: the answer text (or the one-sentence failure)."""

    ok: bool
    answer: str
    memo: str | None = None
    ranking: dict[str, Any] | None = None  # a ranking question's answer as data

    def to_json(self, session: Session) -> dict[str, Any]:
        """The ``ask --json`` object; every figure from the analysis, names from the writing."""
        a = session.analysis
        w = session.writing
        narratives = {n.segment: n for n in w.narratives} if w else {}
        stances = stance_labels(a)
        segments = []
        for p in a.profiles:
            n = narratives.get(p.segment)
            segments.append({
                "id": p.segment, "name": n.name if n else f"Segment {p.segment}",
                "size": p.size, "share": p.share,
                "stance": stances.get(p.segment),  # "high value, at risk"; None: not measurable
                "narrative": n.narrative if n else None,
                "written_by": _written_by(n.author) if n else "none",
            })
        return {
            "k": a.choice.k, "algorithm": a.choice.algorithm, "rows": a.n_rows,
            "goal": session.goal, "segments": segments,
            "recommendation": w.recommendation.model_dump(mode="json") if w else None,
            "strategy": w.strategy.model_dump(mode="json") if w and w.strategy else None,
            "memo_path": self.memo, "session_dir": str(session.session_dir),
            "answer": self.answer, "ranking": self.ranking,
            # Who was segmented when it is not everyone: the level, the rows, the sentence.
            "scope": ({"conditions": [{"column": c, "levels": list(lv)}
                                      for c, lv in a.scope.scope.conditions],
                       "rows": a.scope.rows, "of_rows": a.scope.of_rows,
                       "sentence": a.scope.sentence()} if a.scope is not None else None),
            "scope_question": session.scope_note if a.scope is None else None,
            "notices": list(w.notices) if w else [],
        }


def _written_by(author) -> str:
    if author.writer == "user":
        return "user"
    if author.status == "fallback":
        return "deterministic draft"
    return author.writer


class Agent:
    """Drives one ``Session`` from chat messages.

    Parameters
    ----------
    session
        The session the tools act on (its events reach the front end).
    client
        An LLM client to use instead of the session's own (tests inject a scripted one).
    mode
        ``auto`` picks ``tools`` for providers in ``TOOL_CALLING_PROVIDERS``, else ``router``.
    """

    def __init__(self, session: Session, *, client: LLMClient | None = None,
                 mode: Mode = "auto") -> None:
        self.session = session
        self._client = client
        self.mode = mode

    @property
    def client(self) -> LLMClient:
        return self.session.client(self._client)

    def _mode(self) -> Literal["router", "tools"]:
        if self.mode != "auto":
            return self.mode
        return "tools" if self.session.llm.provider in TOOL_CALLING_PROVIDERS else "router"

    # --- entry points -------------------------------------------------------------------------

    def handle(self, message: str) -> str:
        """Answer one user message; the turn and the reply join the conversation."""
        message = message.strip()
        if not message:
            return ""
        self.session.say("user", message)
        reply = self._handle(message)
        self.session.say("assistant", reply)
        return reply

    def answer_now(self, message: str) -> str | None:
        """Answer at once, from the computed table, a question code can answer (a ranking, the
        sizes, a segment's figures, /profile, /why); None for anything else. Only reads the
        session, so the chat calls it while another step runs (the model writing names): the
        answer is about the segments on screen. The turn joins the conversation."""
        s = self.session
        text = message.strip()
        if s.analysis is None or not text:
            return None
        if text.startswith("/"):
            routed = route_pattern(text, s)
            if routed is None or routed.problem or (routed.tool, text.split()[0]) not in (
                    ("profile_segments", "/profile"), ("answer_question", "/why")):
                return None
            question = ("why this k?" if routed.tool == "answer_question" else
                        f"segment {routed.args['segment']}" if "segment" in routed.args
                        else None)
            answer = (computed_answer(s, question) if question is not None
                      else call_tool(s, "profile_segments", {}).text)
        elif _ASKS.search(text):
            answer = computed_answer(s, text)
        else:
            return None
        if answer is None:
            return None
        s.say("user", text)
        s.say("assistant", answer)
        return answer

    def _handle(self, message: str) -> str:
        routed = route_pattern(message, self.session)
        if routed is None and self._mode() == "tools" and self.client.down is None:
            reply = self._tool_loop(message)
            if reply is not None:
                return reply
        if routed is None:
            routed = route(message, self.session, self.client)
        return self.execute(routed)

    def execute(self, routed: Routed) -> str:
        """Run a routed action, then whatever the standard path needs next."""
        if routed.problem:
            return routed.problem
        if routed.tool == "help":
            return SLASH_HELP
        result = call_tool(self.session, routed.tool, routed.args, self._client)
        if not result.ok:
            return result.text
        parts = [result.text]
        follow = self._follow_up(routed.tool)
        if follow:
            parts.append(follow)
        return "\n\n".join(p for p in parts if p)

    def _follow_up(self, tool: str) -> str | None:
        """The planner: after a step, the steps the standard path still needs."""
        s = self.session
        if tool in ("set_goal", "load_data"):
            if s.data_path is None:
                return "Now load a customer table (/load PATH)." if s.goal else None
            if s.goal is None:
                return "What should these segments drive? Type a goal, e.g. reduce churn."
            return self.run_standard_path()
        if tool in _REFIT and s.analysis is not None and s.writing is None:
            return self.run_standard_path(memo=False)
        if tool == "set_scope" and s.data_path is not None and s.analysis is None:
            return self.run_standard_path()  # other customers: segment, name, plan again
        return None

    def _complete(self, initiatives: tuple[str, ...] | None = None) -> tuple[str | None, str | None]:
        """Run the steps the standard path still lacks (segment, name, strategy with a goal),
        each skipped when its result exists. Returns (a failure that ends the path, a failed
        strategy's sentence): the results before a failure stay."""
        s = self.session
        if s.analysis is None and s.segment() is None:
            return s.last_error or "The segmentation failed.", None
        if s.writing is None and s.write(self._client, with_strategy=False) is None:
            return s.last_error or "Naming the segments failed.", None
        if s.goal and s.writing.strategy is None and \
                s.draft_strategy(self._client, initiatives=initiatives) is None:
            return None, s.last_error or "The strategy could not be drafted."
        return None, None

    def run_standard_path(self, *, memo: bool = True) -> str:
        """Segment (if needed), name, draft the strategy with a goal, write the memo; a summary."""
        failure, strategy_note = self._complete()
        if failure:
            return failure
        if strategy_note:
            return summary_text(self.session) + "\n\n" + strategy_note
        files = self.session.export_memo() if memo else None
        text = summary_text(self.session)
        if files is not None:
            text += f"\n\nThe memo is in {files.memo}."
        return text

    def ask(self, prompt: str, *, memo_path: str | None = None,
            initiatives: tuple[str, ...] | None = None) -> AskResult:
        """Single shot: act on ``prompt`` (a goal, a setting, a question), then the whole
        standard path and the memo; the table must be loaded already."""
        s = self.session
        s.say("user", prompt)
        routed = route(prompt, s, self.client)
        if routed.problem and routed.how == "llm":
            routed = Routed("set_goal", {"goal": prompt[:300]}, "default")  # no k: a request
        if routed.problem:
            return AskResult(False, routed.problem)
        before = None
        if s.goal is None and routed.how != "pattern" and routed.tool not in (
                "set_goal", "answer_question", "help"):
            # A single-shot request without --goal ("Find segments to cut churn") carries the
            # goal itself: the strategy needs one, and the prompt is the user's own words.
            s.set_goal(prompt)
        if routed.tool in _SETUP:
            before = call_tool(s, routed.tool, routed.args, self._client)
            if not before.ok:
                return AskResult(False, before.text)
        failure, strategy_note = self._complete(initiatives)
        if failure:
            return AskResult(False, failure)
        files = s.export_memo(memo_path)  # written even without a strategy: the rest stands
        if files is None:
            return AskResult(False, s.last_error or "The memo could not be written.")
        parts = [summary_text(s), *([strategy_note] if strategy_note else [])]
        if s.scope_note:  # who was segmented and how to undo it, or the question
            parts.insert(0, s.scope_note)
        if routed.tool not in _SETUP and routed.tool not in ("help", "export_memo"):
            after = call_tool(s, routed.tool, routed.args, self._client)
            if routed.tool == "answer_question":
                parts.insert(0, after.text)  # a question is answered first, the run follows
            else:
                parts.append(after.text)
        parts.append(f"The memo is in {files.memo}.")
        answer = "\n\n".join(parts)
        s.say("assistant", answer)
        ranking = None
        if routed.tool == "answer_question" and is_ranking_question(prompt):
            ranking = ranking_json(prompt, s.analysis, segment_names(s))
        return AskResult(True, answer, memo=str(files.memo), ranking=ranking)

    # --- tool calling (capable providers) -----------------------------------------------------

    def _tool_loop(self, message: str) -> str | None:
        """Let the model choose tools; None when the model fails (the router takes over)."""
        from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

        client = self.client
        system = load_prompt("agent_system").render(
            state=json.dumps(route_state(self.session), ensure_ascii=False))
        history = []
        for turn in self.session.conversation[-9:-1]:  # the last turns, before this message
            if turn.role in ("user", "assistant"):
                history.append(HumanMessage(turn.text) if turn.role == "user"
                               else _ai(turn.text))
        messages: list[Any] = [SystemMessage(system.system or system.user), *history,
                               HumanMessage(message)]
        model = client.chat_model.bind_tools(tool_schemas())
        results: list[ToolResult] = []
        reply = None
        for _ in range(MAX_TOOL_ROUNDS):
            client.calls += 1
            try:
                ai = model.invoke(messages)
            except Exception as err:  # noqa: BLE001 - any provider failure: route instead
                self.session.report_progress(f"Tool calling failed ({type(err).__name__}); "
                                             "routing the message instead.")
                return None if not results else _computed(results)
            messages.append(ai)
            if not ai.tool_calls:
                reply = str(ai.content or "").strip()
                break
            for call in ai.tool_calls:
                args, refused = paths_from_user(call["name"], call.get("args") or {}, message)
                result = refused or call_tool(self.session, call["name"], args, self._client)
                results.append(result)
                # Aggregates only: the table's strings cleaned, identifiers out (the quality
                # report names example IDs for the user, not for the model).
                messages.append(ToolMessage(text_for_model(result.text, self.session.analysis)
                                            [:4000], tool_call_id=call["id"]))
        if not reply:
            return _computed(results) if results else None
        problems = self._check_reply(reply, results)
        if problems:
            self.session.report_progress("The model's reply cited a figure the tools did not "
                                         f"return ({problems[0][:120]}); showing the computed "
                                         "results instead.")
            return _computed(results) if results else None
        return reply

    def _check_reply(self, reply: str, results: list[ToolResult]) -> list[str]:
        s = self.session
        payload: dict[str, Any] = {"tools": [r.text for r in results]}
        ignore: tuple[str, ...] = ()
        if s.analysis is not None:
            payload["facts"] = question_facts(s)
            ignore = ignorable_names(s.analysis) + tuple(segment_names(s).values())
        return check_numbers(reply, collect_numbers(payload), ignore=ignore)


# Tool arguments that name files: outputs may be dropped (the session folder's default is
# used), inputs may not (there is no default to read).
_OUTPUT_PATHS = {"export_memo": "path", "export_assignments": "path", "assign_customers": "out",
                 "export_crm": "path", "write_glossary": "folder"}
_INPUT_PATHS = {"load_data": "path", "assign_customers": "path", "check_drift": "path",
                "build_features": "path"}


def paths_from_user(tool: str, args: dict[str, Any], message: str
                    ) -> tuple[dict[str, Any], ToolResult | None]:
    """A model's tool call with only the paths the user typed.

    Paths come from the user, never from a model: a path the model chose and the user's
    message does not contain is dropped for an output (the session folder's default is used,
    which never overwrites what the session did not write) and refused for an input."""
    args = dict(args)
    out_key = _OUTPUT_PATHS.get(tool)
    if out_key and args.get(out_key) and str(args[out_key]) not in message:
        args.pop(out_key)
    in_key = _INPUT_PATHS.get(tool)
    if in_key and args.get(in_key) and str(args[in_key]) not in message:
        return args, ToolResult(False, f"The file {str(args[in_key])[:80]!r} was not named by "
                                "the user; ask them for the path.")
    return args, None


def _ai(text: str):
    from langchain_core.messages import AIMessage

    return AIMessage(text)


def _computed(results: list[ToolResult]) -> str:
    return "\n\n".join(r.text for r in results) + "\n(The computed results, shown as they are.)"


def summary_text(session: Session) -> str:
    """The reply after the standard path: segments with names, shares and who wrote them."""
    a = session.analysis
    # A scope is said in the header: these are not all the table's customers.
    within = f" with {a.scope.scope.describe()}" if a.scope is not None else ""
    lines = [f"{a.choice.k} segments of {a.n_rows:,} customers{within} ({a.choice.algorithm}):"]
    shares = {p.segment: p.share for p in a.profiles}
    stances = stance_labels(a)
    for n in session.writing.narratives if session.writing else ():
        label = (" [draft]" if n.author.status == "fallback"
                 else " [yours]" if n.author.writer == "user" else "")
        stance = f", {stances[n.segment]}" if n.segment in stances else ""
        lines.append(f"  {n.segment}. {n.name} ({percent(shares.get(n.segment, 0.0))}{stance})"
                     f"{label}")
    if session.writing is not None:
        rec = session.writing.recommendation
        if (rec.k, rec.algorithm) != (a.choice.k, a.choice.algorithm) \
                and rec.author.status != "fallback":
            lines.append(f"The model would use k={rec.k} ({rec.algorithm}); type /k {rec.k} "
                         "to switch.")
        if session.writing.strategy is not None:
            lines += ["", strategy_text(session)]
        drafted = sum(n.author.status == "fallback" for n in session.writing.narratives)
        if drafted:
            lines.append(f"{drafted} name(s) are deterministic drafts: "
                         f"{session.writing.notices[0] if session.writing.notices else 'the model was unavailable or its answers failed the checks.'}")
    return "\n".join(lines)
