"""A goal's population, read against the table: "among month-to-month customers" is the rows
where ``Contract`` is ``Month-to-month``.

A PM's goal often names who it is about ("reduce churn among month-to-month customers", "grow
revenue for enterprise accounts", "customers in EMEA"). Segmenting everyone then answers another
question. ``find_scope`` reads the population words of a goal and matches them to the levels of
the table's categorical columns (and to the names of yes/no columns: "senior citizens" is
``SeniorCitizen = 1``); ``Scope.apply`` keeps those rows. Matching is by words, not by a model:
every word of a level must appear in the goal (``monthly`` matches ``Month-to-month``'s
``month``), so a vague phrase never narrows the table on a guess. Words that name a population
no column holds ("enterprise accounts" in a table without a plan column) come back as a
question for the user, not as a silent "everyone".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from copilot.core import DataError, Frozen, SettingsError, percent

# Nouns that say "these are customers": the words around them are the population.
_PEOPLE = frozenset({
    "customer", "account", "user", "subscriber", "client", "member", "buyer", "shopper",
    "people", "person", "patron", "guest", "player", "tenant", "merchant", "seller", "holder",
    "owner", "segment", "cohort",
})
# Nouns that may also be a level ("the Business plan", "Household" accounts): a population
# word unless a column has a level with that word.
_POPULATION_OR_LEVEL = frozenset({
    "household", "company", "compani", "business", "busines", "organisation", "organization",
    "plan", "contract", "subscription", "family", "famili",
})
_POPULATION = _PEOPLE | _POPULATION_OR_LEVEL
# Qualifiers that name no column level: who the goal is about in general, or a value/risk
# stance the segments themselves will show. Left unmatched, they are not worth a question.
_GENERIC = frozenset({
    "our", "all", "the", "my", "a", "an", "existing", "current", "paying", "paid", "active",
    "every", "each", "these", "those", "them", "us", "loyal", "valuable", "high", "low", "value",
    "risk", "at", "best", "top", "key", "core", "engaged", "inactive", "churned", "churning",
    "unhappy", "happy", "most", "many", "more", "other", "new", "old", "long", "term", "time",
    "first", "repeat", "returning", "lapsed", "dormant", "big", "small", "large", "biggest",
    "whole", "entire", "base", "total", "group", "different", "various", "target", "ideal",
    "potential", "likely", "who", "that", "are", "is", "on", "in", "with", "of", "and", "or",
    "to", "from", "using", "have", "has", "use", "who're", "currently", "still", "just", "only",
    "both", "some", "any", "retained", "lost", "leaving", "spending", "spend", "heavy", "light",
    "power", "casual", "premium", "budget", "frequent", "occasional", "recent", "highest",
    "lowest", "rate", "revenue", "churn", "by", "pay", "via", "through", "per",
})
_NEGATION = frozenset({"non", "not", "no", "without"})
_TRUE = frozenset({"1", "yes", "true", "y", "t"})
_FALSE = frozenset({"0", "no", "false", "n", "f"})
# Words of a level that carry no meaning of their own ("Month-to-month", "Bank transfer (auto)").
_LEVEL_STOP = frozenset({"to", "of", "the", "and", "a", "an", "per", "or", "by"})
MAX_LEVELS = 60  # a column with more levels is an identifier or free text, not a population
MIN_SCOPED_ROWS = 20

_END = (r"(?=$|[,.;:!?()]|\s(?:by|over|through|via|before|after|while|so|this|next|within|"
        r"during|until|because|since|and then|in the next|in q\d|compared|who|that|which|whose)\b)")
_MARKERS = (
    re.compile(r"\bamong(?:st)?\s+(?P<p>.+?)" + _END, re.IGNORECASE),
    re.compile(r"\b(?:for|of)\s+(?P<p>.+?)" + _END, re.IGNORECASE),
    re.compile(r"\b(?:customers?|accounts?|users?|subscribers?|clients?|members?|buyers?|"
               r"shoppers?|households?|companies|businesses)\s+(?:who\s+(?:are|have|use)\s+)?"
               r"(?P<p>(?:in|from|on|with|without|using|paying(?: by| with)?|who pay(?: by| with)?"
               r"|based in|located in)\s+.+?)" + _END,
               re.IGNORECASE),
)
# Words before a population noun ("keep our APAC customers on the Business plan"): tried from
# the longest to the shortest start, and only ever a scope when every word is matched, never
# a question (the verb before them is not a population).
_BEFORE_NOUN = re.compile(
    r"(?P<p>(?:[\w-]+\s+){1,4}(?:customers?|accounts?|users?|subscribers?|clients?|members?|"
    r"buyers?|shoppers?|households?)(?:\s+(?:in|from|on|with|without|using)\s+.+?)?)" + _END,
    re.IGNORECASE)
_STRONG = re.compile(r"\bamong(?:st)?\b", re.IGNORECASE)


class Scope(Frozen):
    """The rows a goal is about: ``column`` is one of ``levels`` (as text), for each condition.

    ``words`` are the goal's own words, kept for the sentence that tells the user.
    """

    conditions: tuple[tuple[str, tuple[str, ...]], ...]
    words: str | None = None

    def mask(self, df: pd.DataFrame) -> np.ndarray:
        """True for the rows in the scope; ``SettingsError`` when a column is missing."""
        keep = np.ones(len(df), dtype=bool)
        for column, levels in self.conditions:
            if column not in df.columns:
                raise SettingsError(f"The scope column '{column}' is not in the table; type "
                                    "/scope all to segment everyone, or name another column.")
            keep &= level_text(df[column]).isin(levels).to_numpy()
        return keep

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        """The scoped rows (a fresh index); ``DataError`` when too few are left to segment."""
        scoped = df.loc[self.mask(df)].reset_index(drop=True)
        if len(scoped) < MIN_SCOPED_ROWS:
            raise DataError(f"Only {len(scoped):,} of {len(df):,} customers have "
                            f"{self.describe()}; too few to segment. Type /scope all to segment "
                            "everyone, or choose a broader level.")
        return scoped

    def within(self, df: pd.DataFrame, label: str = "the table"
               ) -> tuple[pd.DataFrame, str | None]:
        """The rows in the scope and a note on the others (None when none is left out, or
        when a scope column is missing: then every row is kept and the note says so). For
        tables scored by a model trained on a scope: new customers, later snapshots."""
        missing = [c for c, _ in self.conditions if c not in df.columns]
        if missing:
            return df, (f"The model was trained only on customers with {self.describe()}, but "
                        f"{label} has no column {missing[0]}, so every row is scored.")
        keep = self.mask(df)
        out = int((~keep).sum())
        if not out:
            return df, None
        return df.loc[keep].reset_index(drop=True), (
            f"{out:,} row(s) of {label} are outside the model's scope ({self.describe()}) "
            "and are left out.")

    def describe(self) -> str:
        """``Contract = Month-to-month`` (``or`` between levels, ``and`` between columns)."""
        return " and ".join(f"{c} = {' or '.join(levels)}" for c, levels in self.conditions)


class ScopeReport(Frozen):
    """What a scoped analysis covered, as the memo and the chat say it."""

    scope: Scope
    rows: int
    of_rows: int

    def sentence(self) -> str:
        share = self.rows / self.of_rows if self.of_rows else 0.0
        said = f" (the goal's \u201c{self.scope.words}\u201d)" if self.scope.words else ""
        return (f"Only the {self.rows:,} customers with {self.scope.describe()}{said} were "
                f"segmented: {percent(share, 0)} of the {self.of_rows:,} in the table.")


@dataclass(frozen=True)
class ScopeFinding:
    """The population a goal names: a ``scope`` the table holds, or a ``question``."""

    words: str
    scope: Scope | None = None
    question: str | None = None


def level_text(series: pd.Series) -> pd.Series:
    """A column's values as the text the levels are compared in (whole numbers without
    ``.0``, so a 0/1 column with gaps still reads ``1``)."""
    if pd.api.types.is_bool_dtype(series):
        return series.map({True: "True", False: "False"}).astype(object)
    if pd.api.types.is_numeric_dtype(series):
        values = pd.to_numeric(series, errors="coerce")
        finite = values.dropna()
        if len(finite) and (finite == finite.round()).all():
            return values.astype("Int64").astype(str)
        return values.astype(str)
    return series.astype(str).str.strip()


def parse_scope(text: str, df: pd.DataFrame) -> Scope:
    """``COLUMN=LEVEL[,LEVEL]`` (a ``/scope`` command) against the table; ``SettingsError``
    with one sentence for a column or level the table does not have."""
    column, sep, rest = text.partition("=")
    column, levels = column.strip(), tuple(v.strip() for v in rest.split(",") if v.strip())
    if not sep or not column or not levels:
        raise SettingsError("Give the scope as COLUMN=LEVEL, e.g. /scope Contract=Month-to-month, "
                            "or /scope all to segment everyone.")
    match = {str(c).lower(): str(c) for c in df.columns}.get(column.lower())
    if match is None:
        raise SettingsError(f"There is no column '{column}' to scope on; name one of the table's "
                            "columns.")
    present = level_text(df[match]).value_counts()
    by_lower = {str(v).lower(): str(v) for v in present.index}
    chosen = []
    for level in levels:
        if level.lower() not in by_lower:
            some = ", ".join(map(str, list(present.index[:6])))
            raise SettingsError(f"{match} has no level '{level}'; its levels include {some}.")
        chosen.append(by_lower[level.lower()])
    return Scope(conditions=((match, tuple(chosen)),))


def find_scope(goal: str | None, df: pd.DataFrame, *, skip: Iterable[str] = ()
               ) -> ScopeFinding | None:
    """The population ``goal`` names, matched to the table; None when it names none.

    ``skip``: columns that may not scope (the ID, the outcomes: "among churned customers" in a
    churn goal is the label, not a population).
    """
    if not goal:
        return None
    skipped = {str(c) for c in skip}
    columns = [c for c in df.columns if str(c) not in skipped and _is_level_column(df[c])]
    phrases = [(w, strong, True) for w, strong in _phrases(goal)]
    for m in _BEFORE_NOUN.finditer(goal):
        words = m.group("p").split()
        phrases += [(" ".join(words[i:]), False, False) for i in range(len(words) - 1)]
    vocabulary = {w for c in columns for v in level_text(df[c].dropna()).unique()
                  for w in _level_words(str(v))}
    matched: list[ScopeFinding] = []
    asked: list[ScopeFinding] = []
    for words, strong, may_ask in phrases:
        tokens = _tokens(words)
        qualifier = [t for t in tokens if t not in _PEOPLE and t not in _GENERIC
                     and t not in _NEGATION and (t not in _POPULATION_OR_LEVEL or t in vocabulary)]
        if not qualifier:
            continue
        negated = any(t in _NEGATION for t in tokens)
        conditions = _match(tokens, qualifier, negated, df, columns)
        if conditions:
            matched.append(ScopeFinding(words, Scope(conditions=conditions, words=words)))
        elif may_ask and (strong or any(t in _POPULATION for t in tokens)):
            asked.append(ScopeFinding(words, question=_question(words, df, columns)))
    if matched:  # the reading that explains most ("APAC customers on the Business plan")
        return max(matched, key=lambda f: len(f.scope.conditions))
    return asked[0] if asked else None


def _phrases(goal: str) -> list[tuple[str, bool]]:
    found = []
    for pattern in _MARKERS:
        for m in pattern.finditer(goal):
            words = m.group("p").strip()
            if words:
                found.append((words, bool(_STRONG.match(m.group(0)))))
    return found


def _is_level_column(series: pd.Series) -> bool:
    n = series.nunique(dropna=True)
    if n < 2:
        return False
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return n == 2 and set(level_text(series.dropna()).unique()) <= {"0", "1"}
    return n <= MAX_LEVELS


def _stem(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _tokens(text: str) -> list[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(text))
    return [_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower())]


def _same(a: str, b: str) -> bool:
    # "monthly" is "month", "annually" is "annual"; short words must match exactly.
    return a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)))


def _covered(needed: Iterable[str], words: Iterable[str]) -> set[str]:
    """The ``words`` that cover every one of ``needed``; empty when one is missing."""
    words = list(words)
    used: set[str] = set()
    for t in needed:
        hits = [w for w in words if _same(t, w)]
        if not hits:
            return set()
        used.update(hits)
    return used


def _match(tokens: list[str], qualifier: list[str], negated: bool, df: pd.DataFrame,
           columns: list) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Greedy: the column level explaining most qualifier words, then the next, while any
    qualifier word is left. A tie between columns that keep different rows is no match (ask
    rather than guess); a tie between columns that keep the same rows ("no internet" is both
    ``InternetService = No`` and ``OnlineSecurity = No internet service``) takes the first."""
    left = list(qualifier)
    conditions: list[tuple[str, tuple[str, ...]]] = []
    while left:
        best: list[tuple[set[str], str, tuple[str, ...]]] = []
        for column in columns:
            if any(str(column) == c for c, _ in conditions):
                continue
            hit = _column_match(column, tokens, left, negated, df[column])
            if hit is not None:
                best.append((hit[0], str(column), hit[1]))
        if not best:
            break
        best.sort(key=lambda b: -len(b[0]))
        # Rivals: as many words explained, some of them the same ("gold" as a tier and a badge).
        tied = [b for b in best[1:] if len(b[0]) == len(best[0][0]) and b[0] & best[0][0]]
        if tied:
            first = Scope(conditions=((best[0][1], best[0][2]),)).mask(df)
            if any((Scope(conditions=((c, lv),)).mask(df) != first).any() for _, c, lv in tied):
                break
        _, column, levels = best[0]
        conditions.append((column, levels))
        said = _tokens(column) + [w for lv in levels for w in _level_words(lv)]
        left = [t for t in left if not any(_same(t, w) for w in said)]
    return tuple(conditions) if conditions and not left else ()


