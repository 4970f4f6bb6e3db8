"""The ``features`` command through the real CLI (tests/cli_helpers.py)."""

from __future__ import annotations

import json
import shlex

import pandas as pd
import pytest

from fixtures.events import amount_text, make_clickstream, make_transactions
from tests.cli_helpers import assert_one_sentence_error, run_cli
from tests.conftest import shared_dataset

RETAIL_FLAGS = ("--id", "CustomerID", "--time", "InvoiceDate", "--amount", "Quantity*UnitPrice",
                "--order", "InvoiceNo", "--product", "StockCode")


@pytest.fixture(scope="module")
def log():
    return make_transactions(150, seed=21)


@pytest.fixture(scope="module")
def log_csv(tmp_path_factory, log):
    path = tmp_path_factory.mktemp("logs") / "transactions.csv"
    log.frame.to_csv(path, index=False)
    return path


def test_features_writes_the_table_its_dictionary_and_the_next_step(log, log_csv, tmp_path):
    out = tmp_path / "customers.csv"
    cutoff = f"{log.cutoff:%Y-%m-%d}"
    proc = run_cli("features", log_csv, *RETAIL_FLAGS, "--as-of", cutoff, "--out", out)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out)
    truth = log.customers.set_index("CustomerID")
    assert (table.set_index("CustomerID")["outcome_bought_again"]
            == truth.loc[table["CustomerID"], "bought_after"].to_numpy()).all()
    dictionary = json.loads((tmp_path / "customers.features.json").read_text())
    described = [f["name"] for f in dictionary["features"] + dictionary["outcomes"]]
    assert list(table.columns) == ["CustomerID", *described]
    assert dictionary["rows_dropped_missing_id"] == log.rows_without_id
    # The summary on stdout: counts, dates, dropped rows, base rate, and the next command.
    out_text = proc.stdout
    assert f"{len(table):,} customers" in out_text
    assert f"dropped {log.rows_without_id:,} without a CustomerID" in out_text
    assert f"Cut-off {cutoff}" in out_text
    rate = table["outcome_bought_again"].mean()
    assert f"{rate:.1%} of customers bought again" in out_text
    assert (f"Next: segment-copilot segment {out} --id CustomerID --outcome "
            "outcome_bought_again") in out_text
    assert "days from the cut-off to the end of the log" in out_text  # no horizon given
    assert "[100%]" in proc.stderr and "[100%]" not in out_text  # progress on stderr


CLICK_FLAGS = ("--id", "user_id", "--time", "timestamp", "--event", "event", "--order",
               "session_id", "--purchase-event", "purchase")


def test_unix_times_in_a_csv_give_the_same_table_as_dates(tmp_path):
    clicks = make_clickstream(60, seed=5)
    iso = tmp_path / "iso.csv"
    clicks.frame.to_csv(iso, index=False)
    ms = (clicks.frame["timestamp"] - pd.Timestamp("1970-01-01")) // pd.Timedelta("1ms")
    seconds, millis = tmp_path / "epoch_s.csv", tmp_path / "epoch_ms.csv"
    clicks.frame.assign(timestamp=ms // 1000).to_csv(seconds, index=False)
    clicks.frame.assign(timestamp=ms).to_csv(millis, index=False)
    cutoff = f"{clicks.cutoff:%Y-%m-%d}"
    runs = [run_cli("features", src, *CLICK_FLAGS, "--as-of", cutoff, "--out",
                    tmp_path / f"{src.stem}_users.csv") for src in (iso, seconds, millis)]
    assert all(p.returncode == 0 for p in runs), [p.stderr for p in runs]
    want = pd.read_csv(tmp_path / "iso_users.csv")
    for src in (seconds, millis):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / f"{src.stem}_users.csv"), want)
    # A clickstream's purchase outcome is "bought" (most users never bought before).
    assert "of customers bought in the" in runs[1].stdout
    assert "bought again" not in runs[1].stdout


def test_small_integer_times_are_refused_in_one_sentence(tmp_path):
    src = tmp_path / "log.csv"
    src.write_text("user,day\n" + "".join(f"u{d % 4},{d}\n" for d in range(1, 32)))
    proc = run_cli("features", src, "--id", "user", "--time", "day", "--out",
                   tmp_path / "users.csv")
    assert_one_sentence_error(proc, "'day' given as --time", "numbers like '1'",
                              "not dates or Unix times")


