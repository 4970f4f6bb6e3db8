"""Customer tables read from a real PostgreSQL server (and a DuckDB file) give the same
segments as the same rows read from a CSV, and every mistake is one sentence."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fixtures.customers import make_customers
from tests.cli_helpers import assert_one_sentence_error, run_cli
from tests.db.conftest import PASSWORD, ingest

pytestmark = [pytest.mark.xdist_group("postgres"), pytest.mark.postgres]


def _typed_customers(n: int = 600, seed: int = 3) -> tuple[pd.DataFrame, dict[str, str]]:
    """A generated table with the types a database declares: IDs with leading zeros (text),
    a boolean (with NULLs), whole counts as integers, money as numeric, and blanks as NULL or
    ''."""
    frame = make_customers(n, 3, seed=seed).frame.copy()
    frame["customer_id"] = [f"{i:06d}" for i in range(len(frame))]
    frame["has_mobile_app"] = frame["has_mobile_app"].map({"Yes": True, "No": False}).astype(
        "boolean")
    frame.loc[frame.index[::13], "has_mobile_app"] = pd.NA  # a boolean with NULLs
    frame.loc[frame.index[::11], "region"] = ""  # an empty string: missing in the CSV too
    types = {"has_mobile_app": "boolean"}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_float_dtype(values):
            whole = values.dropna().eq(values.dropna().round()).all()
            types[column] = "integer" if whole else "numeric(14,3)"
            frame[column] = values.round(3)  # the same values in the CSV as numeric(14,3) holds
    return frame, types


@pytest.fixture(scope="module")
def same_rows(postgres, tmp_path_factory):
    """The same customers as a CSV file and as a PostgreSQL table."""
    frame, types = _typed_customers()
    folder = tmp_path_factory.mktemp("db_same_rows")
    csv = folder / "customers.csv"
    frame.to_csv(csv, index=False)
    ingest(postgres.url(), "customers", frame, types=types)
    return {"csv": csv, "folder": folder, "frame": frame, "types": types}


def test_postgres_query_and_csv_give_identical_segments(postgres, same_rows):
    folder = same_rows["folder"]
    from_db = run_cli("segment", postgres.url(), "--query",
                      "SELECT * FROM customers ORDER BY customer_id", "--out-dir",
                      folder / "db", "--no-llm", "--seed", "1", cwd=folder)
    from_csv = run_cli("segment", same_rows["csv"], "--out-dir", folder / "csv", "--no-llm",
                       "--seed", "1", cwd=folder)
    assert from_db.returncode == 0, from_db.stderr
    assert from_csv.returncode == 0, from_csv.stderr
    db = pd.read_csv(folder / "db" / "assignments.csv", dtype=str)
    csv = pd.read_csv(folder / "csv" / "assignments.csv", dtype=str)
    assert db["customer_id"].iloc[0] == "000000"  # leading zeros kept as text
    pd.testing.assert_frame_equal(db, csv)
    a_db = json.loads((folder / "db" / "analysis.json").read_text())
    a_csv = json.loads((folder / "csv" / "analysis.json").read_text())
    # The same roles and the same quality findings, whatever the source.
    assert a_db["roles"] == a_csv["roles"]
    assert a_db["quality"] == a_csv["quality"]
    # The same sweep, figure for figure (its timings aside), and the same choice.
    untimed = [[{k: v for k, v in row.items() if k != "seconds"} for row in a["sweep"]["rows"]]
               for a in (a_db, a_csv)]
    assert untimed[0] == untimed[1]
    assert a_db["choice"] == a_csv["choice"]
    assert a_db["source"]["format"] == "postgresql"
    assert a_db["source"]["query"].startswith("SELECT * FROM customers")
    # The password is in no output file and not on the terminal; the user part is.
    assert "copilot:***@" in from_db.stdout
    for path in (folder / "db").rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    assert PASSWORD not in from_db.stdout + from_db.stderr


def test_table_flag_reads_a_table(postgres, same_rows, tmp_path):
    proc = run_cli("segment", postgres.url(), "--table", "customers", "--out-dir",
                   tmp_path / "out", "--no-llm", "--k", "3", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    analysis = json.loads(proc.stdout)
    assert analysis["n_rows"] == len(same_rows["frame"])
    assert analysis["source"]["table"] == "customers"
    assert PASSWORD not in proc.stdout + proc.stderr


@pytest.mark.parametrize(("change", "needles"), [
    ({"password": "wrong"}, ("refused the password", "copilot")),
    ({"port": 1}, ("cannot connect", "127.0.0.1:1")),
    ({"table": "no_such_table"}, ("no table no_such_table",)),
    ({"query": "SELEC * FROM customers"}, ("query failed", "syntax error")),
    ({"query": "SELECT * FROM customers WHERE false"}, ("returned no rows",)),
    ({"query": "DELETE FROM customers RETURNING *"}, ("read-only transaction",)),
    ({"query": None, "table": None}, ("exactly one of --query", "neither")),
    ({"url": "mysql://copilot:pw@127.0.0.1/db"}, ("mysql://", "does not read")),
])
def test_database_mistakes_are_one_sentence(postgres, same_rows, tmp_path, change, needles):
    url = change.get("url") or (
        postgres.url(change.get("password", PASSWORD)).replace(
            f":{postgres.port}/", f":{change['port']}/") if "port" in change
        else postgres.url(change.get("password", PASSWORD)))
    args = ["segment", url, "--out-dir", tmp_path / "out", "--no-llm"]
    query, table = change.get("query", "SELECT * FROM customers"), change.get("table")
    if table:
        args += ["--table", table]
    elif query:
        args += ["--query", query]
    proc = run_cli(*args, cwd=tmp_path)
    assert_one_sentence_error(proc, *needles)
    assert PASSWORD not in proc.stderr and "wrong" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_query_flag_with_a_file_is_refused(same_rows, tmp_path):
    proc = run_cli("segment", same_rows["csv"], "--table", "customers", "--out-dir",
                   tmp_path / "out", "--no-llm", cwd=tmp_path)
    assert_one_sentence_error(proc, "--table", "is a file")


def test_duckdb_file_is_read(same_rows, tmp_path):
    import duckdb

    path = tmp_path / "crm.duckdb"
    frame = same_rows["frame"].head(300)
    with duckdb.connect(str(path)) as con:
        con.register("frame", frame)
        con.execute("CREATE TABLE customers AS SELECT * FROM frame")
    proc = run_cli("segment", f"duckdb:///{path}", "--table", "customers", "--out-dir",
                   tmp_path / "out", "--no-llm", "--k", "3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assigned = pd.read_csv(tmp_path / "out" / "assignments.csv", dtype=str)
    assert list(assigned["customer_id"]) == list(frame["customer_id"])
    assert "table customers in duckdb:///" in proc.stdout


def test_chat_and_ask_refuse_a_missing_table_in_one_sentence(postgres, same_rows, tmp_path):
    """The chat reads a database before its app opens (the URL never enters the conversation),
    so a bad source ends there, like ask's."""
    chat = run_cli("chat", postgres.url(), "--table", "nowhere", "--session-dir",
                   tmp_path / "chat", cwd=tmp_path)
    assert_one_sentence_error(chat, "no table nowhere")
    ask = run_cli("ask", "Reduce churn", "--data", postgres.url(), "--query",
                  "SELECT nope FROM customers", "--session-dir", tmp_path / "ask", "--no-llm",
                  cwd=tmp_path)
    assert_one_sentence_error(ask, "query failed", "nope")
    assert PASSWORD not in chat.stderr + ask.stderr


