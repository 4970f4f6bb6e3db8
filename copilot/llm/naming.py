"""Writer 2: a name and a short narrative per segment, one call each, grounded in its profile.

A name must be at most four words, say what the segment values or seeks, be unique and not
claim a trait its profile contradicts; the narrative must cite only figures the prompt held
and use "higher"/"lower" the way the computed signs do. A segment whose answers keep failing
gets a deterministic draft written from its top traits, labelled as such.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from copilot.llm.client import Authorship, LLMClient
from copilot.llm.facts import (
    ignorable_names,
    injected_words,
    repeats_injection,
    segment_facts,
    segment_traits,
)
from copilot.llm.grounding import (
    check_directions,
    check_name,
    check_name_form,
    check_numbers,
    collect_numbers,
)
from copilot.llm.prompts import load_prompt
from copilot.llm.prose import complete_sentences, sentence_count
from copilot.segmentation._base import Frozen
from copilot.segmentation.pipeline import SegmentAnalysis


class SegmentNarrative(Frozen):
    """A segment's name and narrative with who wrote them."""

    segment: int
    name: str
    narrative: str
    author: Authorship


# At most four words of letters: with the local runtime the grammar enforces it while the model
# writes (it wrote six- and nine-word "names" otherwise); other providers are held to it by
# validation and a re-ask.
# The 40-character limit is a name check, not part of the schema, so one long candidate does
# not void the others.
ShortName = Annotated[str, StringConstraints(
    pattern=r"^[A-Za-z][A-Za-z'&-]*( [A-Za-z][A-Za-z'&-]*){0,3}$")]


class NameCandidates(Frozen):
    """The answer schema the model fills: a narrative, then a few candidate names, best first.

    Candidates because a greedy 1.5B model reaches for the same name for every segment ("Tech
    Enthusiasts" for five of seven Telco segments, re-asks included, measured); the first
    candidate that passes the name checks is taken, which costs a few tokens, not a call. The
    narrative comes first so the names summarise it, rather than the narrative listing names.
    """

    narrative: str = Field(min_length=40, max_length=600, description="2 or 3 sentences")
    names: list[ShortName] = Field(min_length=1, max_length=3,
                                   description="3 different names, best first")


class NameAndNarrative(Frozen):
    """A candidate picked and tidied: what the checks judge."""

    name: str
    narrative: str


MAX_SENTENCES = 4
_MAX_NAME_CHARS = 40


def _pick(answer: NameCandidates, name_problems: Callable[[str], list[str]]) -> NameAndNarrative:
    """The first candidate with no name problem (else the first, so its problems are re-asked);
    the narrative cut to its first four complete sentences (small models write one too many)."""
    names = [n.strip() for n in answer.names if n.strip()] or [""]
    name = next((n for n in names if not name_problems(n)), names[0])
    narrative = " ".join(answer.narrative.split())  # one paragraph: line breaks are not content
    return NameAndNarrative(name=name, narrative=complete_sentences(narrative, MAX_SENTENCES))


