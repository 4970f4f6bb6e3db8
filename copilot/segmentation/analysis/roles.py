"""Column roles: which columns are IDs, features, outcomes, or left out, and why.

Outcome columns (churn, revenue, LTV-like names and binary flags) are kept out of the
clustering and used only to validate the segments. Every role can be overridden.
"""

from __future__ import annotations

import difflib
import re
from functools import partial
from typing import Literal, get_args

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from copilot.core import ColumnError, DataError, Frozen
from copilot.segmentation.analysis.parallel import run_all
from copilot.segmentation.analysis.role_names import id_name_score, running_total_of
from copilot.segmentation.data import name_tokens, outcome_name_match

Role = Literal[
    "id",           # identifies a customer; never a feature
    "numeric",      # feature
    "categorical",  # feature (few levels)
    "boolean",      # feature (two values)
    "datetime",     # feature, as days before the latest date in the column
    "text",         # free text; not a feature (yet)
    "constant",     # one value (or all missing); not a feature
    "outcome",      # validation only: never a feature
    "excluded",     # left out by the user
]
FEATURE_ROLES: tuple[str, ...] = ("numeric", "categorical", "boolean", "datetime")


class ColumnRole(Frozen):
    name: str
    dtype: str
    role: Role
    reason: str
    n_unique: int
    missing_share: float
    outcome_kind: Literal["binary", "continuous"] | None = None
    positive_label: str | None = None  # for binary outcomes: the value that counts as 1
    # For binary outcomes: the other value. When the pair does not say which is "yes" (1/2,
    # A/B), every sentence about the outcome names its positive label (``outcome_phrase``).
    negative_label: str | None = None
    overridden: bool = False

    @property
    def positive_evident(self) -> bool:
        """Does the pair of values say by itself which one counts as positive (1/0, yes/no,
        churned/stayed)? Not for 1/2 or A/B, and not for a positive that is not a "yes" word."""
        if self.positive_label is None:
            return True
        pos = self.positive_label.strip().lower()
        neg = (self.negative_label or "").strip().lower()
        if pos in _YES_WORDS:
            return neg in _NO_WORDS or neg == ""
        return pos in POSITIVE_VALUES and neg not in POSITIVE_VALUES

    @property
    def outcome_phrase(self) -> str:
        """How sentences name the outcome: ``Churn``, or ``Class = 2`` when 2 is the positive
        label and the values alone do not say so."""
        return self.name if self.positive_evident else f"{self.name} = {self.positive_label}"


class RoleReport(Frozen):
    columns: tuple[ColumnRole, ...]
    id_column: str | None
    outcomes: tuple[str, ...]
    features: tuple[str, ...]

    def get(self, name: str) -> ColumnRole:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def features_with_role(self, role: str) -> tuple[str, ...]:
        return tuple(c for c in self.features if self.get(c).role == role)

    def without_features(self, reasons: dict[str, str]) -> RoleReport:
        """The same roles with the features named in ``reasons`` left out, each with its
        reason (a leak of an outcome)."""
        columns = tuple(c.model_copy(update={"role": "excluded", "reason": reasons[c.name]})
                        if c.name in reasons and c.name in self.features else c
                        for c in self.columns)
        return self.model_copy(update={"columns": columns, "features": tuple(
            f for f in self.features if f not in reasons)})


ROLES: tuple[str, ...] = get_args(Role)

# ----------------------------------------------------------------------------- value rules

# Values that count as the positive class of a binary outcome, lowercase.
POSITIVE_VALUES = frozenset({
    "yes", "y", "true", "t", "1", "1.0", "churn", "churned", "cancel", "cancelled",
    "canceled", "attrited", "attrited customer", "converted", "renewed", "upgraded",
    "defaulted", "default", "positive", "pos", "left", "lost", "exited",
})

_YES_WORDS = frozenset({"true", "yes", "y", "t", "1", "1.0", "on"})
_NO_WORDS = frozenset({"false", "no", "n", "f", "0", "0.0", "off"})

MIN_ROWS_UNIQUE_ID = 10  # "every value is unique" only means ID with at least this many rows
MAX_CATEGORIES = 50  # text with at most this many levels is categorical
CATEGORY_SHARE = 0.05  # ... or with distinct values at most this share of the rows
MAX_CATEGORY_LEVELS = 1000  # ... but never more levels than this
LONG_TEXT_CHARS = 30  # mean length above this is free text
MANY_WORDS = 5  # mean word count above this is free text
_TEXT_SAMPLE = 5000


