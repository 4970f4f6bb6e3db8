"""Tests for copilot.segmentation.data.events: event logs to one row per customer.

Unit tests use tiny hand-made logs (values worked out by hand in the comments) and the seeded
generators in fixtures/events.py (values recomputed with plain pandas). Integration tests at
the end run on the real Online Retail and retentioneering logs (skipped where absent).
"""

from __future__ import annotations

import functools
import gzip
import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from copilot.core.errors import ColumnError, DataError, InputError
from copilot.segmentation.analysis.roles import infer_roles
from copilot.segmentation.data.amounts import SYSTEMATIC_MIN_ROWS
from copilot.segmentation.data.event_columns import EventSpec, parse_amount, quote_identifier
from copilot.segmentation.data.event_times import (
    EPOCH_UNITS,
    MAX_UNREADABLE_SHARE,
    TIME_SAMPLE_ROWS,
)
from copilot.segmentation.data.events import build_features
from fixtures.events import (
    AMOUNT_STYLES,
    amount_text,
    make_clickstream,
    make_date_sorted_log,
    make_transactions,
)
from tests.conftest import shared_dataset

RETAIL_SPEC = EventSpec(id="CustomerID", time="InvoiceDate", amount="Quantity*UnitPrice",
                        order="InvoiceNo", product="StockCode")
CLICK_SPEC = EventSpec(id="user_id", time="timestamp", event="event", order="session_id",
                       purchase_event="purchase")


def _tiny_log() -> pd.DataFrame:
    rows = [
        # Customer A: three orders (30, 5, 40), then a cancellation of one P3 (-10).
        ("O1", "P1", 2, "2024-01-01 10:00", 5.0, "A"),
        ("O1", "P2", 1, "2024-01-01 10:00", 20.0, "A"),
        ("O2", "P1", 1, "2024-01-11 10:00", 5.0, "A"),
        ("O3", "P3", 4, "2024-01-31 10:00", 10.0, "A"),
        ("C4", "P3", -1, "2024-02-01 10:00", 10.0, "A"),
        # Customer B: one order of 100 on the last day of the log.
        ("O5", "P1", 1, "2024-02-10 12:00", 100.0, "B"),
        # A guest line without a customer ID.
        ("O6", "P2", 3, "2024-01-20 09:00", 20.0, None),
    ]
    frame = pd.DataFrame(rows, columns=["InvoiceNo", "StockCode", "Quantity", "InvoiceDate",
                                        "UnitPrice", "CustomerID"])
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    return frame


def _row(result, customer) -> pd.Series:
    frame = result.frame.set_index(result.id_column)
    return frame.loc[customer]


# ------------------------------------------------------------------------------ hand values


def test_tiny_log_features_match_hand_computation():
    result = build_features(_tiny_log(), RETAIL_SPEC)
    s = result.summary
    assert s.rows_read == 7 and s.rows_dropped_missing_id == 1 and s.rows_used == 6
    assert s.return_rows == 1 and s.n_customers == 2
    assert s.reference_date == datetime(2024, 2, 10, 12, 0)  # the last event
    a = _row(result, "A")
    two_hours = 2 / 24
    expected_a = {
        "days_since_last_purchase": 10 + two_hours,  # Jan 31 10:00 -> Feb 10 12:00
        "tenure_days": 40 + two_hours,  # Jan 1 10:00 -> Feb 10 12:00
        "active_span_days": 30.0,
        "orders_count": 3, "order_lines_count": 4, "lines_per_order": 4 / 3,
        "orders_per_30_days": 3 * 30 / (40 + two_hours),
        "orders_last_30_days": 1,  # the window starts Jan 11 12:00, after O2 at 10:00
        "orders_last_90_days": 3, "orders_last_180_days": 3,
        "orders_trend_90d": 1.0,  # 3 recent, 0 in the 90 days before
        "active_days": 3, "active_weeks": 3, "active_months": 1,
        "active_months_share": 0.5,  # January of January-February (the return is no purchase)
        "weekend_orders_share": 0.0,  # Monday, Thursday, Wednesday
        "median_days_between_orders": 15.0, "avg_days_between_orders": 15.0,  # gaps 10, 20
        "max_days_between_orders": 20.0,
        "recency_vs_median_gap": (10 + two_hours) / 15,
        "spend_total": 75.0, "spend_net": 65.0,
        "avg_order_value": 25.0, "median_order_value": 30.0, "max_order_value": 40.0,
        "first_order_value": 30.0, "last_order_value": 40.0, "avg_line_value": 75 / 4,
        "spend_per_30_days": 75 * 30 / (40 + two_hours),
        "spend_last_30_days": 40.0, "spend_last_90_days": 75.0,
        "spend_trend_90d": 1.0,
        "returns_count": 1, "returned_value": 10.0, "returns_share": 10 / 75,
        "returned_lines_share": 1 / 5,
        "distinct_products": 3, "products_per_order": 4 / 3,
        "top_product_share": 0.5,  # P1 on 2 of 4 lines
        "reordered_products_share": 1 / 3,  # P1 in two orders, P2 and P3 in one
    }
    for name, value in expected_a.items():
        assert a[name] == pytest.approx(value, abs=1e-4), name
    b = _row(result, "B")
    assert b["days_since_last_purchase"] == 0 and b["tenure_days"] == 0
    assert b["orders_count"] == 1 and b["spend_total"] == 100
    assert b["orders_per_30_days"] == pytest.approx(1.0)  # tenure counted as 30 days
    assert np.isnan(b["median_days_between_orders"]) and np.isnan(b["recency_vs_median_gap"])
    assert b["returns_count"] == 0 and b["returns_share"] == 0
    # The output is one row per customer, ID first, features in the documented order.
    assert list(result.frame.columns) == ["CustomerID", *s.feature_names]
    assert not s.outcomes and s.outcome_base_rate is None


def test_cutoff_splits_features_and_outcomes_by_hand():
    # Cut-off Feb 1: A's cancellation (Feb 1 10:00) and B's only order fall after it.
    result = build_features(_tiny_log(), RETAIL_SPEC, as_of="2024-02-01")
    s = result.summary
    assert s.n_customers == 1 and s.customers_only_after == 1  # B first bought after it
    a = _row(result, "A")
    assert a["returns_count"] == 0 and a["spend_net"] == 75  # the return is in the future
    assert a["days_since_last_purchase"] == pytest.approx(1 - 10 / 24, abs=1e-4)
    assert a["active_months_share"] == 1.0  # January only: the cut-off month does not count
    assert a["outcome_bought_again"] == 0  # only a cancellation after the cut-off
    assert a["outcome_revenue_after"] == 0 and a["outcome_orders_after"] == 0
    assert s.outcome_names == ("outcome_bought_again", "outcome_revenue_after",
                               "outcome_orders_after")


