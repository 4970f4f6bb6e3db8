"""Is every number in a memo one the analysis produced? Find the ones that are not.

The memo promises "numbers come from code": every figure a reader sees was computed by the
engine (or is quoted from text the engine or the writing pass recorded). This module checks
that promise from the outside, with nothing but the Markdown and the JSON the memo was written
from (``analysis.model_dump(mode="json")``, ``writing.model_dump(mode="json")``):

* ``memo_numbers`` lists the number tokens a reader sees, skipping what is not a figure:
  link targets and paths, numbers glued into names (``sessions_30d``, ``v1``, ``Qwen2.5``),
  heading marks and list numbering.
* ``untraceable_numbers`` returns the tokens that no source produces. A token is traceable when
  it is the exact text of one of the renderings below of a numeric JSON value, or appears as a
  number inside a JSON string (rules like ``tenure >= 12.5``, the engine's sentences, the
  narratives), or is in the small, explicit ``derived`` / ``CONSTANTS`` lists.

It is strict on purpose. Matching is on exact rendered text, not "close enough": a number only
traces if some value, rounded to the precision the memo shows, gives exactly those characters.
The memo formats every number with the ``fmt_*`` functions here, so the renderings are the
memo's own formats, and only those. Numbers under ``UNSHOWN_KEYS`` are not sources at all: they
are chart data or per-column statistics the memo never prints as figures (it quotes the engine's
sentences about them instead, and those sentences are sources). Thousands of projection
coordinates would otherwise match almost any made-up figure.

Run ``python scripts/check_memo_numbers.py memo.md analysis.json [writing.json]`` to check a memo.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from copilot.core import count, fixed, measured, percent
from copilot.segmentation import FEATURE_ROLES

# --- the memo's number formats: copilot.core.numbers (one formatter for the whole product) ---


# --- where numbers may come from ---------------------------------------------------------------

#: Numbers under these keys (at any depth) are not sources; strings under them still are.
UNSHOWN_KEYS = frozenset({
    "projection",  # the scatter chart's coordinates: thousands of floats, shown only as a picture
    "preparation",  # scaling constants, PCA loadings: internals, never printed
    "seconds",  # timings differ on every run; the memo does not report them
    # Per-feature and per-column statistics: the memo quotes the engine's sentences about them
    # (top-trait phrases, quality findings), which carry the figures as text.
    "features", "categories", "top_features", "columns",
    "missing", "outliers", "skewed_columns", "correlated_pairs", "leakage_suspects",
    "constant_columns", "id_like_columns",
})

#: Keys whose 0-1 values the memo shows as percentages.
_SHARE_KEY = re.compile(
    r"share|precision|recall|fidelity|^(value|overall|ci_low|ci_high)$"
)
#: Keys whose values already are percentages (or percentage points) and are shown with a "%".
_PERCENT_KEY = re.compile(r"_pct$|_pts$")

#: Fixed numbers the memo states that are design constants, not results. Keep this tiny.
CONSTANTS: dict[str, str] = {
    "95%": "the level of every interval the engine computes (validate.py: Wilson and t, 95%)",
    "1": "the lower end of the 1-5 fit scale (strategy.py's rating schema: ge=1)",
    "5": "the upper end of the 1-5 fit scale (strategy.py's rating schema: le=5)",
}


# --- reading numbers out of Markdown or a JSON string ------------------------------------------

_LINK_TARGET = re.compile(r"\]\((?:<[^>]*>|[^)\s]*)(?:\s+\"[^\"]*\")?\)")
_URL = re.compile(r"<?https?://\S+")
_LIST_MARK = re.compile(r"^(\s*)\d+[.)](?=\s)", re.MULTILINE)
_HEADING = re.compile(r"^#{1,6}(?=\s)", re.MULTILINE)
_NUMBER = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)*(?:%)?")
_WORDISH = re.compile(r"[A-Za-z_]")  # a neighbour that makes a digit part of a name
_CHUNK_BREAK = re.compile(r"[\s|()\[\]`*\"']")


def memo_numbers(markdown: str) -> list[str]:
    """The number tokens a reader sees, in order (duplicates kept).

    Skipped: link and image targets, URLs and path-like words (a word holding ``/`` or ``\\``
    and a letter), digits glued to letters or ``_`` (names like ``sessions_30d``, ``v1``),
    heading marks and ordered-list numbers (Markdown syntax, not figures). A ``-`` counts as a
    sign only after a space, an opening bracket, ``|``, ``=`` or ``:``, so ``3-7`` is a range.
    """
    text = _LINK_TARGET.sub("]()", markdown)
    text = _URL.sub(" ", text)
    text = _HEADING.sub("", text)
    text = _LIST_MARK.sub(r"\1", text)
    return list(_tokens(text))


def _tokens(text: str) -> Iterator[str]:
    for m in _NUMBER.finditer(text):
        start, end = m.span()
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if before.isdigit() or before == "." or _WORDISH.match(before):
            continue  # the tail of a name, a path or a longer number (like "x86", "v1")
        following = text[end + 1] if end + 1 < len(text) else " "
        if _WORDISH.match(after) or (after == "." and (following.isdigit() or following.isalpha())):
            continue  # the head of a name or a file name ("30d", "1.5B", "2024.csv")
        if _in_path(text, start, end):
            continue
        token = m.group(0)
        if before == "-" and (start < 2 or text[start - 2] in " \t\n([|=:"):
            token = "-" + token
        yield token


def _in_path(text: str, start: int, end: int) -> bool:
    """Is the number part of a whitespace-delimited word that looks like a path or URL?"""
    lo = start
    while lo > 0 and not _CHUNK_BREAK.match(text[lo - 1]):
        lo -= 1
    hi = end
    while hi < len(text) and not _CHUNK_BREAK.match(text[hi]):
        hi += 1
    word = text[lo:hi]
    return ("/" in word or "\\" in word) and any(c.isalpha() for c in word)


# --- what the sources can produce ---------------------------------------------------------------


def renderings(value: float, key: str = "") -> set[str]:
    """Every text the memo's formats can make of one numeric value stored under ``key``."""
    out: set[str] = set()
    if isinstance(value, bool) or not math.isfinite(value):
        return out
    if float(value).is_integer():
        out |= {str(int(value)), count(int(value))}
    if isinstance(value, float):
        for decimals in (1, 2, 3):
            out |= {f"{value:.{decimals}f}", fixed(value, decimals)}
        out.add(measured(value))
        if abs(value) >= 100:  # whole-number rounding is only used for large figures
            out |= {fixed(value, 0), f"{value:.0f}"}
    if _SHARE_KEY.search(key) and abs(value) <= 1:
        # Every way core.numbers.percent writes a share; "<0.1%" is read as the number 0.1%.
        out |= {percent(value, 1), percent(value), percent(value, 0)}
        out |= {text.lstrip("<>") for text in out if text[:1] in "<>"}
    if _PERCENT_KEY.search(key):
        out |= {f"{value:.1f}%", f"{value:.0f}%"}
    return out


