"""Words in column names: the tokens of a name and the outcome words a name can carry.

Below the analysis because the event-log reader needs them too (a per-customer column named
after an outcome is kept out of the features), and the reader must not import the analysis.
"""

from __future__ import annotations

import re

_TOKEN_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
OUTCOME_TOKENS = frozenset({
    "churn", "churned", "attrition", "cancel", "cancelled", "canceled", "cancellation",
    "retained", "retention", "converted", "conversion", "renewed", "renewal", "upgraded",
    "defaulted", "target", "label", "outcome", "revenue", "ltv", "clv",
})
OUTCOME_PHRASES: tuple[str, ...] = ("lifetime value", "total revenue")


def name_tokens(name: object) -> list[str]:
    """Lowercase word tokens of a column name: camelCase, snake_case, spaces and digits."""
    return [t.lower() for t in _TOKEN_RE.findall(str(name))]


def outcome_name_match(name: object) -> str | None:
    """The outcome word or phrase in a column name (``"churn"``, ``"lifetime value"``) or None."""
    tokens = name_tokens(name)
    for t in tokens:
        if t in OUTCOME_TOKENS:
            return t
    joined = f" {' '.join(tokens)} "
    for phrase in OUTCOME_PHRASES:
        if f" {phrase} " in joined:
            return phrase
    return None