# ------------------------------------------------------------------------------- helpers


def _value_label(v: object) -> str:
    """How a value is written as a label (``positive_label``): ``str(v)`` stripped."""
    return str(v).strip()


def _is_numeric(s: pd.Series) -> bool:
    return ptypes.is_numeric_dtype(s.dtype) and not ptypes.is_bool_dtype(s.dtype)


def _is_text_like(s: pd.Series) -> bool:
    return (
        isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype))
        or s.dtype == object
    )


def _n_unique(s: pd.Series) -> int:
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iuf":
        # Plain numbers are counted by sorting: the same count as a hash table's (NaN left
        # out, 0.0 and -0.0 one value) for a third of its time on 10 million distinct values,
        # where pandas' table thrashed (170 s for 31 columns on two threads).
        v = s.to_numpy()
        if v.dtype.kind == "f":
            v = v[~np.isnan(v)]
        v = np.sort(v)
        return 0 if v.size == 0 else 1 + int(np.count_nonzero(v[1:] != v[:-1]))
    try:
        return int(s.nunique(dropna=True))
    except TypeError:  # unhashable cells (lists, dicts)
        return int(s.dropna().astype(str).nunique())


def _text_sample(s: pd.Series) -> pd.Series:
    values = s.dropna()
    if len(values) > _TEXT_SAMPLE:
        step = len(values) // _TEXT_SAMPLE
        values = values.iloc[::step]
    return values.astype(str)


def _integral(s: pd.Series) -> bool:
    """True when a numeric column holds whole numbers only (ints, or floats like 12.0)."""
    if ptypes.is_integer_dtype(s.dtype):
        return True
    if not ptypes.is_float_dtype(s.dtype):
        return False
    v = s.to_numpy(dtype=float, na_value=np.nan)
    v = v[~np.isnan(v)]
    return bool(v.size) and bool(np.all(np.isfinite(v))) and bool(np.all(v == np.round(v)))


def _fmt_values(values: list[str], limit: int = 3) -> str:
    shown = ", ".join(values[:limit])
    return shown + (", ..." if len(values) > limit else "")


def _unknown_column(name: str, what: str, columns: list[str]) -> ColumnError:
    close = difflib.get_close_matches(str(name), columns, n=1, cutoff=0.5)
    if not close:
        lowered = {c.lower(): c for c in columns}
        close = [lowered[str(name).lower()]] if str(name).lower() in lowered else []
    listing = ", ".join(columns[:8]) + (", ..." if len(columns) > 8 else "")
    if close:
        return ColumnError(
            f"Column '{name}' given as {what} is not in the table; the closest name is "
            f"'{close[0]}' (columns: {listing})."
        )
    return ColumnError(
        f"Column '{name}' given as {what} is not in the table; use one of its columns "
        f"({listing})."
    )


class _Stats:
    """Per-column facts computed once: the only full passes over the data."""

    __slots__ = ("missing_share", "n", "n_present", "n_unique", "name", "s")

    def __init__(self, s: pd.Series, name: str):
        self.s = s
        self.name = name
        self.n = len(s)
        self.n_present = int(s.notna().sum())
        self.n_unique = _n_unique(s)
        self.missing_share = float(1.0 - self.n_present / self.n) if self.n else 0.0

    @property
    def all_unique(self) -> bool:
        return self.n_present > 0 and self.n_unique == self.n_present


# ------------------------------------------------------------------------ outcome rules


def _outcome_kind(st: _Stats) -> Literal["binary", "continuous"] | None:
    if ptypes.is_bool_dtype(st.s.dtype) or st.n_unique == 2:
        return "binary"
    if _is_numeric(st.s):
        return "continuous"
    return None


def _positive_label(s: pd.Series) -> str:
    counts = s.value_counts(dropna=True)
    labels = [_value_label(v) for v in counts.index]
    lowered = {lab.lower() for lab in labels}
    # 1 means "yes" beside 0 only: coded 1/2 (German credit: 1 good, 2 bad) says nothing.
    hits = [lab for lab in labels if lab.lower() in POSITIVE_VALUES
            and not (lab.lower() in _YES_WORDS and not lowered - {lab.lower()} <= _NO_WORDS)]
    if len(hits) == 1:
        return hits[0]
    # Otherwise the less frequent value; ties go to the later value in sorted order.
    pairs = sorted(zip(labels, counts.to_numpy().tolist(), strict=True), key=lambda p: p[0])
    return min(reversed(pairs), key=lambda p: p[1])[0]


