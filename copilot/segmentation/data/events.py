"""Event or transaction logs to one row per customer: recency, frequency, spend, activity.

DuckDB reads the log straight from the file (CSV, gzipped CSV, Parquet, JSON lines) or from a
pandas frame, so the log never has to fit in pandas: only the per-customer table comes back
as a DataFrame (the aggregation can run on Spark instead, the same SQL: ``aggregate_with``).
``build_features`` cleans the rows (a missing ID, an unreadable time or
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

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd

from copilot.core import ColumnError, DataError, Frozen, InputError, percent
from copilot.segmentation.data.event_columns import (
    EventSpec,
    FeatureInfo,
    _check_columns,
    _ts_literal,
)
from copilot.segmentation.data.event_dialect import DuckQueries, Queries
from copilot.segmentation.data.event_features import _customer_features, _outcomes, _Shape
from copilot.segmentation.data.event_source import _open_source, _short
from copilot.segmentation.data.event_staging import (
    _check_purchase_event,
    _check_unreadable,
    _events_table_sql,
    _stage_or_latin1,
)
from copilot.segmentation.data.names import outcome_name_match

#: progress(stage, fraction 0-1, message), as in the pipeline.
Progress = Callable[[str, float, str], None]
#: Another engine for the aggregation: given the cleaned events as a Parquet file, a context
#: manager of ``Queries`` over them as the view ``ev`` (see ``build_features``).
Aggregator = Callable[[Path], AbstractContextManager[Queries]]

DECIMALS = 4  # features are rounded to 4 decimals: finer than any business meaning (days to
#               ~9 seconds), and the CSV stays readable


# ------------------------------------------------------------------------------ public types


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
    def headline(self) -> str:
        """What was built, in the one line the chat shows: the features, the customers, the
        events and their dates, then the first outcome's base rate (with a cut-off)."""
        rate = f" {self.outcome_headline}." if self.outcome_headline else ""
        who = "customer" if self.n_customers == 1 else "customers"
        return (f"Built {len(self.features)} features for {self.n_customers:,} {who} from "
                f"{self.rows_used:,} events ({self.first_event:%Y-%m-%d} to "
                f"{self.last_event:%Y-%m-%d}).{rate}")

    @property
    def outcome_headline(self) -> str | None:
        """The first outcome's base rate as a sentence a PM reads right, without the period:
        "41.2% of customers bought again in the 30 days after the cut-off
        (outcome_bought_again)"; None without a cut-off."""
        if not self.outcomes or self.outcome_base_rate is None or self.outcome_window is None:
            return None
        first = self.outcomes[0].name
        verb = OUTCOME_VERBS.get(first, f"had {first}")
        return (f"{percent(self.outcome_base_rate, 1)} of customers {verb} {self.outcome_window} "
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


# ------------------------------------------------------------------------------ the engine


def build_features(
    path_or_frame: str | Path | pd.DataFrame,
    spec: EventSpec,
    *,
    as_of: str | date | datetime | None = None,
    horizon_days: int | None = None,
    progress: Progress | None = None,
    aggregate_with: Aggregator | None = None,
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
    aggregate_with : Aggregator, optional
        Another engine (the ``spark`` floor's) runs the same aggregation SQL over the cleaned
        events, handed over as a Parquet file; by default DuckDB does it all.

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
    _check_horizon(cutoff, horizon_days)
    with tempfile.TemporaryDirectory(prefix="segment-copilot-events-") as spill:
        # Spill to a private folder: a log larger than memory still aggregates.
        con = duckdb.connect(config={"temp_directory": spill,
                                     "preserve_insertion_order": False})
        try:
            _use_utc(con)
            return _build(con, path_or_frame, spec, cutoff, horizon_days, say, started, spill,
                          aggregate_with)
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


def _check_horizon(cutoff: datetime | None, horizon_days) -> None:
    if horizon_days is not None:
        if cutoff is None:
            raise InputError("A horizon needs a cut-off; add --as-of DATE or drop "
                             "--horizon-days.")
        if not (isinstance(horizon_days, int) and horizon_days > 0):
            raise InputError(f"The horizon {horizon_days!r} is not a positive number of days; "
                             "give a whole number like 90.")


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


def _build(con, path_or_frame, spec, cutoff, horizon_days, say, started, spill: str,
           aggregate_with: Aggregator | None) -> EventFeatures:
    say("read", 0.05, "reading the log's columns")
    source = _open_source(con, path_or_frame)
    amount_cols = _check_columns(spec, source.columns)
    shape = _Shape(amount=bool(amount_cols), order=bool(spec.order),
                   product=bool(spec.product), event=bool(spec.event),
                   purchase=spec.purchase_event is not None)
    notes: list[str] = list(source.notes)
    say("clean", 0.15, "reading and cleaning the rows")
    source, counts, time_how, parts = _stage_or_latin1(con, source, spec, shape, amount_cols,
                                                       notes)
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
    window = None if cutoff is None else _window_phrase(horizon_days, outcome_days)
    with _queries(con, spill, aggregate_with) as q:
        built = _aggregate(q, shape, cutoff, reference, outcome_end, window, say)
    frame = _finish_frame(built.frame, spec.id, built.features + built.outcomes)
    notes += _definition_notes(spec, shape)
    notes += _name_notes(built.features)
    summary = EventSummary(
        source=source.label, spec=spec, rows_read=counts.rows_read,
        rows_dropped_missing_id=counts.missing_id, rows_dropped_bad_time=counts.bad_time,
        rows_dropped_bad_amount=counts.bad_amount, rows_used=int(n_used),
        return_rows=int(n_returns), first_event=first, last_event=last,
        reference_date=reference, as_of=cutoff,
        outcome_end=outcome_end if horizon_days else None,
        outcome_days=outcome_days, horizon_days=horizon_days,
        unit=shape.units, n_customers=len(frame),
        customers_only_returns=built.only_returns, customers_only_after=built.only_after,
        features=tuple(built.features), outcomes=tuple(built.outcomes),
        outcome_base_rate=built.base_rate, time_format=time_how,
        notes=tuple(dict.fromkeys(notes)), seconds=round(time.perf_counter() - started, 3),
    )
    say("done", 1.0, f"{len(frame):,} customers x {len(built.features)} features")
    return EventFeatures(frame=frame, summary=summary)


@contextmanager
def _queries(con, spill: str, aggregate_with: Aggregator | None) -> Iterator[Queries]:
    """The engine that aggregates the cleaned events: this DuckDB connection, or another
    engine handed the events as one Parquet file (narrow: only the parsed columns)."""
    if aggregate_with is None:
        yield DuckQueries(con)
        return
    path = Path(spill) / "events.parquet"
    # The path is a folder this run made (no user text); quotes doubled all the same.
    con.execute(f"COPY ev TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)")
    con.execute("DROP TABLE ev")
    with aggregate_with(path) as q:
        yield q


@dataclass(frozen=True)
class _Aggregated:
    frame: pd.DataFrame  # cid, the features, then the outcomes
    features: list[FeatureInfo]
    outcomes: list[FeatureInfo]
    base_rate: float | None
    only_returns: int
    only_after: int


def _aggregate(q: Queries, shape: _Shape, cutoff: datetime | None, reference: datetime,
               outcome_end: datetime | None, window: str | None, say) -> _Aggregated:
    """Features (and outcomes after a cut-off) per customer from the cleaned events ``ev``,
    in SQL both engines read."""
    ref = _ts_literal(reference)
    # Features never see an event at or after the cut-off.
    where = f"WHERE ts < {ref}" if cutoff is not None else ""
    q.execute(f"CREATE OR REPLACE TEMP VIEW fe AS SELECT * FROM ev {where}")

    say("features", 0.45, f"aggregating {shape.units} per customer")
    frame, infos = _customer_features(q, shape, cutoff, reference, ref)

    only_returns, only_after = q.rows(
        "SELECT (SELECT count(DISTINCT cid) FROM fe WHERE cid NOT IN "
        "(SELECT cid FROM fe WHERE NOT is_return)), "
        "(SELECT count(DISTINCT cid) FROM ev WHERE cid NOT IN (SELECT cid FROM fe))"
    )[0]

    outcome_infos: list[FeatureInfo] = []
    base_rate = None
    if cutoff is not None:
        say("outcomes", 0.8, "measuring outcomes after the cut-off")
        outcomes, outcome_infos = _outcomes(q, shape, ref, outcome_end, window, frame["cid"])
        frame = pd.concat([frame, outcomes], axis=1)
        base_rate = float(outcomes.iloc[:, 0].mean())
    return _Aggregated(frame, infos, outcome_infos, base_rate, int(only_returns),
                       int(only_after))


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


def _finish_frame(frame: pd.DataFrame, id_name: str,
                  infos: list[FeatureInfo]) -> pd.DataFrame:
    """The table as written: rounded, the ID column named and tidied, sorted by ID."""
    taken = {i.name for i in infos}
    if id_name in taken:
        raise ColumnError(f"The ID column '{id_name}' has the name of a feature this command "
                          "makes; rename the column.")
    floats = frame.select_dtypes("float").columns
    frame[floats] = frame[floats].round(DECIMALS)
    frame = frame.rename(columns={"cid": id_name})
    frame[id_name] = _tidy_ids(frame[id_name])
    frame = frame.sort_values(id_name, kind="stable", ignore_index=True)  # 9 before 10
    return frame


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
