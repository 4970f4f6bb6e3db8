"""Amount columns written as text the way spreadsheets export them, read in DuckDB.

``1,234.50``, ``£1,234.50``, ``$ 12``, ``12.50 EUR``, ``(12.50)``, ``12,50`` and
``1.234,50 €`` are all amounts. Whether a comma or a dot is the decimal separator is decided
once per column, from the values that can only be read one way (``12,50`` has a decimal comma,
``1,234.50`` a decimal point), so ``1,234`` is never 1.234 in one row and 1234 in another.
Values that still cannot be read are dropped and reported, unless there are many of them, they
hold much of the column's value, or they share one format (a format the reader does not know,
not typos): then the column is refused in one sentence that names an example.

The events module stages every amount column in its one pass over the log (``stage_inner``
and ``stage_outer``), then settles each text column's convention (``settle``) and checks what
could not be read (``check_unreadable``) on the staged table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from copilot.core import DataError, percent

DOT, COMMA = ".", ","  # the decimal separator of a column
SYSTEMATIC_MIN_ROWS = 5  # unreadable values written the same way that make a format, not typos
#                          (when they are also most of the unreadable numbers)

_SPACES = " \u00a0\u202f"  # space, no-break space and narrow no-break space group thousands too
_WS = "[\\s\u00a0\u202f]*"
_SIGN = "[-+\u2212]"
# A currency sign (with a country prefix: US$, R$, HK$), an ISO code, or a few letter symbols.
_CURRENCY = "(?:[A-Z]{0,2}\\p{Sc}|[A-Z]{3}|kr\\.?|zł|Kč|Ft|Rs\\.?|Fr\\.?|lei)"
_NUMBER_RUN = f"(?:[0-9]|[.,][0-9])(?:[0-9.,'{_SPACES}]*[0-9])?"
# Parentheses, at most one sign and at most one currency around one number; which of them are
# really there, and only once, is checked in SQL on the captured groups.
_PATTERN = (f"^(\\()?{_WS}({_SIGN})?{_WS}({_CURRENCY})?{_WS}({_SIGN})?{_WS}(\\()?{_WS}"
            f"({_NUMBER_RUN}){_WS}(\\))?{_WS}([-\u2212])?{_WS}({_CURRENCY})?{_WS}(\\))?$")
_GROUPS = ("o1", "s1", "c1", "s2", "o2", "n", "e2", "s3", "c2", "e1")
# The number itself: thousands in groups of three after a first group of 1-3 digits (never a
# leading 0, so 0.500 is a decimal), then the decimal part.
_GRAMMAR = {
    DOT: f"(?:[1-9][0-9]{{0,2}}(?:[,'{_SPACES}][0-9]{{3}})+|[0-9]+)(?:\\.[0-9]+)?|\\.[0-9]+",
    COMMA: f"(?:[1-9][0-9]{{0,2}}(?:[.'{_SPACES}][0-9]{{3}})+|[0-9]+)(?:,[0-9]+)?|,[0-9]+",
}
_THOUSANDS = {DOT: f"[,'{_SPACES}]", COMMA: f"[.'{_SPACES}]"}
# Plain numbers DuckDB reads that a decimal-comma column would read as thousands (1.234).
_AMBIGUOUS_PLAIN = "[-+]?[1-9][0-9]{0,2}\\.[0-9]{3}"
_FIX = ("numbers like 1234.50, 1,234.50, £1,234.50 or 1.234,50, with one decimal separator "
        "for the whole column")


def _literal(text: str) -> str:
    # Only ever given the patterns of this module, never user text.
    return "'" + text.replace("'", "''") + "'"


def _finite(value: str) -> str:
    return f"CASE WHEN isfinite({value}) THEN {value} END"


def _number_sql(number: str, decimal: str) -> str:
    """A bare number (no sign or currency) under the column's convention, or NULL."""
    digits = f"regexp_replace({number}, {_literal(_THOUSANDS[decimal])}, '', 'g')"
    if decimal == COMMA:
        digits = f"replace({digits}, ',', '.')"
    return (f"CASE WHEN regexp_full_match({number}, {_literal(_GRAMMAR[decimal])}) "
            f"THEN TRY_CAST({digits} AS DOUBLE) END")


def _parts_sql(text: str) -> str:
    """The captured groups of ``_PATTERN`` as a struct (all empty when it does not match).

    Queries compute it once per row in an inner SELECT and read its fields outside: DuckDB
    does not share a repeated call inside CASE branches, and it is the costly part.
    """
    names = ", ".join(_literal(g) for g in _GROUPS)
    return f"regexp_extract({text}, {_literal(_PATTERN)}, [{names}])"


