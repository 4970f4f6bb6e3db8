"""Reading an event log's rows once into a narrow table of parsed columns (``staged``), counting
and refusing what cannot be read, and keeping the usable rows as the events table (``ev``).
"""

from __future__ import annotations

from dataclasses import dataclass

from copilot.core import ColumnError, DataError, percent
from copilot.segmentation.data import amounts
from copilot.segmentation.data.event_columns import (
    EventSpec,
    _is_number,
    _text_of,
    quote_identifier,
)
from copilot.segmentation.data.event_features import _Shape
from copilot.segmentation.data.event_source import _as_latin1, _Source
from copilot.segmentation.data.event_times import (
    EPOCH_UNITS,
    MAX_UNREADABLE_SHARE,
    _format_sql,
    _settle_time_format,
    _time_expression,
)

RETURN_ORDER_PATTERN = "^C[0-9]"  # cancellation invoices like C536379 (not CA-2019-...)


@dataclass
class _Counts:
    rows_read: int = 0
    missing_id: int = 0
    bad_time: int = 0
    bad_amount: int = 0


def _stage(con, source: _Source, spec: EventSpec, shape: _Shape, amount_cols,
           notes: list[str]) -> tuple[_Counts, str, tuple[amounts.AmountPart, ...]]:
    """Read the log once into a narrow table of parsed columns, then count what is unusable.

    What a sample cannot settle (which of two date formats, a decimal comma or point) is
    settled afterwards on the staged table. Returns the counts, how the time column was read
    and the amount's columns.
    """
    reading = _time_expression(con, source, spec.time)
    id_col = quote_identifier(spec.id)
    # IDs as text; "17850.0" (an integer ID stored as a float) becomes "17850".
    id_sql = (f"NULLIF(regexp_replace(trim(CAST({id_col} AS VARCHAR)), "
              r"'^(-?[0-9]+)\.0+$', '\1'), '')")
    time_col = quote_identifier(spec.time)
    time_text = _text_of(time_col)
    cols = [f"{id_sql} AS cid", f"{reading.sql} AS ts"]
    cols += [f"{_format_sql(time_text, f)} AS ts_alt{k}" for k, f in enumerate(reading.rivals)]
    cols += [f"{time_text} IS NOT NULL AS ts_present", f"{time_text} AS ts_raw"]
    flag = "--amount" if len(amount_cols) == 1 else "part of --amount"
    parts = [amounts.AmountPart(c, i, not _is_number(source.columns[c]), flag)
             for i, c in enumerate(amount_cols)]
    outer, inner_only = [], []
    for part in parts:
        col = quote_identifier(part.column)
        cols += amounts.stage_inner(part, col, _text_of(col))
        items, leave_out = amounts.stage_outer(part)
        outer += items
        inner_only += leave_out
    for key, alias in (("order", "oid"), ("product", "pid"), ("event", "evt")):
        name = getattr(spec, key)
        if name:
            cols.append(f"{_text_of(quote_identifier(name))} AS {alias}")
    everything = f"* EXCLUDE ({', '.join(inner_only)})" if inner_only else "*"
    con.execute(f"CREATE TEMP TABLE staged AS SELECT {', '.join([everything, *outer])} FROM "
                f"(SELECT {', '.join(cols)} FROM {source.sql})", source.params)
    time_how = _settle_time_format(con, spec.time, reading, notes)
    parts = [amounts.settle(con, part, notes) for part in parts]
    amount_bad = f"({_amount_sql(parts)}) IS NULL" if shape.amount else "false"
    row = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE cid IS NULL), "
        "count(*) FILTER (WHERE cid IS NOT NULL AND ts IS NULL), "
        f"count(*) FILTER (WHERE cid IS NOT NULL AND ts IS NOT NULL AND {amount_bad}) "
        "FROM staged"
    ).fetchone()
    if row[0] == 0:
        raise DataError(f"The events file '{source.label}' has a header but no rows; export "
                        "the log again with its rows.")
    for key, alias in (("order", "oid"), ("product", "pid"), ("event", "evt")):
        name = getattr(spec, key)
        if name and not con.execute(f"SELECT count({alias}) FROM staged").fetchone()[0]:
            raise ColumnError(f"Column '{name}' given as --{key} is empty in every row; give "
                              f"a column that holds the {key} of each row, or leave out "
                              f"--{key}.")
    return _Counts(*map(int, row)), time_how, tuple(parts)