def test_without_the_driver_a_postgres_url_says_how_to_install_it(tmp_path):
    """The postgres extra missing (its module made unimportable, as in an install without
    it): one sentence naming the extra, exit code 2."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['adbc_driver_postgresql'] = None\n"
            "from copilot.cli import main\n"
            "sys.exit(main(['segment', 'postgresql://u:pw@127.0.0.1:1/db', '--table', 't', "
            "'--no-llm']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, check=False)
    assert_one_sentence_error(proc, 'pip install ".[postgres]"')


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://pm:s3cret@db:5432/crm", "postgresql://pm:***@db:5432/crm"),
    ("postgresql://pm:p%40ss@db/crm?sslmode=require", "postgresql://pm:***@db/crm?sslmode=require"),
    ("postgres://pm@db/crm?password=s3cret&sslmode=require",
     "postgres://pm@db/crm?password=***&sslmode=require"),
    ("postgresql://pm:a@b@db/crm", "postgresql://pm:***@db/crm"),
    ("duckdb:///data/warehouse.duckdb", "duckdb:///data/warehouse.duckdb"),
])
def test_urls_are_shown_without_their_password(url, shown):
    from copilot.segmentation import redact, redact_text

    assert redact(url) == shown
    assert redact_text(f"/load {url} please") == f"/load {shown} please"