def _struct_value_sql(m: str, decimal: str) -> str:
    """The amount in the groups ``m`` (a column holding ``_parts_sql``), or NULL."""

    def given(group: str) -> str:
        return f"({m}.{group} <> '')"

    def count(*groups: str) -> str:
        return " + ".join(f"CAST({given(g)} AS INTEGER)" for g in groups)

    # Which group caught a parenthesis depends on where the currency sits ("(£3)", "£(3)"),
    # so opening and closing ones are counted, not paired by group. Under 300 characters the
    # number is finite.
    valid = (f"{given('n')} AND length({m}.n) < 300 AND {count('o1', 'o2')} = "
             f"{count('e1', 'e2')} AND {count('o1', 'o2', 's1', 's2', 's3')} <= 1 AND "
             f"NOT ({given('c1')} AND {given('c2')})")
    minus = "('-', '\u2212')"
    negative = (f"({given('o1')} OR {given('o2')} OR {given('s3')} OR {m}.s1 IN {minus} OR "
                f"{m}.s2 IN {minus})")
    value = _number_sql(f"{m}.n", decimal)
    return f"CASE WHEN {valid} THEN CASE WHEN {negative} THEN -({value}) ELSE {value} END END"


def _currency_sql(m: str) -> str:
    # "Rs." and "Rs" are one currency, "$" and "€" two.
    return f"upper(regexp_replace({m}.c1 || {m}.c2, '[.\\s]', '', 'g'))"


def _fast(text: str) -> str:
    return f"TRY_CAST({text} AS DOUBLE)"


# ------------------------------------------------------------------------------ staging


@dataclass(frozen=True)
class AmountPart:
    """One column of the amount (``Sales``, or ``Quantity`` and ``UnitPrice`` of a product)."""

    column: str
    index: int
    is_text: bool  # numbers stored as text (every CSV column): read with ``_struct_value_sql``
    flag: str  # "--amount", or "part of --amount" for one side of a product
    decimal: str = DOT  # settled by ``settle`` for text columns

    @property
    def value(self) -> str:  # staged: the amount as a finite DOUBLE, NULL if unreadable
        return f"a{self.index}"

    @property
    def raw(self) -> str:  # staged: the text (for numbers: only where the value is not finite)
        return f"a{self.index}_raw"

    @property
    def plain(self) -> str:  # staged for text: DuckDB reads the value as a number by itself
        return f"a{self.index}_plain"

    @property
    def groups(self) -> str:  # inner staging column only: ``_parts_sql`` of the other values
        return f"a{self.index}_groups"

    @property
    def present(self) -> str:
        return f"{self.raw} IS NOT NULL" if self.is_text else f"a{self.index}_present"


def stage_inner(part: AmountPart, col: str, text: str) -> list[str]:
    """SELECT items of the staging pass over the log; ``col`` is the quoted column, ``text``
    its text. Text columns also need ``stage_outer`` around them."""
    if part.is_text:
        plain = f"coalesce(isfinite({_fast(text)}), false)"
        # Plain numbers skip the regular expression: it runs only on the rest.
        return [f"{text} AS {part.raw}", f"{plain} AS {part.plain}",
                f"CASE WHEN NOT {plain} THEN {_parts_sql(text)} END AS {part.groups}"]
    number = f"CAST({col} AS DOUBLE)"
    return [f"{_finite(number)} AS {part.value}", f"{col} IS NOT NULL AS a{part.index}_present",
            f"CASE WHEN NOT isfinite({number}) THEN CAST({col} AS VARCHAR) END AS {part.raw}"]


def stage_outer(part: AmountPart) -> tuple[list[str], list[str]]:
    """(SELECT items over the inner pass, inner columns to leave out of the staged table)."""
    if not part.is_text:
        return [], []
    return [f"{_read_sql(part, DOT)} AS {part.value}"], [part.groups]


def _read_sql(part: AmountPart, decimal: str) -> str:
    """The amount from the staged text and ``part.groups``, under a convention.

    A decimal-comma column never takes a dotted value at face value (1.234 is 1234 there),
    so its groups must have been captured for dotted values too.
    """
    plain = part.plain if decimal == DOT else f"({part.plain} AND NOT contains({part.raw}, '.'))"
    return (f"CASE WHEN {plain} THEN {_fast(part.raw)} "
            f"ELSE {_struct_value_sql(part.groups, decimal)} END")


