"""Results written back to a real PostgreSQL (and a DuckDB file): every customer once, in one
transaction, never over a table segment-copilot did not write, and no password anywhere."""

from __future__ import annotations

import pandas as pd
import pytest

from fixtures.customers import make_customers
from tests.cli_helpers import assert_one_sentence_error, run_cli
from tests.db.conftest import PASSWORD, ingest, run_sql

pytestmark = [pytest.mark.xdist_group("postgres"), pytest.mark.postgres]


@pytest.fixture(scope="module")
def segmented(postgres, tmp_path_factory):
    """400 customers in PostgreSQL, segmented from there once."""
    folder = tmp_path_factory.mktemp("db_write")
    frame = make_customers(400, 3, seed=5).frame
    ingest(postgres.url(), "write_customers", frame)
    proc = run_cli("segment", postgres.url(), "--table", "write_customers", "--out-dir",
                   folder / "out", "--no-llm", "--k", "3", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return {"folder": folder, "frame": frame, "out": folder / "out"}


def _read(postgres, sql: str):
    return run_sql(postgres.url(), sql)


def test_export_out_table_then_reread_gives_every_customer_once(postgres, segmented):
    proc = run_cli("export", segmented["out"], "--out-table", "crm_segments", "--out-db",
                   postgres.url(), "--preset", "hubspot", cwd=segmented["folder"])
    assert proc.returncode == 0, proc.stderr
    assert "table crm_segments in postgresql://copilot:***@" in proc.stdout
    rows, distinct = _read(postgres, "SELECT count(*), count(DISTINCT customer_id) "
                                     "FROM crm_segments")[0]
    assert rows == distinct == len(segmented["frame"])
    ids = {r[0] for r in _read(postgres, "SELECT customer_id FROM crm_segments")}
    assert ids == set(segmented["frame"]["customer_id"])
    # Typed columns a warehouse can filter on, and the marker that makes a re-run replace it.
    types = dict(_read(postgres, "SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'crm_segments'"))
    assert types["segment_holdout"] == "boolean" and types["segment_id"] == "bigint"
    again = run_cli("export", segmented["out"], "--out-table", "crm_segments", "--out-db",
                    postgres.url(), cwd=segmented["folder"])
    assert again.returncode == 0, again.stderr
    assert _read(postgres, "SELECT count(*) FROM crm_segments")[0][0] == len(segmented["frame"])
    assert PASSWORD not in proc.stdout + proc.stderr + again.stdout + again.stderr


def test_assign_writes_to_the_input_database_by_default(postgres, segmented):
    proc = run_cli("assign", segmented["out"] / "model", postgres.url(), "--table",
                   "write_customers", "--out-table", "assigned", cwd=segmented["folder"])
    assert proc.returncode == 0, proc.stderr
    got = pd.DataFrame(_read(postgres, "SELECT customer_id, segment FROM assigned"),
                       columns=["customer_id", "segment"])
    assert len(got) == got["customer_id"].nunique() == len(segmented["frame"])
    csv = pd.read_csv(segmented["out"] / "assignments.csv", dtype={"customer_id": str})
    merged = csv.merge(got, on="customer_id", suffixes=("_csv", "_db"))
    assert (merged["segment_csv"] == merged["segment_db"]).all()


def test_a_table_segment_copilot_did_not_write_is_refused(postgres, segmented):
    run_sql(postgres.url(), "DROP TABLE IF EXISTS theirs",
            "CREATE TABLE theirs (note text)", "INSERT INTO theirs VALUES ('keep me')")
    proc = run_cli("export", segmented["out"], "--out-table", "theirs", "--out-db",
                   postgres.url(), cwd=segmented["folder"])
    assert_one_sentence_error(proc, "theirs", "did not write it")
    assert _read(postgres, "SELECT note FROM theirs") == [("keep me",)]
    into_input = run_cli("assign", segmented["out"] / "model", postgres.url(), "--table",
                         "write_customers", "--out-table", "write_customers",
                         cwd=segmented["folder"])
    assert_one_sentence_error(into_input, "read from")


def test_a_failed_write_leaves_the_previous_table_whole(postgres, segmented):
    """The database refuses the last statement of the write (the marker comment, through an
    event trigger): the drop of the previous table, the new table and its rows are all rolled
    back, so readers still see the previous complete table."""
    first = run_cli("export", segmented["out"], "--out-table", "guarded", "--out-db",
                    postgres.url(), cwd=segmented["folder"])
    assert first.returncode == 0, first.stderr
    before = _read(postgres, "SELECT count(*), obj_description('guarded'::regclass) "
                             "FROM guarded")[0]
    run_sql(postgres.url(),
            "CREATE OR REPLACE FUNCTION no_comments() RETURNS event_trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RAISE EXCEPTION 'comments are locked'; END $$",
            "CREATE EVENT TRIGGER lock_comments ON ddl_command_end WHEN TAG IN ('COMMENT') "
            "EXECUTE FUNCTION no_comments()")
    try:
        proc = run_cli("export", segmented["out"], "--out-table", "guarded", "--out-db",
                       postgres.url(), "--holdout-share", "0.5", cwd=segmented["folder"])
    finally:
        run_sql(postgres.url(), "DROP EVENT TRIGGER lock_comments")
    assert_one_sentence_error(proc, "guarded", "comments are locked", "nothing was written")
    assert _read(postgres, "SELECT count(*), obj_description('guarded'::regclass) "
                           "FROM guarded")[0] == before
    # The previous holdout share (10%), not the refused run's 50%.
    held = _read(postgres, "SELECT avg(holdout::int) FROM guarded")[0][0]
    assert float(held) < 0.3


def test_out_table_mistakes_are_one_sentence(postgres, segmented, tmp_path):
    csv = tmp_path / "c.csv"
    segmented["frame"].to_csv(csv, index=False)
    model = segmented["out"] / "model"
    no_db = run_cli("assign", model, csv, "--out-table", "t", cwd=tmp_path)
    assert_one_sentence_error(no_db, "--out-table t", "--out-db")
    both = run_cli("assign", model, csv, "--out", tmp_path / "a.csv", "--out-table", "t",
                   cwd=tmp_path)
    assert_one_sentence_error(both, "not both")
    bad_name = run_cli("export", segmented["out"], "--out-table", "a;drop", "--out-db",
                       postgres.url(), cwd=tmp_path)
    assert_one_sentence_error(bad_name, "not a plain table name")
    wrong_pw = run_cli("export", segmented["out"], "--out-table", "t", "--out-db",
                       postgres.url("nope"), cwd=tmp_path)
    assert_one_sentence_error(wrong_pw, "refused the password")


def test_session_resumes_a_database_table_without_its_password(postgres, segmented, tmp_path,
                                                               monkeypatch):
    """ask saves the URL without the password; export from the session then reads nothing
    again, and a memo from it names the table, not the password."""
    session = tmp_path / "session"
    proc = run_cli("ask", "Find segments to reduce churn", "--data", postgres.url(), "--table",
                   "write_customers", "--session-dir", session, "--no-llm", "--k", "3",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    for path in session.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    assert "table write_customers" in (session / "memo.md").read_text()
    # Resumed, the session reads its table again with the password from PGPASSWORD (it holds
    # none), and says in one sentence what is wrong without it.
    from copilot.agent import Session
    from copilot.core import DataError
    from copilot.llm import LLMSettings

    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    with pytest.raises(DataError, match="refused the password"):
        Session.resume(session, llm=LLMSettings(provider="none")).table()
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    resumed = Session.resume(session, llm=LLMSettings(provider="none"))
    assert len(resumed.table().frame) == 400
    # The segments were built from PostgreSQL: export writes back there by default.
    out = run_cli("export", session, "--out-table", "session_segments", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert _read(postgres, "SELECT count(*) FROM session_segments")[0][0] == 400


def test_duckdb_round_trip(segmented, tmp_path):
    import duckdb

    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("frame", segmented["frame"])
        con.execute("CREATE TABLE customers AS SELECT * FROM frame")
    url = f"duckdb:///{path}"
    proc = run_cli("assign", segmented["out"] / "model", url, "--table", "customers",
                   "--out-table", "segments", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(path), read_only=True) as con:
        n, distinct = con.execute("SELECT count(*), count(DISTINCT customer_id) "
                                  "FROM segments").fetchone()
    assert n == distinct == len(segmented["frame"])


def test_compare_reads_a_database_snapshot(postgres, segmented, tmp_path):
    """A snapshot in PostgreSQL against the same rows as a CSV: nobody moved."""
    csv = tmp_path / "later.csv"
    segmented["frame"].to_csv(csv, index=False)
    proc = run_cli("compare", postgres.url(), csv, "--table", "write_customers", "--model",
                   segmented["out"] / "model", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "OLD (table write_customers)" in proc.stdout
    assert "0 (0.0%) changed segment" in proc.stdout
    assert PASSWORD not in proc.stdout + proc.stderr
    missing = run_cli("compare", postgres.url(), csv, "--model", segmented["out"] / "model",
                      cwd=tmp_path)
    assert_one_sentence_error(missing, "one --query or --table per URL")


def test_a_database_table_streams_in_chunks_like_a_whole_load(postgres, segmented):
    """assign scores a database table chunk by chunk as the server sends it: the chunks add
    up to the whole load, row for row."""
    from copilot.segmentation import load_table
    from copilot.segmentation.data import iter_table_chunks

    whole = load_table(postgres.url(), table="write_customers").frame
    chunks = list(iter_table_chunks(postgres.url(), table="write_customers", rows=150))
    assert [len(c) for c in chunks] == [150, 150, 100]
    joined = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(joined[whole.columns], whole, check_dtype=False)
