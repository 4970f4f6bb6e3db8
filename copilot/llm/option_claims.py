"""The meaning check of the k recommendation: comparisons between shortlisted options
("higher silhouette than k=5", "the best stability") must agree with the option table, and ICL
is not compactness (``check_option_claims``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

METRICS: dict[str, tuple[re.Pattern[str], int]] = {
    # name -> (how prose names it, +1 when higher is better)
    "silhouette": (re.compile(r"silhouette", re.IGNORECASE), 1),
    "stability": (re.compile(r"\bstabilit|\bstable\b", re.IGNORECASE), 1),
    "icl": (re.compile(r"\bicl\b|integrated complete", re.IGNORECASE), -1),
    "smallest_segment_pct": (re.compile(r"smallest (?:segment|group|cluster)|minimum segment",
                                        re.IGNORECASE), 1),
}
_UP_CMP = {"higher", "highest", "greater", "greatest", "larger", "largest", "bigger", "biggest",
           "more", "most", "top", "maximum", "stronger", "strongest"}
_DOWN_CMP = {"lower", "lowest", "smaller", "smallest", "less", "least", "fewer", "fewest",
             "weaker", "weakest", "minimum"}
_GOOD_CMP = {"better", "best", "superior", "improved"}
_BAD_CMP = {"worse", "worst", "poorer", "poorest", "inferior"}
_ALL_CMP = _UP_CMP | _DOWN_CMP | _GOOD_CMP | _BAD_CMP
_SUPER_CMP = {"highest", "greatest", "largest", "biggest", "most", "top", "maximum", "strongest",
              "lowest", "smallest", "least", "fewest", "weakest", "minimum", "best", "worst",
              "poorest"}
_ALL_SCOPE = re.compile(r"\b(?:than|to|with)\s+(?:the\s+|all\s+(?:the\s+)?|any\s+|every\s+)?"
                        r"(?:other|others|alternatives?|rest|remaining)\b|\bof\s+all\b|"
                        r"\bamong\s+(?:all\s+)?(?:the\s+)?(?:options|alternatives|candidates)\b",
                        re.IGNORECASE)
_K_REF = re.compile(r"\bk\s*=\s*(\d+)|\b(\d+|two|three|four|five|six|seven|eight|nine|ten)"
                    r"[\s-]+(?:segments?|clusters?|groups?)\b", re.IGNORECASE)
_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10}
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")  # "0.11" is not a break: no space follows
_ICL_MISREAD = re.compile(r"compact|tight|well[- ]defined|dense|cohesive|separat|distinct",
                          re.IGNORECASE)
_PRAISE = re.compile(r"\b(?:good|better|best|strong|excellent|impressive|robust|great)\b",
                     re.IGNORECASE)


def check_option_claims(text: str, subject: str, options: Sequence[Mapping[str, Any]]) -> list[str]:
    """Problems with comparisons between shortlisted options that the table contradicts.

    Parameters
    ----------
    text
        The recommendation's reason.
    subject
        The label of the option the text recommends (what "it" and unlabelled claims are about).
    options
        The options as the prompt showed them: ``option`` (label), ``k`` and the metrics.

    Notes
    -----
    A comparative or superlative ("higher than the other options", "the best stability",
    "lower ICL than k=5") attached to a metric is evaluated on the table: "higher"/"lower" on
    the figure itself, "better"/"best" on the metric's good direction (a lower ICL is better).
    A comparative without a scope inherits the last scope the text gave ("... is also
    higher"); with none, it is left alone. ICL read as compactness, or a high ICL praised, is
    refused: ICL is a penalized likelihood, lower is better.
    """
    by_label = {o["option"]: o for o in options}
    if subject not in by_label:
        return []
    problems: list[str] = []
    scope: str | int | None = None
    for sentence in _SENTENCE_BREAK.split(text):
        metrics = [name for name, (pattern, _) in METRICS.items() if pattern.search(sentence)]
        low = sentence.lower()
        if "icl" in metrics:
            if _ICL_MISREAD.search(sentence):
                problems.append("ICL does not measure how compact or distinct the segments are: "
                                "it is a penalized likelihood, and lower is better. Do not "
                                "describe it as compactness.")
            elif re.search(r"\b(?:high|higher|highest|large|very high)\b[^.]*\bicl\b|\bicl\b[^.]*"
                           r"\b(?:high|higher|highest|large)\b", low) and _PRAISE.search(sentence):
                problems.append("A higher ICL is worse, not better: lower is better for ICL.")
        for clause in re.split(r";|,\s*(?:while|whereas|but)\b|\bbut\b|\bwhile\b", sentence):
            words = re.findall(r"[A-Za-z]+", clause.lower())
            cmp_words = [w for w in words if w in _UP_CMP | _DOWN_CMP | _GOOD_CMP | _BAD_CMP]
            clause_metrics = [n for n, (p, _) in METRICS.items() if p.search(clause)]
            if _ALL_SCOPE.search(clause):
                scope = "all"
            ref = _k_reference(clause, by_label, subject)
            if not cmp_words or not clause_metrics:
                continue
            # Each metric with its own comparative: "a higher silhouette and a lower ICL".
            pairs = _pair_metrics(clause) if len(clause_metrics) > 1 else [
                (clause_metrics[0], _own_word(clause, clause_metrics[0]) or cmp_words[0])]
            superlative = any(w in _SUPER_CMP for w in cmp_words)
            this_scope = "all" if superlative or _ALL_SCOPE.search(clause) else (
                ref[1] if ref and ref[1] is not None else scope)
            who = ref[0] if ref and ref[0] is not None else subject
            if this_scope is None:
                continue
            for metric, word in pairs:
                problem = _judge(metric, word, who, this_scope, by_label, clause)
                if problem:
                    problems.append(problem)
    return list(dict.fromkeys(problems))


_CMP_WORD = re.compile(r"[A-Za-z]+|\d+(?:\.\d+)?")


_LINKING = {"is", "are", "was", "were", "the", "also", "much", "a", "very", "its", "of", "score",
            "value", "at", "quite", "rather", "still", "even", "far"}


def _own_word(clause: str, metric: str) -> str | None:
    """The comparative that speaks of ``metric``: the nearest one before its name ("the highest
    silhouette"), else one after it across linking words only ("its smallest segment is the
    smallest"). Words inside a metric's own name ("smallest segment") are not comparatives."""
    spans = [(m.start(), m.end()) for pattern, _ in METRICS.values()
             for m in pattern.finditer(clause)]
    mine = [(m.start(), m.end()) for m in METRICS[metric][0].finditer(clause)]
    if not mine:
        return None
    start, end = mine[0]
    words = [(m.start(), m.end(), m.group(0).lower()) for m in _CMP_WORD.finditer(clause)
             if not any(a <= m.start() < b for a, b in spans)]
    before = [(start - e, w) for s0, e, w in words
              if e <= start and start - e < 45 and w in _ALL_CMP]
    if before:
        return min(before)[1]
    for s0, e, w in words:
        if s0 < end:
            continue
        if w in _ALL_CMP:
            return w
        if w not in _LINKING and not re.fullmatch(r"[\d.]+", w):
            break
    return None


def _pair_metrics(clause: str) -> list[tuple[str, str]]:
    pairs = []
    for name, (pattern, _) in METRICS.items():
        if pattern.search(clause):
            word = _own_word(clause, name)
            if word is not None:
                pairs.append((name, word))
    return pairs


def _k_reference(clause: str, by_label, subject) -> tuple[str | None, int | None] | None:
    """(the option a clause is about, the k it is compared with) from "k=5" style references."""
    refs = []
    for m in _K_REF.finditer(clause):
        raw = m.group(1) or m.group(2)
        k = int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw.lower())
        if k is not None:
            refs.append((m.start(), k))
    if not refs:
        return None
    than = re.search(r"\bthan\b", clause, re.IGNORECASE)
    about, against = None, None
    for pos, k in refs:
        label = _label_for_k(k, by_label, subject)
        if than and pos > than.start():
            against = k if label else None
        elif label:
            about = label
    return about, against


def _label_for_k(k: int, by_label, subject) -> str | None:
    matches = [label for label, o in by_label.items() if o.get("k") == k]
    if len(matches) == 1:
        return matches[0]
    if by_label[subject].get("k") == k:
        return subject
    return None


def _judge(metric: str, word: str, who: str, scope, by_label, clause: str) -> str | None:
    me = by_label[who].get(metric)
    if me is None:
        return None
    better = METRICS[metric][1]
    if scope == "all":
        others = [o for label, o in by_label.items() if label != who and o.get(metric) is not None]
    else:
        others = [o for o in by_label.values() if o.get("k") == scope and o["option"] != who
                  and o.get(metric) is not None]
    if not others:
        return None
    if word in _GOOD_CMP or word in _BAD_CMP:
        direction = better if word in _GOOD_CMP else -better
    else:
        direction = 1 if word in _UP_CMP else -1
    superlative = word in _SUPER_CMP
    # "the highest" holds for an option tied at the top; "higher than the others" does not.
    beaten = [o for o in others if (direction * (me - o[metric]) < 0 if superlative
                                    else not direction * (me - o[metric]) > 0)]
    if not beaten:
        return None
    o = beaten[0]
    return (f'"{word}" {metric.replace("_pct", "").replace("_", " ")} is false for {who}: '
            f"{o['option']} has {o[metric]} against {me}. Call a metric highest or best "
            "only where its option line says so.")
