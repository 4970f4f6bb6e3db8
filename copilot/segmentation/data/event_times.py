"""Reading an event log's time column: dates and times as text in one of many formats,
Unix seconds or milliseconds, or DuckDB's own date types.

A sample of the column chooses the reading; what a sample cannot settle (month-first or
day-first when every sampled day is before the 13th) is settled on the whole staged column,
with a note when both readings fit every value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from copilot.core import ColumnError, DataError
from copilot.segmentation.data.event_columns import _is_number, _is_text, _text_of, quote_identifier
from copilot.segmentation.data.event_source import _Source

MAX_UNREADABLE_SHARE = 0.01  # a few garbled values are dropped and counted; more than 1% means
#                              the column is not what was asked for, and guessing would
#                              silently change the results
TIME_SAMPLE_ROWS = 20_000  # values used to choose the date format of a text time column
# Text time formats tried in order; the one that reads most sampled values wins. Formats that
# (nearly) tie on the sample are settled on the whole column, and a tie there goes to the
# earlier (ISO first, then month-first as in US exports, then day-first), with a note.
_ISO = "iso"
TIME_FORMATS: tuple[str, ...] = (
    _ISO,
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%d-%m-%Y %H:%M:%S", "%d-%m-%Y", "%Y%m%d",
)
EPOCH_MAJORITY = 0.5  # numbers are read as Unix times only when most sampled values fall in
#                      one unit's range (below); a column of day numbers 1..31 never does, and
#                      a few stray values past the range are then dropped and counted like
#                      garbled dates (refused above MAX_UNREADABLE_SHARE)


@dataclass(frozen=True)
class _EpochUnit:
    label: str  # how the summary says the column was read
    low: float  # values in [low, high) are times in this unit; the rest are unreadable
    high: float
    ms_per_unit: float

    def year(self, value: float) -> int:
        return (datetime(1970, 1, 1) + timedelta(milliseconds=value * self.ms_per_unit)).year


# Both ranges are 1973-03-03 to 2286-11-20: far from each other (a factor of 10 between them),
# and far from day numbers, years and compact dates like 20240131 (2e7), which never fall in.
EPOCH_UNITS = (
    _EpochUnit("Unix seconds", 1e8, 1e10, 1000.0),
    _EpochUnit("Unix milliseconds", 1e11, 1e13, 1.0),
)


@dataclass(frozen=True)
class _TimeReading:
    """How to read the time column, as far as a sample of its values can tell."""

    sql: str  # SQL giving a TIMESTAMP or NULL
    how: str  # how it was read, for the summary
    fmt: str | None = None  # the text format, for text dates
    # Formats that read (nearly) as many sampled values: the whole column decides among them.
    rivals: tuple[str, ...] = ()


def _time_expression(con, source: _Source, name: str) -> _TimeReading:
    col = quote_identifier(name)
    duck_type = source.columns[name].upper()
    if duck_type.startswith(("TIMESTAMP", "DATE")):
        # TIMESTAMPTZ casts to UTC wall time (the connection's zone is UTC).
        return _TimeReading(f"CAST({col} AS TIMESTAMP)", duck_type.lower())
    if _is_number(duck_type):
        return _numeric_time_expression(con, source, name, col)
    if not _is_text(duck_type):
        raise ColumnError(
            f"Column '{name}' given as --time is of type {duck_type}, not dates or times; "
            "give a column with dates like 2011-09-01 or 2011-09-01 14:30."
        )
    text = _text_of(col)
    candidates = [_format_sql("x", f) for f in TIME_FORMATS]
    number = "TRY_CAST(x AS DOUBLE)"
    # CSV columns arrive as text, so Unix times compete with the date formats on one sample.
    counts = con.execute(
        f"SELECT count(x), count({number}), {', '.join(f'count({c})' for c in candidates)}, "
        f"{_epoch_hits_sql(number)} FROM "
        f"(SELECT {text} AS x FROM {source.sql} WHERE {text} IS NOT NULL LIMIT "
        f"{TIME_SAMPLE_ROWS})",
        source.params,
    ).fetchone()
    n, n_numbers = counts[0], counts[1]
    hits = list(counts[2:2 + len(TIME_FORMATS)])
    epoch_hits = list(counts[2 + len(TIME_FORMATS):])
    if n == 0:
        if not con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {source.sql} LIMIT 1)",
                           source.params).fetchone()[0]:
            raise DataError(f"The events file '{source.label}' has a header but no rows; "
                            "export the log again with its rows.")
        raise DataError(
            f"Column '{name}' given as --time is empty in every row; give the column that "
            "holds when each event happened."
        )
    best = max(range(len(hits)), key=lambda i: (hits[i], -i))
    unit = _epoch_unit(n, epoch_hits)
    if unit is not None and epoch_hits[EPOCH_UNITS.index(unit)] > hits[best]:
        return _TimeReading(_epoch_sql(f"TRY_CAST({text} AS DOUBLE)", unit),
                            f"{unit.label} (text)")
    all_numbers = n_numbers == n
    # Plain numbers that are neither Unix times nor mostly compact dates (20240131) are some
    # other count or code: say so rather than read a few of them as dates in the year 1710.
    if hits[best] == 0 or (all_numbers and hits[best] <= EPOCH_MAJORITY * n):
        example = con.execute(
            f"SELECT {text} FROM {source.sql} WHERE {text} IS NOT NULL LIMIT 1", source.params
        ).fetchone()[0]
        if all_numbers:
            raise DataError(
                f"Column '{name}' given as --time holds numbers like '{str(example)[:40]}', "
                "not dates or Unix times; give dates like 2011-09-01 or Unix seconds like "
                "1710325274."
            )
        raise DataError(
            f"Column '{name}' given as --time holds values that are not dates, like "
            f"'{str(example)[:40]}'; give dates like 2011-09-01 or 2011-09-01 14:30."
        )
    fmt = TIME_FORMATS[best]
    # The sample is the first rows, so in a date-sorted log it is the first days: all of them
    # before the 13th, month-first and day-first tie there and only the whole column can tell.
    # A format a few values behind is a rival too (a few garbled or stray values in the
    # sample must not decide for the whole file).
    margin = MAX_UNREADABLE_SHARE * n
    rivals = tuple(f for i, f in enumerate(TIME_FORMATS)
                   if i != best and hits[i] > 0 and hits[i] >= hits[best] - margin)
    return _TimeReading(_format_sql(text, fmt), _format_how(fmt), fmt, rivals)


def _format_how(fmt: str) -> str:
    return "ISO 8601 text" if fmt == _ISO else f"text in the format {fmt}"


def _settle_time_format(con, name: str, reading: _TimeReading, notes: list[str]) -> str:
    """Keep, of the sample's best format and its rivals, the one reading most of the column.

    Each was staged as its own column (ts, ts_alt0, ...), so this counts in the staged table
    and renames the winner to ts: no second pass over the log. Returns how it was read.
    """
    if not reading.rivals:
        return reading.how
    formats = (reading.fmt, *reading.rivals)
    columns = ["ts", *(f"ts_alt{k}" for k in range(len(reading.rivals)))]
    hits = con.execute(f"SELECT {', '.join(f'count({c})' for c in columns)} FROM staged"
                       ).fetchone()
    # Most values read; a tie goes to the earlier format (month-first before day-first).
    best = max(range(len(formats)), key=lambda i: (hits[i], -TIME_FORMATS.index(formats[i])))
    fmt, how = formats[best], _format_how(formats[best])
    twin = _day_first_twin(fmt)
    if twin in formats and hits[formats.index(twin)] == hits[best]:
        win, other = columns[best], columns[formats.index(twin)]
        example, when = con.execute(
            f"SELECT min(ts_raw) FILTER (WHERE {win} <> {other}), "
            f"arg_min({win}, ts_raw) FILTER (WHERE {win} <> {other}) FROM staged").fetchone()
        if example is not None:  # else every date reads the same both ways (01/01, 02/02)
            how += " (month-first; every value also reads day-first)"
            notes.append(
                f"Every date in '{name}' reads both month-first and day-first (no number "
                f"above 12 before the year); they were read month-first, so '{example}' is "
                f"{when:%B} {when.day}, {when.year}; if the log is day-first, export its "
                "dates as YYYY-MM-DD."
            )
    for k, column in enumerate(columns):
        if k != best:
            con.execute(f"ALTER TABLE staged DROP COLUMN {column}")
    if best:
        con.execute(f"ALTER TABLE staged RENAME COLUMN {columns[best]} TO ts")
    return how


def _epoch_hits_sql(number: str) -> str:
    """count() of the values in each unit's range, one per EPOCH_UNITS entry."""
    return ", ".join(f"count(*) FILTER (WHERE {number} >= {u.low!r} AND {number} < {u.high!r})"
                     for u in EPOCH_UNITS)