def name_segments(analysis: SegmentAnalysis, client: LLMClient) -> tuple[SegmentNarrative, ...]:
    """Name every segment, largest first, each name unique across the segments."""
    prompt = load_prompt("name_segment")
    ignore = ignorable_names(analysis)
    injected = injected_words(analysis)
    taken: list[str] = []
    out: list[SegmentNarrative] = []
    segments = [p.segment for p in analysis.profiles]
    for position, segment in enumerate(segments, start=1):
        facts = segment_facts(analysis, segment)
        # The rule is long and adds little to a name; the draft still quotes it.
        shown = {key: value for key, value in facts.items() if key not in ("rule", "segment")}
        # What stands out, in words: without it the embedded model named five of seven Telco
        # segments "Tech Enthusiasts"; with it names follow each segment's own top traits.
        shown = {"stands_out": _trait_names(analysis, segment)[:2], **shown}
        traits = segment_traits(analysis, segment)
        numbers = collect_numbers(shown)
        # Names already taken are not listed up front: the small model copies names it is shown
        # (measured). A clash is caught by the check and named in the re-ask instead.
        rendered = prompt.render(facts=shown)

        def name_problems(name: str, traits=traits, taken=tuple(taken)) -> list[str]:
            problems = check_name_form(name, taken) + check_name(name, traits)
            if len(name) > _MAX_NAME_CHARS:
                problems.append(f"The name is longer than {_MAX_NAME_CHARS} characters.")
            return problems + repeats_injection(name, injected)

        def check(answer: Any, traits=traits, numbers=numbers, name_problems=name_problems) -> list[str]:
            problems = name_problems(answer.name)
            problems += check_numbers(answer.narrative, numbers, ignore=ignore)
            problems += check_directions(answer.narrative, traits, ignore=ignore)
            problems += repeats_injection(answer.narrative, injected)
            n = sentence_count(answer.narrative)
            if not 2 <= n <= MAX_SENTENCES:
                problems.append(f"The narrative has {n} sentences; write 2 to {MAX_SENTENCES}.")
            return problems

        client.on_event(f"Naming segment {position} of {len(segments)}")
        answer = client.ask(rendered, NameCandidates, check, what=f"segment {segment} name",
                            repair=lambda a, problems=name_problems: _pick(a, problems))
        author = client.authorship(rendered, answer)
        if answer.value is not None:
            name, narrative = answer.value.name.strip(), answer.value.narrative.strip()
        else:
            name, narrative = draft_name(analysis, segment, taken), draft_narrative(facts)
        taken.append(name)
        out.append(SegmentNarrative(segment=segment, name=name, narrative=narrative, author=author))
    return tuple(out)


# --- deterministic drafts ----------------------------------------------------------------------

_WORDS = re.compile(r"[A-Za-z]+")


def _humanize(column: str, max_words: int = 3) -> str:
    """``support_tickets_90d`` -> ``Support Tickets``: words only, no digits, title case."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", column)
    words = [w for w in _WORDS.findall(spaced) if len(w) > 1 or w.isupper()]
    return " ".join(w if w.isupper() else w.capitalize() for w in words[:max_words]) or "Mixed"


def _trait_names(analysis: SegmentAnalysis, segment: int) -> list[str]:
    profile = next(p for p in analysis.profiles if p.segment == segment)
    names = []
    for top in profile.top_features:
        if top.level is None:
            names.append(f"{'High' if top.z > 0 else 'Low'} {_humanize(top.name)}")
        else:
            level = _humanize(top.level, 2)
            qualifier = "" if top.z > 0 else "Non-"
            names.append(f"{qualifier}{level} {_humanize(top.name, 2)}".strip())
    return [" ".join(n.split()[:4]) for n in names]


def draft_name(analysis: SegmentAnalysis, segment: int, taken: list[str]) -> str:
    """A unique name from the segment's most distinguishing traits."""
    used = {t.lower() for t in taken}
    names = _trait_names(analysis, segment) or ["Typical Customers"]
    for name in names:
        if name.lower() not in used:
            return name
    if len(names) > 1:  # every single trait is taken: combine the top two, hyphenated
        combined = f"{names[0].replace(' ', '-')} {names[1].replace(' ', '-')}"
        if combined.lower() not in used:
            return combined
    return f"{names[0]} (segment {segment})"


def draft_narrative(facts: dict[str, Any]) -> str:
    """Two to four template sentences from the same facts the model would have seen."""
    parts = [f"{facts['share_pct']}% of customers ({facts['customers']:,})."]
    phrases = []
    for trait in facts["traits"][:3]:
        if "value" in trait:
            phrases.append(
                f"{trait['column']} = {trait['value']} is {trait['direction']}"
                f" ({trait['segment_pct']}% vs {trait['overall_pct']}%)"
            )
        else:
            phrases.append(
                f"{trait['column']} is {trait['direction']}"
                f" (median {trait['segment_median']} vs {trait['overall_median']})"
            )
    if phrases:
        parts.append("Compared with all customers: " + "; ".join(phrases) + ".")
    for outcome in facts["outcomes"][:1]:
        if "segment_rate_pct" in outcome:
            parts.append(
                f"Their {outcome['outcome']} rate is {outcome['segment_rate_pct']}%"
                f" against {outcome['overall_rate_pct']}% overall."
            )
        else:
            parts.append(
                f"Their mean {outcome['outcome']} is {outcome['segment_mean']}"
                f" against {outcome['overall_mean']} overall."
            )
    if facts.get("rule") and len(parts) < 4:
        parts.append(f"Typical rule: {facts['rule']}.")
    return " ".join(parts[:4])
