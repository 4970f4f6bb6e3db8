"""Writer 2: a name and a short narrative per segment, held to the figures and to their meaning.

Two passes over the segments, both on the shared writing context (see ``context``):

1. **Names**, one short call per segment, so every name is on screen within seconds of the
   analysis (each is announced as it is chosen). The model proposes three candidates; the first
   that passes every check is kept. A name must be at most four words, unique, without digits,
   and must not say what the table contradicts: "Discount Saver" for the segment with the least
   discount, "Loyal" for one that churns above average, "Efficient Users" for one at risk,
   "Tech Support Seekers" for one that mostly lacks tech support (``meaning``).
2. **Narratives**, two sentences per segment under its name: who the customers are, then how
   they fare. Every figure must be one the context gave for that segment, every direction word
   must agree with the computed sign, superlatives with the ranks, and an outcome may not be
   written as a wish ("they seek a lower revenue").

A segment whose answers keep failing gets a deterministic draft, labelled as such; the name and
the narrative each record their own author.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field, StringConstraints, create_model

from copilot.core import Frozen
from copilot.llm.client import Authorship, LLMClient
from copilot.llm.context import WritingContext
from copilot.llm.direction_check import check_directions
from copilot.llm.facts import ignorable_names, injected_words, repeats_injection
from copilot.llm.grounding import check_numbers
from copilot.llm.meaning import check_name_meaning, check_name_specific, fitting_words
from copilot.llm.name_checks import check_name, check_name_form
from copilot.llm.narrative_checks import (
    check_bindings,
    check_multipliers,
    check_stance_words,
    check_superlatives,
    check_wishes,
)
from copilot.llm.plan_checks import check_plumbing
from copilot.llm.prose import complete_sentences, sentence_count
from copilot.segmentation import SegmentAnalysis


class SegmentNarrative(Frozen):
    """A segment's name and narrative with who wrote them.

    ``author`` wrote the name; ``narrative_author`` the narrative (None in sessions saved before
    the two were written apart, when ``author`` wrote both).
    """

    segment: int
    name: str
    narrative: str
    author: Authorship
    narrative_author: Authorship | None = None

    @property
    def story_author(self) -> Authorship:
        return self.narrative_author or self.author


# At most four words of letters: with the local runtime the grammar enforces it while the model
# writes (it wrote six- and nine-word "names" otherwise); other providers are held to it by
# validation and a re-ask. The 40-character limit is a name check, not part of the schema, so
# one long candidate does not void the others.
ShortName = Annotated[str, StringConstraints(
    pattern=r"^[A-Za-z][A-Za-z'&-]*( [A-Za-z][A-Za-z'&-]*){0,3}$")]


class NameChoices(Frozen):
    """The answer schema for a name: a few candidates, best first.

    Candidates because a greedy 1.5B model reaches for the same name for every segment ("Tech
    Enthusiasts" for five of seven Telco segments, re-asks included, measured); the first
    candidate that passes the checks is taken, which costs a few tokens, not a call. Each is
    built on a different trait (``anchors``): asked for "3 different names", the model wrote
    the same one three times (measured).
    """

    names: list[ShortName] = Field(min_length=1, max_length=2,
                                   description="2 different names, best first")


# A word of a name: letters, capitals only where a word or a hyphenated part starts
# ("Month-to-Month") or in a short acronym ("API"), so no glued column names
# ("HighDaysSinceLast", measured).
_WORD = r"([A-Z]{2,4}|[A-Za-z][a-z']*(-[A-Za-z][a-z']*)*)"


def name_schema(leads: list[str]) -> type[NameChoices]:
    """``NameChoices`` whose names start with one of ``leads`` and go on for 1-3 words: the
    grammar the embedded model writes names within (answers are validated as ``NameChoices``).

    Told "a fitting word in front, then what stands out", the embedded model wrote the fitting
    word alone, or copied the instructions ("the first built on ...") as a name (measured). The
    pattern makes the structure part of the grammar: the lead is a word the figures support,
    the rest is the model's own. Without leads, any short name.
    """
    if not leads:
        return NameChoices
    # The lexicon's words are letters and hyphens: nothing to escape (and an escaped hyphen is
    # a construct llama.cpp's schema-to-grammar converter need not know).
    alternatives = "|".join(w for w in leads if re.fullmatch(r"[A-Za-z-]+", w))
    if not alternatives:
        return NameChoices
    Led = Annotated[str, StringConstraints(
        pattern=rf"^({alternatives}) {_WORD}( {_WORD}){{0,2}}$")]
    return create_model("NameChoices", __base__=NameChoices, __doc__=NameChoices.__doc__,
                        names=(list[Led], Field(min_length=1, max_length=2)))


class Picked(Frozen):
    """The candidate the checks judge."""

    name: str


class NarrativeAnswer(Frozen):
    narrative: str = Field(min_length=40, max_length=600, description="2 sentences")


# Fitting words that say the stance only: a draft leads with a behaviour when it has one.
_STANCE_FITTING = {"budget", "premium", "at-risk", "loyal", "thrifty", "big-spending", "steady",
                   "churning"}
_SMALL_WORDS = {"of", "and", "with", "without", "on", "the", "for", "in", "to", "a", "an", "no"}
#: What a "segment named" progress event looks like: front ends show each name as it comes.
NAMED_EVENT = re.compile(r"^Segment -?\d+ is named ")
MAX_SENTENCES = 3
MIN_WORDS = 12  # one full sentence is a narrative; a fragment is not
NARRATIVE_TOKENS = 90  # two short sentences are about 50 tokens; a cut tail is trimmed
_MAX_NAME_CHARS = 40


def name_segments(analysis: SegmentAnalysis, client: LLMClient,
                  context: WritingContext | None = None) -> tuple[SegmentNarrative, ...]:
    """Name every segment, then write each one's narrative (largest first, names unique)."""
    context = context or WritingContext(analysis)
    names = choose_names(context, client)
    return write_narratives(context, client, names)


def choose_names(context: WritingContext, client: LLMClient) -> dict[int, tuple[str, Authorship]]:
    """Pass 1: a checked name per segment, announced through ``client.on_event`` when chosen."""
    analysis = context.analysis
    injected = injected_words(analysis)
    taken: list[str] = []
    out: dict[int, tuple[str, Authorship]] = {}
    segments = [p.segment for p in analysis.profiles]
    for position, segment in enumerate(segments, start=1):
        ev = context.evidence(segment)
        leads = offered_words(context, segment)
        rendered = context.render("name_segment", segment=segment, brief=brief(context, segment),
                                  anchors=anchors(context, segment))
        hints = _name_hints(analysis, segment)

        def name_problems(name: str, ev=ev, taken=tuple(taken), hints=hints) -> list[str]:
            problems = check_name_form(name, taken) + check_name(name, ev.traits)
            problems += check_name_meaning(name, ev) + check_name_specific(name, ev, hints)
            if len(name.split()) < 2:
                problems.append(f'"{name}" is one word; use 2 to 4 words.')
            if any(w[0].islower() and w not in _SMALL_WORDS for w in name.split()):
                problems.append(f'"{name}" is not a name: write it in Title Case.')
            if len(name) > _MAX_NAME_CHARS:
                problems.append(f"The name is longer than {_MAX_NAME_CHARS} characters.")
            return list(dict.fromkeys(problems + repeats_injection(name, injected)))

        client.on_event(f"Naming segment {position} of {len(segments)}")
        answer = client.ask(rendered, NameChoices, lambda a, f=name_problems: f(a.name),
                            what=f"segment {segment} name", guide=name_schema(leads),
                            repair=lambda a, f=name_problems: _pick(a, f))
        author = client.authorship(rendered, answer)
        name = (answer.value.name.strip() if answer.value is not None
                else draft_name(analysis, segment, taken, context))
        taken.append(name)
        out[segment] = (name, author)
        client.on_event(f"Segment {segment} is named {name}"
                        + (" (deterministic draft)" if answer.value is None else ""))
    return out


def write_narratives(context: WritingContext, client: LLMClient,
                     names: dict[int, tuple[str, Authorship]]) -> tuple[SegmentNarrative, ...]:
    """Pass 2: each named segment's narrative, checked for figures, directions and meaning."""
    analysis = context.analysis
    ignore = ignorable_names(analysis) + tuple(name for name, _ in names.values())
    injected = injected_words(analysis)
    out = []
    segments = [p.segment for p in analysis.profiles]
    for position, segment in enumerate(segments, start=1):
        name, name_author = names[segment]
        ev = context.evidence(segment)
        numbers = context.segment_numbers(segment)
        rendered = context.render("narrate_segment", segment=segment, name=name,
                                  facts=facts_line(context, segment))

        entry = context.entries[segment]
        phrases = [*entry["stands_out"], *entry.get("outcomes", [])]
        given = [entry["share_pct"]]

        def check(answer: Any, ev=ev, numbers=numbers, phrases=phrases, given=given) -> list[str]:
            text = answer.narrative
            problems = check_numbers(text, numbers, ignore=ignore)
            problems += check_bindings(text, ev, phrases, others=given)
            problems += check_directions(text, ev.traits, ignore=ignore)
            problems += check_wishes(text, ev) + check_stance_words(text, ev)
            problems += check_superlatives(text, ev) + check_multipliers(text, ev)
            problems += repeats_injection(text, injected) + check_plumbing(text)
            n = sentence_count(text)
            if n < 1 or n > MAX_SENTENCES or len(text.split()) < MIN_WORDS:
                problems.append(f"The narrative has {n} sentences; write 2 short sentences.")
            return problems

        client.on_event(f"Writing the narrative of segment {position} of {len(segments)}")
        # Plain text, not a JSON tool call: prose needs no grammar, which costs a third of
        # the writing speed on the embedded model.
        answer = client.ask(rendered, NarrativeAnswer, check, what=f"segment {segment} narrative",
                            repair=_tidy_narrative, text=lambda t: {"narrative": t},
                            max_tokens=NARRATIVE_TOKENS, reasks=1)
        author = client.authorship(rendered, answer)
        size = next(p.size for p in analysis.profiles if p.segment == segment)
        narrative = (answer.value.narrative.strip() if answer.value is not None
                     else draft_narrative(context.entries[segment], size))
        out.append(SegmentNarrative(segment=segment, name=name, narrative=narrative,
                                    author=name_author, narrative_author=author))
    return tuple(out)


def brief(context: WritingContext, segment: int) -> str:
    """A segment in one line without figures: what a name is built from."""
    entry = context.entries[segment]
    parts = []
    if entry.get("stance"):
        parts.append(f"stance {entry['stance']}")
    words = offered_words(context, segment)
    if words:
        parts.append("fitting words " + ", ".join(words))
    outs = [re.sub(r"\s*\(.*\)$", "", o) for o in entry.get("outcomes", [])]
    traits = [re.sub(r"\s*\(.*\)$", "", t) for t in entry["stands_out"]]
    if traits:
        parts.append("stands out as " + ", ".join(traits))
    if outs:
        parts.append(", ".join(outs))
    return "; ".join(parts) + "."


def facts_line(context: WritingContext, segment: int) -> str:
    """A segment's share, stance, traits and outcomes with their figures, on one line."""
    entry = context.entries[segment]
    parts = [f"{entry['share_pct']}% of customers"]
    if entry.get("stance"):
        parts.append(f"stance {entry['stance']}")
    return "; ".join([*parts, *entry["stands_out"], *entry.get("outcomes", [])])


def offered_words(context: WritingContext, segment: int) -> list[str]:
    """The words a name may start with: a stance word and a behaviour the figures support.

    Two at most: offered four, the model stacked them ("Digital Loyal Premium") and left no
    room for what stands out."""
    words = fitting_words(context.evidence(segment))
    stance_word = [w for w in words if w.lower() in _STANCE_FITTING][:1]
    behaviour = [w for w in words if w.lower() not in _STANCE_FITTING][:1]
    return stance_word + behaviour


def anchors(context: WritingContext, segment: int) -> str:
    """What stands out, for the words after the lead: the segment's first two traits."""
    entry = context.entries[segment]
    parts = [re.sub(r"\s*\(.*\)$", "", t) for t in entry["stands_out"]]
    parts += [re.sub(r"\s*\(.*\)$", "", o) for o in entry.get("outcomes", [])]
    return "; ".join(parts[:2]) or "what stands out"


def _name_hints(analysis: SegmentAnalysis, segment: int) -> list[str]:
    """Words from the segment's top traits, offered when a name says only the stance."""
    return [t for t in _trait_names(analysis, segment)[:3] if t]


def _pick(answer: NameChoices, name_problems: Callable[[str], list[str]]) -> Picked:
    """The first candidate with no problem (else the first, so its problems are re-asked)."""
    names = [" ".join(n.split()) for n in answer.names if n.strip()] or [""]
    return Picked(name=next((n for n in names if not name_problems(n)), names[0]))


def _tidy_narrative(answer: NarrativeAnswer) -> NarrativeAnswer:
    # One paragraph of plain words, whole sentences: a small model writes one too many, hits
    # the length cap, or dresses the text in Markdown ("**These customers** - ...").
    text = re.sub(r"\*\*|__|^\s*[-*•]\s+|(?<=\s)[-*•]\s+", "", answer.narrative, flags=re.MULTILINE)
    text = complete_sentences(" ".join(text.split()), MAX_SENTENCES)
    return answer.model_copy(update={"narrative": text})


# --- deterministic drafts ----------------------------------------------------------------------

_WORDS = re.compile(r"[A-Za-z]+")
# The stance in a name's first words: what a product manager needs to read first.
_STANCE_WORDS = {
    "high value, at risk": "At-Risk High-Value",
    "high value": "High-Value",
    "high value, loyal core": "Loyal High-Value",
    "at risk": "At-Risk",
    "loyal": "Loyal",
    "low value, leaving": "Leaving Low-Value",
    "low value": "Low-Value",
    "low value, loyal": "Loyal Low-Value",
}


def _humanize(column: str, max_words: int = 3) -> str:
    """``support_tickets_90d`` -> ``Support Tickets``: words only, no digits, title case."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", column)
    words = [w for w in _WORDS.findall(spaced) if len(w) > 1 or w.isupper()]
    while len(words) > 1 and words[0].lower() in ("has", "is", "num", "avg", "pct"):
        words = words[1:]  # "has_mobile_app" -> "Mobile App"
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


def draft_name(analysis: SegmentAnalysis, segment: int, taken: list[str],
               context: WritingContext | None = None) -> str:
    """A unique name from the segment's fitting words, stance and most distinguishing traits.

    "Inactive At-Risk Customers" before "Leaving Low-Value High Days": a behaviour the figures
    support says more than a column name, and every word offered is one the checks accept.
    """
    used = {t.lower() for t in taken}
    traits = _trait_names(analysis, segment) or ["Typical Customers"]
    stance = None
    names = []
    if context is not None:
        entry = context.entries.get(segment, {})
        stance = _STANCE_WORDS.get(entry.get("stance", ""))
        words = fitting_words(context.evidence(segment))
        behaviour = [w for w in words if w.lower() not in _STANCE_FITTING]
        lead = [w for w in words if w.lower() in _STANCE_FITTING][:1]
        if behaviour:
            names += [" ".join([b, *lead, "Customers"]) for b in behaviour]
    if stance:
        room = 4 - len(stance.split())
        # A trait that fits whole first: a cut one can end mid-phrase ("No Phone Multiple",
        # measured); cut ones still before a bare trait, which would hide the stance.
        names += [f"{stance} {t}" for t in traits if len(t.split()) <= room]
        names += [f"{stance} {' '.join(t.split()[:room])}" for t in traits]
    names += traits
    for name in names:
        if name.lower() not in used:
            return name
    if len(traits) > 1:  # every single trait is taken: combine the top two, hyphenated
        combined = f"{traits[0].replace(' ', '-')} {traits[1].replace(' ', '-')}"
        if combined.lower() not in used:
            return combined
    return f"{traits[0]} (segment {segment})"


def draft_narrative(entry: dict[str, Any], size: int) -> str:
    """Two or three template sentences from the segment's context entry."""
    parts = [f"These customers are {entry['share_pct']}% of the base ({size:,})"
             + (f", stance {entry['stance']}" if entry.get("stance") else "") + "."]
    if entry.get("stands_out"):
        parts.append("Compared with all customers: " + "; ".join(entry["stands_out"]) + ".")
    if entry.get("outcomes"):
        parts.append("Outcomes: " + "; ".join(entry["outcomes"]) + ".")
    return " ".join(parts)


def display_names(analysis: SegmentAnalysis, given=None) -> dict[int, str]:
    """Every segment's display name, the one rule the panel, the memo, crm.csv and the chat use.

    The name somebody gave (``given``: a ``Writing``, whose names are the model's or the
    user's, or a mapping segment -> name) when there is one; else a deterministic draft from
    the segment's traits (``draft_name``, unique among the names given), so a segment reads the
    same everywhere before the model has written; the customers no segment claims (-1) are
    "Unassigned". Drafts are for reading only: a glossary or a saved model keeps the given
    names, so a draft never takes the place of a name a previous glossary carries over.
    """
    if given is None:
        names: dict[int, str] = {}
    elif hasattr(given, "narratives"):
        names = {n.segment: n.name for n in given.narratives}
    else:
        names = dict(given)
    taken = list(names.values())
    for p in analysis.profiles:
        if p.segment < 0:
            names.setdefault(p.segment, "Unassigned")
        elif p.segment not in names:
            names[p.segment] = draft_name(analysis, p.segment, taken)
            taken.append(names[p.segment])
    return names