def test_the_headline_the_chat_shows_says_the_hand_counts():
    # 2 customers from the 6 lines with an ID, over the log's dates; with the Feb 1 cut-off,
    # 1 customer (B first bought after it) and the base rate of buying again (A did not).
    plain = build_features(_tiny_log(), RETAIL_SPEC).summary
    n_features = len(plain.features)
    assert plain.headline == (f"Built {n_features} features for 2 customers from 6 events "
                              "(2024-01-01 to 2024-02-10).")
    cut = build_features(_tiny_log(), RETAIL_SPEC, as_of="2024-02-01").summary
    assert cut.headline.startswith(f"Built {len(cut.features)} features for 1 customer from ")
    assert cut.headline.endswith(f" {cut.outcome_headline}.")
    assert cut.outcome_headline.startswith("0.0% of customers ")


def test_without_order_column_lines_at_one_timestamp_are_one_order():
    spec = EventSpec(id="CustomerID", time="InvoiceDate", amount="Quantity*UnitPrice")
    a = _row(build_features(_tiny_log(), spec), "A")
    assert a["orders_count"] == 3 and a["order_lines_count"] == 4
    # Without an order ID only the negative amount marks the cancellation.
    assert a["returns_count"] == 1 and a["spend_total"] == 75


# ------------------------------------------------------------------------------ generated logs


def _pandas_reference(log: pd.DataFrame, ref: pd.Timestamp) -> pd.DataFrame:
    """Plain pandas RFM over purchase lines: the values the engine must agree with."""
    df = log.dropna(subset=["CustomerID"]).copy()
    df["amount"] = df["Quantity"] * df["UnitPrice"]
    returns = (df["amount"] < 0) | df["InvoiceNo"].str.match(r"C[0-9]")
    buys = df[~returns]
    orders = buys.groupby(["CustomerID", "InvoiceNo"]).agg(ts=("InvoiceDate", "min"),
                                                           value=("amount", "sum"))
    orders = orders.reset_index().sort_values(["CustomerID", "ts"])
    orders["gap"] = orders.groupby("CustomerID")["ts"].diff().dt.total_seconds() / 86400
    per = orders.groupby("CustomerID").agg(
        orders_count=("InvoiceNo", "nunique"), avg_order_value=("value", "mean"),
        median_days_between_orders=("gap", "median"), last=("ts", "max"))
    per["spend_total"] = buys.groupby("CustomerID")["amount"].sum()
    per["distinct_products"] = buys.groupby("CustomerID")["StockCode"].nunique()
    per["days_since_last_purchase"] = (ref - per["last"]).dt.total_seconds() / 86400
    per["returned_value"] = df[returns].groupby("CustomerID")["amount"].sum().abs()
    per["returned_value"] = per["returned_value"].fillna(0.0)
    per.index = per.index.astype("int64")
    return per.drop(columns="last")


def test_features_agree_with_pandas_on_a_generated_log():
    log = make_transactions(150, seed=3)
    result = build_features(log.frame, RETAIL_SPEC)
    ref = pd.Timestamp(result.summary.reference_date)
    assert ref == log.frame["InvoiceDate"].max()
    expected = _pandas_reference(log.frame, ref)
    got = result.frame.set_index("CustomerID")
    assert sorted(got.index) == sorted(expected.index)
    for col in expected.columns:
        np.testing.assert_allclose(got.loc[expected.index, col].to_numpy(dtype=float),
                                   expected[col].to_numpy(dtype=float), atol=1e-3, err_msg=col)


def test_planted_types_show_in_the_features():
    log = make_transactions(300, seed=5)
    result = build_features(log.frame, RETAIL_SPEC, as_of=log.cutoff)
    frame = result.frame.merge(log.customers, on="CustomerID")
    by_type = frame.groupby("type")
    assert by_type["orders_per_30_days"].median().idxmax() == "loyal_high_spender"
    assert by_type["days_since_last_purchase"].median().idxmax() == "lapsing"
    assert by_type["returns_count"].median().idxmax() == "returner"
    assert (frame.loc[frame["type"] == "one_off", "orders_count"] == 1).all()
    assert (frame.loc[frame["type"] != "returner", "returns_count"] == 0).all()


def test_outcomes_match_the_planted_future():
    log = make_transactions(300, seed=7)
    result = build_features(log.frame, RETAIL_SPEC, as_of=log.cutoff)
    frame = result.frame.merge(log.customers, on="CustomerID", how="left")
    assert frame["type"].notna().all()
    assert (frame["outcome_bought_again"] == frame["bought_after"]).all()
    assert result.summary.outcome_base_rate == pytest.approx(frame["bought_after"].mean())
    # Customers who had bought before the cut-off are all there; nobody else is.
    before = log.frame[log.frame["InvoiceDate"] < log.cutoff]["CustomerID"].dropna()
    assert set(result.frame["CustomerID"]) == set(before.astype("int64"))


def test_nothing_after_the_cutoff_leaks_into_features():
    log = make_transactions(200, seed=11)
    base = build_features(log.frame, RETAIL_SPEC, as_of=log.cutoff)
    future = log.frame["InvoiceDate"] >= log.cutoff
    changed = log.frame.copy()
    # Rewrite the future: ten times the quantities, other products, new customers, and drop
    # a third of the rows.
    changed.loc[future, "Quantity"] *= 10
    changed.loc[future, "StockCode"] = "NEW"
    extra = changed[future].head(50).assign(CustomerID=99999.0, InvoiceNo="999999")
    changed = changed.drop(changed[future].index[::3])
    changed = pd.concat([changed, extra], ignore_index=True)
    after = build_features(changed, RETAIL_SPEC, as_of=log.cutoff)
    features = list(base.summary.feature_names)
    pd.testing.assert_frame_equal(base.frame[["CustomerID", *features]],
                                  after.frame[["CustomerID", *features]])
    assert 99999 not in set(after.frame["CustomerID"])
    assert not base.frame["outcome_revenue_after"].equals(after.frame["outcome_revenue_after"])


