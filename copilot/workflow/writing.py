"""Naming the segments and drafting the strategy: the writing half of segment-and-write.

The chat's ``write``, ``/strategy`` and ``rename`` and the ``segment``/``demo`` commands call
these, so the names a user gave and the model's names are combined in one place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from copilot.core import InputError
from copilot.llm import (
    Authorship,
    LLMClient,
    Writing,
    display_names,
    draft_strategy,
    name_key,
    write_all,
)
from copilot.segmentation import SegmentAnalysis


@dataclass(frozen=True)
class Renamed:
    """What a rename changed: the writing with the new name, the user's names, and the old."""

    writing: Writing
    user_names: dict[int, str]
    name: str
    old: str


def write_segments(analysis: SegmentAnalysis, client: LLMClient, *, goal: str | None,
                   initiatives: tuple[str, ...] | None = None, with_strategy: bool = True,
                   user_names: dict[int, str] | None = None) -> Writing:
    """Names and narratives, and with a goal (and ``with_strategy``) the strategy; the names a
    user gave (``user_names``) replace the written ones."""
    writing = write_all(analysis, client, goal=goal, initiatives=initiatives,
                        with_strategy=with_strategy)
    return with_user_names(writing, user_names or {})


def add_strategy(analysis: SegmentAnalysis, writing: Writing | None, client: LLMClient, *,
                 goal: str, initiatives: tuple[str, ...] | None = None,
                 user_names: dict[int, str] | None = None) -> Writing:
    """Draft (or redraft) the strategy for the current names and ``goal``; names first when
    nothing is written yet (the strategy is written per named segment)."""
    if writing is None:
        writing = write_all(analysis, client, goal=goal, with_strategy=False)
    start = time.perf_counter()
    strategy = draft_strategy(analysis, writing.narratives, client, goal=goal,
                              initiatives=initiatives)
    seconds = {**writing.seconds, "strategy": round(time.perf_counter() - start, 2)}
    writing = writing.model_copy(update={
        "strategy": strategy, "seconds": seconds, "calls": client.calls,
        "notices": tuple(dict.fromkeys((*writing.notices, *client.notices)))})
    return with_user_names(writing, user_names or {})


def rename_segment(analysis: SegmentAnalysis, writing: Writing | None,
                   user_names: dict[int, str], segment: int, name: str) -> Renamed:
    """Give ``segment`` the user's ``name``: checked (an existing segment, 1 to 40 characters,
    unique), and kept in ``user_names`` across re-writes of the same segments."""
    ids = [p.segment for p in analysis.profiles]
    if segment not in ids:
        raise InputError(f"There is no segment {segment}; the segments are "
                         f"{', '.join(map(str, ids))}.")
    clean = " ".join(str(name).split()).strip(" .\"'")
    if not 1 <= len(clean) <= 40:
        raise InputError("A segment name needs 1 to 40 characters; try a short phrase "
                         "like 'Loyal Power Users'.")
    writing = writing or drafts(analysis)
    others = [n.name for n in writing.narratives if n.segment != segment]
    if any(name_key(clean) == name_key(o) for o in others):
        raise InputError(f"Another segment is already called {clean!r}; choose a "
                         "different name.")
    old = next(n.name for n in writing.narratives if n.segment == segment)
    names = {**user_names, segment: clean}
    return Renamed(writing=with_user_names(writing, names), user_names=names, name=clean, old=old)


def drafts(analysis: SegmentAnalysis) -> Writing:
    """Deterministic names and narratives (no model), so a rename works without an LLM."""
    return write_all(analysis, LLMClient(None, provider="none", model=None))


def with_user_names(writing: Writing, names: dict[int, str]) -> Writing:
    """``writing`` with the user's names in the narratives, opportunities and plans."""
    if not names:
        return writing
    user = Authorship(writer="user", provider=None, model=None, prompt_id="rename",
                      prompt_version=0, attempts=0, status="first try")
    # The narrative keeps its own author: the user named the segment, not the story.
    narratives = tuple(
        n.model_copy(update={"name": names[n.segment], "author": user,
                             "narrative_author": n.story_author}) if n.segment in names
        else n for n in writing.narratives)
    strategy = writing.strategy
    if strategy is not None:
        strategy = strategy.model_copy(update={
            "opportunities": tuple(o.model_copy(update={"name": names.get(o.segment, o.name)})
                                   for o in strategy.opportunities),
            "plans": tuple(p.model_copy(update={"name": names.get(p.segment, p.name)})
                           for p in strategy.plans)})
    return writing.model_copy(update={"narratives": narratives, "strategy": strategy})


def given_names(writing: Writing | None) -> dict[int, str]:
    """The names somebody gave: the writing's (the model's, the user's renames, the labelled
    drafts of a write without a model). What a glossary and the saved model keep."""
    return {n.segment: n.name for n in writing.narratives} if writing is not None else {}


def segment_names(analysis: SegmentAnalysis | None, writing: Writing | None) -> dict[int, str]:
    """Each segment's display name (``copilot.llm.display_names``, the one rule): the given
    name, else the draft from its traits the memo shows too."""
    if analysis is None:
        return {}
    return display_names(analysis, given_names(writing))