def _stage_or_latin1(con, source: _Source, spec: EventSpec, shape: _Shape, amount_cols,
                     notes: list[str]
                     ) -> tuple[_Source, _Counts, str, tuple[amounts.AmountPart, ...]]:
    """``_stage``, again as Latin-1 when the file turns out not to be UTF-8; returns the source
    as finally read with what ``_stage`` returns."""
    import duckdb

    try:
        counts, time_how, parts = _stage(con, source, spec, shape, amount_cols, notes)
    except duckdb.Error as exc:
        # DuckDB checks UTF-8 only in the columns it reads, so a Latin-1 file can pass the
        # header and fail here; read it again as Latin-1 rather than give up.
        fallback = _as_latin1(source, exc)
        if fallback is None:
            raise
        source = fallback
        con.execute("DROP TABLE IF EXISTS staged")
        counts, time_how, parts = _stage(con, source, spec, shape, amount_cols, notes)
        notes.append(f"'{source.label}' is not UTF-8; it was read as Latin-1.")
    return source, counts, time_how, parts


def _amount_sql(parts) -> str:
    """The staged amount: the one column, or the product of the two (NULL if either is)."""
    return " * ".join(p.value for p in parts)


def _check_unreadable(con, spec: EventSpec, time_how: str, parts, notes: list[str]) -> None:
    """Refuse a time or amount column where more than a few present values do not parse;
    name an example of the few that are dropped."""
    unit = next((u for u in EPOCH_UNITS if time_how.startswith(u.label)), None)
    time_fix = (f"{unit.label} for dates from {unit.year(unit.low)} to {unit.year(unit.high)}"
                if unit else "dates like 2011-09-01 or 2011-09-01 14:30")
    n_present, n_bad, example = con.execute(
        "SELECT count(*) FILTER (WHERE ts_present), "
        "count(*) FILTER (WHERE ts_present AND ts IS NULL), "
        "min(ts_raw) FILTER (WHERE ts_present AND ts IS NULL) FROM staged"
    ).fetchone()
    if n_present and n_bad / n_present > MAX_UNREADABLE_SHARE:
        share = n_bad / n_present
        raise DataError(
            f"Column '{spec.time}' given as --time has {n_bad:,} values ({percent(share, 0)}) that "
            f"cannot be read, like '{str(example)[:40]}'; give {time_fix}."
        )
    if n_bad:
        noun = "value" if n_bad == 1 else "values"
        notes.append(f"{n_bad:,} {noun} of '{spec.time}' could not be read as times, like "
                     f"'{str(example)[:40]}'; their rows were dropped.")
    for part in parts:
        amounts.check_unreadable(con, part, MAX_UNREADABLE_SHARE, notes)


def _check_purchase_event(con, spec: EventSpec) -> None:
    found = con.execute("SELECT count(*) FROM staged WHERE evt = $v",
                        {"v": spec.purchase_event}).fetchone()[0]
    if found:
        return
    common = [r[0] for r in con.execute(
        "SELECT evt FROM staged WHERE evt IS NOT NULL GROUP BY evt ORDER BY count(*) DESC, evt "
        "LIMIT 5").fetchall()]
    raise ColumnError(
        f"No row of '{spec.event}' is '{spec.purchase_event}' (given as --purchase-event); "
        f"use one of its event types, like {', '.join(repr(c) for c in common)}."
    )


def _events_table_sql(spec: EventSpec, shape: _Shape, parts) -> str:
    cols = ["cid", "ts"]
    if shape.amount:
        cols.append(f"{_amount_sql(parts)} AS amount")
        is_return = f"{_amount_sql(parts)} < 0"
        if shape.order:
            is_return += f" OR coalesce(regexp_matches(oid, '{RETURN_ORDER_PATTERN}'), false)"
        cols.append(f"({is_return}) AS is_return")
    else:
        cols.append("false AS is_return")
    if shape.order:
        unit = "coalesce(oid, 'at ' || CAST(ts AS VARCHAR))"
    elif shape.amount:
        unit = "CAST(ts AS VARCHAR)"
    else:
        unit = "CAST(CAST(ts AS DATE) AS VARCHAR)"
    cols.append(f"{unit} AS unit")
    cols += [a for a, on in (("pid", shape.product), ("evt", shape.event)) if on]
    if shape.purchase:
        cols.append("coalesce(evt = $purchase, false) AS is_purchase")  # a bound value
    keep = "cid IS NOT NULL AND ts IS NOT NULL" + (
        f" AND {_amount_sql(parts)} IS NOT NULL" if shape.amount else "")
    return f"CREATE TEMP TABLE ev AS SELECT {', '.join(cols)} FROM staged WHERE {keep}"
