"""Markdown pieces the memo is built from: text made safe for a table cell, code spans,
tables, and the small labels (a segment's tag, an algorithm's name, an outcome's value)."""

from __future__ import annotations

import re

from copilot.core import measured, percent
from copilot.segmentation import ALGORITHM_NAMES

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_LINK_BRACKET = re.compile(r"[\[\]]")  # escaped, "[x](url)" and "![x](url)" stay text


def md_text(value: object) -> str:
    """Data-derived or model text on one line, as plain text: safe in a table cell, no raw
    HTML, and no link or image (a narrative's ``![x](http://...)`` would fetch a remote image,
    a tracking pixel, when the memo is opened)."""
    # Only a "<" that could open a tag is escaped: "tenure < 12" stays readable as plain text.
    text = _TAG_START.sub("&lt;", " ".join(str(value).split()).replace("|", "\\|"))
    return _LINK_BRACKET.sub(lambda m: "\\" + m.group(0), text)


def md_code(value: object) -> str:
    """Text shown verbatim (column names, rules): a code span, pipes escaped for tables."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}" if fence == "`" else f"{fence} {text} {fence}"


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def maybe(value: float | None, fmt) -> str:
    return "n/a" if value is None else fmt(value)


def outcome_value(kind: str, value: float | None) -> str:
    """A rate as a percentage, a mean at three significant figures."""
    return maybe(value, (lambda v: percent(v, 1)) if kind == "binary" else measured)


def segment_tag(segment: int) -> str:
    """A segment's number as tables show it; -1 holds the customers no segment claims."""
    return str(segment) if segment >= 0 else "unassigned"


def algorithm_name(name: str) -> str:
    return ALGORITHM_NAMES.get(name, name)
