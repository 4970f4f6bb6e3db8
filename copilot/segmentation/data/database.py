"""Customer tables from databases: a PostgreSQL query or table, or a DuckDB file.

A source is a URL (``postgresql://user:pw@host:5432/db`` or ``duckdb:///path/file.duckdb``)
with exactly one of a SQL query or a table name. PostgreSQL is read through ADBC (libpq's
binary COPY straight into Arrow, no row-by-row Python), DuckDB through its own Arrow result;
either way the rows become a pandas frame that the file loader's tidying rules then treat like
any other table, so roles, quality and segments do not depend on where the rows came from.

Passwords never leave this module in anything a user reads: ``redact`` is the only spelling
of a URL that goes into a ``LoadedTable``, an error sentence, a summary or a session. A URL
whose password was redacted (``user:***@``) connects without one, so libpq takes it from
``PGPASSWORD`` or ``~/.pgpass``: that is how a saved session reads its table again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from copilot.core import DataError
from copilot.segmentation.data.table_format import _short

POSTGRES_SCHEMES = ("postgresql", "postgres")
DUCKDB_SCHEME = "duckdb"
MASK = "***"
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Identifiers typed as SQL would spell them unquoted; anything else is quoted.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_SECRET_PARAMS = ("password", "sslpassword")
POSTGRES_EXTRA = 'pip install ".[postgres]"'


def is_database_url(text: object) -> bool:
    """True for ``scheme://...`` (any scheme: an unsupported one gets its own sentence)."""
    return isinstance(text, str) and bool(_URL.match(text))


def scheme_of(url: str) -> str:
    match = _URL.match(url)
    return match.group(1).lower() if match else ""


def redact(url: str) -> str:
    """The URL as a user may read it: the password (in the user part or as a ``password=``
    parameter) replaced by ``***``; everything else as given."""
    if not _secrets(url):
        return url  # nothing to hide: as given (urlunsplit would drop duckdb:///'s empty host)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            user = user.split(":", 1)[0] + ":" + MASK
        netloc = f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
            query = urlencode([(k, MASK if k.lower() in _SECRET_PARAMS else v) for k, v in pairs],
                              safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")


def redact_text(text: str) -> str:
    """``text`` with the password of every URL in it redacted (a message typed in the chat
    that holds a database URL is saved with the session)."""
    return _URL_IN_TEXT.sub(lambda m: redact(m.group(0)), text)


def _secrets(url: str) -> list[str]:
    """The password spellings in ``url`` (raw and decoded), to scrub from driver messages."""
    parts = urlsplit(url)
    found = []
    user = parts.netloc.rpartition("@")[0]
    if ":" in user:
        found.append(user.split(":", 1)[1])
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True)
              if k.lower() in _SECRET_PARAMS]
    return [s for raw in found if raw and raw != MASK for s in {raw, unquote(raw)}]


def scrub(text: str, url: str) -> str:
    """``text`` with every password of ``url`` replaced by ``***`` (drivers may echo it)."""
    for secret in _secrets(url):
        text = text.replace(secret, MASK)
    return text


@dataclass(frozen=True)
class DatabaseSource:
    """Where a table comes from: a URL and a query or a table name."""

    url: str  # as given, password included: never shown
    query: str | None = None
    table: str | None = None

    @property
    def shown(self) -> str:
        """The URL without its password."""
        return redact(self.url)

    @property
    def kind(self) -> str:
        return "duckdb" if scheme_of(self.url) == DUCKDB_SCHEME else "postgresql"

    def describe(self) -> str:
        """One phrase for sentences: ``table customers in postgresql://u:***@h/db``."""
        what = f"table {self.table}" if self.table else "the query"
        return f"{what} in {self.shown}"


def database_source(url: str, *, query: str | None, table: str | None) -> DatabaseSource:
    """Check a URL source (scheme, exactly one of query or table) before anything connects."""
    scheme = scheme_of(url)
    shown = redact(url)
    if scheme not in (*POSTGRES_SCHEMES, DUCKDB_SCHEME):
        raise DataError(f"'{shown}' is a {scheme}:// URL, which segment-copilot does not read; "
                        "give a postgresql://user@host/db or duckdb:///path.duckdb URL, or "
                        "export the table to a CSV or Parquet file.")
    if bool(query) == bool(table):
        which, fix = ("both", "drop one of them") if query else ("neither", "add one of them")
        raise DataError(f"A database source needs exactly one of --query SQL or --table NAME, "
                        f"and {shown} was given {which}; {fix}.")
    if table is not None and not all(part.strip() for part in table.split(".")):
        raise DataError(f"--table {table!r} is not a table name; give NAME or SCHEMA.NAME.")
    return DatabaseSource(url=url, query=query, table=table)


def quote_name(name: str) -> str:
    """``schema.table`` as SQL: plain parts as typed (so Postgres folds case as in psql),
    others double-quoted."""
    return ".".join(p if _PLAIN_NAME.fullmatch(p) else '"' + p.replace('"', '""') + '"'
                    for p in name.split("."))