def test_a_horizon_is_said_in_the_outcome_line(log, log_csv, tmp_path):
    out = tmp_path / "customers.csv"
    proc = run_cli("features", log_csv, *RETAIL_FLAGS, "--as-of", f"{log.cutoff:%Y-%m-%d}",
                   "--horizon-days", "30", "--out", out)
    assert proc.returncode == 0, proc.stderr
    rate = pd.read_csv(out)["outcome_bought_again"].mean()
    assert (f"Outcome: {rate:.1%} of customers bought again in the 30 days after the cut-off "
            "(outcome_bought_again).") in proc.stdout
    dictionary = json.loads((tmp_path / "customers.features.json").read_text())
    assert dictionary["horizon_days"] == 30
    assert "in the 30 days after the cut-off" in dictionary["outcomes"][0]["description"]


def test_the_next_command_runs_and_says_what_the_llm_pass_adds(tmp_path):
    clicks = make_clickstream(80, seed=7)
    src = tmp_path / "clicks.csv"
    clicks.frame.to_csv(src, index=False)
    out = tmp_path / "users.csv"
    proc = run_cli("features", src, *CLICK_FLAGS, "--as-of", f"{clicks.cutoff:%Y-%m-%d}",
                   "--out", out)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Next: "))
    command = shlex.split(lines[at].removeprefix("Next: "))
    assert command[:2] == ["segment-copilot", "segment"] and command[-1] == "--no-llm"
    assert "without --no-llm" in lines[at + 1] and "minutes" in lines[at + 1]
    # The hint is a command that works as printed: every outcome named, none clustered on.
    seg = run_cli(*command[1:], cwd=tmp_path)
    assert seg.returncode == 0, seg.stderr
    assert "outcome_bought_after" in seg.stdout
    assert (tmp_path / "segment-out" / "model" / "bundle.json").is_file()


def test_parquet_output_and_json_summary(tmp_path):
    clicks = make_clickstream(80, seed=3)
    src = tmp_path / "clicks.csv"
    clicks.frame.to_csv(src, index=False)
    out = tmp_path / "users.parquet"
    proc = run_cli("features", src, "--id", "user_id", "--time", "timestamp", "--event", "event",
                   "--order", "session_id", "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    table = pd.read_parquet(out)
    assert len(table) == summary["n_customers"] == clicks.frame["user_id"].nunique()
    assert summary["unit"] == "sessions" and summary["outcomes"] == []


@pytest.mark.parametrize(("flags", "needles"), [
    (("--id", "Customer", "--time", "InvoiceDate"), ("'Customer' given as --id",
                                                     "did you mean 'CustomerID'")),
    (("--id", "CustomerID", "--time", "InvoiceDate", "--amount", "Qty*UnitPrice"),
     ("'Qty' given as part of --amount",)),
    (("--id", "CustomerID", "--time", "Description"), ("'Description' given as --time",
                                                       "not dates")),
    (("--id", "CustomerID", "--time", "InvoiceDate", "--as-of", "2011-31-01"),
     ("'2011-31-01' is not a date",)),
    (("--id", "CustomerID", "--time", "InvoiceDate", "--as-of", "2030-01-01"),
     ("after the last event",)),
])
def test_bad_input_is_one_sentence_and_leaves_the_output_alone(tmp_path, flags, needles):
    src = tmp_path / "log.csv"
    frame = make_transactions(30, seed=1).frame.assign(Description="a product")
    frame.to_csv(src, index=False)
    out = tmp_path / "customers.csv"
    out.write_bytes(b"CustomerID,precious\n1,keep me\n")
    before = out.read_bytes()
    proc = run_cli("features", src, *flags, "--out", out)
    assert_one_sentence_error(proc, *needles)
    assert out.read_bytes() == before
    assert not (tmp_path / "customers.features.json").exists()


def test_unparseable_dates_exit_2_and_name_an_example(tmp_path):
    src = tmp_path / "log.csv"
    src.write_text("user,when\nu1,yesterday\nu2,last week\nu3,2024-01-05\n")
    out = tmp_path / "users.csv"
    out.write_text("keep")
    proc = run_cli("features", src, "--id", "user", "--time", "when", "--out", out)
    assert_one_sentence_error(proc, "'when' given as --time", "cannot be read", "'last week'")
    assert out.read_text() == "keep"


AMOUNT_FLAGS = ("--id", "CustomerID", "--time", "InvoiceDate", "--amount", "Amount", "--order",
                "InvoiceNo")


def _amount_log(log) -> pd.DataFrame:
    return log.frame.assign(Amount=(log.frame["Quantity"] * log.frame["UnitPrice"] * 40).round(2))


def test_amounts_with_thousands_separators_give_the_plain_numbers_table(log, tmp_path):
    frame = _amount_log(log)
    plain, styled = tmp_path / "plain.csv", tmp_path / "styled.csv"
    frame.assign(Amount=frame["Amount"].map("{:.2f}".format)).to_csv(plain, index=False)
    frame.assign(Amount=amount_text(frame["Amount"], "currency_sign")).to_csv(styled, index=False)
    assert "£1,0" in styled.read_text()  # thousands and currency signs really are there
    runs = [run_cli("features", src, *AMOUNT_FLAGS, "--out", tmp_path / f"{src.stem}_out.csv")
            for src in (plain, styled)]
    assert all(p.returncode == 0 for p in runs), [p.stderr for p in runs]
    assert "no readable amount" not in runs[1].stdout
    assert "note: Amounts in 'Amount' are text with thousands separators" in runs[1].stderr
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "styled_out.csv"),
                                  pd.read_csv(tmp_path / "plain_out.csv"))


