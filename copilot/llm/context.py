"""One context for the whole writing pass: every writer's prompt starts with the same text.

On the embedded model, evaluating a prompt costs far more than writing the answer, and
llama.cpp keeps the evaluated prefix of the previous call. So every writing prompt (names,
narratives, the k advice, fit ratings, plans) opens with the same system message: the shared
rules and CONTEXT, the computed results of the whole analysis (options with the computed
comparisons, every segment with its stance, traits and outcomes). Only the short task that
follows differs, and it is all a call evaluates after the first one.

The context is also what the writers are held to: ``segment_numbers`` are the figures a
segment's text may cite (its own entry, the overall figures, and whatever the user wrote in
the goal or the initiatives), and ``evidence`` is what the meaning checks read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from copilot.core import percent_number
from copilot.llm.facts import (
    clean_name,
    round_numbers_in,
    safe_for_model,
    segment_evidence,
    sig,
)
from copilot.llm.grounding import FactNumbers, collect_numbers
from copilot.llm.meaning import SegmentEvidence
from copilot.llm.prompts import RenderedPrompt, load_prompt
from copilot.segmentation import ALGORITHM_NAMES, SegmentAnalysis, Stances, segment_stances

CONTEXT_PROMPT = "writing_context"
MAX_TRAITS = 3  # per segment in the shared context: each costs ~15 tokens on every pass


def option_label(algorithm: str, k: int) -> str:
    return f"{ALGORITHM_NAMES.get(algorithm, algorithm)}, k={k}"


@dataclass
class WritingContext:
    """The shared context of one writing pass, and what each writer is checked against."""

    analysis: SegmentAnalysis
    goal: str | None = None
    initiatives: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Whoever built the context, the writers read the table's strings cleaned.
        self.analysis = safe_for_model(self.analysis)

    # -- the payload

    @cached_property
    def stances(self) -> Stances:
        return segment_stances(self.analysis)

    @cached_property
    def options(self) -> list[dict[str, Any]]:
        out = []
        for cand in self.analysis.choice.shortlist:
            row = self.analysis.sweep.row(cand.algorithm, cand.k)
            out.append({
                "option": option_label(cand.algorithm, cand.k),
                "k": cand.k,
                "silhouette": sig(row.silhouette, 2),
                "stability": sig(row.stability, 2),
                "icl": sig(row.icl, 4) if row.icl is not None else None,
                "smallest_segment_pct": percent_number(row.min_share),
            })
        return out

    @cached_property
    def entries(self) -> dict[int, dict[str, Any]]:
        """Each segment's entry of the context, by segment number."""
        return {p.segment: self._entry(p.segment) for p in self.analysis.profiles}

    @cached_property
    def payload(self) -> dict[str, Any]:
        lo, hi = self.analysis.sweep.band
        payload: dict[str, Any] = {
            "goal": self.goal or "segments a product team can act on",
            "customers": self.analysis.n_rows,
            "outcomes": [clean_name(v.name) for v in self.analysis.validation],
        }
        basis = self.stances.basis_sentence()
        if basis:
            payload["stance_basis"] = basis
        if len(self.options) > 1:
            payload["preferred_k_range"] = f"{lo} to {hi}"
        # The k options are not here: only the k advice reads them, and every token here is
        # evaluated before the first name can be written (see ``option_lines``).
        # Phrases without figures: a narrative reads its own segment's figures in its request,
        # and cannot cite another segment's from here (measured: the embedded model quoted the
        # segment listed just before). Fewer digits are also fewer tokens to evaluate.
        payload["segments"] = [_without_figures(e) for e in self.entries.values()]
        return payload

    def option_lines(self) -> list[str]:
        """The shortlist, one line per option, each saying where it leads: a model told who
        wins where has no reason to infer it, and no room to get it wrong."""
        return [option_line(o, self.options) for o in self.options]

    @cached_property
    def shared(self) -> RenderedPrompt:
        """The shared rules (system) and the CONTEXT block every user message starts with.

        CONTEXT travels in the user message, not the system one: it holds data from the
        table (column names, levels), and data must never carry a system prompt's authority.
        """
        return load_prompt(CONTEXT_PROMPT).render(context=self.payload)

    def render(self, task: str, **inputs: Any) -> RenderedPrompt:
        """The shared system message and CONTEXT, then the task: all a call evaluates anew."""
        prompt = load_prompt(task)
        user = self.shared.user + "\n\n" + prompt.render(**inputs).user
        return RenderedPrompt(id=prompt.id, version=prompt.version, system=self.shared.system,
                              user=user)

    # -- what a segment's text is checked against

    def evidence(self, segment: int) -> SegmentEvidence:
        if segment not in self._evidence:
            self._evidence[segment] = segment_evidence(self.analysis, segment, self.stances)
        return self._evidence[segment]

    @cached_property
    def _evidence(self) -> dict[int, SegmentEvidence]:
        return {}

    @cached_property
    def given(self) -> list[Any]:
        """Figures the user wrote: the goal and the initiatives count as given, never made up."""
        return [self.goal or "", *self.initiatives]

    def segment_numbers(self, segment: int, *extra: Any) -> FactNumbers:
        """The figures a text about ``segment`` may cite."""
        size = next(p.size for p in self.analysis.profiles if p.segment == segment)
        counts = {"customers": size, "all_customers": self.analysis.n_rows}
        return collect_numbers([self.entries[segment], counts, self.given, *extra])

    def all_numbers(self, *extra: Any) -> FactNumbers:
        return collect_numbers([self.payload, self.given, *extra])

    # -- building an entry

    def _entry(self, segment: int) -> dict[str, Any]:
        a = self.analysis
        profile = next(p for p in a.profiles if p.segment == segment)
        stance = self.stances.of(segment)
        entry: dict[str, Any] = {"segment": segment, "share_pct": percent_number(profile.share)}
        if stance is not None and stance.label:
            entry["stance"] = stance.label
        entry["stands_out"] = trait_phrases(a, segment)
        outcomes = outcome_phrases(a, segment)
        if outcomes:
            entry["outcomes"] = outcomes
        return entry

    def plan_facts(self, segment: int) -> dict[str, Any]:
        """A segment's entry plus its plainest rule, which a plan can target customers by."""
        rules = next((r.rules for r in self.analysis.rules.segments if r.segment == segment), ())
        rule = {"rule": round_numbers_in(rules[0].text)} if rules else {}
        return {**self.entries[segment], **rule}


