"""Shared pieces for the writer tests: a small analysed table and fake answers built from prompts.

The scripted answers read the prompt they receive (the shared CONTEXT and the task that follows
it) and write from its figures and phrases, the way a well-behaved model would; tests then
break one thing at a time. ``answer_writer`` answers any writing call, whatever the order.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from copilot.llm.client import LLMClient
from copilot.llm.fake import ScriptedChatModel

CONTEXT_BLOCK = re.compile(r"CONTEXT:\n(\{.*?\})\n\n", re.DOTALL)


def _first_user(messages) -> str:
    return next(str(m.content) for m in messages if m.type == "human" and "CONTEXT:" in str(m.content))


def context_of(messages) -> dict[str, Any]:
    """The shared CONTEXT JSON of a writing prompt."""
    match = CONTEXT_BLOCK.search(_first_user(messages))
    assert match, _first_user(messages)
    return json.loads(match.group(1))


def task_of(messages) -> str:
    """The task that follows CONTEXT in the first user message."""
    text = _first_user(messages)
    return text[CONTEXT_BLOCK.search(text).end():]


def segment_of(messages) -> int:
    return int(re.search(r"Segment (-?\d+)[,:]", task_of(messages)).group(1))


def entry_of(messages) -> dict[str, Any]:
    seg = segment_of(messages)
    return next(e for e in context_of(messages)["segments"] if e["segment"] == seg)


def facts_of(messages) -> list[str]:
    """The segment's facts line of a narrative or plan request, split into its parts."""
    line = re.search(r'Segment -?\d+, named "[^"]*": (.*)', task_of(messages)).group(1)
    return line.split("; ")


def fake_client(script: list[Any], max_reasks: int = 2) -> tuple[LLMClient, ScriptedChatModel]:
    model = ScriptedChatModel(script=list(script))
    return LLMClient(model, provider="fake", model="scripted", max_reasks=max_reasks), model


# --- well-behaved answers ------------------------------------------------------------------

_DIRECTION = re.compile(r"^(higher|lower|mostly|often|rarely|less often)\s+(?:on\s+)?")


def _trait_words(phrase: str) -> tuple[str, str]:
    """("High"/"Low"/"", "Api Calls") from "higher api_calls_30d (highest of 3)"."""
    bare = re.sub(r"\s*\(.*\)$", "", phrase)
    m = _DIRECTION.match(bare)
    lead = m.group(1) if m else ""
    word = {"higher": "High", "lower": "Low"}.get(lead, "")
    rest = bare[m.end():] if m else bare
    no = rest.startswith("without ") or lead in ("rarely", "less often")
    rest = rest.removeprefix("without ").removeprefix("with ")
    words = [w for w in re.split(r"[^A-Za-z]+", re.sub(r"(?<=[a-z])(?=[A-Z])", " ", rest))
             if len(w) > 1 and w.lower() not in ("has", "is")]
    subject = " ".join(w.title() for w in words[:2])
    return ("No" if no else word), subject


def good_name(messages, kwargs) -> dict[str, Any]:
    """Two candidates led by the first fitting word offered (as the prompt and the schema ask),
    then the segment's first trait; without fitting words, the trait alone."""
    entry = entry_of(messages)
    word, subject = _trait_words(entry["stands_out"][0])
    offered = re.search(r"fitting words ([^;.]+)", task_of(messages))
    leads = [w.strip() for w in offered.group(1).split(",")] if offered else []
    if leads:
        rest = " ".join([w for w in f"{word} {subject}".split() if w.lower() not in {x.lower() for x in leads}][:2])
        return {"names": [f"{leads[0]} {rest}", f"{leads[-1]} {rest} Crowd"
                          if leads[-1] != leads[0] else f"{leads[0]} {rest} Fans"]}
    base = f"{word} {subject}".strip()
    return {"names": [f"{base} Crowd", f"{base} Fans"]}


def good_narrative(messages, kwargs) -> str:
    facts = facts_of(messages)
    share = facts[0].split("%")[0]
    trait = next(f for f in facts[1:] if not f.startswith("stance"))
    column = re.sub(r"\s*\(.*\)$", "", trait)
    return f"These customers make up {share}% of the base. They stand out as {column}."


def good_pick(messages, kwargs) -> dict[str, Any]:
    pick = re.search(r"The\s+engine's\s+own\s+pick\s+is\s+(.*?)\.\n", task_of(messages)).group(1)
    return {"option": pick}


def good_reason(messages, kwargs) -> str:
    line = re.search(r'Option "[^"]*": (.*)', task_of(messages)).group(1)
    stability = re.search(r"stability ([\d.]+)", line).group(1)
    smallest = re.search(r"smallest segment ([\d.]+)%", line).group(1)
    return (f"It has a stability of {stability} and its smallest segment holds {smallest}% of "
            "customers.")


def good_fits(messages, kwargs) -> dict[str, Any]:
    task = task_of(messages)
    segments = [e["segment"] for e in context_of(messages)["segments"] if e["segment"] >= 0]
    out = {}
    for n, line in enumerate(re.findall(r"^\d+\. .*$", task, re.MULTILINE), start=1):
        common = re.search(r"common in segments? ([\d, ]+)\)", line)
        listed = [int(x) for x in common.group(1).split(",")] if common else []
        out[f"initiative_{n}"] = (listed or [segments[n % len(segments)]])[: max(1, len(segments) - 1)]
    return out


def good_plan(messages, kwargs) -> str:
    trait = next(f for f in facts_of(messages)[1:] if not f.startswith("stance"))
    subject = re.sub(r"\s*\(.*\)$", "", trait)
    return ("ACTIONS:\n"
            f"- Reach the customers {subject} by email with a tailored offer.\n"
            "- Brief the support team on what these customers ask about.\n"
            "KPIS:\n- Churn rate\n- Take-up of the offer\n"
            "RISKS:\n- The message may not reach everyone in the segment.\n"
            "PRIMARY METRIC: Churn rate\n"
            "HYPOTHESIS: The initiative lowers the churn rate of these customers compared with "
            "the holdout group.")


_BY_TOOL = {"NameChoices": good_name, "RecommendK": good_pick, "InitiativeFits": good_fits}
_BY_TASK = (("Write the narrative", good_narrative), ("Explain to the product manager", good_reason),
            ("Draft the plan", good_plan))


def answer_writer(messages, kwargs):
    """A well-behaved writer whatever the order of calls (a re-ask shifts a fixed script)."""
    choice = kwargs.get("tool_choice")
    if isinstance(choice, dict):
        answer = _BY_TOOL.get(choice["function"]["name"])
        return answer(messages, kwargs) if answer else "I cannot help with that."
    task = task_of(messages)
    for marker, answer in _BY_TASK:
        if marker in task:
            return answer(messages, kwargs)
    return "I cannot help with that."


# The old names, for the agent and app tests' scripted tools.
good_recommendation = good_pick
good_ratings = good_fits


@cache
def small_analysis(seed: int = 31, rows: int = 700, segments: int = 3, k: int | None = None):
    """An analysed synthetic table (cached: several test modules share it); ``k`` fixes the
    number of segments (None: the engine chooses)."""
    from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
    from fixtures.customers import make_customers

    frame = make_customers(rows, segments, seed=seed).frame
    return run_segmentation(frame, SegmentSettings(seed=0, id_column="customer_id", k=k)).analysis
