"""Event or transaction logs to one row per customer: recency, frequency, spend, activity.

DuckDB reads the log straight from the file (CSV, gzipped CSV, Parquet, JSON lines) or from a
pandas frame, so the log never has to fit in pandas: only the per-customer table comes back
as a DataFrame. ``build_features`` cleans the rows (a missing ID, an unreadable time or
amount: dropped, counted and named), then aggregates recency, frequency, monetary value, tenure,
activity per period, trends, time between orders, returns, distinct products and event-type
shares, named so that a product manager can read them.

With ``as_of`` (a cut-off), features come only from events before it and outcome columns
(``outcome_bought_again``, ``outcome_revenue_after``, ...) from events after it, so segments
built on the features can be validated on what customers did next. Outcome columns start with
``outcome_``, a name the engine's role inference treats as an outcome (never a feature).

The purchase outcome is named for what it is true of. In a transaction log every customer kept
has bought before the cut-off (customers are kept by their purchases), so it is
``outcome_bought_again``. In a clickstream with a purchase event, customers are kept by any
event, so many never bought before; there it is ``outcome_bought_after`` (a purchase in the
outcome window, whether or not there was one before), so a segment of pure browsers reads
"bought 39%" (they converted), never "bought again 39%".

Definitions a user should know (the summary's notes repeat the ones that apply):

* **Orders** (with ``amount``): the distinct values of the ``order`` column, or, without it,
  the distinct timestamps of a customer (the lines of one order share a timestamp).
  **Sessions** (no amount, with ``order``): the distinct values of that column. **Visits**
  (neither): the calendar days with at least one event.
* **Returns / cancellations** (with ``amount``): rows with a negative amount; with an
  ``order`` column, also rows whose order ID is ``C`` followed by a digit (the common
  cancellation-invoice convention). Returns never count as orders or spend.
* **Amounts** may be text as spreadsheets export them (``£1,234.50``, ``1.234,50 €``,
  ``(12.50)`` for a negative); a column's decimal separator is decided from all its values
  (see ``copilot.segmentation.data.amounts``).
* The **reference date** is the cut-off, or the last event in the log without one; recency,
  tenure and the "last N days" windows count back from it.

No text from the user is ever spliced into SQL: column names are quoted as identifiers,
paths and values are bound as parameters, and ``Quantity*UnitPrice`` is parsed into two
validated column names, never evaluated.
"""

from __future__ import annotations

import difflib
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import pandas as pd

from copilot.core import ColumnError, DataError, Frozen, InputError
from copilot.segmentation.data import amounts
from copilot.segmentation.data.names import outcome_name_match

#: progress(stage, fraction 0-1, message), as in the pipeline.
Progress = Callable[[str, float, str], None]

WINDOWS_DAYS = (30, 90, 180)  # "last N days" activity: a month, a quarter, half a year
TREND_WINDOW_DAYS = 90  # trends compare the last 90 days with the 90 days before them
MIN_RATE_DAYS = 30  # rates per 30 days use at least this tenure: a 1-day-old customer with one
#                     order would otherwise look like 30 orders a month
TOP_EVENT_TYPES = 20  # share_event_<type> columns for the most common types; the rest go to
#                       share_event_other (a whole funnel, not a column per rare event)
MAX_UNREADABLE_SHARE = 0.01  # a few garbled values are dropped and counted; more than 1% means
#                              the column is not what was asked for, and guessing would
#                              silently change the results
TIME_SAMPLE_ROWS = 20_000  # values used to choose the date format of a text time column
RETURN_ORDER_PATTERN = "^C[0-9]"  # cancellation invoices like C536379 (not CA-2019-...)
EVENT_NAME_CHARS = 40  # longest event-type part of a share_event_<type> column name
MIN_GAP_DAYS = 1.0  # the usual gap is counted as at least a day: two orders an hour apart are
#                    one shopping trip, and a gap near 0 would make "overdue" explode
MS_PER_DAY = 86_400_000.0
DECIMALS = 4  # features are rounded to 4 decimals: finer than any business meaning (days to
#               ~9 seconds), and the CSV stays readable

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")

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

FeatureGroup = Literal[
    "recency", "frequency", "activity", "timing", "monetary", "returns", "products", "events",
    "outcome",
]


# ------------------------------------------------------------------------------ public types


class EventSpec(Frozen):
    """Which columns of the log play which part. Names are checked against the file.

    ``amount`` is a column name or the product of two, written ``Quantity*UnitPrice``.
    ``order`` groups rows into orders (invoice) or sessions; ``product`` counts distinct
    products; ``event`` gives event-type shares. ``purchase_event`` (a value of the event
    column, for logs without an amount) marks purchases in a clickstream: it adds purchase
    features and the ``outcome_bought_after`` outcome.
    """

    id: str
    time: str
    amount: str | None = None
    event: str | None = None
    order: str | None = None
    product: str | None = None
    purchase_event: str | None = None


class FeatureInfo(Frozen):
    """One output column: its name, what it measures in one line, and its group."""

    name: str
    description: str
    group: FeatureGroup