def source_tokens(*sources: dict | list) -> set[str]:
    """All traceable token texts: renderings of numeric values, and numbers inside strings."""
    found: set[str] = set()
    for source in sources:
        for key, value in _walk(source):
            if isinstance(value, str):
                found.update(_tokens(value))
            else:
                found |= renderings(value, key)
    return found


def _walk(node: Any, key: str = "", hidden: bool = False) -> Iterator[tuple[str, Any]]:
    """(key, leaf) pairs; numbers under UNSHOWN_KEYS are dropped, strings everywhere kept."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield "", str(k)  # keys can be text the memo shows (prompt ids)
            yield from _walk(v, str(k), hidden or str(k) in UNSHOWN_KEYS)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _walk(item, key, hidden)
    elif isinstance(node, str) or (_is_number(node) and not hidden):
        yield key, node


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def derived_numbers(*sources: dict | list) -> set[str]:
    """The few figures the memo derives rather than copies, computed from the same JSON.

    Each is a count of items the analysis lists, shown so a reader need not count them:
    the number of features, outcomes and left-out columns (the data section) and the number
    of quality findings of each severity.
    """
    out: set[str] = set()
    for source in sources:
        if not isinstance(source, dict) or "roles" not in source:
            continue  # only the analysis JSON has these lists
        roles = source["roles"]
        out.add(str(len(roles.get("features", []))))
        out.add(str(len(roles.get("outcomes", []))))
        out.add(str(len(left_out_columns(roles["columns"], source.get("id_column")))))
        findings = source.get("quality", {}).get("findings", [])
        for severity in {f.get("severity") for f in findings}:
            out.add(str(sum(1 for f in findings if f.get("severity") == severity)))
    return out


def left_out_columns(columns: list[dict], id_column: str | None) -> list[dict]:
    """Columns (as JSON) that are neither features, outcomes nor the ID column: the data
    section lists them, counted the way the plain-text summary counts them."""
    kept = (*FEATURE_ROLES, "outcome")
    return [c for c in columns if c["role"] not in kept and c["name"] != id_column]


def untraceable_numbers(markdown: str, *sources: dict | list) -> list[str]:
    """Number tokens of ``markdown`` that no source produces (each once, in order of appearance).

    ``sources`` are the JSON forms of what the memo was written from (the analysis and the
    writing). An empty list means every figure in the memo traces back to them.
    """
    known = source_tokens(*sources) | derived_numbers(*sources) | set(CONSTANTS)
    missing: list[str] = []
    for token in memo_numbers(markdown):
        if token not in known and token not in missing:
            missing.append(token)
    return missing