def _show(value: float) -> str:
    return f"{value:.15g}"


def settle(con, part: AmountPart, notes: list[str]) -> AmountPart:
    """Decide a text column's decimal separator from its values; re-read it if it is a comma.

    Staging read every value with a decimal point. A value that reads only with a comma
    (``12,50``, ``1.234,50``) votes for the comma, one that reads only with a point
    (``12.50``, ``1,234.50``) for the point; the majority wins, and the other side's values
    fail to read and are checked like any unreadable value. Without a vote either way the
    point stays, and the user is told how ``1,234`` was read.
    """
    if not part.is_text:
        return part
    t, v, plain = part.raw, part.value, part.plain
    both = "v IS NOT NULL AND c IS NOT NULL AND v <> c"
    with_currency = "(v IS NOT NULL OR c IS NOT NULL) AND cur <> ''"
    # Only values DuckDB cannot read as plain numbers can have commas, signs or currencies,
    # and they are usually few: the expensive reading runs on them alone.
    (dot_only, comma_only, text_example, text_dot, text_comma, dot_example, dot_value,
     comma_example, comma_value, n_currencies, cur_a, cur_b) = con.execute(
        "SELECT count(*) FILTER (WHERE v IS NOT NULL AND c IS NULL), "
        "count(*) FILTER (WHERE v IS NULL AND c IS NOT NULL), "
        f"min(t) FILTER (WHERE {both}), arg_min(v, t) FILTER (WHERE {both}), "
        f"arg_min(c, t) FILTER (WHERE {both}), "
        "min(t) FILTER (WHERE v > 0), arg_min(v, t) FILTER (WHERE v > 0), "
        "min(t) FILTER (WHERE c > 0 AND contains(t, ',')), "
        "arg_min(c, t) FILTER (WHERE c > 0 AND contains(t, ',')), "
        f"count(DISTINCT cur) FILTER (WHERE {with_currency}), "
        f"min(cur) FILTER (WHERE {with_currency}), max(cur) FILTER (WHERE {with_currency}) "
        f"FROM (SELECT t, v, {_struct_value_sql('m', COMMA)} AS c, {_currency_sql('m')} AS cur "
        f"FROM (SELECT {t} AS t, {v} AS v, {_parts_sql(t)} AS m FROM staged "
        f"WHERE {t} IS NOT NULL AND NOT {plain}))"
    ).fetchone()
    name = part.column
    if n_currencies > 1:
        raise DataError(
            f"Column '{name}' given as {part.flag} mixes currencies ('{cur_a}' and '{cur_b}'); "
            "convert the amounts to one currency before building features."
        )
    # Plain numbers with a dot vote for the point too (12.50), except 1.234, which a decimal
    # comma column would read as 1234.
    dotted = f"{t} IS NOT NULL AND contains({t}, '.') AND {plain}"
    ambiguous = f"regexp_full_match({t}, {_literal(_AMBIGUOUS_PLAIN)})"
    if comma_only:
        dot_votes = dot_only + con.execute(
            f"SELECT count(*) FROM staged WHERE {dotted} AND NOT {ambiguous}").fetchone()[0]
        if comma_only > dot_votes:
            _reread_with_decimal_comma(con, part)
            notes.append(f"Amounts in '{name}' have a decimal comma (like '{comma_example}', "
                         f"read as {_show(comma_value)}); dots and spaces group thousands.")
            return replace(part, decimal=COMMA)
        voted = True
    else:
        # Any one vote for the point will do, and the first dotted value usually is one.
        voted = bool(dot_only) or con.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM staged WHERE {dotted} AND NOT {ambiguous} "
            "LIMIT 1)").fetchone()[0] > 0
    if not voted:
        example, read, other = text_example, text_dot, text_comma
        if example is None:
            example = con.execute(
                f"SELECT min({t}) FROM staged WHERE {dotted} AND {ambiguous}").fetchone()[0]
            if example is not None:  # 1.234 (plain digits): read 1.234, or 1234 with a comma
                read, other = float(example), float(example.replace(".", ""))
        if example is not None:
            notes.append(f"Amounts in '{name}' like '{example}' read as {_show(read)} or as "
                         f"{_show(other)}, and no other value shows which; they were read as "
                         f"{_show(read)} (a comma groups thousands, a dot marks decimals).")
            return part
    if dot_example is not None:
        notes.append(f"Amounts in '{name}' are text with thousands separators, currency signs "
                     f"or parentheses (like '{dot_example}', read as {_show(dot_value)}).")
    return part