def test_amounts_unreadable_in_one_format_exit_2_and_leave_the_output_alone(log, tmp_path):
    # The largest 0.5% of amounts written like 1.5k: too few for the 1% share, but a format,
    # and dropping it would drop exactly the biggest spend.
    frame = _amount_log(log)
    big = frame["Amount"] >= frame["Amount"].quantile(0.995)
    text = frame["Amount"].map("{:.2f}".format)
    text[big] = (frame.loc[big, "Amount"] / 1000).map("{:.1f}k".format)
    assert 5 <= big.sum() < 0.01 * len(frame)
    src = tmp_path / "log.csv"
    frame.assign(Amount=text).to_csv(src, index=False)
    out = tmp_path / "customers.csv"
    out.write_text("keep")
    proc = run_cli("features", src, *AMOUNT_FLAGS, "--out", out)
    assert_one_sentence_error(proc, "'Amount' given as --amount", "values written like",
                              "k'", "cannot be read")
    assert out.read_text() == "keep"
    assert not (tmp_path / "customers.features.json").exists()


def test_dates_that_read_both_ways_are_said_on_stderr(tmp_path):
    src = tmp_path / "log.csv"
    src.write_text("user,when\nu1,03/04/2024\nu1,05/06/2024\nu2,11/12/2024\n")
    proc = run_cli("features", src, "--id", "user", "--time", "when", "--out",
                   tmp_path / "users.csv")
    assert proc.returncode == 0, proc.stderr
    assert "note: Every date in 'when' reads both month-first and day-first" in proc.stderr
    assert "'03/04/2024' is March 4, 2024" in proc.stderr
    assert "Log: 2024-03-04 to 2024-11-12." in proc.stdout


def test_output_must_be_csv_or_parquet_and_never_the_input(log_csv, tmp_path):
    proc = run_cli("features", log_csv, *RETAIL_FLAGS, "--out", tmp_path / "out.xlsx")
    assert_one_sentence_error(proc, ".csv or .parquet")
    before = log_csv.read_bytes()
    proc = run_cli("features", log_csv, *RETAIL_FLAGS, "--out", log_csv)
    assert_one_sentence_error(proc, "overwrite the events file")
    assert log_csv.read_bytes() == before


def test_the_column_dictionary_never_clobbers_the_events_file(tmp_path):
    # A JSON-lines log named like the dictionary that --out customers.csv would write.
    log = make_transactions(30, seed=2)
    src = tmp_path / "customers.features.json"
    log.frame.to_json(src, orient="records", lines=True, date_format="iso")
    before = src.read_bytes()
    proc = run_cli("features", src, *RETAIL_FLAGS, "--out", tmp_path / "customers.csv")
    assert_one_sentence_error(proc, "column dictionary", "over the events file")
    assert src.read_bytes() == before and not (tmp_path / "customers.csv").exists()
    # The same through a symlink to the log.
    link = tmp_path / "link.csv"
    csv = tmp_path / "log.csv"
    log.frame.to_csv(csv, index=False)
    link.symlink_to(csv)
    proc = run_cli("features", csv, *RETAIL_FLAGS, "--out", link)
    assert_one_sentence_error(proc, "overwrite the events file")


