"""Names in prose: column names, category levels and segment names, split into words and found
in text however they are written (spaces, underscores, hyphens, camel case).

Shared by the grounding checks (``citations``, ``grounding``, ``traits``, ``direction_check``,
``name_checks``). Digits inside a name are part of the name, not a citation, so ``_mask``
blanks them before numbers are read. Pure Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^A-Za-z0-9.]+|(?<![0-9])\.|\.(?![0-9])")


def _words(name: str) -> list[str]:
    """``MonthlyCharges`` -> [monthly, charges]; ``api_calls_30d`` -> [api, calls, 30d]."""
    return [w.lower() for w in _SPLIT.split(_CAMEL.sub(" ", name)) if w]


def _loose_pattern(words: Sequence[str], sep: str = r"[\s_\-]*") -> str:
    # Words of a name may be written with spaces, underscores, hyphens or nothing between them.
    return sep.join(re.escape(w) for w in words)


_EDGE_BEFORE = r"(?<![A-Za-z0-9])(?<!\d[.,])"
_EDGE_AFTER = r"(?![A-Za-z0-9])(?![.,]\d)"


@lru_cache(maxsize=256)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    # Any short run of punctuation between words: "k-means, k=4", "Support tickets (90d)".
    alts = sorted({_loose_pattern(_words(n), r"[^A-Za-z0-9]{0,3}") for n in names if _words(n)},
                  key=len, reverse=True)
    if not alts:
        return None
    return re.compile(f"{_EDGE_BEFORE}(?:{'|'.join(alts)}){_EDGE_AFTER}", re.IGNORECASE)


def _mask(text: str, ignore: Iterable[str]) -> str:
    # Only names with digits matter for numbers; a purely numeric name ("2", a level of a
    # count column) is kept, or blanking it would also blank real citations of that figure.
    names = tuple(n for n in ignore if any(c.isdigit() for c in n) and any(c.isalpha() for c in n))
    pattern = _names_pattern(names) if names else None
    if pattern is None:
        return text
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def _numbers_in_names(ignore: Iterable[str]) -> frozenset[float]:
    found = set()
    for name in ignore:
        for d in re.findall(r"\d+(?:\.\d+)?", name):
            found.add(float(d))
    return frozenset(found)
