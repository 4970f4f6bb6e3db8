"""The meaning checks of the strategy's plans: a hypothesis that promises its result, actions
that could sit under any segment or repeat each other, prose about the prompt, a fit row that
rates every initiative the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from copilot.llm.meaning import SegmentEvidence
from copilot.llm.traits import trait_mentions

_PROMISE = re.compile(
    r"\bwill\s+(?:\w+\s+){0,2}?(?:show|lead|result|reduce|increase|improve|decrease|boost|lower|"
    r"raise|cut|drive|ensure|guarantee|prove|deliver|achieve|double|halve|drop|grow|eliminate|"
    r"prevent|stop|significantly|dramatically|substantially|definitely|certainly)\b"
    r"|\bguarantee[sd]?\b|\bensures?\b|\bproves?\b|\bdefinitely\b|\bcertainly\b|\bis sure to\b"
    r"|\bwithout (?:a )?doubt\b",
    re.IGNORECASE)


def check_promise(text: str) -> list[str]:
    """A hypothesis that promises its result ("will show a significant reduction in churn")."""
    m = _PROMISE.search(text)
    if m is None:
        return []
    return [f'The hypothesis promises its result ("{m.group(0)}"); state it as a hypothesis the '
            'holdout will test ("... lowers X compared with the holdout group"), not as a '
            "certainty."]


_STOP = frozenset(
    ["a", "an", "the", "and", "or", "of", "for", "to", "with", "in", "on", "at", "by", "from", "into", "via", "their", "its", "this", "that", "these", "those", "our", "we", "be", "is", "are", "run", "launch", "start", "do", "make", "use", "using", "offer", "create", "set", "up", "segment", "segments", "customers", "customer", "accounts", "users", "all", "each", "per", "them", "they"])


def check_plan_specific(actions: Sequence[str], initiative: str, ev: SegmentEvidence) -> list[str]:
    """Problems with actions that could be pasted under any segment.

    At least one action must name one of the segment's distinguishing traits or its outcome
    (its columns, levels or outcome as the profile shows them); no action may only restate the
    initiative ("Run proactive check-ins" for "Proactive check-ins").
    """
    problems = []
    initiative_words = {w for w in re.findall(r"[a-z]+", initiative.lower()) if w not in _STOP}
    for action in actions:
        if len(re.findall(r"[A-Za-z]+", action)) < 4:
            problems.append(f'The action "{action}" is too short to act on; say what to do.')
            continue
        own = {w for w in re.findall(r"[a-z]+", action.lower())
               if w not in _STOP and len(w) > 2} - initiative_words
        own -= {w.rstrip("s") for w in initiative_words}
        if len(own) < 2:
            problems.append(f'The action "{action}" only restates the initiative; say what to do '
                            "for these customers, using what sets them apart.")
    wanted = [ev.traits[k] for k in ev.distinguishing]
    if wanted and not any(trait_mentions(a, wanted) for a in actions):
        hints = ", ".join(t.label for t in wanted[:3])
        problems.append("The actions could apply to any segment: tie at least one action to "
                        f"what sets this segment apart ({hints}).")
    return problems


def check_plan_form(actions: Sequence[str]) -> list[str]:
    """The same action twice is one action."""
    seen = [" ".join(a.lower().split()) for a in actions]
    return ["Two actions are the same; write different actions."] if len(set(seen)) < len(seen) else []


_PLUMBING = re.compile(r"\b(?:CONTEXT|DATA)(?:\.\w+)?\b|\bthe context provided\b")


def check_plumbing(text: str) -> list[str]:
    """Prose that speaks of the prompt ("Based on the context provided", "CONTEXT.goal")."""
    m = _PLUMBING.search(text)
    if m is None:
        return []
    return [f'"{m.group(0)}" speaks of the request, not to the product manager; write as if '
            "to them."]


def check_flat_row(fits: Iterable[int], segment: int) -> list[str]:
    """A fit row that rates every initiative the same, as a fit, is a non-answer.

    A row of 1s or 2s is an answer: none of the initiatives fits that segment.
    """
    values = list(fits)
    if len(values) > 1 and len(set(values)) == 1 and values[0] >= 3:
        return [f"Segment {segment}: every initiative got fit {values[0]}; rate them against "
                "each other (some fit this segment better than others)."]
    return []