class EventSummary(Frozen):
    """What ``build_features`` read, dropped and built (JSON-able; the CLI prints it)."""

    source: str
    spec: EventSpec
    rows_read: int
    rows_dropped_missing_id: int
    rows_dropped_bad_time: int
    rows_dropped_bad_amount: int
    rows_used: int
    return_rows: int  # rows read as returns or cancellations (with an amount)
    first_event: datetime
    last_event: datetime
    reference_date: datetime  # the cut-off, or the last event
    as_of: datetime | None
    outcome_end: datetime | None  # outcomes count events before this (None: to the log's end)
    outcome_days: float | None  # length of the outcome window in days
    horizon_days: int | None = None  # the horizon asked for (the log may end before it)
    unit: str  # "orders", "sessions" or "visits"
    n_customers: int
    customers_only_returns: int  # left out: only returns before the reference date
    customers_only_after: int  # left out: first event on or after the cut-off
    features: tuple[FeatureInfo, ...]
    outcomes: tuple[FeatureInfo, ...]
    outcome_base_rate: float | None  # share of customers with the first outcome (1/0)
    time_format: str  # how the time column was read
    notes: tuple[str, ...]
    seconds: float

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def outcome_window(self) -> str | None:
        """When outcomes were counted, as a phrase: "in the 30 days after the cut-off"."""
        if self.as_of is None or self.outcome_days is None:
            return None
        return _window_phrase(self.horizon_days, self.outcome_days)

    @property
    def outcome_headline(self) -> str | None:
        """The first outcome's base rate as a sentence a PM reads right, without the period:
        "41.2% of customers bought again in the 30 days after the cut-off
        (outcome_bought_again)"; None without a cut-off."""
        if not self.outcomes or self.outcome_base_rate is None or self.outcome_window is None:
            return None
        first = self.outcomes[0].name
        verb = OUTCOME_VERBS.get(first, f"had {first}")
        return (f"{self.outcome_base_rate:.1%} of customers {verb} {self.outcome_window} "
                f"({first})")

    @property
    def outcome_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.outcomes)


# What the first outcome column says of a customer, for the summary's headline.
OUTCOME_VERBS = {
    "outcome_bought_again": "bought again",
    "outcome_bought_after": "bought",
    "outcome_active_after": "were active",
}


def _window_phrase(horizon_days: int | None, outcome_days: float) -> str:
    if horizon_days is not None and outcome_days >= horizon_days:
        return f"in the {horizon_days} days after the cut-off"
    # No horizon, or the log ends before it: outcomes run to the end of the log.
    return f"in the {outcome_days:.0f} days from the cut-off to the end of the log"


@dataclass(frozen=True)
class EventFeatures:
    """One row per customer (ID column first, features, then outcomes) and its summary."""

    frame: pd.DataFrame
    summary: EventSummary

    @property
    def id_column(self) -> str:
        return self.summary.spec.id


# ------------------------------------------------------------------------------ small parsers


def quote_identifier(name: str) -> str:
    """A column name as a DuckDB identifier: double quotes, inner quotes doubled."""
    if "\x00" in name:
        raise ColumnError("A column name contains a NUL character; rename the column.")
    return '"' + name.replace('"', '""') + '"'