def test_a_folder_in_the_dictionarys_place_is_refused_before_writing(log_csv, tmp_path):
    out = tmp_path / "customers.csv"
    out.write_text("keep")
    (tmp_path / "customers.features.json").mkdir()
    proc = run_cli("features", log_csv, *RETAIL_FLAGS, "--out", out)
    assert_one_sentence_error(proc, "column dictionary", "is a folder")
    assert out.read_text() == "keep"


def test_missing_file_and_usage_errors(tmp_path):
    proc = run_cli("features", tmp_path / "none.csv", "--id", "a", "--time", "b", "--out",
                   tmp_path / "o.csv")
    assert_one_sentence_error(proc, "does not exist")
    proc = run_cli("features", tmp_path / "none.csv", "--time", "b", "--out", tmp_path / "o.csv")
    assert_one_sentence_error(proc, "--id")


@pytest.mark.integration
def test_online_retail_through_the_cli(tmp_path):
    data = shared_dataset("online_retail", "online_retail.csv.gz")
    out = tmp_path / "retail.parquet"
    proc = run_cli("features", data, *RETAIL_FLAGS, "--as-of", "2011-09-01", "--out", out)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_parquet(out)
    assert len(table) == 3317  # customers with a purchase before the cut-off (3,360 - 43)
    assert "dropped 135,080 without a CustomerID" in proc.stdout
    assert "Log: 2010-12-01 to 2011-12-09" in proc.stdout


@pytest.fixture(scope="module")
def retail_text():
    """The Online Retail log as text (every column as read), or a skip where it is absent."""
    return pd.read_csv(shared_dataset("online_retail", "online_retail.csv.gz"), dtype=str)


@pytest.mark.integration
def test_online_retail_day_first_dates_through_the_cli(retail_text, tmp_path):
    # The first 60,000 rows are December 2010 to mid-January 2011, date-sorted: the format
    # sample holds only days 1-8, where month-first and day-first read alike.
    head = retail_text.iloc[:60000]
    when = pd.to_datetime(head["InvoiceDate"])
    iso, day_first = tmp_path / "iso.csv", tmp_path / "day_first.csv"
    head.to_csv(iso, index=False)
    head.assign(InvoiceDate=when.dt.strftime("%d/%m/%Y %H:%M")).to_csv(day_first, index=False)
    flags = ("--id", "CustomerID", "--time", "InvoiceDate")
    runs = [run_cli("features", src, *flags, "--out", tmp_path / f"{src.stem}_out.csv")
            for src in (iso, day_first)]
    assert all(p.returncode == 0 for p in runs), [p.stderr for p in runs]
    assert "Log: 2010-12-01 to 2011-01-17" in runs[1].stdout
    # Within one step of the 4-decimal rounding: sums of doubles depend on their order.
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "day_first_out.csv"),
                                  pd.read_csv(tmp_path / "iso_out.csv"), rtol=0, atol=1.5e-4)


@pytest.mark.integration
def test_online_retail_amounts_with_thousands_separators_through_the_cli(retail_text, tmp_path):
    amount = retail_text["Quantity"].astype(float) * retail_text["UnitPrice"].astype(float)
    assert (amount.abs() >= 1000).sum() > 300  # the rows a row-count tolerance used to drop
    plain, styled = tmp_path / "plain.csv", tmp_path / "thousands.csv"
    retail_text.assign(Amount=amount.map("{:.2f}".format)).to_csv(plain, index=False)
    retail_text.assign(Amount=amount.map("{:,.2f}".format)).to_csv(styled, index=False)
    runs = [run_cli("features", src, *AMOUNT_FLAGS, "--as-of", "2011-09-01", "--out",
                    tmp_path / f"{src.stem}_out.csv") for src in (plain, styled)]
    assert all(p.returncode == 0 for p in runs), [p.stderr for p in runs]
    assert "no readable amount" not in runs[1].stdout
    want = pd.read_csv(tmp_path / "plain_out.csv")
    got = pd.read_csv(tmp_path / "thousands_out.csv")
    assert got["spend_total"].sum() == pytest.approx(want["spend_total"].sum(), rel=1e-9)
    # Sums of the same doubles in another order can differ in the last place, so a value
    # can round to its neighbour at 4 decimals.
    pd.testing.assert_frame_equal(got, want, rtol=0, atol=1.5e-4)