def _outcome_role(st: _Stats, how: str, *, explicit: bool, overridden: bool = False) -> ColumnRole:
    kind = _outcome_kind(st)
    if kind is None:
        raise ColumnError(
            f"Column '{st.name}' cannot be an outcome because it is neither yes/no (two values) "
            f"nor numeric (it has {st.n_unique} distinct values of type {st.s.dtype}); choose "
            "a two-valued or numeric column."
        )
    negative = None
    if kind == "binary":
        positive = _positive_label(st.s)
        others = [_value_label(v) for v in st.s.dropna().unique() if _value_label(v) != positive]
        negative = others[0] if others else None
        what = f"a yes/no outcome where '{positive}' counts as positive"
    else:
        positive = None
        what = "a numeric outcome"
    role = ColumnRole(
        name=st.name, dtype=str(st.s.dtype), role="outcome", reason="",
        n_unique=st.n_unique, missing_share=st.missing_share, outcome_kind=kind,
        positive_label=positive, negative_label=negative, overridden=overridden,
    )
    if not role.positive_evident:
        what += (f" (the values do not say which is 'yes': the rarer value is taken, and "
                 f"sentences say '{role.outcome_phrase}')")
    return role.model_copy(update={
        "reason": f"{how} {what}; kept out of the features and used only to validate the segments."
    })


# ---------------------------------------------------------------------------- ID rules


def _id_evidence(st: _Stats) -> tuple[int, int, str] | None:
    """(name score, rule rank, reason) when the column identifies rows, else None.

    A higher name score and a lower rule rank make a better ``id_column``. Columns with an
    ID-like name whose values repeat a lot are still ID-like (rank 9) but never the id_column.
    """
    s, score = st.s, id_name_score(st.name)
    if st.n_present == 0:
        return None
    numeric = _is_numeric(s)
    whole = (not numeric) or _integral(s)
    unique_share = st.n_unique / st.n_present
    if ptypes.is_bool_dtype(s.dtype) or ptypes.is_datetime64_any_dtype(s.dtype):
        return None
    if score >= 1 and whole and st.all_unique:
        return score, 0, "the name says ID and every value is unique"
    if score >= 2 and whole and unique_share >= 0.9:
        dup = st.n_present - st.n_unique
        return score, 1, f"the name says ID and almost every value is unique ({dup} repeats)"
    if st.n < MIN_ROWS_UNIQUE_ID:
        if score >= 2 and whole and st.n_unique > 2:
            return score, 9, "the name says ID"
        return None
    if _is_text_like(s) and st.all_unique and st.missing_share <= 0.05:
        sample = _text_sample(s)
        if sample.str.len().mean() <= LONG_TEXT_CHARS and \
                sample.str.split().str.len().mean() <= 3:
            return score, 2, "every value is unique, like a code or a name"
    if numeric and whole and st.all_unique and st.missing_share == 0:
        v = s.to_numpy()
        if float(np.max(v)) - float(np.min(v)) == st.n_present - 1:
            return score, 3, "it numbers the rows (consecutive whole numbers, all different)"
    if score >= 2 and whole and st.n_unique > 2:
        return score, 9, "the name says ID, but values repeat, so it is not a row key"
    example = _code_like(s) if _is_text_like(s) and st.n_unique >= 3 else None
    if example is not None:
        # Values such as ACC-900000 are account or order numbers whatever the column is
        # called: as a feature they would split customers by an arbitrary code, and their
        # values would reach the model's prompts as "levels".
        return (score, 4 if st.all_unique else 9,
                f"its values look like identifiers, such as {example!r}: a shared prefix and "
                "a long number")
    return None


# A letter prefix (the same for most values), an optional separator and at least five digits,
# or a long hexadecimal hash: "ACC-900000", "acc_8cdfd439", "C100570". Dates, amounts and
# short codes such as "Q1" or "Tier 2" do not match.
_CODE = re.compile(r"^(?P<prefix>[A-Za-z]{1,6})[-_ ]?(?:\d{5,}|[0-9a-f]{8,})$")