def parse_as_of(value: str | date | datetime | pd.Timestamp | None) -> datetime | None:
    """A cut-off as a naive UTC datetime; text must be ISO (2011-09-01 or 2011-09-01T12:00)."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InputError(
                f"The cut-off '{text}' is not a date; write it as YYYY-MM-DD, for example "
                "2011-09-01."
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise InputError(f"The cut-off {value!r} is not a date; write it as YYYY-MM-DD.")


def parse_amount(text: str, columns: list[str]) -> tuple[str, ...]:
    """The column(s) whose value (or product) is the amount: ``"Sales"`` or ``"Qty*Price"``.

    A name that is itself a column wins over reading it as a product, so a column called
    ``a*b`` still works. Nothing is evaluated: the two sides must be column names.
    """
    if text in columns:
        return (text,)
    parts = [p.strip() for p in text.split("*")]
    if len(parts) == 2 and all(parts):
        unknown = [p for p in parts if p not in columns]
        if not unknown:
            return (parts[0], parts[1])
        raise _missing_columns([(p, "part of --amount") for p in unknown], columns)
    if len(parts) > 2:
        raise ColumnError(
            f"The amount '{text}' multiplies more than two columns; give one column or a "
            "product of two, like Quantity*UnitPrice."
        )
    raise _missing_columns([(text, "--amount")], columns)


def _missing_columns(missing: list[tuple[str, str]], columns: list[str]) -> ColumnError:
    listing = ", ".join(f"'{c}'" for c in columns[:10]) + (", ..." if len(columns) > 10 else "")
    parts = []
    for name, flag in missing:
        close = difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
        if not close:
            lowered = {c.lower(): c for c in columns}
            close = [lowered[name.lower()]] if name.lower() in lowered else []
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        parts.append(f"'{name}' given as {flag}{hint}")
    what = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    noun = "column" if len(parts) == 1 else "columns"
    return ColumnError(f"The events file has no {noun} {what}; its columns are {listing}.")


def _ts_literal(value: datetime) -> str:
    # Only ever given datetimes this module made, never user text.
    return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^[A-Za-z ]*Error: ", "", text)
    return (text[:160] + "...") if len(text) > 160 else text.rstrip(".")


# ------------------------------------------------------------------------------ the source


@dataclass(frozen=True)
class _Source:
    sql: str  # a FROM item with $path as its only parameter
    params: dict
    label: str
    columns: dict[str, str]  # name -> DuckDB type
    notes: tuple[str, ...] = ()  # how the file was read, when the user should know


def _open_source(con, path_or_frame) -> _Source:
    import duckdb

    if isinstance(path_or_frame, pd.DataFrame):
        frame = path_or_frame
        if not all(isinstance(c, str) for c in frame.columns):
            frame = frame.rename(columns=str)
        con.register("events_frame", frame)
        return _Source("events_frame", {}, "the events table", _describe(con, "events_frame", {}))
    path = Path(path_or_frame).expanduser()
    label = str(path_or_frame)
    if not path.exists():
        raise DataError(f"The events file '{label}' does not exist; check the path.")
    if path.is_dir():
        raise DataError(f"'{label}' is a folder; give the path of the events file inside it.")
    if path.stat().st_size == 0:
        raise DataError(f"The events file '{label}' is empty (0 bytes); export the log again.")
    name = path.name.lower().removesuffix(".gz")
    params = {"path": str(path)}
    if name.endswith(PARQUET_SUFFIXES):
        sql = "read_parquet($path)"
    elif name.endswith(JSON_SUFFIXES):
        sql = "read_json_auto($path)"
    elif name.endswith(CSV_SUFFIXES) and (spaced := _spaced_or_headerless(path)) is not None:
        frame, notes = spaced
        con.register("events_frame", frame)
        return _Source("events_frame", {}, label, _describe(con, "events_frame", {}), notes)
    elif name.endswith(CSV_SUFFIXES):
        # Every column as text: a column whose type DuckDB would guess from the first rows
        # (InvoiceNo as a number until C536379) cannot break the read; we parse what we use.
        sql = "read_csv($path, all_varchar = true, header = true)"
    else:
        raise DataError(
            f"The events file '{label}' is not CSV, TSV, Parquet or JSON lines (by its "
            "extension); convert it to CSV or Parquet."
        )
    try:
        return _Source(sql, params, label, _describe(con, sql, params))
    except duckdb.Error as exc:
        fallback = _as_latin1(_Source(sql, params, label, {}), exc)
        if fallback is not None:
            try:
                return _Source(fallback.sql, params, label, _describe(con, fallback.sql, params))
            except duckdb.Error:
                pass
        raise DataError(
            f"The events file '{label}' could not be read ({_short(exc)}); check that it is "
            "a valid file of its type."
        ) from None


def _spaced_or_headerless(path: Path) -> tuple[pd.DataFrame, tuple[str, ...]] | None:
    """A text log DuckDB's reader would misread (columns separated by runs of spaces, or no
    header row), read by the table loader as text columns; None for an ordinary CSV."""
    from copilot.segmentation.data import load as _load

    try:
        sniff = _load.sniff_text(path, str(path), path.name.lower().endswith(".gz"))
    except (DataError, LookupError):
        return None  # DuckDB's reader gives its own sentence for a binary or empty file
    if sniff.delimiter != _load.WHITESPACE and sniff.header:
        return None
    loaded = _load.load_table(path)
    # As text, like the DuckDB path (all_varchar): the log's readers parse what they use.
    frame = loaded.frame.astype(object).where(loaded.frame.notna(), None).astype("string")
    notes = tuple(n for n in loaded.notes if "separated" in n or "header" in n)
    return frame, notes


def _as_latin1(source: _Source, exc: Exception) -> _Source | None:
    """The same CSV read as Latin-1, when DuckDB refused it as invalid UTF-8; else None."""
    if "unicode" not in str(exc).lower() or not source.sql.startswith("read_csv(") or \
            "encoding" in source.sql:
        return None
    sql = source.sql.replace("header = true", "header = true, encoding = 'latin-1'")
    return _Source(sql, source.params, source.label, source.columns)


def _describe(con, sql: str, params: dict) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {sql}", params).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


# ------------------------------------------------------------------------------ column reading


def _check_columns(spec: EventSpec, columns: dict[str, str]) -> tuple[str, ...]:
    """Every named column exists and plays one part; returns the amount column(s)."""
    names = list(columns)
    wanted = [(spec.id, "--id"), (spec.time, "--time")]
    wanted += [(getattr(spec, k), f"--{k}") for k in ("event", "order", "product")
               if getattr(spec, k)]
    missing = [(n, flag) for n, flag in wanted if n not in columns]
    if missing:
        raise _missing_columns(missing, names)
    amount = parse_amount(spec.amount, names) if spec.amount else ()
    if spec.purchase_event is not None:
        if not spec.event:
            raise ColumnError("A purchase event type needs the column that holds event types; "
                              "add --event COL or drop --purchase-event.")
        if amount:
            raise ColumnError("With --amount every row that is not a return is a purchase; "
                              "drop --purchase-event, which is for logs without amounts.")
    used = [n for n, _ in wanted] + list(amount)
    for n in used:
        if used.count(n) > 1:
            raise ColumnError(
                f"Column '{n}' is named for two parts (ID, time, amount, event, order or "
                "product); give each part its own column."
            )
    return amount


def _is_text(duck_type: str) -> bool:
    return duck_type.upper() in ("VARCHAR", "TEXT", "STRING") or duck_type.upper().startswith(
        "VARCHAR")


def _is_number(duck_type: str) -> bool:
    t = duck_type.upper()
    return t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL")


def _text_of(col: str) -> str:
    return f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"


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
    return f"try_strptime({x}, '{fmt}')"  # fmt is one of TIME_FORMATS, never user text


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


# ------------------------------------------------------------------------------ feature catalog


@dataclass(frozen=True)
class _Shape:
    """What the log holds, and so which features exist and how units are named."""

    amount: bool
    order: bool
    product: bool
    event: bool
    purchase: bool = False  # a purchase event type in a log without amounts

    @property
    def units(self) -> str:
        return "orders" if self.amount else "sessions" if self.order else "visits"

    @property
    def unit(self) -> str:
        return self.units[:-1]

    @property
    def what(self) -> str:  # what a row is
        return "purchase" if self.amount else "event"


def _catalog(shape: _Shape, ref: str) -> list[tuple[str, FeatureGroup, str, str]]:
    """(name, group, SQL over the aggregates r/u/g/x/p, description) of every feature."""
    U, u, what = shape.units, shape.unit, shape.what
    rows = "order_lines" if shape.amount else "events"
    days = f"(epoch_ms({ref}) - epoch_ms(r.last_ts)) / {MS_PER_DAY}"
    tenure = f"(epoch_ms({ref}) - epoch_ms(r.first_ts)) / {MS_PER_DAY}"
    rate_days = f"greatest({tenure}, {MIN_RATE_DAYS})"

    def trend(recent: str, previous: str) -> str:
        return f"coalesce(({recent} - {previous}) / nullif({recent} + {previous}, 0), 0)"

    out: list[tuple[str, FeatureGroup, str, str]] = [
        (f"days_since_last_{what}", "recency", days,
         f"days from the customer's last {what} to the reference date"),
        ("tenure_days", "recency", tenure,
         f"days from the customer's first {what} to the reference date"),
        ("active_span_days", "recency",
         f"(epoch_ms(r.last_ts) - epoch_ms(r.first_ts)) / {MS_PER_DAY}",
         f"days between the customer's first and last {what}"),
        (f"{U}_count", "frequency", "u.n_units", f"number of {U}"),
        (f"{rows}_count", "frequency", "r.n_rows",
         "number of order lines (rows)" if shape.amount else "number of events"),
        ("lines_per_order" if shape.amount else f"events_per_{u}", "frequency",
         "r.n_rows / u.n_units", f"average rows per {u}"),
        (f"{U}_per_30_days", "frequency", f"u.n_units * 30.0 / {rate_days}",
         f"{U} per 30 days of tenure (tenure counted as at least {MIN_RATE_DAYS} days)"),
    ]
    out += [(f"{U}_last_{w}_days", "activity", f"u.units_{w}",
             f"{U} in the {w} days before the reference date") for w in WINDOWS_DAYS]
    out.append((f"{U}_trend_{TREND_WINDOW_DAYS}d", "activity",
                trend(f"u.units_{TREND_WINDOW_DAYS}", "u.units_prev"),
                (f"{U} in the last {TREND_WINDOW_DAYS} days minus the {TREND_WINDOW_DAYS} days "
                "before, over their sum: -1 stopped, 0 steady, +1 new")))
    if U != "visits":  # visits are the active days already
        out.append(("active_days", "activity", "r.active_days", f"calendar days with a {what}"))
    out += [
        ("active_weeks", "activity", "r.active_weeks", f"calendar weeks with a {what}"),
        ("active_months", "activity", "r.active_months", f"calendar months with a {what}"),
        ("active_months_share", "activity", "r.active_months / r.months_span",
         f"share of months since the first {what} with a {what}"),
        (f"weekend_{U}_share", "activity", "u.weekend_units / u.n_units",
         f"share of {U} on a Saturday or Sunday"),
    ]
    out += [
        (f"median_days_between_{U}", "timing", "g.median_gap",
         f"median days between consecutive {U} (empty with a single {u})"),
        (f"avg_days_between_{U}", "timing", "g.avg_gap",
         f"average days between consecutive {U} (empty with a single {u})"),
        (f"max_days_between_{U}", "timing", "g.max_gap",
         f"longest gap in days between consecutive {U} (empty with a single {u})"),
        # greatest() skips NULLs, so the CASE keeps "no gap yet" (a single order) empty.
        ("recency_vs_median_gap", "timing",
         (f"{days} / CASE WHEN g.median_gap IS NOT NULL THEN "
         f"greatest(g.median_gap, {MIN_GAP_DAYS}) END"),
         f"days since the last {u} over the median gap (at least a day): above 1 is overdue"),
    ]
    if shape.purchase:
        out += [
            ("purchases_count", "frequency", "r.n_purchases", "number of purchase events"),
            ("days_since_last_purchase", "recency",
             f"(epoch_ms({ref}) - epoch_ms(r.last_purchase_ts)) / {MS_PER_DAY}",
             "days from the last purchase event to the reference date (empty without one)"),
            (f"purchases_last_{TREND_WINDOW_DAYS}_days", "activity",
             f"r.purchases_{TREND_WINDOW_DAYS}",
             f"purchase events in the {TREND_WINDOW_DAYS} days before the reference date"),
            (f"{U}_with_purchase_share", "frequency", "u.units_with_purchase / u.n_units",
             f"share of {U} with a purchase event"),
        ]
    if shape.order and not shape.amount:
        out.append(("avg_session_minutes", "timing", "u.avg_minutes",
                    "average minutes from the first to the last event of a session"))
    if shape.amount:
        out += [
            ("spend_total", "monetary", "r.spend", ("total amount of purchases (returns not "
             "subtracted)")),
            ("spend_net", "monetary", "r.spend - coalesce(x.returned_value, 0)",
             "total amount of purchases minus returns and cancellations"),
            ("avg_order_value", "monetary", "u.avg_value", "average amount per order"),
            ("median_order_value", "monetary", "u.median_value", "median amount per order"),
            ("max_order_value", "monetary", "u.max_value", "largest order amount"),
            ("first_order_value", "monetary", "u.first_value", "amount of the first order"),
            ("last_order_value", "monetary", "u.last_value", "amount of the latest order"),
            ("avg_line_value", "monetary", "r.spend / r.n_rows", "average amount per order line"),
            ("spend_per_30_days", "monetary", f"r.spend * 30.0 / {rate_days}",
             f"spend per 30 days of tenure (tenure counted as at least {MIN_RATE_DAYS} days)"),
        ]
        out += [(f"spend_last_{w}_days", "monetary", f"u.spend_{w}",
                 f"spend in the {w} days before the reference date") for w in WINDOWS_DAYS]
        out += [
            (f"spend_trend_{TREND_WINDOW_DAYS}d", "monetary",
             trend(f"u.spend_{TREND_WINDOW_DAYS}", "u.spend_prev"),
             (f"spend in the last {TREND_WINDOW_DAYS} days minus the {TREND_WINDOW_DAYS} days "
             "before, over their sum: -1 stopped, 0 steady, +1 new")),
            ("returns_count", "returns", "coalesce(x.returns_count, 0)",
             "number of returns or cancellations (orders with returned lines)"),
            ("returned_value", "returns", "coalesce(x.returned_value, 0)",
             "amount returned or cancelled"),
            ("returns_share", "returns",
             "least(coalesce(x.returned_value, 0) / nullif(r.spend, 0), 1)",
             ("amount returned over amount bought, at most 1 (returns of purchases made before "
             "the log can pass what the log shows bought)")),
            ("returned_lines_share", "returns",
             "coalesce(x.return_rows, 0) / (r.n_rows + coalesce(x.return_rows, 0))",
             "share of the customer's rows that are returns or cancellations"),
        ]
    if shape.product:
        out += [
            ("distinct_products", "products", "coalesce(p.n_products, 0)",
             "number of different products"),
            (f"products_per_{u}", "products", "u.avg_products",
             f"average number of different products per {u}"),
            ("top_product_share", "products", "p.top_lines / nullif(p.product_lines, 0)",
             "share of rows on the customer's most frequent product"),
            ("reordered_products_share", "products", "p.reordered / nullif(p.n_products, 0)",
             f"share of the customer's products bought in two or more {U}"),
        ]
    if shape.event:
        out.append(("distinct_event_types", "events", "r.distinct_events",
                    "number of different event types"))
    return out


def _aggregate_sql(shape: _Shape, ref: str, month_end: str, feature_sql: str) -> str:
    """One query: per-row, per-unit, gap, return and product aggregates, then the features.

    ``ref`` is the reference date; ``month_end`` the last instant the features see (just
    before a cut-off), to which months since the first purchase are counted.
    """
    w_prev = (f"ts >= {ref} - INTERVAL '{2 * TREND_WINDOW_DAYS} days' AND "
              f"ts < {ref} - INTERVAL '{TREND_WINDOW_DAYS} days'")
    windows = set(WINDOWS_DAYS) | {TREND_WINDOW_DAYS}
    unit_cols = [f"count(*) FILTER (WHERE ts >= {ref} - INTERVAL '{w} days') AS units_{w}"
                 for w in sorted(windows)]
    unit_cols.append(f"count(*) FILTER (WHERE {w_prev}) AS units_prev")
    unit_cols.append("count(*) FILTER (WHERE dayofweek(ts) IN (0, 6)) AS weekend_units")
    if shape.amount:
        unit_cols += [f"coalesce(sum(value) FILTER (WHERE ts >= {ref} - INTERVAL '{w} days'), "
                      f"0) AS spend_{w}" for w in sorted(windows)]
        unit_cols += [f"coalesce(sum(value) FILTER (WHERE {w_prev}), 0) AS spend_prev",
                      "avg(value) AS avg_value", "median(value) AS median_value",
                      "max(value) AS max_value",
                      # Orders at one time (a date-only log) are told apart by ID, as in gaps:
                      # by time alone DuckDB picks either, and the table changes run to run.
                      "arg_min(value, (ts, unit)) AS first_value",
                      "arg_max(value, (ts, unit)) AS last_value"]
    if shape.product:
        unit_cols.append("avg(n_products) AS avg_products")
    unit_cols.append("avg((epoch_ms(ts_end) - epoch_ms(ts)) / 60000.0) AS avg_minutes")
    row_cols = [
        "count(*) AS n_rows", "min(ts) AS first_ts", "max(ts) AS last_ts",
        "count(DISTINCT CAST(ts AS DATE)) AS active_days",
        "count(DISTINCT date_trunc('week', ts)) AS active_weeks",
        "count(DISTINCT date_trunc('month', ts)) AS active_months",
        f"date_diff('month', min(ts), {month_end}) + 1 AS months_span",
    ]
    if shape.amount:
        row_cols.append("sum(amount) AS spend")
    if shape.event:
        row_cols.append("count(DISTINCT evt) AS distinct_events")
    if shape.purchase:
        row_cols += ["count(*) FILTER (WHERE is_purchase) AS n_purchases",
                     "max(ts) FILTER (WHERE is_purchase) AS last_purchase_ts",
                     (f"count(*) FILTER (WHERE is_purchase AND ts >= {ref} - INTERVAL "
                     f"'{TREND_WINDOW_DAYS} days') AS purchases_{TREND_WINDOW_DAYS}")]
        unit_cols.append("count(*) FILTER (WHERE has_purchase) AS units_with_purchase")
    unit_inner = ["min(ts) AS ts", "max(ts) AS ts_end"]
    if shape.amount:
        unit_inner.append("sum(amount) AS value")
    if shape.product:
        unit_inner.append("count(DISTINCT pid) AS n_products")
    if shape.purchase:
        unit_inner.append("bool_or(is_purchase) AS has_purchase")
    ctes = [
        "act AS (SELECT * FROM fe WHERE NOT is_return)",
        f"units AS (SELECT cid, unit, {', '.join(unit_inner)} FROM act GROUP BY cid, unit)",
        f"r AS (SELECT cid, {', '.join(row_cols)} FROM act GROUP BY cid)",
        f"u AS (SELECT cid, count(*) AS n_units, {', '.join(unit_cols)} FROM units GROUP BY cid)",
        ("gaps AS (SELECT cid, (epoch_ms(ts) - epoch_ms(lag(ts) OVER (PARTITION BY cid ORDER BY "
        f"ts, unit))) / {MS_PER_DAY} AS gap FROM units)"),
        ("g AS (SELECT cid, median(gap) AS median_gap, avg(gap) AS avg_gap, max(gap) AS max_gap "
        "FROM gaps GROUP BY cid)"),
    ]
    joins = "r JOIN u USING (cid) LEFT JOIN g USING (cid)"
    if shape.amount:
        ctes.append("x AS (SELECT cid, count(DISTINCT unit) AS returns_count, "
                    "sum(abs(amount)) AS returned_value, count(*) AS return_rows "
                    "FROM fe WHERE is_return GROUP BY cid)")
        joins += " LEFT JOIN x USING (cid)"
    if shape.product:
        ctes.append("pp AS (SELECT cid, pid, count(*) AS n, count(DISTINCT unit) AS n_units "
                    "FROM act WHERE pid IS NOT NULL GROUP BY cid, pid)")
        ctes.append("p AS (SELECT cid, count(*) AS n_products, max(n) AS top_lines, "
                    "sum(n) AS product_lines, count(*) FILTER (WHERE n_units >= 2) AS reordered "
                    "FROM pp GROUP BY cid)")
        joins += " LEFT JOIN p USING (cid)"
    return f"WITH {', '.join(ctes)} SELECT cid, {feature_sql} FROM {joins} ORDER BY cid"


# ------------------------------------------------------------------------------ the engine


@dataclass
class _Counts:
    rows_read: int = 0
    missing_id: int = 0
    bad_time: int = 0
    bad_amount: int = 0


def build_features(
    path_or_frame: str | Path | pd.DataFrame,
    spec: EventSpec,
    *,
    as_of: str | date | datetime | None = None,
    horizon_days: int | None = None,
    progress: Progress | None = None,
) -> EventFeatures:
    """Aggregate an event or transaction log into one row per customer.

    Parameters
    ----------
    path_or_frame : path or DataFrame
        The log: CSV/TSV (optionally gzipped), Parquet or JSON lines, read by DuckDB without
        loading it into pandas; or a DataFrame.
    spec : EventSpec
        The ID and time columns, and optionally amount (a column or ``Qty*Price``), event
        type, order (invoice or session) and product columns.
    as_of : date, datetime or ISO text, optional
        Cut-off: features from events before it, outcome columns from events on or after it.
        Customers without a purchase (or event) before it are left out.
    horizon_days : int, optional
        With ``as_of``: count outcomes only in this many days after the cut-off (default:
        to the end of the log).
    progress : callable(stage, fraction, message), optional

    Returns
    -------
    EventFeatures
        ``frame``: the ID column, 20-70 features (more with amount, product and event
        columns), then outcome columns named ``outcome_*``; ``summary``: counts, dates,
        descriptions of every column.

    Raises
    ------
    DataError, ColumnError, InputError
        A missing file or column, unreadable dates (more than 1% of values), unreadable
        amounts (more than 1% of values or of the total, or one format), amounts in two
        currencies, an impossible cut-off: each with one sentence saying how to fix it.

    Examples
    --------
    >>> import sys; sys.path.insert(0, ".")
    >>> from fixtures.events import make_transactions
    >>> log = make_transactions(50, seed=1)
    >>> spec = EventSpec(id="CustomerID", time="InvoiceDate", amount="Quantity*UnitPrice",
    ...                  order="InvoiceNo", product="StockCode")
    >>> result = build_features(log.frame, spec)
    >>> len(result.frame) == log.frame["CustomerID"].nunique()
    True
    """
    import duckdb

    started = time.perf_counter()
    say = progress or (lambda stage, fraction, message: None)
    cutoff = parse_as_of(as_of)
    if horizon_days is not None:
        if cutoff is None:
            raise InputError("A horizon needs a cut-off; add --as-of DATE or drop "
                             "--horizon-days.")
        if not (isinstance(horizon_days, int) and horizon_days > 0):
            raise InputError(f"The horizon {horizon_days!r} is not a positive number of days; "
                             "give a whole number like 90.")
    with tempfile.TemporaryDirectory(prefix="segment-copilot-events-") as spill:
        # Spill to a private folder: a log larger than memory still aggregates.
        con = duckdb.connect(config={"temp_directory": spill,
                                     "preserve_insertion_order": False})
        try:
            _use_utc(con)
            return _build(con, path_or_frame, spec, cutoff, horizon_days, say, started)
        except duckdb.OutOfMemoryException:
            raise DataError("The events log needs more memory than this machine has, even "
                            "spilling to disk; free some disk space or use a smaller log.") \
                from None
        except duckdb.Error as exc:
            label = path_or_frame if not isinstance(path_or_frame, pd.DataFrame) else "table"
            raise DataError(
                f"The events {label} could not be aggregated ({_short(exc)}); check that it "
                "is a valid, uncorrupted file."
            ) from None
        finally:
            con.close()


def _use_utc(con) -> None:
    """Read zoned times as UTC wall time, whatever the machine's zone.

    With DuckDB's time-zone support loaded, TIMESTAMPTZ -> TIMESTAMP would otherwise give the
    local wall time, and the same log would have other features on a machine elsewhere.
    """
    import duckdb

    try:
        con.execute("SET TimeZone = 'UTC'")
    except duckdb.Error:
        pass  # no time-zone support: casts are in UTC already


def _build(con, path_or_frame, spec, cutoff, horizon_days, say, started) -> EventFeatures:
    import duckdb

    say("read", 0.05, "reading the log's columns")
    source = _open_source(con, path_or_frame)
    amount_cols = _check_columns(spec, source.columns)
    shape = _Shape(amount=bool(amount_cols), order=bool(spec.order),
                   product=bool(spec.product), event=bool(spec.event),
                   purchase=spec.purchase_event is not None)
    notes: list[str] = list(source.notes)
    say("clean", 0.15, "reading and cleaning the rows")
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
    _check_unreadable(con, spec, time_how, parts, notes)
    if shape.purchase:
        _check_purchase_event(con, spec)
    con.execute(_events_table_sql(spec, shape, parts), {"purchase": spec.purchase_event}
                if shape.purchase else {})
    # The log's span counts every dated row: guest rows without an ID still show when the
    # log ends, which is the date recency is measured to.
    first, last = con.execute("SELECT min(ts), max(ts) FROM staged").fetchone()
    con.execute("DROP TABLE staged")
    n_used, n_returns = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_return) FROM ev").fetchone()
    if n_used == 0:
        raise DataError(
            f"No row of '{source.label}' has both a customer ID in '{spec.id}' and a readable "
            f"time in '{spec.time}'; check the --id and --time columns."
        )
    outcome_end = _check_cutoff(cutoff, horizon_days, first, last, notes)
    outcome_days = (None if cutoff is None else
                    round((outcome_end - cutoff).total_seconds() / 86400.0, 2))
    reference = cutoff if cutoff is not None else last
    ref = _ts_literal(reference)
    # Features never see an event at or after the cut-off.
    where = f"WHERE ts < {ref}" if cutoff is not None else ""
    con.execute(f"CREATE TEMP VIEW fe AS SELECT * FROM ev {where}")

    say("features", 0.45, f"aggregating {shape.units} per customer")
    month_end = _ts_literal(reference - timedelta(microseconds=1)) if cutoff else ref
    catalog = _catalog(shape, ref)
    feature_sql = ", ".join(f"{sql} AS {quote_identifier(name)}" for name, _, sql, _ in catalog)
    frame = con.execute(_aggregate_sql(shape, ref, month_end, feature_sql)).df()
    if len(frame) == 0:
        when = f"before the cut-off {reference:%Y-%m-%d}" if cutoff else "in the log"
        raise DataError(
            f"No customer has a {shape.what} {when}; choose a later --as-of or check the "
            "amount column."
        )
    infos = [FeatureInfo(name=n, group=g, description=d) for n, g, _, d in catalog]
    if shape.event:
        shares, share_infos = _event_shares(con, frame["cid"])
        frame = pd.concat([frame, shares], axis=1)
        infos += share_infos

    only_returns, only_after = con.execute(
        "SELECT (SELECT count(DISTINCT cid) FROM fe WHERE cid NOT IN "
        "(SELECT cid FROM fe WHERE NOT is_return)), "
        "(SELECT count(DISTINCT cid) FROM ev WHERE cid NOT IN (SELECT cid FROM fe))"
    ).fetchone()

    outcome_infos: list[FeatureInfo] = []
    base_rate = None
    if cutoff is not None:
        say("outcomes", 0.8, "measuring outcomes after the cut-off")
        window = _window_phrase(horizon_days, outcome_days)
        outcomes, outcome_infos = _outcomes(con, shape, ref, outcome_end, window,
                                            frame["cid"])
        frame = pd.concat([frame, outcomes], axis=1)
        base_rate = float(outcomes.iloc[:, 0].mean())

    id_name = spec.id
    taken = {i.name for i in infos + outcome_infos}
    if id_name in taken:
        raise ColumnError(f"The ID column '{id_name}' has the name of a feature this command "
                          "makes; rename the column.")
    floats = frame.select_dtypes("float").columns
    frame[floats] = frame[floats].round(DECIMALS)
    frame = frame.rename(columns={"cid": id_name})
    frame[id_name] = _tidy_ids(frame[id_name])
    frame = frame.sort_values(id_name, kind="stable", ignore_index=True)  # 9 before 10
    notes += _definition_notes(spec, shape)
    notes += _name_notes(infos)
    summary = EventSummary(
        source=source.label, spec=spec, rows_read=counts.rows_read,
        rows_dropped_missing_id=counts.missing_id, rows_dropped_bad_time=counts.bad_time,
        rows_dropped_bad_amount=counts.bad_amount, rows_used=int(n_used),
        return_rows=int(n_returns), first_event=first, last_event=last,
        reference_date=reference, as_of=cutoff,
        outcome_end=outcome_end if horizon_days else None,
        outcome_days=outcome_days, horizon_days=horizon_days,
        unit=shape.units, n_customers=len(frame), customers_only_returns=int(only_returns),
        customers_only_after=int(only_after), features=tuple(infos),
        outcomes=tuple(outcome_infos), outcome_base_rate=base_rate, time_format=time_how,
        notes=tuple(dict.fromkeys(notes)), seconds=round(time.perf_counter() - started, 3),
    )
    say("done", 1.0, f"{len(frame):,} customers x {len(infos)} features")
    return EventFeatures(frame=frame, summary=summary)


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
            f"Column '{spec.time}' given as --time has {n_bad:,} values ({share:.0%}) that "
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


def _check_cutoff(cutoff, horizon_days, first: datetime, last: datetime,
                  notes: list[str]) -> datetime | None:
    if cutoff is None:
        return None
    if cutoff <= first:
        raise InputError(
            f"The cut-off {cutoff:%Y-%m-%d} is on or before the first event "
            f"({first:%Y-%m-%d}), so there is nothing to build features from; choose a date "
            f"between {first:%Y-%m-%d} and {last:%Y-%m-%d}."
        )
    if cutoff > last:
        raise InputError(
            f"The cut-off {cutoff:%Y-%m-%d} is after the last event ({last:%Y-%m-%d}), so "
            f"there is no future to measure outcomes on; choose a date between "
            f"{first:%Y-%m-%d} and {last:%Y-%m-%d}."
        )
    log_end = last + timedelta(microseconds=1)
    if horizon_days is None:
        return log_end
    end = cutoff + timedelta(days=horizon_days)
    if end > log_end:
        notes.append(f"The {horizon_days}-day horizon runs past the end of the log "
                     f"({last:%Y-%m-%d}); outcomes cover only the days the log has.")
        return log_end
    return end


def _event_shares(con, ids: pd.Series) -> tuple[pd.DataFrame, list[FeatureInfo]]:
    """share_event_<type> for the most common types (over events before the cut-off)."""
    top = [r[0] for r in con.execute(
        "SELECT evt FROM fe WHERE NOT is_return AND evt IS NOT NULL GROUP BY evt "
        f"ORDER BY count(*) DESC, evt LIMIT {TOP_EVENT_TYPES}"
    ).fetchall()]
    n_types = con.execute(
        "SELECT count(DISTINCT evt) FROM fe WHERE NOT is_return").fetchone()[0]
    counts = con.execute(
        "SELECT cid, evt, count(*) AS n FROM fe WHERE NOT is_return GROUP BY cid, evt"
    ).df()
    totals = counts.groupby("cid")["n"].sum()
    wide = counts[counts["evt"].isin(top)].pivot(index="cid", columns="evt", values="n")
    wide = wide.reindex(index=ids, columns=top).fillna(0)
    shares = wide.div(totals.reindex(ids).to_numpy(), axis=0)
    names = _event_column_names(top)
    out = pd.DataFrame({names[t]: shares[t].to_numpy(dtype=float) for t in top})
    infos = [FeatureInfo(name=names[t], group="events",
                         description=f"share of the customer's events that are '{t}'")
             for t in top]
    has_missing = bool(counts["evt"].isna().any())
    if n_types > len(top) or has_missing:
        name = "share_event_other"
        while name in out.columns:
            name += "_types"
        out[name] = (1.0 - out.sum(axis=1)).clip(lower=0.0).round(12)
        infos.append(FeatureInfo(
            name=name, group="events",
            description=f"share of events of the other {max(n_types - len(top), 0)} types "
                        "(or with no type)"))
    return out, infos


def _event_column_names(types: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    used: set[str] = set()
    for t in types:
        base = re.sub(r"[^0-9a-z]+", "_", str(t).lower()).strip("_")[:EVENT_NAME_CHARS]
        name = f"share_event_{base or 'unnamed'}"
        candidate, n = name, 2
        while candidate in used:
            candidate, n = f"{name}_{n}", n + 1
        used.add(candidate)
        names[t] = candidate
    return names


def _outcomes(con, shape: _Shape, ref: str, end: datetime, window: str,
              ids: pd.Series) -> tuple[pd.DataFrame, list[FeatureInfo]]:
    """What each customer did from the cut-off to the end of the horizon (or the log).

    ``window`` says when, for the descriptions: "in the 30 days after the cut-off".
    """
    span = f"ts >= {ref} AND ts < {_ts_literal(end)} AND NOT is_return"
    extra = ", sum(amount) AS spend" if shape.amount else ""
    if shape.purchase:
        extra += ", count(*) FILTER (WHERE is_purchase) AS purchases"
    after = con.execute(
        f"SELECT cid, count(DISTINCT unit) AS units, count(*) AS n_rows{extra} "
        f"FROM ev WHERE {span} GROUP BY cid"
    ).df().set_index("cid").reindex(ids)
    units = after["units"].fillna(0).astype("int64").to_numpy()
    out = pd.DataFrame()
    infos: list[FeatureInfo] = []

    def add(name: str, values, description: str) -> None:
        out[name] = values
        infos.append(FeatureInfo(name=name, group="outcome", description=description))

    if shape.amount:
        # Every customer kept has a purchase before the cut-off, so "again" is true of all.
        add("outcome_bought_again", (units > 0).astype("int64"),
            f"1 if the customer bought again {window}, else 0")
        add("outcome_revenue_after", after["spend"].fillna(0.0).to_numpy(dtype=float),
            f"amount of purchases {window} (returns not subtracted)")
        add("outcome_orders_after", units, f"number of orders {window}")
        return out, infos
    if shape.purchase:
        # Customers are kept by any event, many never bought: "after", not "again".
        purchases = after["purchases"].fillna(0).astype("int64").to_numpy()
        add("outcome_bought_after", (purchases > 0).astype("int64"),
            f"1 if the customer had a purchase event {window} (whether or not they bought "
            "before), else 0")
    add("outcome_active_after", (units > 0).astype("int64"),
        f"1 if the customer had any event {window}, else 0")
    add(f"outcome_{shape.units}_after", units, f"number of {shape.units} {window}")
    add("outcome_events_after", after["n_rows"].fillna(0).astype("int64").to_numpy(),
        f"number of events {window}")
    if shape.purchase:
        add("outcome_purchases_after", purchases, f"number of purchase events {window}")
    return out, infos


def _tidy_ids(ids: pd.Series) -> pd.Series:
    """Whole-number IDs as integers (no leading zeros lost); anything else stays text."""
    text = ids.astype(str)
    if len(text) and text.str.fullmatch(r"-?(0|[1-9][0-9]{0,17})").all():
        return text.astype("int64")
    return ids


def _definition_notes(spec: EventSpec, shape: _Shape) -> list[str]:
    notes = []
    if shape.amount:
        if spec.order:
            notes.append(f"Orders are the distinct values of '{spec.order}'.")
            notes.append(f"Returns and cancellations are rows with a negative amount or whose "
                         f"'{spec.order}' starts with C and a digit; they count as neither "
                         "orders nor spend.")
        else:
            notes.append("Orders are the distinct timestamps of a customer (no --order "
                         "column); returns are rows with a negative amount.")
    elif shape.order:
        notes.append(f"Sessions are the distinct values of '{spec.order}'.")
    else:
        notes.append("Visits are calendar days with at least one event (no --order column).")
    return notes


def _name_notes(infos: list[FeatureInfo]) -> list[str]:
    """Warn when a feature's name would make the segmenter read it as an outcome."""
    notes = []
    for info in infos:
        word = outcome_name_match(info.name)
        if word is not None:
            notes.append(f"The feature '{info.name}' mentions '{word}', so 'segment' will treat "
                         "it as an outcome unless its --outcome flags are given explicitly.")
    return notes


def outcome_flags(summary: EventSummary) -> list[str]:
    """The ``--outcome`` arguments that make ``segment`` use exactly these outcome columns."""
    flags: list[str] = []
    for name in summary.outcome_names:
        flags += ["--outcome", name]
    return flags