def read_arrow(source: DatabaseSource):
    """The rows of ``source`` as a pyarrow Table; every failure a one-sentence ``DataError``."""
    sql = _sql(source)
    if source.kind == "duckdb":
        table = _read_duckdb(source, sql)
    else:
        table = _read_postgres(source, sql)
    if table.num_rows == 0:
        raise _no_rows(source)
    return table


def iter_arrow(source: DatabaseSource, rows: int) -> Iterator:
    """The rows of ``source`` as pyarrow Tables of at most ``rows`` rows, read as they arrive
    (the database streams them; only one chunk is held at a time), for scoring in chunks."""
    sql = _sql(source)
    seen = 0
    for chunk in _batches(source, sql, rows):
        seen += chunk.num_rows
        yield _plain_types(chunk)
    if seen == 0:
        raise _no_rows(source)


def _sql(source: DatabaseSource) -> str:
    return source.query or f"SELECT * FROM {quote_name(source.table or '')}"


def _no_rows(source: DatabaseSource) -> DataError:
    what = "The query" if source.query else f"Table {source.table}"
    return DataError(f"{what} in {source.shown} returned no rows; check its filters, or give a "
                     "query or table that holds the customers.")


def _batches(source: DatabaseSource, sql: str, rows: int) -> Iterator:
    """Record batches regrouped into tables of ``rows`` rows; errors as one sentence."""
    import pyarrow as pa

    buffer, held = [], 0
    for batch in _record_batches(source, sql, rows):
        buffer.append(batch)
        held += batch.num_rows
        while held >= rows:  # a server batch may hold several chunks
            table = pa.Table.from_batches(buffer, schema=batch.schema)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            buffer, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(buffer)


def _record_batches(source: DatabaseSource, sql: str, rows: int) -> Iterator:
    if source.kind == "duckdb":
        with _duckdb_result(source, sql) as result:
            reader = getattr(result, "to_arrow_reader", None) or result.fetch_arrow_reader
            yield from reader(rows)
        return
    with _postgres_cursor(source, sql) as cur:
        yield from cur.fetch_record_batch()


# ------------------------------------------------------------------------------ PostgreSQL


def postgres_driver():
    """``adbc_driver_postgresql.dbapi``, or one sentence on how to install it."""
    try:
        from adbc_driver_postgresql import dbapi
    except ImportError:
        raise DataError("Reading or writing PostgreSQL needs the ADBC PostgreSQL driver, which "
                        f"is not installed; install the postgres extra with {POSTGRES_EXTRA}."
                        ) from None
    return dbapi


def connect_uri(url: str) -> str:
    """The URI libpq gets: ``postgres://`` spelled out, a redacted password dropped (libpq then
    reads PGPASSWORD or ~/.pgpass), and a connect timeout so an unreachable host fails in
    seconds rather than waiting on the network for minutes."""
    parts = urlsplit(url)
    netloc = parts.netloc
    user, at, host = netloc.rpartition("@")
    if at and user.endswith(":" + MASK):
        netloc = f"{user[:-len(MASK) - 1]}@{host}"
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not (k.lower() in _SECRET_PARAMS and v == MASK)]
    if not any(k == "connect_timeout" for k, _ in pairs):
        pairs.append(("connect_timeout", "10"))
    return urlunsplit(("postgresql", netloc, parts.path, urlencode(pairs, quote_via=quote),
                       parts.fragment))


def postgres_connect(url: str):
    """An open ADBC connection (autocommit off), or one sentence saying why not."""
    dbapi = postgres_driver()
    try:
        return dbapi.connect(connect_uri(url))
    except dbapi.Error as exc:
        raise connection_error(url, exc) from None


def connection_error(url: str, exc: Exception) -> DataError:
    """The sentence for a failed connection: the password, the server, the database, the user."""
    text = scrub(str(exc), url)
    parts = urlsplit(url)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    user = unquote(parts.username or "") or "the default user"
    db = unquote(parts.path.lstrip("/")) or "the default database"
    low = text.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        return DataError(f"PostgreSQL at {where} refused the password for user {user}; check the "
                         "password in the URL (or PGPASSWORD for a URL without one).")
    if f'database "{db}" does not exist' in text:
        return DataError(f"PostgreSQL at {where} has no database {db}; check the database name "
                         "at the end of the URL.")
    if re.search(r'role ".*" does not exist', text):
        return DataError(f"PostgreSQL at {where} has no user {user}; check the user name in the "
                         "URL.")
    reason = _first_line(re.split(r"failed:|Failed to connect:", text)[-1])
    return DataError(f"Cannot connect to PostgreSQL at {where} ({reason}); check that the server "
                     "is running and that the host and port in the URL are right.")


