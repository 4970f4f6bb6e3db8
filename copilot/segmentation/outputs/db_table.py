"""Results written back to a database table, whole or not at all.

One transaction creates the table, loads every row (ADBC bulk ingest for PostgreSQL: binary
COPY from Arrow; DuckDB from the Arrow table in place), marks the table as segment-copilot's
with a table comment, and commits; any failure rolls all of it back, so a reader sees the
previous table or the complete new one, never part of one. Like the file outputs, it never
replaces what it did not write: an existing table without the marker is refused in one
sentence, and one with it (an earlier run's) is dropped and re-created inside the same
transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from copilot.core import DataError, InputError
from copilot.segmentation.data import (
    duckdb_path,
    ids_as_text,
    is_database_url,
    postgres_connect,
    postgres_driver,
    redact,
    scrub,
)

MARKER = "segment-copilot"
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_POSTGRES = ("postgresql", "postgres")


@dataclass(frozen=True)
class WrittenTable:
    """A table written: where (URL without password), its name and its rows."""

    url: str
    name: str
    rows: int

    def describe(self) -> str:
        return f"table {self.name} in {self.url}"


def crm_arrow(frame: pd.DataFrame, columns: tuple[str, ...] | None = None):
    """The CRM frame (ID, segment, segment_name, confidence, holdout, model_version,
    assigned_at) as a typed Arrow table: the ID as text exactly as the customer table spells it,
    the segment an integer, the holdout flag a boolean and the time a UTC timestamp, so a
    warehouse can join and filter on them. ``columns`` renames the seven columns (a preset's)."""
    import pyarrow as pa

    id_column = frame.columns[0]
    names = columns or (str(id_column), "segment", "segment_name", "confidence", "holdout",
                        "model_version", "assigned_at")
    when = pd.to_datetime(frame["assigned_at"].astype(str), errors="coerce", utc=True,
                          format="ISO8601")
    arrays = [
        pa.array(ids_as_text(frame[id_column]).to_numpy(dtype=object), pa.string()),
        pa.array(pd.to_numeric(frame["segment"]).astype("int64").to_numpy(), pa.int64()),
        pa.array(frame["segment_name"].astype(str).to_numpy(dtype=object), pa.string()),
        pa.array(pd.to_numeric(frame["confidence"], errors="coerce").round(4).to_numpy(),
                 pa.float64()),
        pa.array(frame["holdout"].astype(bool).to_numpy(), pa.bool_()),
        pa.array(frame["model_version"].astype(str).to_numpy(dtype=object), pa.string()),
        pa.array(when.dt.tz_convert(UTC).dt.tz_localize(None).to_numpy(dtype="datetime64[us]"),
                 pa.timestamp("us", tz="UTC")),
    ]
    return pa.table(arrays, names=list(names))


def check_out_table(url: str | None, name: str | None, *, input_url: str | None = None,
                    input_table: str | None = None) -> tuple[str, str]:
    """The database and table to write, checked before any work: a database URL (``--out-db``,
    else the input's), a plain table name, and not the input table itself."""
    if not name:
        raise InputError("--out-db names the database for --out-table, which is missing; add "
                         "--out-table NAME.")
    target = url or input_url
    if not target:
        raise InputError(f"--out-table {name} needs a database, and the customers came from a "
                         "file; add --out-db with a postgresql:// or duckdb:/// URL.")
    if not is_database_url(target) or target.split("://")[0].lower() not in (*_POSTGRES,
                                                                              "duckdb"):
        raise InputError(f"--out-db {redact(target)} is not a postgresql:// or duckdb:/// URL; "
                         "give the database to write the table in.")
    if not all(_PLAIN.fullmatch(p) for p in name.split(".")) or name.count(".") > 1:
        raise InputError(f"--out-table {name!r} is not a plain table name; use letters, digits "
                         "and underscores, as NAME or SCHEMA.NAME.")
    if (input_table and _same_db(target, input_url)
            and _parts(input_table) == _parts(name)):
        raise InputError(f"--out-table {name} is the table the customers are read from, so "
                         "writing it would destroy that input; choose another name.")
    return target, name


def write_table(url: str, name: str, table, *, what: str) -> WrittenTable:
    """Create ``name`` in the database at ``url`` holding ``table`` (pyarrow), in one
    transaction; ``what`` goes in the marker comment ("segment assignments, model ab12")."""
    comment = f"{MARKER}: {what}, written {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
    if url.split("://")[0].lower() == "duckdb":
        _write_duckdb(url, name, table, comment)
    else:
        _write_postgres(url, name, table, comment)
    return WrittenTable(url=redact(url), name=name, rows=table.num_rows)


def _parts(name: str) -> tuple[str, ...]:
    """A name as the database folds it: unquoted identifiers are lower case."""
    return tuple(p.lower() for p in name.split("."))


def _same_db(a: str, b: str | None) -> bool:
    return b is not None and redact(a).split("?")[0] == redact(b).split("?")[0]


def _quoted(name: str) -> str:
    return ".".join(f'"{p}"' for p in _parts(name))


def _refuse_foreign(name: str, where: str) -> InputError:
    return InputError(f"Table {name} already exists in {where} and segment-copilot did not "
                      "write it, so it is left as it is; choose another --out-table name.")


def _write_postgres(url: str, name: str, table, comment: str) -> None:
    dbapi = postgres_driver()
    where = redact(url)
    conn = postgres_connect(url)
    quoted = _quoted(name)
    parts = _parts(name)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass($1) IS NOT NULL, "
                        "obj_description(to_regclass($1), 'pg_class')", (quoted,))
            exists, old = cur.fetchone()
            if exists and not str(old or "").startswith(MARKER):
                raise _refuse_foreign(name, where)
            if exists:  # an earlier run's table: replaced inside this same transaction
                cur.execute(f"DROP TABLE {quoted}")
            cur.adbc_ingest(parts[-1], table, mode="create",
                            db_schema_name=parts[0] if len(parts) == 2 else None)
            cur.execute(f"COMMENT ON TABLE {quoted} IS '{comment.replace(chr(39), chr(39) * 2)}'")
        conn.commit()
    except InputError:
        conn.rollback()
        raise
    except dbapi.Error as exc:
        try:
            conn.rollback()
        except dbapi.Error:
            pass
        reason = _reason(scrub(str(exc), url))
        raise DataError(f"Writing table {name} in {where} failed ({reason}), and nothing was "
                        "written; fix the cause and run again.") from None
    finally:
        try:
            conn.close()
        except dbapi.Error:
            pass


