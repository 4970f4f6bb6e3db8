"""The per-customer features of an event log: which exist for its shape, their SQL and their
descriptions, the event-type shares, and the outcomes after a cut-off.

The features are one SQL query over the cleaned events (``fe``: the events before the
cut-off), written once for DuckDB and Spark SQL alike (``event_dialect``: the few spellings that
differ); names and descriptions are written for a product manager to read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from copilot.core import DataError
from copilot.segmentation.data.event_columns import FeatureGroup, FeatureInfo, _ts_literal
from copilot.segmentation.data.event_dialect import Queries, SqlDialect, double

WINDOWS_DAYS = (30, 90, 180)  # "last N days" activity: a month, a quarter, half a year
TREND_WINDOW_DAYS = 90  # trends compare the last 90 days with the 90 days before them
MIN_RATE_DAYS = 30  # rates per 30 days use at least this tenure: a 1-day-old customer with one
#                     order would otherwise look like 30 orders a month
TOP_EVENT_TYPES = 20  # share_event_<type> columns for the most common types; the rest go to
#                       share_event_other (a whole funnel, not a column per rare event)
EVENT_NAME_CHARS = 40  # longest event-type part of a share_event_<type> column name
MIN_GAP_DAYS = 1.0  # the usual gap is counted as at least a day: two orders an hour apart are
#                    one shopping trip, and a gap near 0 would make "overdue" explode
MS_PER_DAY = 86_400_000.0


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


def _days(d: SqlDialect, later: str, earlier: str) -> str:
    """Days from one time to another, to the millisecond."""
    return f"({d.epoch_ms(later)} - {d.epoch_ms(earlier)}) / {double(MS_PER_DAY)}"


def _catalog(shape: _Shape, ref: str,
             d: SqlDialect) -> list[tuple[str, FeatureGroup, str, str]]:
    """(name, group, SQL over the aggregates r/u/g/x/p, description) of every feature."""
    U, u = shape.units, shape.unit
    days = _days(d, ref, "r.last_ts")
    tenure = _days(d, ref, "r.first_ts")
    rate_days = f"greatest({tenure}, {double(MIN_RATE_DAYS)})"
    out = _every_log_features(shape, days, tenure, rate_days, d)
    if shape.purchase:
        out += [
            ("purchases_count", "frequency", "r.n_purchases", "number of purchase events"),
            ("days_since_last_purchase", "recency",
             _days(d, ref, "r.last_purchase_ts"),
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
        out += _spend_features(rate_days)
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


def _customer_features(q: Queries, shape: _Shape, cutoff: datetime | None, reference: datetime,
                       ref: str) -> tuple[pd.DataFrame, list[FeatureInfo]]:
    """One row per customer (``cid``, then the features) from the events before the cut-off."""
    month_end = _ts_literal(reference - timedelta(microseconds=1)) if cutoff else ref
    d = q.dialect
    catalog = _catalog(shape, ref, d)
    feature_sql = ", ".join(f"{sql} AS {d.ident(name)}" for name, _, sql, _ in catalog)
    frame = q.frame(_aggregate_sql(shape, ref, month_end, feature_sql, d))
    if len(frame) == 0:
        when = f"before the cut-off {reference:%Y-%m-%d}" if cutoff else "in the log"
        raise DataError(
            f"No customer has a {shape.what} {when}; choose a later --as-of or check the "
            "amount column."
        )
    infos = [FeatureInfo(name=n, group=g, description=d) for n, g, _, d in catalog]
    if shape.event:
        shares, share_infos = _event_shares(q, frame["cid"])
        frame = pd.concat([frame, shares], axis=1)
        infos += share_infos
    return frame, infos


def _trend(recent: str, previous: str) -> str:
    return f"coalesce(({recent} - {previous}) / nullif({recent} + {previous}, 0), 0)"


def _every_log_features(shape: _Shape, days: str, tenure: str, rate_days: str,
                        d: SqlDialect) -> list[tuple[str, FeatureGroup, str, str]]:
    """Recency, frequency, activity and timing: the features of every log, whatever its shape."""
    U, u, what = shape.units, shape.unit, shape.what
    rows = "order_lines" if shape.amount else "events"
    out: list[tuple[str, FeatureGroup, str, str]] = [
        (f"days_since_last_{what}", "recency", days,
         f"days from the customer's last {what} to the reference date"),
        ("tenure_days", "recency", tenure,
         f"days from the customer's first {what} to the reference date"),
        ("active_span_days", "recency",
         _days(d, "r.last_ts", "r.first_ts"),
         f"days between the customer's first and last {what}"),
        (f"{U}_count", "frequency", "u.n_units", f"number of {U}"),
        (f"{rows}_count", "frequency", "r.n_rows",
         "number of order lines (rows)" if shape.amount else "number of events"),
        ("lines_per_order" if shape.amount else f"events_per_{u}", "frequency",
         "r.n_rows / u.n_units", f"average rows per {u}"),
        (f"{U}_per_30_days", "frequency", f"u.n_units * {double(30)} / {rate_days}",
         f"{U} per 30 days of tenure (tenure counted as at least {MIN_RATE_DAYS} days)"),
    ]
    out += [(f"{U}_last_{w}_days", "activity", f"u.units_{w}",
             f"{U} in the {w} days before the reference date") for w in WINDOWS_DAYS]
    out.append((f"{U}_trend_{TREND_WINDOW_DAYS}d", "activity",
                _trend(f"u.units_{TREND_WINDOW_DAYS}", "u.units_prev"),
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
         f"greatest(g.median_gap, {double(MIN_GAP_DAYS)}) END"),
         f"days since the last {u} over the median gap (at least a day): above 1 is overdue"),
    ]
    return out


def _spend_features(rate_days: str) -> list[tuple[str, FeatureGroup, str, str]]:
    """Money and returns: the features of a log with an amount."""
    out: list[tuple[str, FeatureGroup, str, str]] = [
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
        ("spend_per_30_days", "monetary", f"r.spend * {double(30)} / {rate_days}",
         f"spend per 30 days of tenure (tenure counted as at least {MIN_RATE_DAYS} days)"),
    ]
    out += [(f"spend_last_{w}_days", "monetary", f"u.spend_{w}",
             f"spend in the {w} days before the reference date") for w in WINDOWS_DAYS]
    out += [
        (f"spend_trend_{TREND_WINDOW_DAYS}d", "monetary",
         _trend(f"u.spend_{TREND_WINDOW_DAYS}", "u.spend_prev"),
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
    return out


def _month_number(ts: str) -> str:
    return f"(year({ts}) * 12 + month({ts}))"


def _aggregate_sql(shape: _Shape, ref: str, month_end: str, feature_sql: str,
                   d: SqlDialect) -> str:
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
    unit_cols.append(f"count(*) FILTER (WHERE {d.is_weekend('ts')}) AS weekend_units")
    if shape.amount:
        unit_cols += [f"coalesce(sum(value) FILTER (WHERE ts >= {ref} - INTERVAL '{w} days'), "
                      f"0) AS spend_{w}" for w in sorted(windows)]
        unit_cols += [f"coalesce(sum(value) FILTER (WHERE {w_prev}), 0) AS spend_prev",
                      "avg(value) AS avg_value", "median(value) AS median_value",
                      "max(value) AS max_value",
                      # Orders at one time (a date-only log) are told apart by ID, as in gaps:
                      # by time alone an engine picks either, and the table changes run to run.
                      f"{d.first_by('value', 'ts', 'unit')} AS first_value",
                      f"{d.last_by('value', 'ts', 'unit')} AS last_value"]
    if shape.product:
        unit_cols.append("avg(n_products) AS avg_products")
    unit_cols.append(f"avg(({d.epoch_ms('ts_end')} - {d.epoch_ms('ts')}) / {double(60_000)}) "
                     "AS avg_minutes")
    row_cols = [
        "count(*) AS n_rows", "min(ts) AS first_ts", "max(ts) AS last_ts",
        "count(DISTINCT CAST(ts AS DATE)) AS active_days",
        "count(DISTINCT date_trunc('week', ts)) AS active_weeks",
        "count(DISTINCT date_trunc('month', ts)) AS active_months",
        # Month boundaries crossed (DuckDB's date_diff('month', ...)), spelled for both engines.
        f"{_month_number(month_end)} - {_month_number('min(ts)')} + 1 AS months_span",
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
        (f"gaps AS (SELECT cid, "
         f"{_days(d, 'ts', 'lag(ts) OVER (PARTITION BY cid ORDER BY ts, unit)')} AS gap "
         "FROM units)"),
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


def _event_shares(q: Queries, ids: pd.Series) -> tuple[pd.DataFrame, list[FeatureInfo]]:
    """share_event_<type> for the most common types (over events before the cut-off)."""
    top = [r[0] for r in q.rows(
        "SELECT evt FROM fe WHERE NOT is_return AND evt IS NOT NULL GROUP BY evt "
        f"ORDER BY count(*) DESC, evt LIMIT {TOP_EVENT_TYPES}"
    )]
    n_types = q.rows("SELECT count(DISTINCT evt) FROM fe WHERE NOT is_return")[0][0]
    counts = q.frame(
        "SELECT cid, evt, count(*) AS n FROM fe WHERE NOT is_return GROUP BY cid, evt")
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


def _outcomes(q: Queries, shape: _Shape, ref: str, end: datetime, window: str,
              ids: pd.Series) -> tuple[pd.DataFrame, list[FeatureInfo]]:
    """What each customer did from the cut-off to the end of the horizon (or the log).

    ``window`` says when, for the descriptions: "in the 30 days after the cut-off".
    """
    span = f"ts >= {ref} AND ts < {_ts_literal(end)} AND NOT is_return"
    extra = ", sum(amount) AS spend" if shape.amount else ""
    if shape.purchase:
        extra += ", count(*) FILTER (WHERE is_purchase) AS purchases"
    after = q.frame(
        f"SELECT cid, count(DISTINCT unit) AS units, count(*) AS n_rows{extra} "
        f"FROM ev WHERE {span} GROUP BY cid"
    ).set_index("cid").reindex(ids)
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