_FIGURES = re.compile(r"\s*\((?:median )?[^()]*?\d[^()]*?\)")


def _without_figures(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry for the shared context: the phrases and rank notes, no figures."""
    def strip(phrase: str) -> str:
        rank = re.search(r"(highest|lowest) of \d+", phrase)
        bare = _FIGURES.sub("", phrase).strip()
        return f"{bare} ({rank.group(0)})" if rank else bare
    out = {"segment": entry["segment"]}
    if entry.get("stance"):
        out["stance"] = entry["stance"]
    out["stands_out"] = [strip(p) for p in entry["stands_out"]]
    if entry.get("outcomes"):
        out["outcomes"] = [strip(p) for p in entry["outcomes"]]
    return out


def option_line(option: dict[str, Any], options: list[dict[str, Any]]) -> str:
    """``"k-means, k=4: silhouette 0.2 (highest), stability 0.91, smallest segment 8.1%"``.

    An option that leads (or ties) on a metric says so; nothing else is a comparison."""
    marks = {metric: mark for metric, mark in best_marks(options).items()
             if option["option"] in mark[1]}
    parts = []
    for metric, label in (("silhouette", "silhouette"), ("stability", "stability"),
                          ("icl", "ICL"), ("smallest_segment_pct", "smallest segment")):
        if option.get(metric) is None:
            continue
        unit = "%" if metric == "smallest_segment_pct" else ""
        parts.append(f"{label} {option[metric]}{unit}")
    line = f"{option['option']}: " + ", ".join(parts)
    leads = [words for metric, (words, _) in marks.items()]
    return line + (f"; {'; '.join(leads)} of all options" if leads else
                   "; best of all options on nothing")


def best_marks(options: list[dict[str, Any]]) -> dict[str, tuple[str, set[str]]]:
    """Per metric, the word for its leader and the options that lead (ties included)."""
    words = {"silhouette": "highest silhouette", "stability": "highest stability",
             "icl": "lowest (best) ICL", "smallest_segment_pct": "largest smallest segment"}
    out = {}
    for metric, word in words.items():
        rows = [o for o in options if o.get(metric) is not None]
        if len(rows) < 2:
            continue
        sign = -1 if metric == "icl" else 1
        top = max(sign * o[metric] for o in rows)
        out[metric] = (word, {o["option"] for o in rows if sign * o[metric] == top})
    return out


def share(x: float | None) -> float | int | None:
    """A share as a percentage to three significant figures: 1.0 -> 100, 0.967 -> 96.7."""
    return None if x is None else sig(100.0 * x, 3)


def trait_phrases(analysis: SegmentAnalysis, segment: int, limit: int = MAX_TRAITS) -> list[str]:
    """The traits that set a segment apart, as ready-made phrases with their figures.

    "lower tenure (median 2 vs 29 overall; lowest of 7)", "more common Contract =
    Month-to-month (100% vs 55%)", and the clearest thing the segment lacks ("less common
    TechSupport = Yes (5% vs 29%)"). A small model copies a phrase more faithfully than it
    reads a direction field beside two figures, and the phrases are the signs the checks hold
    it to.
    """
    profile = next(p for p in analysis.profiles if p.segment == segment)
    stats = {s.name: s for s in profile.features}
    cats = {(c.name, c.level): c for c in profile.categories}
    assigned = [p for p in analysis.profiles if p.segment >= 0]
    # Levels that mark the very same customers ("No internet service" in five add-on columns
    # when InternetService = No) are one fact: keep the plainest, spend no tokens on echoes.
    echoes: dict[tuple[float, float], tuple[str, str]] = {}
    for top in profile.top_features:
        if (top.name, top.level) in cats:
            c = cats[(top.name, top.level)]
            key = (round(c.segment_share, 3), round(c.overall_share, 3))
            if key not in echoes or len(c.level) < len(echoes[key][1]):
                echoes[key] = (c.name, c.level)
    out = []
    for top in profile.top_features:
        if len(out) == limit:
            break
        if top.level is None and top.name in stats:
            s = stats[top.name]
            if s.direction == "similar":
                continue
            rank = _rank_note(assigned, top.name, s.segment_mean) if segment >= 0 else ""
            if s.kind == "boolean":  # a yes/no column: its mean is the share of "yes"
                out.append(f"{_often(s.segment_mean, s.overall_mean)} with {clean_name(s.name)} "
                           f"({share(s.segment_mean)}% vs {share(s.overall_mean)}%)")
                continue
            out.append(f"{s.direction} {clean_name(s.name)} (median {sig(s.segment_median)} vs "
                       f"{sig(s.overall_median)} overall{rank})")
        elif (top.name, top.level) in cats:
            c = cats[(top.name, top.level)]
            key = (round(c.segment_share, 3), round(c.overall_share, 3))
            if echoes.get(key) != (c.name, c.level):
                continue
            out.append(f"{_often(c.segment_share, c.overall_share)} {level_phrase(c.name, c.level)} "
                       f"({share(c.segment_share)}% vs {share(c.overall_share)}%)")
    # What the segment clearly lacks, when there is room: it is what a name must not claim.
    # An absence that is rare ("OnlineSecurity = No") may only mean another absence took its
    # place ("No internet service"): it says nothing of what the customers have.
    lacking = [c for c in profile.scarce if c.segment_share <= 0.5 * c.overall_share
               and not any(c.name in phrase for phrase in out)
               and not re.match(r"(?i)(no|none|false|n|0)\b", c.level.strip())]
    if lacking and len(out) < limit:
        c = min(lacking, key=lambda c: c.z)
        out.append(f"rarely {level_phrase(c.name, c.level)} "
                   f"({share(c.segment_share)}% vs {share(c.overall_share)}%)")
    return out


def _often(part: float | None, overall: float | None) -> str:
    """How common a level is in the segment, in a word a narrative can copy."""
    if part is None or overall is None:
        return "often"
    if part < overall:
        return "rarely" if part <= 0.5 * overall else "less often"
    return "mostly" if part >= 0.5 else "often"


_NO = {"no", "none", "false", "n", "0"}
_YES = {"yes", "true", "y", "1"}


def level_phrase(column: str, level: str) -> str:
    """A level as prose copies it right: "without TechSupport", "with Partner",
    "on Month-to-month Contract". A small model reading "TechSupport = No" writes "TechSupport"."""
    col, lv = clean_name(column), clean_name(level)
    if lv.lower() in _NO:
        return f"without {col}"
    if lv.lower() in _YES:
        return f"with {col}"
    if re.match(r"(?i)no\s+\w", lv):  # "No internet service": the absence, in its own words
        return f"without {lv[3:].strip()}"
    return f"on {lv} {col}"


def _rank_note(assigned, column: str, mean: float | None) -> str:
    means = [s.segment_mean for p in assigned for s in p.features
             if s.name == column and s.segment_mean is not None]
    if mean is None or len(means) < 3:
        return ""
    if mean >= max(means):
        return f"; highest of {len(means)}"
    if mean <= min(means):
        return f"; lowest of {len(means)}"
    return ""


def outcome_phrases(analysis: SegmentAnalysis, segment: int) -> list[str]:
    """How the segment fares: each outcome against the average, with its rank at the ends."""
    out = []
    for outcome in analysis.validation:
        row = next((s for s in outcome.segments if s.segment == segment), None)
        if row is None or row.value is None or outcome.overall is None:
            continue
        values = [s.value for s in outcome.segments if s.segment >= 0 and s.value is not None]
        direction = ("higher" if row.value > outcome.overall else
                     "lower" if row.value < outcome.overall else "about average")
        rank = ""
        if segment >= 0 and len(values) >= 3:
            rank = (f"; highest of {len(values)}" if row.value >= max(values) else
                    f"; lowest of {len(values)}" if row.value <= min(values) else "")
        name = clean_name(outcome.name)
        if outcome.kind == "binary":
            out.append(f"{direction} {name} rate ({share(row.value)}% vs {share(outcome.overall)}% "
                       f"overall{rank})")
        else:
            out.append(f"{direction} mean {name} ({sig(row.value)} vs {sig(outcome.overall)} "
                       f"overall{rank})")
    return out