def _code_like(s: pd.Series) -> str | None:
    """An example value when at least 90% of the values look like identifiers with one
    shared prefix; None otherwise."""
    sample = _text_sample(s).str.strip()
    if sample.empty:
        return None
    found = sample.str.extract(_CODE)["prefix"].str.lower()
    if found.notna().mean() < 0.9:
        return None
    top = found.value_counts()
    if top.iloc[0] < 0.9 * len(sample):
        return None
    return str(sample[found == top.index[0]].iloc[0])


# -------------------------------------------------------------------------- type rules


def _type_role(st: _Stats) -> tuple[str, str]:
    s = st.s
    if st.n_unique <= 1:
        if st.n_present == 0:
            return "constant", "All values are missing, so it carries no information."
        value = _value_label(s.dropna().iloc[0])
        return "constant", f"Only one value ({value!r}), so it carries no information."
    if ptypes.is_bool_dtype(s.dtype) or st.n_unique == 2:
        values = sorted(_value_label(v) for v in s.dropna().unique())
        return "boolean", f"Two values ({values[0]} / {values[1]}); used as a yes/no feature."
    if ptypes.is_datetime64_any_dtype(s.dtype):
        return "datetime", "Dates; used as days before the latest date in the column."
    if _is_numeric(s):
        if (kind := _nominal_code(st)) is not None:
            return "categorical", (
                f"Whole-number codes ({st.n_unique} levels) and the name says {kind}: the codes "
                "name groups, so they are used as categories, not as amounts.")
        return "numeric", f"Numbers ({st.n_unique} distinct values); used as a numeric feature."
    if ptypes.is_timedelta64_dtype(s.dtype):
        return "text", "Durations are not supported as features yet; convert them to numbers."
    sample = _text_sample(s)
    mean_len = float(sample.str.len().mean())
    mean_words = float(sample.str.split().str.len().mean())
    few = st.n_unique <= MAX_CATEGORIES or (
        st.n_unique <= CATEGORY_SHARE * st.n_present and st.n_unique <= MAX_CATEGORY_LEVELS
    )
    long = mean_len > LONG_TEXT_CHARS or mean_words > MANY_WORDS
    if long and not (few and st.n_unique <= 0.5 * st.n_present):
        return "text", (
            f"Free text (about {mean_len:.0f} characters on average); not used as a feature."
        )
    if few:
        return "categorical", f"Text with {st.n_unique} levels; used as a categorical feature."
    return "text", (
        f"Text with {st.n_unique} distinct values, too many to use as categories; "
        "not used as a feature."
    )


# Words that make a column of small whole numbers a code for groups (Wholesale's Region 1-3),
# where arithmetic means nothing; beside a quantity word (count, number of, size) they do not.
_NOMINAL_TOKENS = frozenset({
    "region", "zone", "area", "territory", "district", "country", "city", "branch", "store",
    "channel", "category", "type", "kind", "class", "group", "segment", "cluster", "code",
    "department", "dept", "sector", "industry", "occupation", "job", "education", "marital",
    "gender", "sex", "race", "ethnicity", "platform", "device", "source", "campaign",
})
_QUANTITY_TOKENS = frozenset({
    "count", "number", "num", "n", "no", "qty", "quantity", "size", "amount", "total", "sum",
    "days", "months", "years", "age", "score", "rating", "rank", "level", "tier", "pct",
})
MAX_CODE_LEVELS = 12


def _nominal_code(st: _Stats) -> str | None:
    """The word that makes a small whole-number column a code for groups, or None."""
    if not 3 <= st.n_unique <= MAX_CODE_LEVELS or not _integral(st.s):
        return None
    tokens = set(name_tokens(st.name))
    if tokens & _QUANTITY_TOKENS:
        return None
    hits = sorted(tokens & _NOMINAL_TOKENS)
    return hits[0] if hits else None


def _plain(st: _Stats, role: str, reason: str, **kw) -> ColumnRole:
    return ColumnRole(
        name=st.name, dtype=str(st.s.dtype), role=role, reason=reason,  # type: ignore[arg-type]
        n_unique=st.n_unique, missing_share=st.missing_share, **kw,
    )


# ---------------------------------------------------------------------------- public API