def _epoch_unit(n_values: int, epoch_hits: list[int]) -> _EpochUnit | None:
    """The unit most sampled values fall in, when that is most of them; else None."""
    best = max(range(len(EPOCH_UNITS)), key=lambda i: epoch_hits[i])
    return EPOCH_UNITS[best] if epoch_hits[best] > EPOCH_MAJORITY * n_values else None


def _epoch_sql(number: str, unit: _EpochUnit) -> str:
    # epoch_ms gives a plain TIMESTAMP (no time zone involved); out-of-range values are NULL,
    # so they are dropped and counted like unreadable dates.
    return (f"CASE WHEN {number} >= {unit.low!r} AND {number} < {unit.high!r} THEN "
            f"epoch_ms(CAST(round({number} * {unit.ms_per_unit!r}) AS BIGINT)) END")


def _format_sql(x: str, fmt: str) -> str:
    if fmt == _ISO:
        # Through TIMESTAMPTZ so that "+02:00" offsets become UTC; naive text stays as written.
        return f"CAST(TRY_CAST({x} AS TIMESTAMPTZ) AS TIMESTAMP)"
    parse = f"try_strptime({x}, '{fmt}')"  # fmt is one of TIME_FORMATS, never user text
    # DuckDB takes about 1.3 us to fail a value (25 ms a format on the sample, most of a small
    # log's reading time), and a value without the format's separators can only fail: those
    # are not tried. The same result, faster; tests/segmentation/test_event_times.py.
    needed = _separators(fmt)
    if not needed:
        return parse
    return f"CASE WHEN {' AND '.join(f'contains({x}, {c!r})' for c in needed)} THEN {parse} END"


