"""The ``features`` command: an event or transaction log to one row per customer.

    segment-copilot features EVENTS --id COL --time COL [--amount COL|QTY*PRICE]
        [--event COL] [--order COL] [--product COL] [--purchase-event TYPE]
        [--as-of DATE [--horizon-days N]] --out FILE.csv|FILE.parquet [--json]
        [--engine local|spark [--master URL]]

Writes the customer table (atomically) and, beside it, ``FILE.features.json``: what every
column means and what was read, dropped and cut. stdout: a short summary and the next command
to run; stderr: progress and notes.

``--engine spark`` runs the aggregation as Spark SQL (the same feature definitions, through
``copilot.segmentation.spark``) and writes the same table; pyspark is the optional extra
``spark``, imported only then.

The next command suggested is the numbers-only ``segment ... --no-llm``: it answers in seconds
and shows at once whether the segments differ in the outcome; the line after it says what
dropping ``--no-llm`` adds and what it costs, so nobody waits minutes without knowing why.
"""

from __future__ import annotations

import argparse
import io
import shlex
import sys
import time
from pathlib import Path

NAME = "features"
OUTPUT_SUFFIXES = (".csv", ".parquet", ".pq")
# What the writing pass adds to ``segment`` on the embedded model, from the README's benchmark
# (k recommendation 25 s + names and narratives 111 s for 7 segments; 6.4 min with --goal).
LLM_PASS_TIME = "about 2-3 minutes more on the embedded model"


def add_parser(sub) -> None:
    """Register ``features`` on the CLI's sub-parsers."""
    p = sub.add_parser(
        NAME, help="aggregate an event or transaction log into one row per customer",
        description="Aggregate an event or transaction log (CSV, gzipped CSV, Parquet or JSON "
        "lines, read out of core with DuckDB) into one row per customer: recency, frequency, "
        "spend, tenure, activity per period, trends, time between orders, returns, products "
        "and event-type shares. With --as-of, features come from events before the cut-off "
        "and outcome columns (outcome_bought_again, outcome_revenue_after, ...; "
        "outcome_bought_after and outcome_active_after for a clickstream) from events after "
        "it, so segments can be validated on the future. Times may be dates, date-times, or "
        "Unix seconds or milliseconds (also as CSV text).",
    )
    p.add_argument("events", help="the log: one row per event, order line or transaction")
    p.add_argument("--id", dest="id_column", required=True, metavar="COL",
                   help="the customer ID column (rows without one are dropped and counted)")
    p.add_argument("--time", dest="time_column", required=True, metavar="COL",
                   help="when each row happened: dates, date-times, or Unix seconds or "
                   "milliseconds")
    p.add_argument("--amount", metavar="COL|A*B",
                   help="money per row: a column, or the product of two like "
                   "Quantity*UnitPrice; negative amounts are returns")
    p.add_argument("--event", dest="event_column", metavar="COL",
                   help="event type column (adds share_event_<type> features)")
    p.add_argument("--order", dest="order_column", metavar="COL",
                   help="order or session ID column (default: with --amount an order is the "
                   "rows sharing a timestamp; without, a visit is a day with events)")
    p.add_argument("--product", dest="product_column", metavar="COL",
                   help="product column (adds distinct products and reorder features)")
    p.add_argument("--purchase-event", metavar="TYPE",
                   help="the event type that is a purchase, for logs without --amount (adds "
                   "purchase features and outcome_bought_after: a purchase after the cut-off, "
                   "whether or not the customer bought before)")
    p.add_argument("--as-of", metavar="DATE",
                   help="cut-off (YYYY-MM-DD): features from events before it, outcomes after")
    p.add_argument("--horizon-days", type=int, metavar="N",
                   help="with --as-of: outcomes from the N days after the cut-off "
                   "(default: to the end of the log)")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="the customer table to write: .csv or .parquet")
    p.add_argument("--json", action="store_true",
                   help="print the summary as JSON instead of text")
    p.add_argument("--engine", choices=("local", "spark"), default="local",
                   help="where the features are aggregated: local (DuckDB, default) or spark "
                   "(Spark SQL, the same features; needs pip install \".[spark]\" and Java)")
    p.add_argument("--master", metavar="URL",
                   help="with --engine spark: the Spark master (default local[*]; "
                   "spark://HOST:7077, yarn, sc://HOST for Spark Connect)")