def _reason(text: str) -> str:
    for line in text.splitlines():
        line = re.sub(r"^.*?(ERROR|FATAL):\s*", "", line).strip()
        line = re.sub(r"^\w+:\s*(\[libpq\]\s*)?", "", line).strip()
        if line:
            return line.rstrip(".")[:200]
    return "no reason given"


def _write_duckdb(url: str, name: str, table, comment: str) -> None:
    import duckdb

    path = duckdb_path(url)
    where = redact(url)
    quoted = _quoted(name)
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise DataError(f"Cannot open the DuckDB file {path} ({_reason(str(exc))}); check the "
                        "path and that no other program is writing it.") from None
    try:
        con.execute("BEGIN TRANSACTION")
        parts = _parts(name)
        schema = parts[0] if len(parts) == 2 else "main"
        found = con.execute("SELECT comment FROM duckdb_tables() WHERE lower(schema_name) = ? "
                            "AND lower(table_name) = ?", [schema, parts[-1]]).fetchall()
        if found and not str(found[0][0] or "").startswith(MARKER):
            raise _refuse_foreign(name, where)
        if found:
            con.execute(f"DROP TABLE {quoted}")
        con.register("segment_copilot_rows", table)
        con.execute(f"CREATE TABLE {quoted} AS SELECT * FROM segment_copilot_rows")
        con.unregister("segment_copilot_rows")
        con.execute(f"COMMENT ON TABLE {quoted} IS '{comment.replace(chr(39), chr(39) * 2)}'")
        con.execute("COMMIT")
    except InputError:
        con.execute("ROLLBACK")
        raise
    except duckdb.Error as exc:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise DataError(f"Writing table {name} in {where} failed ({_reason(str(exc))}), and "
                        "nothing was written; fix the cause and run again.") from None
    finally:
        con.close()