def _reread_with_decimal_comma(con, part: AmountPart) -> None:
    # A new table rather than an UPDATE: the groups are captured once per row, in the inner
    # SELECT, also for the dotted values that staging took at face value.
    con.execute(
        f"CREATE TEMP TABLE staged_comma AS SELECT * EXCLUDE ({part.groups}, {part.value}), "
        f"{_read_sql(part, COMMA)} AS {part.value} FROM (SELECT *, CASE WHEN NOT {part.plain} "
        f"OR contains({part.raw}, '.') THEN {_parts_sql(part.raw)} END AS {part.groups} "
        "FROM staged)")
    con.execute("DROP TABLE staged")
    con.execute("ALTER TABLE staged_comma RENAME TO staged")


# ------------------------------------------------------------------------------ checking


def _estimate_sql(text: str, decimal: str) -> str:
    """Roughly what an unreadable value was worth: its first number, read either way."""
    run = f"regexp_extract({text}, {_literal(_NUMBER_RUN)})"
    other = COMMA if decimal == DOT else DOT
    return (f"abs(coalesce({_number_sql(run, decimal)}, {_number_sql(run, other)}, "
            f"TRY_CAST(regexp_extract({text}, '[0-9]+') AS DOUBLE), 0))")


def _shape_sql(text: str) -> str:
    """How a value is written: digit runs as 9, letter runs as a (1,234.5k -> 9,9.9a)."""
    return (f"regexp_replace(regexp_replace({text}, '[0-9]+', '9', 'g'), '\\pL+', 'a', 'g')")


def check_unreadable(con, part: AmountPart, max_share: float, notes: list[str]) -> None:
    """Refuse a column whose unreadable values matter; report the few that are dropped.

    They matter when they are more than ``max_share`` of the values, when five or more are
    written the same way (a format: dropping it drops, say, every amount over 1,000), or when
    they would hold more than ``max_share`` of the column's value.
    """
    bad = f"{part.present} AND {part.value} IS NULL"
    if not con.execute(f"SELECT count(*) FROM (SELECT 1 FROM staged WHERE {bad} LIMIT 1)"
                       ).fetchone()[0]:
        return
    n_present, n_bad, total = con.execute(
        f"SELECT count(*) FILTER (WHERE {part.present}), count(*) FILTER (WHERE {bad}), "
        f"sum(abs({part.value})) FROM staged").fetchone()
    # The regular expressions run on the unreadable rows alone.
    numeric_bad = f"{bad} AND regexp_matches({part.raw}, '[0-9]')"
    example, lost, n_numeric = con.execute(
        f"SELECT min(r), sum({_estimate_sql('r', part.decimal)}) FILTER (WHERE digits), "
        f"count(*) FILTER (WHERE digits) FROM (SELECT {part.raw} AS r, "
        f"regexp_matches({part.raw}, '[0-9]') AS digits FROM staged WHERE {bad})"
    ).fetchone()
    head = f"Column '{part.column}' given as {part.flag} has"
    example = str(example)[:40]
    share = n_bad / n_present
    values = f"{n_bad:,} value" + ("" if n_bad == 1 else "s")
    if share > max_share:
        raise DataError(f"{head} {values} ({percent(share, 0)}) that cannot be read, like "
                        f"'{example}'; give {_FIX}.")
    if n_numeric:
        n_same, same_example = con.execute(
            f"SELECT count(*) AS n, min({part.raw}) FROM staged WHERE {numeric_bad} "
            f"GROUP BY {_shape_sql(part.raw)} ORDER BY n DESC, min({part.raw}) LIMIT 1"
        ).fetchone()
        if n_same >= SYSTEMATIC_MIN_ROWS and 2 * n_same >= n_numeric:
            raise DataError(f"{head} {n_same:,} values written like '{str(same_example)[:40]}' "
                            "that cannot be read, one format rather than typos, so dropping "
                            f"them would skew the amounts; give {_FIX}.")
        lost = float(lost or 0.0)
        value_share = lost / (float(total or 0.0) + lost) if lost else 0.0
        if value_share > max_share:
            raise DataError(f"{head} {values} that cannot be read, like '{example}', "
                            f"worth about {percent(value_share, 0)} of its total; give {_FIX}.")
    notes.append(f"{values} of '{part.column}' could not be read as amounts, like "
                 f"'{example}'; their rows were dropped.")