def infer_roles(
    df: pd.DataFrame,
    *,
    id_column: str | None = None,
    outcomes: list[str] | None = None,
    exclude: list[str] | None = None,
    overrides: dict[str, Role] | None = None,
) -> RoleReport:
    """Give every column a role (ID, feature type, outcome, text, constant, excluded) and why.

    Explicit choices win over inference, in this order: ``overrides``, ``exclude``,
    ``id_column``, ``outcomes``. ``outcomes=None`` proposes outcomes from column names
    (churn, revenue, LTV, ...); ``outcomes=[]`` means "no outcomes". Raises ``ColumnError`` for
    a name that is not a column, an outcome that is neither two-valued nor numeric, an unknown
    role, or contradictory choices for one column.
    """
    names = _unique_names(df)
    outcomes_given = outcomes is not None
    outcome_list = [str(o) for o in (outcomes or [])]
    exclude_list = [str(e) for e in (exclude or [])]
    override_map = {str(k): v for k, v in (overrides or {}).items()}
    _check_choices(names, id_column, outcome_list, exclude_list, override_map)

    frame = df.set_axis(names, axis=1) if list(df.columns) != names else df
    # The per-column passes (a distinct count each: 30 columns of a million rows took about
    # 2.7 s in one thread) run on the engine's threads; pandas counts without the GIL.
    columns = [frame[n] for n in names]
    stats = dict(zip(names, run_all([partial(_Stats, s, n) for s, n in zip(columns, names,
                                                                            strict=True)]),
                     strict=True))
    result: dict[str, ColumnRole] = {}

    chosen_id = _explicit_roles(result, stats, names, id_column, outcome_list, exclude_list,
                                override_map)
    chosen_id = _inferred_ids(result, stats, names, chosen_id)
    if not outcomes_given:
        _outcomes_by_name(result, stats, names)
    _typed_roles(result, stats, names)

    columns = tuple(result[n] for n in names)
    return RoleReport(
        columns=columns,
        id_column=chosen_id,
        outcomes=tuple(c.name for c in columns if c.role == "outcome"),
        features=tuple(c.name for c in columns if c.role in FEATURE_ROLES),
    )


def _unique_names(df: pd.DataFrame) -> list[str]:
    """The column names as text; refuses a table with a name twice."""
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        dups = sorted({n for n in names if names.count(n) > 1})
        raise DataError(
            f"The table has duplicate column names ({', '.join(dups[:5])}); rename the columns "
            "so that each name is unique."
        )
    return names


def _check_choices(names: list[str], id_column: str | None, outcome_list: list[str],
                   exclude_list: list[str], override_map: dict[str, Role]) -> None:
    """Refuse a chosen name that is not a column, an unknown role, or two roles for one
    column."""
    if id_column is not None and str(id_column) not in names:
        raise _unknown_column(str(id_column), "the ID column", names)
    for o in outcome_list:
        if o not in names:
            raise _unknown_column(o, "an outcome", names)
    for e in exclude_list:
        if e not in names:
            raise _unknown_column(e, "a column to exclude", names)
    for k, role in override_map.items():
        if k not in names:
            raise _unknown_column(k, "a role override", names)
        if role not in ROLES:
            raise ColumnError(
                f"Role '{role}' given for column '{k}' is not a role; use one of "
                f"{', '.join(ROLES)}."
            )
    _check_conflicts(
        None if id_column is None else str(id_column), outcome_list, exclude_list, override_map
    )


def _explicit_roles(result: dict[str, ColumnRole], stats: dict[str, _Stats], names: list[str],
                    id_column: str | None, outcome_list: list[str], exclude_list: list[str],
                    override_map: dict[str, Role]) -> str | None:
    """Step 1, the explicit choices (overrides, exclusions, the ID, outcomes) into ``result``;
    returns the chosen ID column, if any."""
    # 1. explicit choices
    for n, role in override_map.items():
        st = stats[n]
        if role == "outcome":
            result[n] = _outcome_role(st, "Set as an outcome at your request:", explicit=True,
                                      overridden=True)
        else:
            result[n] = _plain(st, role, _override_reason(role), overridden=True)
    for n in exclude_list:
        if n not in result:
            result[n] = _plain(stats[n], "excluded", "Left out at your request.")
    chosen_id = None if id_column is None else str(id_column)
    if chosen_id is not None and chosen_id not in result:
        result[chosen_id] = _plain(
            stats[chosen_id], "id",
            "Chosen as the ID column: it labels the rows and is never used as a feature.",
        )
    for n in outcome_list:
        if n not in result:
            result[n] = _outcome_role(stats[n], "Chosen as an outcome:", explicit=True)
    if chosen_id is None:
        forced = [n for n in names if override_map.get(n) == "id"]
        chosen_id = forced[0] if forced else None
    return chosen_id