def test_horizon_limits_the_outcome_window():
    log = make_transactions(200, seed=2)
    full = build_features(log.frame, RETAIL_SPEC, as_of=log.cutoff)
    short = build_features(log.frame, RETAIL_SPEC, as_of=log.cutoff, horizon_days=10)
    end = log.cutoff + pd.Timedelta(days=10)
    df = log.frame.dropna(subset=["CustomerID"])
    window = df[(df["InvoiceDate"] >= log.cutoff) & (df["InvoiceDate"] < end)
                & (df["Quantity"] > 0)]
    buyers = set(window["CustomerID"].astype("int64"))
    got = short.frame.set_index("CustomerID")["outcome_bought_again"]
    assert set(got[got == 1].index) == buyers
    assert short.summary.outcome_days == 10
    assert short.summary.outcome_base_rate < full.summary.outcome_base_rate
    pd.testing.assert_frame_equal(full.frame[list(full.summary.feature_names)],
                                  short.frame[list(short.summary.feature_names)])


def test_missing_ids_are_dropped_and_counted(tmp_path):
    log = make_transactions(80, seed=4)
    result = build_features(log.frame, RETAIL_SPEC)
    assert result.summary.rows_dropped_missing_id == log.rows_without_id > 0
    assert result.summary.rows_used == len(log.frame) - log.rows_without_id
    # Blank and whitespace-only IDs in a CSV are missing too; float IDs lose their ".0".
    path = tmp_path / "log.csv"
    text = log.frame.to_csv(index=False)
    path.write_text(text + "999999,P1,1,2023-03-01 10:00:00,1.0,   \n")
    from_csv = build_features(path, RETAIL_SPEC)
    assert from_csv.summary.rows_dropped_missing_id == log.rows_without_id + 1
    assert from_csv.frame["CustomerID"].dtype == "int64"
    assert set(from_csv.frame["CustomerID"]) == set(result.frame["CustomerID"])


def test_cancellation_prefix_is_an_extra_signal_only_before_a_digit():
    frame = _tiny_log()
    # A positive line on a C-invoice is a cancellation; "CA-..." is an ordinary order ID.
    frame.loc[len(frame)] = ["C7", "P2", 1, pd.Timestamp("2024-02-02"), 20.0, "A"]
    frame.loc[len(frame)] = ["CA-8", "P2", 1, pd.Timestamp("2024-02-03"), 20.0, "A"]
    a = _row(build_features(frame, RETAIL_SPEC), "A")
    assert a["returns_count"] == 2 and a["returned_value"] == 30
    assert a["orders_count"] == 4 and a["spend_total"] == 95


def test_frame_csv_gzip_and_parquet_give_the_same_table(tmp_path):
    log = make_transactions(60, seed=8)
    from_frame = build_features(log.frame, RETAIL_SPEC, as_of=log.cutoff).frame
    csv_gz = tmp_path / "log.csv.gz"
    with gzip.open(csv_gz, "wt") as fh:
        log.frame.to_csv(fh, index=False)
    parquet = tmp_path / "log.parquet"
    log.frame.to_parquet(parquet)
    jsonl = tmp_path / "log.jsonl"
    log.frame.to_json(jsonl, orient="records", lines=True, date_format="iso")
    for path in (csv_gz, parquet, jsonl):
        got = build_features(path, RETAIL_SPEC, as_of=log.cutoff).frame
        pd.testing.assert_frame_equal(got, from_frame, check_dtype=False)


def test_a_latin1_file_is_read_as_latin1(tmp_path):
    # The bad byte sits past the rows DuckDB samples for the header, in a column we read.
    lines = ["id,t,product"] + [f"u{i % 50},2024-01-{1 + i % 28:02d},plain" for i in range(30000)]
    lines.append("u1,2024-02-01,caf\xe9")
    path = tmp_path / "latin1.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    result = build_features(path, EventSpec(id="id", time="t", product="product"))
    assert result.summary.rows_used == 30001
    assert _row(result, "u1")["distinct_products"] == 2  # "plain" and "café"
    assert any("Latin-1" in n for n in result.summary.notes)


def test_awkward_column_names_are_quoted_not_spliced(tmp_path):
    frame = _tiny_log().rename(columns={
        "CustomerID": 'customer "id"', "InvoiceDate": "when; DROP TABLE ev; --",
        "Quantity": "qty", "UnitPrice": "unit price", "InvoiceNo": "order no",
    })
    spec = EventSpec(id='customer "id"', time="when; DROP TABLE ev; --",
                     amount="qty * unit price", order="order no")
    result = build_features(frame, spec)
    assert result.frame.columns[0] == 'customer "id"'
    assert _row(result, "A")["spend_total"] == 75
    assert quote_identifier('a"b') == '"a""b"'


def test_amount_parsing():
    cols = ["Quantity", "UnitPrice", "Sales", "a*b"]
    assert parse_amount("Sales", cols) == ("Sales",)
    assert parse_amount("Quantity*UnitPrice", cols) == ("Quantity", "UnitPrice")
    assert parse_amount(" Quantity * UnitPrice ", cols) == ("Quantity", "UnitPrice")
    assert parse_amount("a*b", cols) == ("a*b",)  # a column name wins over a product
    with pytest.raises(ColumnError, match="'Qty' given as part of --amount"):
        parse_amount("Qty*UnitPrice", cols)
    with pytest.raises(ColumnError, match="more than two"):
        parse_amount("Quantity*UnitPrice*Sales", cols)
    with pytest.raises(ColumnError, match="__import__"):
        parse_amount("__import__('os').system('x')", cols)


# ------------------------------------------------------------------------------ time formats


@pytest.mark.parametrize("texts", [
    ["12/1/2010 8:26", "12/13/2010 17:05"],  # month-first, as in the original UCI export
    ["13/01/2024", "01/02/2024"],  # day-first (13 cannot be a month)
    ["2024-01-13T10:00:00+02:00", "2024-02-01T08:00:00Z"],  # ISO with offsets -> UTC
])
def test_text_dates_in_common_formats(texts):
    frame = pd.DataFrame({"id": ["a", "b"], "t": texts})
    result = build_features(frame, EventSpec(id="id", time="t"))
    assert result.summary.rows_used == 2
    parsed = pd.to_datetime(texts, format="mixed", dayfirst="13/" in texts[0], utc=True)
    assert result.summary.last_event == parsed.max().tz_localize(None).to_pydatetime()


