"""Sentence-level tidying of model prose that needs no judgement (and so no model call).

A small model often writes one sentence too many, or runs into the length cap the grammar
enforces and stops mid-sentence. Keeping its first complete sentences is a deterministic
repair; everything kept is still checked like any other answer.
"""

from __future__ import annotations

import re

# Decimal points ("26.3%") are not sentence ends: they are followed by a digit, not a space.
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def sentence_count(text: str) -> int:
    return len(_SENTENCE_END.findall(text.strip()))


def complete_sentences(text: str, max_sentences: int) -> str:
    """The first ``max_sentences`` complete sentences; an unfinished tail is dropped.

    Text without any complete sentence comes back unchanged (the caller's checks decide).
    """
    text = text.strip()
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    if not ends:
        return text
    return text[: ends[min(max_sentences, len(ends)) - 1]].strip()
