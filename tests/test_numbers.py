"""One number formatter: every percentage a user reads is written by copilot.core.percent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from copilot.core import figure, percent, percent_number

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("share", "text"), [
    (0.4712, "47%"), (0.1, "10%"), (0.0999, "10.0%"), (0.047, "4.7%"), (0.005, "0.5%"),
    (0.0, "0%"), (0.0006, "0.1%"), (0.0004, "<0.1%"), (0.9996, ">99%"), (0.996, ">99%"), (0.994, "99%"), (1.0, "100%"),
    (None, "n/a"), (float("nan"), "n/a"),
])
def test_the_reading_rule(share, text):
    # One decimal under 10%, whole from 10%; what would round to 0 or 100 without being so
    # says so. (0.0999 rounds to 10.0% under the one-decimal rule, not to a whole 10%.)
    assert percent(share) == text


@pytest.mark.parametrize(("share", "decimals", "text"), [
    (0.265, 1, "26.5%"), (0.265, 0, "26%"), (0.0, 1, "0.0%"), (0.0004, 1, "<0.1%"), (0.0004, 0, "<1%"),
    (0.9996, 1, ">99.9%"), (0.996, 0, ">99%"), (0.0004, 2, "0.04%"),
])
def test_fixed_places_keep_the_same_guards(share, decimals, text):
    assert percent(share, decimals) == text


def test_the_llm_sees_the_number_the_memo_writes():
    assert percent_number(0.26543) == 26.5 and percent(0.26543, 1) == "26.5%"
    assert percent_number(None) is None
    assert figure("binary", 0.047) == "4.7%" and figure("numeric", 1710.4) == "1,710"


def test_no_module_formats_a_percentage_itself():
    # f"{share:.1%}" or f"{100 * share:.1f}%" anywhere else would bring back a second rule.
    own = re.compile(r"\{[^{}]*:,?\.\d%\}|\{100 ?\* ?[^{}]*:\.\df\}%")
    found = [f"{p.relative_to(ROOT)}:{n}"
             for p in sorted((ROOT / "copilot").rglob("*.py")) if p.parent.name != "core"
             for n, line in enumerate(p.read_text().splitlines(), 1) if own.search(line)]
    assert found == []