def _day_first_log(tmp_path, fmt: str, *, stray: str | None = None):
    """A date-sorted log longer than the format sample, whose sampled rows all fall on days
    1-12, written with ISO dates and with ``fmt`` (to the same precision); ``stray``
    replaces one sampled date."""
    log = make_date_sorted_log(TIME_SAMPLE_ROWS + 3000, early_rows=TIME_SAMPLE_ROWS + 1000,
                               seed=2)
    assert (log["InvoiceDate"].iloc[:TIME_SAMPLE_ROWS].dt.day <= 12).all()
    assert (log["InvoiceDate"].dt.day > 12).any()
    iso, other = tmp_path / "iso.csv", tmp_path / "other.csv"
    iso_fmt = "%Y-%m-%d" + (" %H:%M" if "%H" in fmt else "")
    log.assign(InvoiceDate=log["InvoiceDate"].dt.strftime(iso_fmt)).to_csv(iso, index=False)
    written = log.assign(InvoiceDate=log["InvoiceDate"].dt.strftime(fmt))
    if stray is not None:
        written.loc[100, "InvoiceDate"] = stray
    written.to_csv(other, index=False)
    return iso, other


@pytest.mark.parametrize("fmt", ["%d/%m/%Y %H:%M", "%d/%m/%Y"])
def test_day_first_dates_in_a_date_sorted_log_are_read_day_first(tmp_path, fmt):
    # The format sample sees only days 1-12, where month-first reads as much as day-first;
    # the rest of the column shows the dates are day-first.
    iso, day_first = _day_first_log(tmp_path, fmt)
    want = build_features(iso, RETAIL_SPEC, as_of="2023-04-15")
    got = build_features(day_first, RETAIL_SPEC, as_of="2023-04-15")
    assert got.summary.time_format == f"text in the format {fmt}"
    assert got.summary.rows_dropped_bad_time == 0
    assert got.summary.first_event == want.summary.first_event
    assert got.summary.last_event == want.summary.last_event
    pd.testing.assert_frame_equal(got.frame, want.frame)
    assert not any("month-first" in n for n in got.summary.notes)


def test_a_stray_month_first_date_in_the_sample_does_not_decide_the_format(tmp_path):
    # One US-style date among the sampled days makes month-first read one value more there;
    # the whole column still reads day-first, and the stray value is dropped and named.
    iso, day_first = _day_first_log(tmp_path, "%d/%m/%Y %H:%M", stray="01/13/2023 10:00")
    got = build_features(day_first, RETAIL_SPEC)
    assert got.summary.time_format == "text in the format %d/%m/%Y %H:%M"
    assert got.summary.rows_dropped_bad_time == 1
    assert any("'01/13/2023 10:00'" in n and "dropped" in n for n in got.summary.notes)
    assert got.summary.last_event == build_features(iso, RETAIL_SPEC).summary.last_event


def test_dates_that_read_both_ways_are_read_month_first_and_said():
    # No day above 12 anywhere: 03/04/2024 is March 4 or April 3, and nothing tells.
    days = pd.to_datetime(["2024-03-04 10:00", "2024-05-06 11:00", "2024-07-08 12:00",
                           "2024-11-12 09:30"])
    frame = pd.DataFrame({"id": ["a", "a", "b", "b"],
                          "t": days.strftime("%d/%m/%Y %H:%M")})  # written day-first
    result = build_features(frame, EventSpec(id="id", time="t"))
    s = result.summary
    assert s.rows_dropped_bad_time == 0
    # Read month-first: 04/03 is April 3, 12/11 is December 11.
    assert s.first_event == datetime(2024, 4, 3, 10, 0)
    assert s.last_event == datetime(2024, 12, 11, 9, 30)
    assert "month-first" in s.time_format and "%m/%d/%Y %H:%M" in s.time_format
    note = next(n for n in s.notes if "month-first" in n)
    assert "'04/03/2024 10:00' is April 3, 2024" in note and "YYYY-MM-DD" in note


def test_dates_that_read_the_same_both_ways_need_no_warning():
    frame = pd.DataFrame({"id": ["a", "b"], "t": ["01/01/2024", "02/02/2024"]})
    s = build_features(frame, EventSpec(id="id", time="t")).summary
    assert s.first_event == datetime(2024, 1, 1) and s.last_event == datetime(2024, 2, 2)
    assert not any("month-first" in n for n in s.notes)


def test_unix_seconds_are_read_as_times():
    stamps = [1_700_000_000, 1_700_086_400]
    result = build_features(pd.DataFrame({"id": ["a", "a"], "t": stamps}),
                            EventSpec(id="id", time="t"))
    assert result.summary.first_event == datetime(2023, 11, 14, 22, 13, 20)
    assert _row(result, "a")["active_span_days"] == 1.0


def _as_epoch(stamps: pd.Series, unit: str) -> pd.Series:
    """Datetimes as the text a CSV export holds: whole seconds, milliseconds, or float seconds."""
    ms = (stamps - pd.Timestamp("1970-01-01")) // pd.Timedelta("1ms")
    if unit == "s":
        return ms // 1000
    if unit == "ms":
        return ms
    return ms / 1000.0 + 0.25  # float seconds, with a fraction that must survive


@pytest.mark.parametrize(("unit", "how"), [("s", "Unix seconds"), ("ms", "Unix milliseconds"),
                                           ("float_s", "Unix seconds")])
def test_unix_times_in_csv_text_give_the_same_table_as_dates(tmp_path, unit, how):
    log = make_clickstream(80, seed=4)
    iso = tmp_path / "iso.csv"
    log.frame.to_csv(iso, index=False)
    epoch = tmp_path / f"epoch_{unit}.csv"
    log.frame.assign(timestamp=_as_epoch(log.frame["timestamp"], unit)).to_csv(epoch,
                                                                               index=False)
    assert "2024-" not in epoch.read_text()  # the file really holds numbers
    want = build_features(iso, CLICK_SPEC, as_of=log.cutoff)
    got = build_features(epoch, CLICK_SPEC, as_of=log.cutoff)
    assert got.summary.time_format.startswith(how)
    assert got.summary.rows_dropped_bad_time == 0
    if unit == "float_s":
        # Every event a quarter second later: the first event moves by exactly that, and day
        # counts (rounded to 4 decimals) by at most one step of the rounding.
        assert got.summary.first_event == want.summary.first_event + pd.Timedelta("250ms")
        pd.testing.assert_frame_equal(got.frame, want.frame, rtol=0, atol=1.5e-4)
    else:
        assert got.summary.first_event == want.summary.first_event
        pd.testing.assert_frame_equal(got.frame, want.frame)


