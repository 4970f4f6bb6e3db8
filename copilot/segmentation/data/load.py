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
    source: str  # the path as given
    format: str  # "csv", "parquet", "excel", "json" or "jsonl"
    encoding: str | None  # text files only
    delimiter: str | None  # CSV only
    notes: tuple[str, ...]  # short sentences about what the loader changed or guessed


def load_table(path: str | Path, *, sheet: str | int | None = None) -> LoadedTable:
    """Read a table file into a tidy DataFrame; raise ``DataError`` for anything unusable."""
    p = Path(path).expanduser()
    src = str(path)
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