def _level_words(level: str) -> list[str]:
    # "Credit card (automatic)": the words in brackets qualify the level, a PM leaves them out.
    return [t for t in _tokens(re.sub(r"\([^)]*\)", " ", level)) if t not in _LEVEL_STOP]


def _column_match(column, tokens: list[str], left: list[str], negated: bool, series: pd.Series
                  ) -> tuple[set[str], tuple[str, ...]] | None:
    """(qualifier words explained, levels) for one column, or None. A level matches when every
    word of it is in the phrase; the column's own name explains words too."""
    levels = [str(v) for v in level_text(series.dropna()).unique()]
    named = _covered_any(_tokens(column), left)  # qualifier words the column's name explains
    lower = {v.lower(): v for v in levels}
    # A yes/no column named by the words: "senior citizens" is SeniorCitizen = 1, "non-senior"
    # SeniorCitizen = 0. One long word of the name is enough ("senior", "paperless").
    if len(levels) == 2 and set(lower) <= _TRUE | _FALSE and set(lower) & _TRUE:
        if not any(len(w) >= 4 for w in named):
            return None
        pick = next(v for k, v in lower.items() if (k in _FALSE) == negated)
        return named, (pick,)
    matched: list[str] = []
    explained: set[str] = set()
    for level in levels:
        content = _level_words(level)
        if not content:
            continue
        if all(t in _TRUE | _FALSE for t in content) and not named:
            continue  # a bare "No" level counts only when the column is named too
        if _covered(content, tokens):
            matched.append(level)
            explained |= _covered_any(content, left) | named
    if not matched or not explained:
        return None
    return explained, tuple(matched)


def _covered_any(needed: Iterable[str], words: Iterable[str]) -> set[str]:
    """The ``words`` that match any of ``needed``."""
    words = list(words)
    return {w for t in needed for w in words if _same(t, w)}


def _question(words: str, df: pd.DataFrame, columns: list) -> str:
    example = next((f"{c}={level_text(df[c].dropna()).iloc[0]}" for c in columns
                    if df[c].nunique() > 2), None) or (
        f"{columns[0]}={level_text(df[columns[0]].dropna()).iloc[0]}" if columns else None)
    how = f"/scope {example}" if example else "/scope COLUMN=LEVEL"
    return (f"The goal is about \u201c{words}\u201d, but no column of the table has a level "
            f"like that, so all customers will be segmented. To narrow it, type {how} "
            "(a column and its level); /scope all keeps everyone.")
