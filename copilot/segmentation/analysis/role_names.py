"""What a column's name says about its role: an identifier ("customer_id"), a running total of
another column ("TotalCharges" beside "MonthlyCharges"), or a feature named after an outcome
("churn_score" for "churned"). Only the names are read, never the values.
"""

from __future__ import annotations

from copilot.segmentation.data import name_tokens


def named_after_outcome(feature: str, outcome: str) -> bool:
    """Whether ``feature``'s name is built from ``outcome``'s ("churn_score" for "churned",
    "Exited_flag" for "Exited"): every word of the outcome's name is in it."""
    words = name_tokens(feature)
    wanted = name_tokens(outcome)
    return bool(wanted) and all(
        any(w == t or (min(len(w), len(t)) >= 4 and (w.startswith(t) or t.startswith(w)))
            for w in words) for t in wanted)


_ID_TOKENS = frozenset({"id", "ids", "uuid", "guid", "identifier"})
_ENTITY_TOKENS = frozenset({
    "customer", "cust", "user", "account", "acct", "client", "member", "subscriber",
    "person", "contact", "buyer", "shopper", "household", "patient", "player", "visitor",
})
_NUMBER_TOKENS = frozenset({"number", "no", "num", "nr", "code", "key"})
# A name with one of these beside another column's word is a running total of that column
# (TotalCharges beside MonthlyCharges): a feature's sum, not an outcome, by its name alone.
_TOTAL_TOKENS = frozenset({"total", "sum", "cumulative", "cum", "running", "accumulated"})


def id_name_score(name: object) -> int:
    """How strongly a column name says "identifier": 3 strong, 2 likely, 1 weak, 0 not."""
    tokens = name_tokens(name)
    if not tokens:
        return 0
    has_id = bool(_ID_TOKENS.intersection(tokens))
    has_entity = bool(_ENTITY_TOKENS.intersection(tokens))
    if tokens in (["id"], ["uuid"], ["guid"]) or has_entity and has_id:
        return 3
    if has_entity and tokens[-1] in _NUMBER_TOKENS:
        return 2
    if has_id or tokens[-1] == "key":
        return 1
    return 0


def running_total_of(name: str, columns: list[str]) -> str | None:
    """The column ``name`` is a running total of (``TotalCharges`` -> ``MonthlyCharges``): its
    name says total/sum and shares its other words with that column's. None otherwise."""
    tokens = name_tokens(name)
    if not _TOTAL_TOKENS.intersection(tokens):
        return None
    rest = {t for t in tokens if t not in _TOTAL_TOKENS and not t.isdigit() and len(t) > 1}
    if not rest:
        return None
    for other in columns:
        if other == name:
            continue
        theirs = set(name_tokens(other))
        if rest <= theirs and not _TOTAL_TOKENS.intersection(theirs):
            return other
    return None