def run(args: argparse.Namespace) -> int:
    from copilot.core import InputError
    from copilot.segmentation import EventSpec, parse_as_of

    out = Path(args.out)
    _check_output(out, Path(args.events))
    as_of = parse_as_of(args.as_of)  # a bad date fails before the log is read
    if args.horizon_days is not None and args.horizon_days <= 0:
        raise InputError(f"--horizon-days {args.horizon_days} is not a positive number of "
                         "days; give a whole number like 90.")
    if args.master and args.engine != "spark":
        raise InputError("--master is the Spark master for --engine spark; add --engine spark "
                         "or drop --master.")
    spec = EventSpec(id=args.id_column, time=args.time_column, amount=args.amount,
                     event=args.event_column, order=args.order_column,
                     product=args.product_column, purchase_event=args.purchase_event)
    result = _build(args, spec, as_of)
    data_path, dictionary_path = _write(result, out)
    for note in result.summary.notes:
        sys.stderr.write(f"note: {note}\n")
    if args.json:
        sys.stdout.write(result.summary.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(render_summary(result.summary, data_path, dictionary_path))
    return 0


def _build(args: argparse.Namespace, spec, as_of):
    """The features on the engine asked for: one catalogue, so the same table either way."""
    from copilot.segmentation import build_features

    options = {"as_of": as_of, "horizon_days": args.horizon_days,
               "progress": _StderrProgress()}
    if args.engine == "spark":
        from copilot.segmentation import spark_features

        return spark_features(args.events, spec, master=args.master, **options)
    return build_features(args.events, spec, **options)


def dictionary_path_for(out: Path) -> Path:
    """Where the column dictionary goes: ``customers.csv`` -> ``customers.features.json``."""
    return out.with_name(out.stem + ".features.json")


def _check_output(out: Path, events: Path) -> None:
    """Refuse an output that would clobber the log, or whose dictionary would.

    A model folder's files (``bundle.json``, ``arrays.npz``) cannot be hit: the table must be
    .csv or .parquet and its dictionary ends in .features.json.
    """
    from copilot.core import InputError, same_file

    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(f"The output {out} must end in .csv or .parquet; choose, for example, "
                         "--out customers.csv.")
    if out.is_dir():
        raise InputError(f"The output {out} is a folder; give a file name like "
                         f"{out / 'customers.csv'}.")
    dictionary = dictionary_path_for(out)
    if same_file(out, events):
        raise InputError(f"The output {out} would overwrite the events file; choose another "
                         "--out.")
    if same_file(dictionary, events):
        raise InputError(f"The output {out} would write its column dictionary {dictionary.name} "
                         "over the events file; choose another --out.")
    if dictionary.is_dir():
        # Checked now: found only after the table was written, it would leave half a result.
        raise InputError(f"The output {out} needs its column dictionary at {dictionary}, which "
                         "is a folder; choose another --out.")


def _write(result, out: Path) -> tuple[Path, Path]:
    from copilot.core import atomic_write_bytes, atomic_write_text

    if out.suffix.lower() == ".csv":
        data = atomic_write_text(out, result.frame.to_csv(index=False))
    else:
        buffer = io.BytesIO()
        result.frame.to_parquet(buffer, index=False)
        data = atomic_write_bytes(out, buffer.getvalue())
    dictionary = atomic_write_text(dictionary_path_for(out),
                                   result.summary.model_dump_json(indent=2) + "\n")
    return data, dictionary


def render_summary(summary, data_path: Path, dictionary_path: Path) -> str:
    """The few lines a user reads: what was built, from what, what was left out, what next."""
    from copilot.segmentation import outcome_flags

    s = summary
    spec = s.spec
    lines = [(f"Built {len(s.features)} features for {s.n_customers:,} customers from "
             f"{Path(s.source).name}.")]
    dropped = []
    if s.rows_dropped_missing_id:
        dropped.append(f"{s.rows_dropped_missing_id:,} without a {spec.id}")
    if s.rows_dropped_bad_time:
        dropped.append(f"{s.rows_dropped_bad_time:,} with no readable {spec.time}")
    if s.rows_dropped_bad_amount:
        dropped.append(f"{s.rows_dropped_bad_amount:,} with no readable amount")
    rows = f"  Rows: {s.rows_read:,} read, {s.rows_used:,} used"
    lines.append(rows + (f"; dropped {', '.join(dropped)}." if dropped else "; none dropped."))
    log = f"  Log: {s.first_event:%Y-%m-%d} to {s.last_event:%Y-%m-%d}"
    if spec.amount:
        log += f"; {s.return_rows:,} rows are returns or cancellations"
    lines.append(log + ".")
    if s.as_of is not None:
        before = (s.as_of - s.first_event).total_seconds() / 86400.0
        lines.append(f"  Cut-off {s.as_of:%Y-%m-%d}: features from the {before:.0f} days "
                     f"before it, outcomes from the {s.outcome_days:.0f} days after it.")
        lines.append(f"  Outcome: {s.outcome_headline}.")
        left = []
        if s.customers_only_after:
            left.append(f"{s.customers_only_after:,} whose first event is after the cut-off")
        if s.customers_only_returns:
            left.append(f"{s.customers_only_returns:,} with only returns before it")
        if left:
            lines.append(f"  Left out: {' and '.join(left)}.")
    else:
        lines.append(f"  Reference date: {s.reference_date:%Y-%m-%d} (the last event); add "
                     "--as-of DATE to get outcomes after a cut-off.")
        if s.customers_only_returns:
            lines.append(f"  Left out: {s.customers_only_returns:,} customers with only "
                         "returns.")
    lines.append(f"Wrote {data_path} and {dictionary_path} (what each column means).")
    command = ["segment-copilot", "segment", str(data_path), "--id", spec.id,
               *outcome_flags(s), "--no-llm"]
    lines.append("Next: " + shlex.join(command))
    lines.append(f"  (numbers only, in seconds; without --no-llm the segments also get names "
                 f"and narratives, {LLM_PASS_TIME})")
    return "\n".join(lines) + "\n"


class _StderrProgress:
    """One line per stage on stderr, with the seconds since the start."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        sys.stderr.write(f"[{fraction:4.0%}] {message} ({time.perf_counter() - self.start:.1f}s)"
                         "\n")
        sys.stderr.flush()