def test_small_numbers_and_compact_dates_are_not_taken_for_unix_times(tmp_path):
    days = tmp_path / "days.csv"
    days.write_text("id,day\n" + "".join(f"u{d % 3},{d}\n" for d in range(1, 32)))
    with pytest.raises(DataError) as err:
        build_features(days, EventSpec(id="id", time="day"))
    text = _sentence(err.value)
    assert "holds numbers like '1'" in text and "not dates or Unix times" in text
    # 20240131 is a compact date, not a Unix time (it would be 1970-08-23).
    compact = tmp_path / "compact.csv"
    compact.write_text("id,day\nu,20240131\nu,20240215\n")
    result = build_features(compact, EventSpec(id="id", time="day"))
    assert result.summary.first_event == datetime(2024, 1, 31)
    assert "%Y%m%d" in result.summary.time_format


def test_stray_values_in_a_unix_time_column_are_dropped_or_refused(tmp_path):
    n = int(2 / MAX_UNREADABLE_SHARE)
    good = [str(1_700_000_000 + 3600 * i) for i in range(n - 1)]
    path = tmp_path / "one_stray.csv"
    path.write_text("id,t\n" + "".join(f"a,{v}\n" for v in [*good, "0"]))
    result = build_features(path, EventSpec(id="id", time="t"))
    assert result.summary.rows_dropped_bad_time == 1  # the placeholder 0, not 1970-01-01
    assert result.summary.first_event == datetime(2023, 11, 14, 22, 13, 20)
    # A tenth out of range: refused, saying which unit the column was read in.
    path = tmp_path / "many_strays.csv"
    path.write_text("id,t\n" + "".join(f"a,{v}\n" for v in [*good[: n // 10 * 9],
                                                              *["5"] * (n // 10)]))
    with pytest.raises(DataError) as err:
        build_features(path, EventSpec(id="id", time="t"))
    text = _sentence(err.value)
    low, high = EPOCH_UNITS[0].year(EPOCH_UNITS[0].low), EPOCH_UNITS[0].year(EPOCH_UNITS[0].high)
    assert "'5'" in text and f"Unix seconds for dates from {low} to {high}" in text


def test_times_are_utc_whatever_the_machine_time_zone(tmp_path):
    # A machine in New York must read offsets and Unix times as UTC, like one in London.
    frame = pd.DataFrame({"id": ["a", "a"], "iso": ["2024-01-13T10:00:00+02:00",
                                                    "2024-01-14T10:00:00+02:00"],
                          "unix": [1_700_000_000, 1_700_086_400]})
    path = tmp_path / "log.parquet"
    frame.to_parquet(path)
    script = textwrap.dedent(f"""
        from copilot.segmentation.data.event_columns import EventSpec
        from copilot.segmentation.data.events import build_features
        for col in ("iso", "unix"):
            print(build_features({str(path)!r}, EventSpec(id="id", time=col)).summary.first_event)
    """)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, cwd=root, env={**os.environ, "TZ": "America/New_York"},
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["2024-01-13 08:00:00", "2023-11-14 22:13:20"]


def test_a_few_garbled_dates_are_dropped_and_counted():
    n = int(2 / MAX_UNREADABLE_SHARE)  # 1 bad value in n stays under the limit
    frame = pd.DataFrame({"id": ["a"] * n, "t": ["2024-01-02"] * (n - 1) + ["garbage"]})
    result = build_features(frame, EventSpec(id="id", time="t"))
    assert result.summary.rows_dropped_bad_time == 1
    assert result.summary.rows_used == n - 1


# ------------------------------------------------------------------------------ amounts as text


def _spend_log(seed: int = 3) -> pd.DataFrame:
    """A generated log with an Amount column large enough to need thousands separators (a
    copy: the generated log is made once for the seven styles)."""
    return _generated_spend_log(seed).copy()


@functools.cache
def _generated_spend_log(seed: int) -> pd.DataFrame:
    log = make_transactions(120, seed=seed).frame
    amount = (log["Quantity"] * log["UnitPrice"] * 40).round(2)
    assert (amount.abs() >= 1000).mean() > 0.3 and (amount < 0).any()
    return log.assign(Amount=amount)


AMOUNT_SPEC = EventSpec(id="CustomerID", time="InvoiceDate", amount="Amount", order="InvoiceNo")


@pytest.mark.parametrize("style", sorted(AMOUNT_STYLES))
def test_amounts_written_like_spreadsheets_give_the_same_features(tmp_path, style):
    log = _spend_log()
    plain, styled = tmp_path / "plain.csv", tmp_path / f"{style}.csv"
    log.assign(Amount=log["Amount"].map("{:.2f}".format)).to_csv(plain, index=False)
    log.assign(Amount=amount_text(log["Amount"], style)).to_csv(styled, index=False)
    want = build_features(plain, AMOUNT_SPEC, as_of="2023-09-01")
    got = build_features(styled, AMOUNT_SPEC, as_of="2023-09-01")
    assert got.summary.rows_dropped_bad_amount == 0
    assert got.summary.return_rows == want.summary.return_rows > 0
    pd.testing.assert_frame_equal(got.frame, want.frame)


def test_a_decimal_comma_column_reads_every_value_one_way():
    # 12,50 can only be a decimal comma, so 1.234 in the same column is 1234, never 1.234.
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "t": ["2024-01-02"] * 4,
                          "amount": ["1.234", "12,50", "3", "(2.000,5)"]})
    result = build_features(frame, EventSpec(id="id", time="t", amount="amount"))
    assert _row(result, "a")["spend_total"] == 1234
    assert _row(result, "b")["spend_total"] == 12.5
    assert _row(result, "c")["spend_total"] == 3
    assert result.summary.customers_only_returns == 1  # d: a return of 2000.5
    assert any("decimal comma" in n for n in result.summary.notes)


def test_a_value_in_the_other_convention_is_not_read_its_own_way():
    # A dot-decimal column: 7,50 does not fit it, so it is dropped and named, not read as 750.
    values = [f"{i},{i % 10}00.25" for i in range(1, 300)] + ["7,50"]
    frame = pd.DataFrame({"id": [f"c{i}" for i in range(300)], "t": ["2024-01-02"] * 300,
                          "amount": values})
    result = build_features(frame, EventSpec(id="id", time="t", amount="amount"))
    assert result.summary.rows_dropped_bad_amount == 1
    assert _row(result, "c0")["spend_total"] == 1100.25
    assert any("'7,50'" in n and "dropped" in n for n in result.summary.notes)


def test_amounts_that_read_two_ways_are_read_one_way_and_said():
    frame = pd.DataFrame({"id": ["a", "b", "c"], "t": ["2024-01-02"] * 3,
                          "amount": ["1,000", "2,500", "12"]})
    result = build_features(frame, EventSpec(id="id", time="t", amount="amount"))
    assert _row(result, "a")["spend_total"] == 1000 and _row(result, "b")["spend_total"] == 2500
    assert any("'1,000' read as 1000 or as 1" in n for n in result.summary.notes)


def test_amounts_in_two_currencies_are_refused():
    frame = pd.DataFrame({"id": ["a", "b"], "t": ["2024-01-02"] * 2, "amount": ["$12", "€12"]})
    with pytest.raises(DataError) as err:
        build_features(frame, EventSpec(id="id", time="t", amount="amount"))
    assert "mixes currencies ('$' and '€')" in _sentence(err.value)


def _with_some_amounts(n: int, odd: list[str]) -> pd.DataFrame:
    """``n`` plain amounts of 10.50, the last ones replaced by ``odd``."""
    values = ["10.50"] * (n - len(odd)) + odd
    return pd.DataFrame({"id": [f"c{i % 40}" for i in range(n)], "t": ["2024-01-02"] * n,
                         "amount": values})


def test_a_few_garbled_amounts_are_dropped_and_named():
    n = 1000  # 3 bad values are 0.3%: under the share, each written its own way
    result = build_features(_with_some_amounts(n, ["n/a", "12..5", "#VALUE!"]),
                            EventSpec(id="id", time="t", amount="amount"))
    assert result.summary.rows_dropped_bad_amount == 3
    assert any("3 values of 'amount' could not be read" in n and "dropped" in n
               for n in result.summary.notes)


def test_amounts_unreadable_in_one_format_are_refused_even_when_few():
    # 0.5% of the rows, but all written like 1.2k: a format, and likely the largest amounts.
    n = 2000
    odd = [f"{k}.{k % 10}k" for k in range(1, 11)]
    assert len(odd) >= SYSTEMATIC_MIN_ROWS and len(odd) / n < MAX_UNREADABLE_SHARE
    with pytest.raises(DataError) as err:
        build_features(_with_some_amounts(n, odd), EventSpec(id="id", time="t", amount="amount"))
    text = _sentence(err.value)
    assert "10 values written like '1.1k'" in text and "cannot be read" in text


def test_few_unreadable_amounts_holding_much_of_the_total_are_refused():
    # Two values, but they would hold about 2,000,000 of a 2,000,000 + 10,479 total.
    odd = ["~1,000,000", "1,000,000 (est.)"]
    with pytest.raises(DataError) as err:
        build_features(_with_some_amounts(1000, odd), EventSpec(id="id", time="t",
                                                                 amount="amount"))
    text = _sentence(err.value)
    assert "2 values that cannot be read" in text and "99% of its total" in text


# ------------------------------------------------------------------------------ bad input


def _sentence(err: Exception) -> str:
    text = str(err)
    assert text.endswith(".") and "\n" not in text and "Traceback" not in text
    return text


def test_missing_columns_are_named_in_one_sentence():
    with pytest.raises(ColumnError) as err:
        build_features(_tiny_log(), EventSpec(id="CustomerId", time="Date"))
    text = _sentence(err.value)
    assert "'CustomerId' given as --id (did you mean 'CustomerID'?)" in text
    assert "'Date' given as --time" in text and "'InvoiceDate'" in text


def test_unreadable_dates_are_one_sentence():
    frame = _tiny_log().assign(InvoiceDate=["soon", "later", "x", "y", "z", "w", "v"])
    with pytest.raises(DataError) as err:
        build_features(frame, RETAIL_SPEC)
    text = _sentence(err.value)
    assert "'InvoiceDate' given as --time" in text and "not dates" in text


def test_mostly_readable_dates_with_too_many_bad_ones_are_refused():
    frame = _tiny_log()
    frame["InvoiceDate"] = frame["InvoiceDate"].astype(str)
    frame.loc[:2, "InvoiceDate"] = "31/31/2024"
    with pytest.raises(DataError) as err:
        build_features(frame, RETAIL_SPEC)
    text = _sentence(err.value)
    assert "3 values" in text and "'31/31/2024'" in text


def test_amounts_that_are_not_numbers_are_refused():
    frame = _tiny_log().assign(UnitPrice=["five", "twenty", "five", "ten", "ten", "cent", "x"])
    with pytest.raises(DataError) as err:
        build_features(frame, RETAIL_SPEC)
    text = _sentence(err.value)
    assert "'UnitPrice' given as part of --amount" in text and "cannot be read" in text


@pytest.mark.parametrize(("as_of", "horizon", "needle"), [
    ("2023-06-01", None, "before the first event"),
    ("2025-01-01", None, "after the last event"),
    ("June 1st", None, "is not a date"),
    (None, 30, "needs a cut-off"),
    ("2024-01-15", 0, "not a positive number"),
])
def test_impossible_cutoffs_are_refused(as_of, horizon, needle):
    with pytest.raises(InputError) as err:
        build_features(_tiny_log(), RETAIL_SPEC, as_of=as_of, horizon_days=horizon)
    assert needle in _sentence(err.value)


def test_bad_files_and_roles_are_refused(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        build_features(tmp_path / "nope.csv", RETAIL_SPEC)
    xlsx = tmp_path / "log.xlsx"
    xlsx.write_bytes(b"PK")
    with pytest.raises(DataError, match="convert it to CSV or Parquet"):
        build_features(xlsx, RETAIL_SPEC)
    header_only = tmp_path / "empty.csv"
    header_only.write_text("CustomerID,InvoiceDate\n")
    with pytest.raises(DataError, match="no rows"):
        build_features(header_only, EventSpec(id="CustomerID", time="InvoiceDate"))
    with pytest.raises(ColumnError, match="two parts"):
        build_features(_tiny_log(), EventSpec(id="CustomerID", time="InvoiceDate",
                                              order="CustomerID"))
    with pytest.raises(ColumnError, match="--event"):
        build_features(_tiny_log(), EventSpec(id="CustomerID", time="InvoiceDate",
                                              purchase_event="buy"))
    with pytest.raises(ColumnError, match="'Note' given as --event is empty in every row"):
        build_features(_tiny_log().assign(Note=None),
                       EventSpec(id="CustomerID", time="InvoiceDate", event="Note"))
    with pytest.raises(ColumnError, match="No row of 'StockCode' is 'P9'"):
        build_features(_tiny_log(), EventSpec(id="CustomerID", time="InvoiceDate",
                                              event="StockCode", purchase_event="P9"))


# ------------------------------------------------------------------------------ event logs


def test_clickstream_sessions_shares_and_purchase_outcome():
    log = make_clickstream(120, seed=1)
    result = build_features(log.frame, CLICK_SPEC, as_of=log.cutoff)
    s = result.summary
    assert s.unit == "sessions"
    frame = result.frame.merge(log.customers, on="user_id")
    assert (frame["outcome_bought_after"] == frame["bought_after"]).all()
    assert (frame["outcome_active_after"] == frame["active_after"]).all()
    shares = [n for n in s.feature_names if n.startswith("share_event_")]
    assert "share_event_purchase" in shares
    np.testing.assert_allclose(frame[shares].sum(axis=1), 1.0, atol=1e-3)
    # Hand check one user against the rows before the cut-off.
    before = log.frame[log.frame["timestamp"] < log.cutoff]
    user = frame.loc[frame["type"] == "buyer", "user_id"].iloc[0]
    rows = before[before["user_id"] == user]
    got = frame.set_index("user_id").loc[user]
    assert got["sessions_count"] == rows["session_id"].nunique()
    assert got["events_count"] == len(rows)
    assert got["purchases_count"] == (rows["event"] == "purchase").sum()
    assert got["share_event_purchase"] == pytest.approx(
        (rows["event"] == "purchase").mean(), abs=1e-4)
    assert frame.groupby("type")["sessions_with_purchase_share"].mean().idxmax() == "buyer"


def test_clickstream_purchase_outcome_is_true_of_users_who_never_bought_before():
    log = make_clickstream(200, seed=6)
    result = build_features(log.frame, CLICK_SPEC, as_of=log.cutoff, horizon_days=30)
    s = result.summary
    frame = result.frame.merge(log.customers, on="user_id")
    # Converters never bought before the cut-off: "bought again" would be false of them.
    converters = frame[frame["type"] == "converter"]
    assert len(converters) > 5 and (converters["purchases_count"] == 0).all()
    assert "outcome_bought_again" not in result.frame
    assert s.outcome_names[0] == "outcome_bought_after"
    end = log.cutoff + pd.Timedelta(days=30)
    bought = log.frame[(log.frame["timestamp"] >= log.cutoff) & (log.frame["timestamp"] < end)
                       & (log.frame["event"] == "purchase")]["user_id"]
    got = frame.set_index("user_id")["outcome_bought_after"]
    assert set(got[got == 1].index) == set(bought) & set(got.index)
    assert converters["outcome_bought_after"].sum() > 0  # some converted within 30 days
    assert s.outcome_base_rate == pytest.approx(got.mean())
    assert s.outcome_headline == (f"{got.mean():.1%} of customers bought in the 30 days after "
                                  "the cut-off (outcome_bought_after)")
    description = s.outcomes[0].description
    assert "in the 30 days after the cut-off" in description and "or not" in description


def test_transaction_outcome_stays_bought_again_because_everyone_kept_bought_before():
    log = make_transactions(150, seed=12)
    result = build_features(log.frame, RETAIL_SPEC, as_of=log.cutoff)
    s = result.summary
    assert s.outcome_names[0] == "outcome_bought_again"
    assert (result.frame["orders_count"] >= 1).all()  # "again" is true of every row
    rate = result.frame["outcome_bought_again"].mean()
    days = (log.frame["InvoiceDate"].max() - log.cutoff) / pd.Timedelta(days=1)
    assert s.outcome_headline == (f"{rate:.1%} of customers bought again in the {days:.0f} "
                                  "days from the cut-off to the end of the log "
                                  "(outcome_bought_again)")


@pytest.mark.parametrize(("horizon", "phrase"), [
    (30, "in the 30 days after the cut-off"),
    (None, "days from the cut-off to the end of the log"),
    (5000, "days from the cut-off to the end of the log"),  # the log ends before the horizon
])
def test_the_outcome_window_is_said_as_it_was_counted(horizon, phrase):
    log = make_transactions(60, seed=13)
    s = build_features(log.frame, RETAIL_SPEC, as_of=log.cutoff, horizon_days=horizon).summary
    assert s.horizon_days == horizon
    assert phrase in s.outcome_window and phrase in s.outcome_headline
    assert all(phrase in o.description for o in s.outcomes)
    assert build_features(log.frame, RETAIL_SPEC).summary.outcome_window is None


def test_event_log_without_sessions_counts_visits_as_days():
    frame = pd.DataFrame({"id": ["u", "u", "u"], "t": ["2024-01-01 09:00", "2024-01-01 18:00",
                                                       "2024-01-03 09:00"], "e": list("abb")})
    result = build_features(frame, EventSpec(id="id", time="t", event="e"))
    u = _row(result, "u")
    assert result.summary.unit == "visits" and "active_days" not in result.frame
    assert u["visits_count"] == 2 and u["events_per_visit"] == 1.5
    assert u["share_event_a"] == pytest.approx(1 / 3, abs=1e-4)
    # A visit starts at its first event: 2024-01-01 09:00 to 2024-01-03 09:00.
    assert u["median_days_between_visits"] == 2.0


def test_an_event_type_named_like_an_outcome_is_flagged():
    frame = pd.DataFrame({"id": ["u", "u", "v"], "t": ["2024-01-01", "2024-01-02", "2024-01-02"],
                          "e": ["view", "churn_survey", "view"]})
    result = build_features(frame, EventSpec(id="id", time="t", event="e"))
    assert "share_event_churn_survey" in result.summary.feature_names
    assert any("'share_event_churn_survey' mentions 'churn'" in n
               for n in result.summary.notes)


def test_feature_counts_and_names_suit_the_segmenter():
    log = make_transactions(150, seed=9)
    result = build_features(log.frame, RETAIL_SPEC, as_of=log.cutoff)
    clicks = build_features(make_clickstream(100, seed=9).frame, CLICK_SPEC,
                            as_of="2024-05-01")
    for r in (result, clicks):
        s = r.summary
        assert 30 <= len(s.features) <= 80
        assert all(f.description for f in s.features + s.outcomes)
        names = [*s.feature_names, *s.outcome_names]
        assert len(set(names)) == len(names)
        roles = infer_roles(r.frame)
        # Outcome names are inferred as outcomes, features never are, the ID is the ID.
        assert set(roles.outcomes) == set(s.outcome_names)
        assert roles.id_column == s.spec.id
        assert not set(roles.outcomes) & set(s.feature_names)


# ------------------------------------------------------------------------------ real data

RETAIL = ("online_retail", "online_retail.csv.gz")
ECOM = ("retentioneering_ecom_synthetic", "ecom.csv.gz")


@pytest.mark.integration
def test_online_retail_segments_differ_in_future_purchases():
    from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation

    path = shared_dataset(*RETAIL)
    cutoff = pd.Timestamp("2011-09-01")  # three quarters into the year-long log
    result = build_features(path, RETAIL_SPEC, as_of=cutoff)
    s = result.summary
    # Independent facts from the dataset README: 135,080 rows lack a CustomerID, and 3,360
    # customers have an invoice before the cut-off (43 of them only cancellations).
    assert s.rows_read == 541_909 and s.rows_dropped_missing_id == 135_080
    assert s.n_customers + s.customers_only_returns == 3360
    # The outcome agrees with a plain pandas count over the raw file.
    raw = pd.read_csv(path, usecols=["InvoiceNo", "Quantity", "InvoiceDate", "CustomerID"],
                      dtype={"InvoiceNo": str}, parse_dates=["InvoiceDate"])
    raw = raw.dropna(subset=["CustomerID"])
    buy = (raw["Quantity"] > 0) & ~raw["InvoiceNo"].str.startswith("C")
    before = set(raw.loc[buy & (raw["InvoiceDate"] < cutoff), "CustomerID"])
    again = before & set(raw.loc[buy & (raw["InvoiceDate"] >= cutoff), "CustomerID"])
    assert s.n_customers == len(before)
    assert int(result.frame["outcome_bought_again"].sum()) == len(again)

    run = run_segmentation(result.frame, SegmentSettings(seed=0))
    validation = {v.name: v for v in run.analysis.validation}
    bought = validation["outcome_bought_again"]
    assert bought.p_value is not None and bought.p_value < 0.05 and bought.significant
    rates = [seg.value for seg in bought.segments if seg.value is not None]
    assert max(rates) - min(rates) > 0.2  # a real spread, not a fluke of sample size
    assert "outcome_bought_again" not in run.analysis.roles.features


@pytest.mark.integration
def test_retentioneering_clickstream_without_amounts():
    from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation

    path = shared_dataset(*ECOM)
    raw = pd.read_csv(path, parse_dates=["timestamp"])
    whole = build_features(path, CLICK_SPEC)
    # Independent fact from the dataset README: 328 of the 600 users purchased.
    assert whole.summary.n_customers == 600
    assert int((whole.frame["purchases_count"] > 0).sum()) == 328
    # A cut-off two thirds into the log, whatever its dates.
    first, last = raw["timestamp"].min(), raw["timestamp"].max()
    cutoff = (first + (last - first) * 2 / 3).floor("D")
    result = build_features(path, CLICK_SPEC, as_of=cutoff)
    s = result.summary
    assert s.unit == "sessions" and 30 <= len(s.features) <= 80
    assert s.n_customers == raw.loc[raw["timestamp"] < cutoff, "user_id"].nunique()
    later = raw[(raw["timestamp"] >= cutoff) & (raw["event"] == "purchase")]
    got = result.frame.set_index("user_id")["outcome_bought_after"]
    assert set(got[got == 1].index) == set(later["user_id"]) & set(got.index)
    # The segmenter takes the table as it is: outcomes inferred by name and validated, never
    # clustered on. (The log is synthetic: no claim about which outcome should differ.)
    run = run_segmentation(result.frame, SegmentSettings(seed=0))
    assert set(run.analysis.roles.outcomes) == set(s.outcome_names)
    assert not set(run.analysis.roles.features) & set(s.outcome_names)
    assert {v.name for v in run.analysis.validation} == set(s.outcome_names)


def test_a_purchase_log_separated_by_runs_of_spaces_builds_features(tmp_path):
    # The classic CDNOW purchase log: a .txt with columns in runs of spaces, CRLF line ends and
    # no header. DuckDB's CSV reader took each line as one column; now it is read as four.
    from fixtures.events import spaced_text

    rng = np.random.default_rng(5)
    n = 300
    log = pd.DataFrame({
        "id": [f"{i:05d}" for i in rng.integers(1, 60, n)],
        "day": [f"1997{m:02d}{d:02d}" for m, d in zip(rng.integers(1, 13, n),
                                                      rng.integers(1, 29, n))],
        "qty": rng.integers(1, 6, n),
        "amount": np.round(rng.uniform(5, 80, n), 2),
    })
    path = tmp_path / "CDNOW_sample.txt"
    path.write_bytes(spaced_text(log).encode())
    result = build_features(path, EventSpec(id="column_1", time="column_2", amount="column_4"))
    assert len(result.frame) == log["id"].nunique()
    assert any("runs of spaces" in n for n in result.summary.notes)
    assert any("no header row" in n for n in result.summary.notes)
    spend = log.groupby("id")["amount"].sum()
    got = result.frame.set_index(result.frame.columns[0])
    total = [c for c in got.columns if "total" in c and ("spend" in c or "revenue" in c)]
    assert total, got.columns
    assert np.allclose(got.loc[spend.index, total[0]].astype(float), spend, atol=0.01)