def _inferred_ids(result: dict[str, ColumnRole], stats: dict[str, _Stats], names: list[str],
                  chosen_id: str | None) -> str | None:
    """Step 2, the columns that look like identifiers into ``result``; the best one is the
    customer ID unless one was chosen. Returns the ID column."""
    # 2. inferred IDs
    evidence = {}
    for n in names:
        if n in result:
            continue
        ev = _id_evidence(stats[n])
        if ev is not None:
            evidence[n] = ev
    if chosen_id is None:
        keys = [n for n, ev in evidence.items() if ev[1] < 9]
        if keys:
            chosen_id = min(keys, key=lambda n: (-evidence[n][0], evidence[n][1],
                                                 names.index(n)))
    for n, (_score, _rank, why) in evidence.items():
        if n == chosen_id:
            reason = f"Looks like the customer ID ({why}); it labels the rows and is never a feature."
        else:
            reason = f"Looks like another identifier ({why}); kept out of the features."
        result[n] = _plain(stats[n], "id", reason)
    return chosen_id


def _outcomes_by_name(result: dict[str, ColumnRole], stats: dict[str, _Stats],
                      names: list[str]) -> None:
    """Step 3, the outcomes proposed by name (churn, revenue ...) into ``result``, when the
    caller named none."""
    # 3. outcomes proposed by name
    for n in names:
        if n in result:
            continue
        word = outcome_name_match(n)
        st = stats[n]
        if word is None or st.n_unique < 2 or _outcome_kind(st) is None:
            continue
        if (total_of := running_total_of(n, names)) is not None:
            role, why = _type_role(st)
            result[n] = _plain(st, role, f"{why} Its name makes it a running total of "
                               f"{total_of}, so it is not taken as an outcome by name; name "
                               "it as an outcome to validate against it.")
            continue
        result[n] = _outcome_role(st, f"Looks like an outcome (the name mentions '{word}'):",
                                  explicit=False)


def _typed_roles(result: dict[str, ColumnRole], stats: dict[str, _Stats],
                 names: list[str]) -> None:
    """Step 4, a role by type (numeric, categorical, text ...) for every column left."""
    # 4. types for the rest
    for n in names:
        if n in result:
            continue
        role, reason = _type_role(stats[n])
        result[n] = _plain(stats[n], role, reason)


def _override_reason(role: str) -> str:
    if role in FEATURE_ROLES:
        return f"Set to {role} at your request; used as a {role} feature."
    if role == "id":
        return "Set as an identifier at your request; never used as a feature."
    return f"Set to {role} at your request; not used as a feature."


def _check_conflicts(id_column, outcomes, exclude, overrides) -> None:
    asked: dict[str, set[str]] = {}
    if id_column is not None:
        asked.setdefault(id_column, set()).add("id")
    for n in outcomes:
        asked.setdefault(n, set()).add("outcome")
    for n in exclude:
        asked.setdefault(n, set()).add("excluded")
    for n, role in overrides.items():
        asked.setdefault(n, set()).add(role)
    for n, roles in asked.items():
        if len(roles) > 1:
            listed = " and ".join(sorted(roles))
            raise ColumnError(
                f"Column '{n}' was asked to be both {listed}; give each column one role."
            )


def outcome_values(df: pd.DataFrame, role: ColumnRole) -> pd.Series:
    """An outcome column as floats: binary as 1.0 (positive label) / 0.0, NaN where missing."""
    if role.name not in df.columns:
        raise ColumnError(
            f"Outcome column '{role.name}' is not in the table; check the column name."
        )
    s = df[role.name]
    if role.outcome_kind == "binary":
        positive = role.positive_label
        uniques = s.dropna().unique()
        mapping = {v: (1.0 if _value_label(v) == positive else 0.0) for v in uniques}
        codes, levels = pd.factorize(s, use_na_sentinel=True)
        table = np.array([mapping[v] for v in levels], dtype=float)
        out = np.full(len(s), np.nan)
        valid = codes >= 0
        out[valid] = table[codes[valid]]
        return pd.Series(out, index=s.index, name=role.name, dtype=float)
    if role.outcome_kind == "continuous":
        values = pd.to_numeric(s, errors="coerce")
        return pd.Series(
            np.asarray(values, dtype=float), index=s.index, name=role.name, dtype=float
        )
    raise ColumnError(
        f"Column '{role.name}' is not an outcome; mark it as an outcome to use its values."
    )