def _separators(fmt: str) -> tuple[str, ...]:
    """The literal characters a value in ``fmt`` must contain ('/', ':' ...), spaces aside."""
    found, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            i += 2
            continue
        if not fmt[i].isspace() and fmt[i] not in found:
            found.append(fmt[i])
        i += 1
    return tuple(found)


def _day_first_twin(fmt: str) -> str | None:
    if fmt.startswith("%m/%d/"):
        twin = "%d/%m/" + fmt[len("%m/%d/"):]
        return twin if twin in TIME_FORMATS else None
    return None


def _numeric_time_expression(con, source: _Source, name: str, col: str) -> _TimeReading:
    number = f"CAST({col} AS DOUBLE)"
    n, lo, *epoch_hits = con.execute(
        f"SELECT count(x), min(x), {_epoch_hits_sql('x')} FROM (SELECT {number} AS x FROM "
        f"{source.sql} WHERE {col} IS NOT NULL LIMIT {TIME_SAMPLE_ROWS})", source.params
    ).fetchone()
    if n == 0:
        raise DataError(
            f"Column '{name}' given as --time is empty in every row; give the column that "
            "holds when each event happened."
        )
    unit = _epoch_unit(n, epoch_hits)
    if unit is None:
        raise DataError(
            f"Column '{name}' given as --time holds numbers like {lo:g}, not dates or Unix "
            "times; give dates like 2011-09-01 or Unix seconds like 1710325274."
        )
    return _TimeReading(_epoch_sql(number, unit), unit.label)
