"""Tests for copilot.segmentation.data.load: formats, sniffing, tidying and one-sentence errors."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from copilot.core.errors import DataError
from copilot.segmentation.data.load import LoadedTable, load_table
from copilot.segmentation.data.table_format import SUPPORTED_EXTENSIONS
from tests.conftest import shared_dataset


def _frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": [f"C{i:04d}" for i in range(n)],
        "spend": np.round(rng.lognormal(3, 0.5, n), 2),
        "visits": rng.integers(0, 30, n),
        "plan": rng.choice(["Basic", "Pro", "Team"], n),
        "churned": rng.choice(["Yes", "No"], n),
    })


def _assert_sentence(err: DataError, path) -> str:
    msg = str(err)
    assert "\n" not in msg
    assert msg.endswith(".")
    assert ". " not in msg, msg  # one sentence
    assert "Traceback" not in msg
    assert str(getattr(path, "name", path)) in msg
    return msg


def _check_basic(t: LoadedTable, n: int = 40) -> None:
    df = t.frame
    assert list(df.columns) == ["customer_id", "spend", "visits", "plan", "churned"]
    assert len(df) == n
    assert pd.api.types.is_float_dtype(df["spend"])
    assert pd.api.types.is_integer_dtype(df["visits"])
    assert df["plan"].isin(["Basic", "Pro", "Team"]).all()
    assert isinstance(df.index, pd.RangeIndex)


# ----------------------------------------------------------------------------- formats


def test_comma_csv_round_trip(tmp_path):
    p = tmp_path / "customers.csv"
    _frame().to_csv(p, index=False)
    t = load_table(p)
    _check_basic(t)
    assert (t.format, t.encoding, t.delimiter) == ("csv", "utf-8", ",")
    assert t.source == str(p)
    assert t.notes == ()
    expected = _frame()
    np.testing.assert_allclose(t.frame["spend"], expected["spend"])


def test_semicolon_latin1_with_accents_and_decimal_comma(tmp_path):
    text = (
        "nom;ville;âge;montant\n"
        "José Müller;Zürich;34;12,5\n"
        "Françoise Gâteau;Besançon;45;7,25\n"
        "Åsa Ødegård;Århus;29;3\n"
        "Renée Noël;Lódz;51;1.234,5\n"
    )
    p = tmp_path / "clients.csv"
    p.write_bytes(text.encode("latin-1"))
    t = load_table(p)
    assert t.delimiter == ";"
    assert t.encoding in ("cp1252", "latin-1", "iso8859_1")
    df = t.frame
    assert list(df.columns) == ["nom", "ville", "âge", "montant"]
    assert df["nom"].tolist() == ["José Müller", "Françoise Gâteau", "Åsa Ødegård", "Renée Noël"]
    assert df["ville"].iloc[2] == "Århus"
    assert df["montant"].tolist() == [12.5, 7.25, 3.0, 1234.5]
    assert any("decimal comma" in n for n in t.notes)
    assert any("not UTF-8" in n for n in t.notes)


def test_tab_separated_tsv_and_uppercase_extension(tmp_path):
    p = tmp_path / "CUSTOMERS.TSV"
    _frame().to_csv(p, sep="\t", index=False)
    t = load_table(p)
    assert t.delimiter == "\t"
    _check_basic(t)


def test_pipe_separated_txt(tmp_path):
    p = tmp_path / "export.txt"
    _frame().to_csv(p, sep="|", index=False)
    t = load_table(p)
    assert t.delimiter == "|"
    _check_basic(t)


def test_gzip_csv(tmp_path):
    p = tmp_path / "customers.csv.gz"
    with gzip.open(p, "wt", encoding="utf-8") as fh:
        _frame().to_csv(fh, index=False)
    t = load_table(p)
    assert t.format == "csv"
    _check_basic(t)


def test_gzip_bytes_without_gz_extension(tmp_path):
    p = tmp_path / "customers.csv"
    p.write_bytes(gzip.compress(_frame().to_csv(index=False).encode()))
    t = load_table(p)
    _check_basic(t)
    assert any("gzip" in n for n in t.notes)


def test_utf8_bom_is_not_part_of_the_first_name(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes("\ufeffcustomer_id,spend\nA,1\nB,2\n".encode())
    t = load_table(p)
    assert t.encoding == "utf-8-sig"
    assert list(t.frame.columns) == ["customer_id", "spend"]


def test_parquet(tmp_path):
    p = tmp_path / "customers.parquet"
    _frame().to_parquet(p, index=False)
    t = load_table(p)
    assert (t.format, t.encoding, t.delimiter) == ("parquet", None, None)
    _check_basic(t)


def test_parquet_named_index_becomes_a_column(tmp_path):
    p = tmp_path / "customers.pq"
    _frame().set_index("customer_id").to_parquet(p)
    t = load_table(p)
    _check_basic(t)


def test_xlsx_first_sheet_and_named_sheet(tmp_path):
    p = tmp_path / "customers.xlsx"
    with pd.ExcelWriter(p) as xw:
        _frame().to_excel(xw, sheet_name="Customers", index=False)
        pd.DataFrame({"x": [1, 2, 3]}).to_excel(xw, sheet_name="Other", index=False)
    t = load_table(p)
    assert t.format == "excel"
    _check_basic(t)
    assert any("Customers" in n for n in t.notes)
    other = load_table(p, sheet="Other")
    assert other.frame["x"].tolist() == [1, 2, 3]
    assert load_table(p, sheet=1).frame.shape == (3, 1)
    with pytest.raises(DataError) as exc:
        load_table(p, sheet="Nope")
    msg = _assert_sentence(exc.value, p)
    assert "Customers" in msg and "Other" in msg


def test_json_records(tmp_path):
    p = tmp_path / "customers.json"
    p.write_text(_frame().to_json(orient="records"))
    t = load_table(p)
    assert t.format == "json"
    _check_basic(t)


@pytest.mark.parametrize("orient", ["columns", "split", "table", "index"])
def test_json_pandas_styles(tmp_path, orient):
    p = tmp_path / f"customers_{orient}.json"
    p.write_text(_frame().to_json(orient=orient))
    t = load_table(p)
    _check_basic(t)


def test_json_wrapped_records_and_nested_values(tmp_path):
    p = tmp_path / "wrapped.json"
    records = [{"id": i, "tags": ["a", "b"], "spend": i * 1.5} for i in range(5)]
    p.write_text(json.dumps({"customers": records}))
    t = load_table(p)
    assert t.frame["spend"].tolist() == [0.0, 1.5, 3.0, 4.5, 6.0]
    assert t.frame["tags"].iloc[0] == '["a", "b"]'
    assert any("customers" in n for n in t.notes)


@pytest.mark.parametrize("ext", [".jsonl", ".ndjson"])
def test_json_lines(tmp_path, ext):
    p = tmp_path / f"customers{ext}"
    p.write_text(_frame().to_json(orient="records", lines=True))
    t = load_table(p)
    assert t.format == "jsonl"
    _check_basic(t)


def test_json_lines_with_blank_lines_and_nested_objects(tmp_path):
    p = tmp_path / "events.jsonl"
    p.write_text('{"a": 1, "b": {"x": 1}}\n\n{"a": 2, "b": {"x": 2}}\n')
    t = load_table(p)
    assert t.frame["a"].tolist() == [1, 2]
    assert t.frame["b"].tolist() == ['{"x": 1}', '{"x": 2}']


# ------------------------------------------------------------------------------ tidying


def test_numeric_text_with_blanks_becomes_numbers(tmp_path):
    p = tmp_path / "charges.csv"
    p.write_text("id,TotalCharges,note\n1,10.5,a\n2, ,b\n3,,c\n4,  7 ,d\n5,\t,e\n")
    t = load_table(p)
    s = t.frame["TotalCharges"]
    assert pd.api.types.is_float_dtype(s)
    assert s.isna().sum() == 3
    assert s.dropna().tolist() == [10.5, 7.0]
    assert "TotalCharges: 2 blank values read as missing; column read as numbers." in t.notes


def test_blank_strings_in_text_column_become_missing(tmp_path):
    p = tmp_path / "plans.csv"
    p.write_text("id,plan\n1,Pro\n2,  \n3,Basic\n")
    t = load_table(p)
    assert t.frame["plan"].isna().tolist() == [False, True, False]
    assert "plan: 1 blank value read as missing." in t.notes


def test_thousands_separators_in_quoted_comma_csv(tmp_path):
    p = tmp_path / "money.csv"
    p.write_text('id,amount\n1,"1,234"\n2,"12,000.5"\n3,7\n')
    t = load_table(p)
    assert t.frame["amount"].tolist() == [1234.0, 12000.5, 7.0]


def test_text_that_is_not_numbers_or_dates_stays_text(tmp_path):
    p = tmp_path / "mixed.csv"
    p.write_text("code,answer\nA1,Yes\n22,No\n3,Yes\n")
    t = load_table(p)
    assert not pd.api.types.is_numeric_dtype(t.frame["code"])
    assert t.frame["answer"].tolist() == ["Yes", "No", "Yes"]


@pytest.mark.parametrize(
    ("values", "first"),
    [
        (["03/15/2021", "04/01/2021", "12/31/2020"], pd.Timestamp("2021-03-15")),
        (["25/12/2020", "01/02/2021", "15/03/2021"], pd.Timestamp("2020-12-25")),
        (["2021-03-15", "2021-04-01", "2020-12-31"], pd.Timestamp("2021-03-15")),
        (["2021-03-15 10:00:00", "2021-04-01 11:30:00", "2020-12-31 00:00:00"],
         pd.Timestamp("2021-03-15 10:00")),
    ],
)
def test_date_detection(tmp_path, values, first):
    p = tmp_path / "dates.csv"
    rows = "\n".join(f"{i},{v}" for i, v in enumerate(values * 10))
    p.write_text("id,signup\n" + rows + "\n")
    t = load_table(p)
    s = t.frame["signup"]
    assert pd.api.types.is_datetime64_any_dtype(s)
    assert s.iloc[0] == first
    assert "signup: column read as dates." in t.notes


def test_mostly_dates_with_a_bad_value_still_dates(tmp_path):
    p = tmp_path / "dates.csv"
    values = [f"2021-01-{d:02d}" for d in range(1, 29)] * 2 + ["not a date"]
    p.write_text("signup\n" + "\n".join(values) + "\n")
    t = load_table(p)
    s = t.frame["signup"]
    assert pd.api.types.is_datetime64_any_dtype(s)
    assert s.isna().sum() == 1
    assert any("1 value that are not dates" in n or "not dates" in n for n in t.notes)


def test_column_names_stripped_and_unnamed_filled(tmp_path):
    p = tmp_path / "names.csv"
    p.write_text(" Age , Spend ,\n30,1.5,x\n40,2.5,y\n")
    t = load_table(p)
    assert list(t.frame.columns) == ["Age", "Spend", "column_3"]


def test_trailing_delimiter_column_is_dropped(tmp_path):
    p = tmp_path / "trailing.csv"
    p.write_text("a,b,\n1,2,\n3,4,\n")
    t = load_table(p)
    assert list(t.frame.columns) == ["a", "b"]
    assert any("empty column without a name" in n for n in t.notes)


def test_empty_rows_are_dropped(tmp_path):
    p = tmp_path / "gaps.csv"
    p.write_text("a,b\n1,2\n,\n3,4\n")
    t = load_table(p)
    assert t.frame["a"].tolist() == [1, 3]
    assert "1 completely empty rows were dropped." in t.notes


def test_one_row_file_loads(tmp_path):
    p = tmp_path / "one.csv"
    p.write_text("a,b\n1,x\n")
    t = load_table(p)
    assert t.frame.shape == (1, 2)


def test_quoted_newlines(tmp_path):
    p = tmp_path / "notes.csv"
    p.write_text('id,note\n1,"first line\nsecond line"\n2,plain\n')
    t = load_table(p)
    assert t.frame["note"].tolist() == ["first line\nsecond line", "plain"]


def test_short_rows_fall_back_to_pandas(tmp_path):
    p = tmp_path / "short.csv"
    p.write_text("a,b,c\n1,2,3\n4,5\n")
    t = load_table(p)
    assert t.frame["c"].isna().tolist() == [False, True]
    assert any("pandas reader" in n for n in t.notes)


def test_non_utf8_byte_far_into_the_file(tmp_path):
    p = tmp_path / "late.csv"
    body = b"name,n\n" + b"plain,1\n" * 20000 + "Zoë,2\n".encode("cp1252")
    p.write_bytes(body)
    t = load_table(p)
    assert t.encoding == "cp1252"
    assert t.frame["name"].iloc[-1] == "Zoë"
    assert len(t.frame) == 20001


def test_mid_sized_numeric_csv_uses_the_fast_reader(tmp_path):
    rng = np.random.default_rng(1)
    n = 50_000
    table = pa.table({f"x{i}": rng.normal(size=n) for i in range(30)})
    p = tmp_path / "wide.csv"
    pacsv.write_csv(table, p)
    t = load_table(p)
    assert t.frame.shape == (n, 30)
    assert all(pd.api.types.is_float_dtype(d) for d in t.frame.dtypes)
    assert not any("pandas reader" in note for note in t.notes)


# --------------------------------------------------------------------------- bad input


def test_missing_path(tmp_path):
    p = tmp_path / "nope.csv"
    with pytest.raises(DataError) as exc:
        load_table(p)
    assert "does not exist" in _assert_sentence(exc.value, p)


def test_directory(tmp_path):
    d = tmp_path / "folder"
    d.mkdir()
    with pytest.raises(DataError) as exc:
        load_table(d)
    assert "folder" in _assert_sentence(exc.value, d)


def test_unsupported_extension(tmp_path):
    p = tmp_path / "report.docx"
    p.write_text("hello")
    with pytest.raises(DataError) as exc:
        load_table(p)
    msg = _assert_sentence(exc.value, p)
    assert ".docx" in msg
    for ext in (".csv", ".parquet", ".xlsx", ".json", ".jsonl"):
        assert ext in msg
    assert ".csv" in SUPPORTED_EXTENSIONS


@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet", "empty.xlsx", "empty.json"])
def test_empty_file(tmp_path, name):
    p = tmp_path / name
    p.write_bytes(b"")
    with pytest.raises(DataError) as exc:
        load_table(p)
    assert "empty" in _assert_sentence(exc.value, p)


def test_whitespace_only_file(tmp_path):
    p = tmp_path / "blank.csv"
    p.write_text("\n\n   \n")
    with pytest.raises(DataError) as exc:
        load_table(p)
    assert "no data" in _assert_sentence(exc.value, p)


@pytest.mark.parametrize("ext", [".csv", ".tsv"])
def test_header_only(tmp_path, ext):
    p = tmp_path / f"header{ext}"
    p.write_text("a,b,c\n")
    with pytest.raises(DataError) as exc:
        load_table(p)
    assert "no data rows" in _assert_sentence(exc.value, p)


def test_header_only_parquet_and_json(tmp_path):
    p = tmp_path / "header.parquet"
    pd.DataFrame({"a": pd.Series([], dtype=float)}).to_parquet(p)
    with pytest.raises(DataError) as exc:
        load_table(p)
    assert "no data rows" in _assert_sentence(exc.value, p)
    j = tmp_path / "empty_records.json"
    j.write_text("[]")
    with pytest.raises(DataError) as exc:
        load_table(j)
    assert "no rows" in _assert_sentence(exc.value, j)


def test_binary_file_named_csv(tmp_path):
    p = tmp_path / "image.csv"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(DataError) as exc:
        load_table(p)
    assert "not a text file" in _assert_sentence(exc.value, p)


def test_excel_workbook_named_csv_gets_a_hint(tmp_path):
    x = tmp_path / "real.xlsx"
    _frame().to_excel(x, index=False)
    p = tmp_path / "renamed.csv"
    p.write_bytes(x.read_bytes())
    with pytest.raises(DataError) as exc:
        load_table(p)
    assert ".xlsx" in _assert_sentence(exc.value, p)


@pytest.mark.parametrize(
    "content",
    ['a,b\n1,2\n3,4,5,6\n7\n', 'a,b\n"1,2\n'],
    ids=["ragged", "unterminated-quote"],
)
def test_unparseable_csv(tmp_path, content):
    p = tmp_path / "broken.csv"
    p.write_text(content)
    with pytest.raises(DataError) as exc:
        load_table(p)
    assert "could not be parsed" in _assert_sentence(exc.value, p)


def test_duplicate_column_names(tmp_path):
    p = tmp_path / "dups.csv"
    p.write_text("id,Age, Age\n1,2,3\n")
    with pytest.raises(DataError) as exc:
        load_table(p)
    msg = _assert_sentence(exc.value, p)
    assert "duplicate column names" in msg and "'Age'" in msg


def test_duplicate_names_with_a_line_break_stay_one_line(tmp_path):
    # Found by the property test: a quoted header cell may hold a line break.
    p = tmp_path / "dups.csv"
    p.write_text('"0\n0","0\n0"\n0.0,0.0\n')
    with pytest.raises(DataError) as exc:
        load_table(p)
    msg = _assert_sentence(exc.value, p)
    assert "\n" not in msg and "'0\\n0'" in msg


def test_duplicate_column_names_in_excel(tmp_path):
    p = tmp_path / "dups.xlsx"
    pd.DataFrame([[1, 2, 3]], columns=["id", "Age", "Age "]).to_excel(p, index=False)
    with pytest.raises(DataError) as exc:
        load_table(p)
    assert "duplicate column names" in _assert_sentence(exc.value, p)


@pytest.mark.parametrize(
    "content",
    ["42", "[1, 2, 3]", '{"a": 1, "b": 2}', '"text"', "[[1, 2], [3, 4]]"],
)
def test_json_that_is_not_a_table(tmp_path, content):
    p = tmp_path / "scalar.json"
    p.write_text(content)
    with pytest.raises(DataError) as exc:
        load_table(p)
    assert "does not hold a table" in _assert_sentence(exc.value, p)


def test_invalid_json(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('[{"a": 1}, {"a": ')
    with pytest.raises(DataError) as exc:
        load_table(p)
    assert "not valid JSON" in _assert_sentence(exc.value, p)


def test_invalid_json_lines(tmp_path):
    p = tmp_path / "broken.jsonl"
    p.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(DataError) as exc:
        load_table(p)
    assert "line 2" in _assert_sentence(exc.value, p)


@pytest.mark.parametrize("name", ["corrupt.parquet", "corrupt.xlsx", "corrupt.csv.gz"])
def test_corrupt_binary_formats(tmp_path, name):
    p = tmp_path / name
    p.write_bytes(b"this is not what the extension promises" * 10)
    with pytest.raises(DataError) as exc:
        load_table(p)
    _assert_sentence(exc.value, p)


# --------------------------------------------------------------------------- real data


@pytest.mark.integration
def test_telco_total_charges_numeric_with_11_missing():
    path = shared_dataset("telco_churn", "WA_Fn-UseC_-Telco-Customer-Churn.csv")
    t = load_table(path)
    df = t.frame
    assert df.shape == (7043, 21)
    assert pd.api.types.is_float_dtype(df["TotalCharges"])
    assert int(df["TotalCharges"].isna().sum()) == 11
    assert "TotalCharges: 11 blank values read as missing; column read as numbers." in t.notes
    assert df["Churn"].value_counts()["Yes"] == 1869


@pytest.mark.integration
def test_wholesale_and_mall_load():
    w = load_table(shared_dataset("wholesale_customers", "Wholesale_customers_data.csv"))
    assert w.frame.shape == (440, 9)
    assert "Customer ID" in w.frame.columns
    m = load_table(shared_dataset("mall_customers", "Mall_Customers.csv"))
    assert m.frame.shape == (200, 5)
    assert pd.api.types.is_integer_dtype(m.frame["CustomerID"])


def test_digit_codes_with_leading_zeros_stay_text_and_other_numbers_stay_numbers(tmp_path):
    from copilot.segmentation.data.stream import iter_table_chunks

    rows = "\n".join(f"{i:06d},{i * 3},{i % 7}.5,{i + 1}" for i in range(1, 400))
    path = tmp_path / "codes.csv"
    path.write_text("account,visits,score,plain_id\n" + rows + "\n")
    for frame in (load_table(path).frame, next(iter_table_chunks(path, rows=1_000))):
        assert frame["account"].iloc[0] == "000001" and frame["account"].iloc[-1] == "000399"
        assert pd.api.types.is_numeric_dtype(frame["visits"])
        assert pd.api.types.is_numeric_dtype(frame["score"])
        assert pd.api.types.is_numeric_dtype(frame["plain_id"])  # no zeros to keep: a number


# ------------------------------------------------------------------- runs of spaces (issue 16)


def _purchase_log(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    ids = [f"{i:05d}" for i in rng.integers(1, 20, n)]
    days = [f"1997{m:02d}{d:02d}" for m, d in zip(rng.integers(1, 13, n), rng.integers(1, 29, n))]
    qty = rng.integers(1, 6, n)
    return pd.DataFrame({"id": ids, "day": days, "qty": qty,
                         "amount": np.round(qty * rng.uniform(9, 15, n), 2)})


def test_columns_separated_by_runs_of_spaces_without_a_header(tmp_path):
    from fixtures.events import spaced_text

    log = _purchase_log()
    path = tmp_path / "purchases.txt"
    path.write_bytes(spaced_text(log).encode())
    t = load_table(path)
    assert list(t.frame.columns) == ["column_1", "column_2", "column_3", "column_4"]
    assert len(t.frame) == len(log)  # the first row is data, not names
    assert t.frame["column_1"].tolist() == log["id"].tolist()  # leading zeros kept
    assert np.allclose(t.frame["column_4"], log["amount"])
    assert any("runs of spaces" in n for n in t.notes)
    assert any("no header row" in n and "column_1 to column_4" in n for n in t.notes)


def test_runs_of_spaces_with_a_header_and_a_chunked_read(tmp_path):
    from copilot.segmentation.data.stream import iter_table_chunks
    from fixtures.events import spaced_text

    log = _purchase_log()
    path = tmp_path / "purchases.txt"
    path.write_bytes(spaced_text(log, header=True).encode())
    t = load_table(path)
    assert list(t.frame.columns) == ["id", "day", "qty", "amount"] and len(t.frame) == len(log)
    assert "Columns are separated by runs of spaces." in t.notes
    assert not any("no header" in n for n in t.notes)
    notes: list[str] = []
    chunks = list(iter_table_chunks(path, rows=25, notes=notes))
    assert sum(len(c) for c in chunks) == len(log)
    assert list(chunks[0].columns) == ["id", "day", "qty", "amount"]
    assert "Columns are separated by runs of spaces." in notes


def test_a_single_space_separated_phrase_column_is_not_split():
    # One text column of phrases with spaces in a comma CSV stays one column: runs of spaces
    # are only a delimiter when no single character splits the rows.
    from copilot.segmentation.data.text_sniff import _sniff_delimiter

    text = "id,comment\n1,great value for money\n2,too slow to load\n3,love it\n"
    assert _sniff_delimiter(text, ",") == ","
