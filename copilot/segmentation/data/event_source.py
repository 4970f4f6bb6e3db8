"""Opening an event log for DuckDB: the file (CSV, gzipped CSV, Parquet, JSON lines) or a
pandas frame, as a FROM item and its columns' types.

A text log DuckDB's reader would misread (columns separated by runs of spaces, no header) is
read by the table loader instead; a CSV that is not UTF-8 is read again as Latin-1. Paths are
bound as parameters, never spliced into SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from copilot.core import DataError

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^[A-Za-z ]*Error: ", "", text)
    return (text[:160] + "...") if len(text) > 160 else text.rstrip(".")


# ------------------------------------------------------------------------------ the source


@dataclass(frozen=True)
class _Source:
    sql: str  # a FROM item with $path as its only parameter
    params: dict
    label: str
    columns: dict[str, str]  # name -> DuckDB type
    notes: tuple[str, ...] = ()  # how the file was read, when the user should know


def _open_source(con, path_or_frame) -> _Source:
    import duckdb

    if isinstance(path_or_frame, pd.DataFrame):
        frame = path_or_frame
        if not all(isinstance(c, str) for c in frame.columns):
            frame = frame.rename(columns=str)
        con.register("events_frame", frame)
        return _Source("events_frame", {}, "the events table", _describe(con, "events_frame", {}))
    path = Path(path_or_frame).expanduser()
    label = str(path_or_frame)
    if not path.exists():
        raise DataError(f"The events file '{label}' does not exist; check the path.")
    if path.is_dir():
        raise DataError(f"'{label}' is a folder; give the path of the events file inside it.")
    if path.stat().st_size == 0:
        raise DataError(f"The events file '{label}' is empty (0 bytes); export the log again.")
    name = path.name.lower().removesuffix(".gz")
    params = {"path": str(path)}
    if name.endswith(PARQUET_SUFFIXES):
        sql = "read_parquet($path)"
    elif name.endswith(JSON_SUFFIXES):
        sql = "read_json_auto($path)"
    elif name.endswith(CSV_SUFFIXES) and (spaced := _spaced_or_headerless(path)) is not None:
        frame, notes = spaced
        con.register("events_frame", frame)
        return _Source("events_frame", {}, label, _describe(con, "events_frame", {}), notes)
    elif name.endswith(CSV_SUFFIXES):
        # Every column as text: a column whose type DuckDB would guess from the first rows
        # (InvoiceNo as a number until C536379) cannot break the read; we parse what we use.
        sql = "read_csv($path, all_varchar = true, header = true)"
    else:
        raise DataError(
            f"The events file '{label}' is not CSV, TSV, Parquet or JSON lines (by its "
            "extension); convert it to CSV or Parquet."
        )
    try:
        return _Source(sql, params, label, _describe(con, sql, params))
    except duckdb.Error as exc:
        fallback = _as_latin1(_Source(sql, params, label, {}), exc)
        if fallback is not None:
            try:
                return _Source(fallback.sql, params, label, _describe(con, fallback.sql, params))
            except duckdb.Error:
                pass
        raise DataError(
            f"The events file '{label}' could not be read ({_short(exc)}); check that it is "
            "a valid file of its type."
        ) from None


def _spaced_or_headerless(path: Path) -> tuple[pd.DataFrame, tuple[str, ...]] | None:
    """A text log DuckDB's reader would misread (columns separated by runs of spaces, or no
    header row), read by the table loader as text columns; None for an ordinary CSV."""
    from copilot.segmentation.data import load as _load
    from copilot.segmentation.data import text_sniff as _sniff

    try:
        sniff = _sniff.sniff_text(path, str(path), path.name.lower().endswith(".gz"))
    except (DataError, LookupError):
        return None  # DuckDB's reader gives its own sentence for a binary or empty file
    if sniff.delimiter != _sniff.WHITESPACE and sniff.header:
        return None
    loaded = _load.load_table(path)
    # As text, like the DuckDB path (all_varchar): the log's readers parse what they use.
    frame = loaded.frame.astype(object).where(loaded.frame.notna(), None).astype("string")
    notes = tuple(n for n in loaded.notes if "separated" in n or "header" in n)
    return frame, notes


def _as_latin1(source: _Source, exc: Exception) -> _Source | None:
    """The same CSV read as Latin-1, when DuckDB refused it as invalid UTF-8; else None."""
    if "unicode" not in str(exc).lower() or not source.sql.startswith("read_csv(") or \
            "encoding" in source.sql:
        return None
    sql = source.sql.replace("header = true", "header = true, encoding = 'latin-1'")
    return _Source(sql, source.params, source.label, source.columns)


def _describe(con, sql: str, params: dict) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {sql}", params).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}