def _first_line(text: str) -> str:
    """A driver message's first meaningful line, without its ERROR:/FATAL: prefix or a
    trailing period (it sits inside a sentence)."""
    for line in text.splitlines():
        line = re.sub(r"^\s*(\w+:\s*\[libpq\]\s*)?", "", line)
        line = re.sub(r"^.*?(ERROR|FATAL):\s*", "", line).strip()
        if line:
            return line.rstrip(".")[:200]
    return "no reason given"


def _read_postgres(source: DatabaseSource, sql: str):
    with _postgres_cursor(source, sql) as cur:
        table = cur.fetch_arrow_table()
    return _plain_types(table)


@contextmanager
def _postgres_cursor(source: DatabaseSource, sql: str) -> Iterator:
    """A cursor that has run ``sql`` in a read-only transaction, for the whole read and the
    streamed one alike; a failure is the query's one sentence, and the connection is closed."""
    dbapi = postgres_driver()
    conn = postgres_connect(source.url)
    try:
        with conn.cursor() as cur:
            # Reading never changes the database: a --query that writes is refused by the
            # server (and the transaction is never committed anyway).
            cur.execute("SET TRANSACTION READ ONLY")
            cur.execute(sql)
            yield cur
    except (dbapi.Error, OSError, ValueError) as exc:  # pyarrow's stream errors are both
        raise _query_error(source, scrub(str(exc), source.url),
                           getattr(exc, "sqlstate", None)) from None
    finally:
        try:
            conn.close()
        except dbapi.Error:
            pass


def arrow_frame(arrow, source: DatabaseSource):
    """A database's Arrow rows as a pandas frame, or one sentence naming the source."""
    try:
        return arrow.to_pandas(date_as_object=False)
    except Exception as exc:  # an Arrow type pandas has no column for
        raise DataError(f"The rows of {source.describe()} could not be turned into a table "
                        f"({_short(exc)}); cast the unusual columns to text or numbers in "
                        "--query.") from exc


def _query_error(source: DatabaseSource, text: str, sqlstate: str | None) -> DataError:
    if source.table and (sqlstate == "42P01" or "does not exist" in text):
        return DataError(f"There is no table {source.table} in {source.shown}; check the name "
                         "(SCHEMA.NAME for a table outside the search path).")
    return DataError(f"The query failed in {source.shown} ({_first_line(text)}); fix the SQL "
                     "given to --query.")


def _plain_types(table):
    """Arrow types pandas and the tidying rules read: PostgreSQL ``numeric`` arrives as an
    opaque extension holding text (exact decimals), and other databases' decimals as
    ``decimal128``; both become float64, as the same column read from a CSV would. Other
    extension types (uuid, json, ...) keep their text."""
    import pyarrow as pa

    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        typ = field.type
        if isinstance(typ, pa.BaseExtensionType):
            column = pa.chunked_array([c.storage for c in column.chunks], type=typ.storage_type)
            name = (field.metadata or {}).get(b"POSTGRESQL:type", b"")
            if name == b"numeric":
                column = column.cast(pa.float64())
        elif pa.types.is_decimal(typ):
            column = column.cast(pa.float64())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


# ---------------------------------------------------------------------------------- DuckDB


def duckdb_path(url: str) -> Path:
    """``duckdb:///abs/file.duckdb`` -> /abs/file.duckdb; ``duckdb://rel.duckdb`` -> rel.duckdb."""
    rest = url.split("://", 1)[1]
    return Path(unquote(rest.split("?", 1)[0])).expanduser()


def _open_duckdb(source: DatabaseSource):
    import duckdb

    path = duckdb_path(source.url)
    if not path.is_file():
        raise DataError(f"The DuckDB file {path} does not exist; check the path after "
                        "duckdb:// (three slashes for an absolute path).")
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise DataError(f"Cannot open the DuckDB file {path} ({_first_line(str(exc))}); check "
                        "that it is a DuckDB database no other program is writing.") from None


def _duckdb_error(source: DatabaseSource, exc: Exception) -> DataError:
    text = str(exc)
    if source.table and "does not exist" in text:
        return DataError(f"There is no table {source.table} in {source.shown}; check the "
                         "name (SCHEMA.NAME for a table in another schema).")
    return DataError(f"The query failed in {source.shown} ({_first_line(text)}); fix the "
                     "SQL given to --query.")


@contextmanager
def _duckdb_result(source: DatabaseSource, sql: str):
    """The result of ``sql`` on a read-only connection to the DuckDB file, closed after; a
    statement that returns no table, or DuckDB's error, is one sentence."""
    import duckdb

    con = _open_duckdb(source)
    try:
        result = con.sql(sql)
        if result is None:
            raise DataError(f"The query in {source.shown} returns no table; give a SELECT.")
        yield result
    except duckdb.Error as exc:
        raise _duckdb_error(source, exc) from None
    finally:
        con.close()


def _read_duckdb(source: DatabaseSource, sql: str):
    with _duckdb_result(source, sql) as result:
        fetch = getattr(result, "to_arrow_table", None) or result.arrow
        return _plain_types(fetch())
