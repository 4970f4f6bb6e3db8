"""Shared pieces for the writer tests: a small analysed table and fake answers built from DATA.

The scripted answers read the DATA block of the prompt they receive and write prose from its
figures, the way a well-behaved model would; tests then break one thing at a time.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from copilot.llm.client import LLMClient
from copilot.llm.fake import ScriptedChatModel

DATA_BLOCK = re.compile(r"DATA:\n(\{.*\})\n", re.DOTALL)


def data_of(messages) -> dict[str, Any]:
    """The DATA JSON of the last user message that has one (a re-ask message has none)."""
    text = _prompt_text(messages)
    match = DATA_BLOCK.search(text + "\n")
    assert match, text
    return json.loads(match.group(1))


def _prompt_text(messages) -> str:
    return next(str(m.content) for m in reversed(messages) if "DATA:" in str(m.content))


def fake_client(script: list[Any], max_reasks: int = 2) -> tuple[LLMClient, ScriptedChatModel]:
    model = ScriptedChatModel(script=list(script))
    return LLMClient(model, provider="fake", model="scripted", max_reasks=max_reasks), model


def good_recommendation(messages, kwargs) -> dict[str, Any]:
    data = data_of(messages)
    option = next(o for o in data["options"] if o["option"] == data["engine_pick"])
    return {"option": option["option"],
            "reason": f"It has a stability of {option['stability']} and its smallest segment holds "
                      f"{option['smallest_segment_pct']}% of customers."}


def good_name(messages, kwargs) -> dict[str, Any]:
    """A grounded name and narrative from the segment's first trait and its share."""
    data = data_of(messages)
    trait = data["traits"][0]
    word = "Heavy" if trait["direction"] in ("higher", "more common") else "Light"
    column = re.sub(r"[^A-Za-z]+", " ", trait["column"]).strip().split()[0].title()
    # Candidates, as the schema asks: the writer takes the first one no other segment has.
    names = [f"{word} {column} {noun}" for noun in ("Seekers", "Fans", "Crowd")]
    narrative = (f"These customers make up {data['share_pct']}% of the base. "
                 f"They stand out on {trait['column']}.")
    return {"names": names, "narrative": narrative}


def good_ratings(messages, kwargs) -> dict[str, Any]:
    initiatives = json.loads(re.search(r"Initiatives: (\[.*?\])\n", _prompt_text(messages)).group(1))
    return {"ratings": [{"initiative": item, "fit": 1 + (i % 5), "reason": "Fits their traits."}
                        for i, item in enumerate(initiatives)]}


def good_plan(messages, kwargs) -> dict[str, Any]:
    data = data_of(messages)
    return {
        "actions": [f"Launch {data['initiative']} for this segment.", "Train the support team."],
        "kpis": ["Churn rate", "Feature adoption"],
        "risks": ["Discount fatigue."],
        "hypothesis": f"A {data['experiment']['holdout_pct']}% holdout shows the effect.",
        "primary_metric": "Churn rate",
    }


@cache
def small_analysis(seed: int = 31, rows: int = 700, segments: int = 3):
    """An analysed synthetic table (cached: several test modules share it)."""
    from copilot.segmentation.pipeline import SegmentSettings, run_segmentation
    from fixtures.customers import make_customers

    frame = make_customers(rows, segments, seed=seed).frame
    return run_segmentation(frame, SegmentSettings(seed=0, id_column="customer_id")).analysis
