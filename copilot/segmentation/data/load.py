"""Load a customer table from CSV/TSV (optionally gzipped), Parquet, Excel or JSON.

``load_table`` sniffs the encoding and delimiter of text files, reads big CSVs with pyarrow
(multi-threaded), then tidies the frame the same way for every format: blank strings become
missing, number-like text becomes numbers, date-like text becomes datetimes, and column names
are stripped. Every problem a user can cause is raised as a one-sentence ``DataError``; no
pandas or pyarrow traceback escapes.

The format and the first bytes are read in ``table_format``, a text file's layout sniffed in
``text_sniff``, each format read in ``table_readers`` and the frame tidied in ``table_tidy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from copilot.core import DataError
from copilot.segmentation.data.database import (
    DatabaseSource,
    arrow_frame,
    database_source,
    is_database_url,
    read_arrow,
)
from copilot.segmentation.data.table_format import _format_of, _short
from copilot.segmentation.data.table_readers import (
    _read_csv,
    _read_excel,
    _read_json,
    _read_jsonl,
    _read_parquet,
)
from copilot.segmentation.data.table_tidy import _tidy


@dataclass(frozen=True)
class LoadedTable:
    """A loaded table and what the loader did to read it."""

    frame: pd.DataFrame
    source: str  # the path as given, or a database URL without its password
    format: str  # "csv", "parquet", "excel", "json", "jsonl", "postgresql" or "duckdb"
    encoding: str | None  # text files only
    delimiter: str | None  # CSV only
    notes: tuple[str, ...]  # short sentences about what the loader changed or guessed
    query: str | None = None  # a database source: the SQL given, or
    table: str | None = None  # the table named

    @property
    def from_database(self) -> bool:
        return self.format in ("postgresql", "duckdb")


def load_table(path: str | Path, *, sheet: str | int | None = None, query: str | None = None,
               table: str | None = None) -> LoadedTable:
    """Read a table file, or a database URL with ``query`` or ``table``, into a tidy
    DataFrame; raise ``DataError`` for anything unusable."""
    src = str(path)
    if is_database_url(src):
        return _load_database(database_source(src, query=query, table=table))
    if query is not None or table is not None:
        flag = "--query" if query is not None else "--table"
        raise DataError(f"{flag} reads from a database URL (postgresql://... or duckdb:///...), "
                        f"but '{src}' is a file; drop {flag}, or give a database URL.")
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"File '{src}' does not exist; check the path and the file name.")
    if p.is_dir():
        raise DataError(
            f"'{src}' is a folder, not a file; give the path of a table file inside it."
        )
    fmt, gz = _format_of(p, src)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise DataError(f"File '{src}' cannot be read ({_short(exc)}); check its permissions.") from exc
    if size == 0:
        raise DataError(f"File '{src}' is empty (0 bytes); export the table again with its rows.")

    notes: list[str] = []
    encoding: str | None = None
    delimiter: str | None = None
    try:
        if fmt == "csv":
            frame, encoding, delimiter = _read_csv(p, src, gz, notes)
        elif fmt == "parquet":
            frame = _read_parquet(p, src)
        elif fmt == "excel":
            frame = _read_excel(p, src, sheet, notes)
        elif fmt == "json":
            frame, encoding = _read_json(p, src, gz, notes)
        else:
            frame, encoding = _read_jsonl(p, src, gz, notes)
        frame = _tidy(frame, src, delimiter, notes)
    except DataError:
        raise
    except MemoryError as exc:
        raise DataError(
            f"File '{src}' is too big to load in memory; use a sample or a Parquet file."
        ) from exc
    except Exception as exc:  # any reader failure becomes one sentence
        raise DataError(
            f"File '{src}' could not be read as a table ({_short(exc)}); "
            "check that it is a valid, uncorrupted file of its type."
        ) from exc
    return LoadedTable(
        frame=frame,
        source=src,
        format=fmt,
        encoding=encoding,
        delimiter=delimiter,
        notes=tuple(notes),
    )


def _load_database(source: DatabaseSource) -> LoadedTable:
    """The rows of a database source, tidied by the same rules as a file's."""
    arrow = read_arrow(source)
    notes: list[str] = []
    src = source.shown
    frame = _tidy(arrow_frame(arrow, source), src, None, notes)
    return LoadedTable(frame=frame, source=src, format=source.kind, encoding=None,
                       delimiter=None, notes=tuple(notes), query=source.query,
                       table=source.table)
