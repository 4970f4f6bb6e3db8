"""The name checks: a segment name may not claim a trait its profile contradicts ("High
Spenders" for a low-spend segment, ``check_name``), and must be short, specific and new
(``check_name_form``, compared by ``name_key``). Pure Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from copilot.llm.names_in_text import _words
from copilot.llm.traits import Trait, _alias_pattern, _variants

_NAME_UP = {"high", "higher", "heavy", "big", "bigger", "large", "larger", "long", "longer",
            "frequent", "many", "more", "top", "max", "most", "highest", "longest", "biggest"}
_NAME_DOWN = {"low", "lower", "light", "small", "smaller", "short", "shorter", "rare",
              "infrequent", "few", "fewer", "less", "minimal", "least", "lowest", "shortest"}
# Words too generic to tie a name to one column on their own ("High Value Customers").
_GENERIC_WORDS = {"value", "values", "customer", "customers", "user", "users", "account",
                  "accounts", "total", "rate", "score", "level", "type", "flag", "number",
                  "count", "the", "of", "per", "and", "in", "on", "to", "last", "since"}


def check_name(name: str, traits: Sequence[Trait]) -> list[str]:
    """Problems with a segment name that claims a trait its profile contradicts.

    Parameters
    ----------
    name
        The proposed name ("High Spenders", "Long-Tenure Loyalists").
    traits
        The segment's signed traits.

    Returns
    -------
    list[str]
        One sentence per contradicted claim: a direction adjective ("high", "heavy", "long",
        "low", "light", "short"...) directly before a word naming a trait of the opposite sign.

    Notes
    -----
    The word after the adjective matches a trait through a whole alias ("Monthly Charges"),
    else the first word of an alias ("High Monthly Crowd"), else any word of it ("High
    Spenders" for annual_spend). When it matches several traits, the name is only rejected if
    none of them agrees with the adjective.
    """
    tokens = [t for t in re.split(r"[\s\-_/]+", name.strip()) if t]
    words = [re.sub(r"[^A-Za-z0-9]", "", t).lower() for t in tokens]
    problems = []
    for i, w in enumerate(words[:-1]):
        sign = 1 if w in _NAME_UP else -1 if w in _NAME_DOWN else None
        if sign is None:
            continue
        matched, exact = _name_matches(" ".join(words[i + 1 :]), words[i + 1], traits)
        if not matched or any(traits[k].sign == sign for k in matched):
            continue
        if not exact and not any(traits[k].sign == -sign for k in matched):
            continue
        opposing = sorted(k for k in matched if traits[k].sign == -sign)
        trait = traits[opposing[0] if opposing else min(matched)]
        state = {1: "above average", -1: "below average", 0: "about average"}[trait.sign]
        if trait.level is not None:
            state = {1: "more common than average", -1: "less common than average",
                     0: "about as common as average"}[trait.sign]
        problems.append(
            f'The name "{name.strip()}" says "{tokens[i]} {tokens[i + 1]}", but {trait.label} is '
            f"{state} in this segment; choose a name that fits the profile."
        )
    return problems


def _name_matches(rest: str, word: str, traits: Sequence[Trait]) -> tuple[set[int], bool]:
    exact = set()
    for k, t in enumerate(traits):
        pattern = _alias_pattern(t.names())
        if pattern is not None and (m := pattern.match(rest)) and m.start() == 0:
            exact.add(k)
    if exact:
        return exact, True
    if word in _GENERIC_WORDS or len(word) < 3:
        return set(), False
    mine = _variants(word)
    head, anywhere = set(), set()
    for k, t in enumerate(traits):
        if t.level is not None:
            continue  # "High Contract" means nothing: only numeric traits and outcomes
        for alias in t.names():
            content = [w for w in _words(alias) if w not in _GENERIC_WORDS and w.isalpha()
                       and len(w) >= 3]
            for pos, w in enumerate(content):
                if _variants(w) & mine:
                    (head if pos == 0 else anywhere).add(k)
    return (head or anywhere), False


_GENERIC_NAME = re.compile(
    r"^(?:the\s+)?(?:cluster|segment|group|cohort|tier|class|category|bucket|type|persona"
    r"|customers?|users?|others?|misc(?:ellaneous)?|unknown|none|n/?a)"
    r"(?:\s*[-#]?\s*(?:[a-z]|\d+|[ivx]+|one|two|three|four|five|six|seven|eight|nine|ten))?$"
    r"|^(?:[a-z]|[ivx]+|\d+|one|two|three|four|five|six|seven|eight|nine|ten)$",
    re.IGNORECASE,
)


_GLUED = re.compile(r"^(?:higher|lower|fewer)[a-z]{2,}$")


def check_name_form(name: str, taken: Iterable[str]) -> list[str]:
    """Problems with a name's form: empty, too long, generic, digits, or already used.

    Parameters
    ----------
    name
        The proposed name. Hyphenated compounds ("Long-Tenure") count as one word.
    taken
        Names already given to other segments (compared case-insensitively).

    Returns
    -------
    list[str]
    """
    clean = " ".join(name.split())
    if not clean or not any(ch.isalnum() for ch in clean):
        return ["The name is empty; give a name of at most 4 words."]
    problems = []
    n = len(clean.split())
    if n > 4:
        problems.append(f'The name "{clean}" has {n} words; use at most 4.')
    if _GENERIC_NAME.match(clean.strip(" .!\"'")):
        problems.append(f'"{clean}" is a generic label; say what these customers value or do.')
    elif any(ch.isdigit() for ch in clean):
        problems.append(f'The name "{clean}" contains digits; a name carries no figures.')
    words = [w.lower().strip(".,!'\"") for w in clean.split()]
    glued = next((p for w in words for p in w.split("-") if _GLUED.match(p)), None)
    if glued:
        # "Higherapi-Calls": a direction word run into a column name (measured in the demo).
        problems.append(f'The name "{clean}" runs words together ("{glued}"); write them apart.')
    doubled = next((w for i, w in enumerate(words) if w and w in words[:i]), None)
    if doubled:
        # A lead word the grammar put first, then the same word from the trait ("Mobile
        # Mobile App"): a stutter, not a name.
        problems.append(f'The name "{clean}" repeats "{doubled}"; use each word once.')
    if name_key(clean) in {name_key(t) for t in taken}:
        problems.append(f'The name "{clean}" is already used; pick a different one.')
    return problems


def name_key(name: str) -> tuple[str, ...]:
    """A name for comparison: case, spacing and plural "s" ignored ("Tech Enthusiast(s)")."""
    return tuple(w.casefold().rstrip("s") or w.casefold() for w in re.findall(r"[\w'-]+", name))
