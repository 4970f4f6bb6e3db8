"""Read a big table in chunks, so assigning customers never holds the whole file in memory.

CSV (plain or gzip) and Parquet stream: CSV through pandas' chunked reader with the encoding
and delimiter ``load_table`` would sniff, Parquet by row batches. Every chunk is tidied by the
same rules as ``load_table`` (names, text to numbers, dates, empty rows), so a chunk looks like
the matching rows of a whole-file load. A database query or table streams too, in Arrow
batches as the server sends them. Other formats (Excel, JSON) are small by nature and are
loaded whole, then sliced.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from copilot.core import DataError
from copilot.segmentation.data import load as _load
from copilot.segmentation.data.database import (
    arrow_frame,
    database_source,
    is_database_url,
    iter_arrow,
)
from copilot.segmentation.data.table_format import _format_of, _short
from copilot.segmentation.data.table_tidy import _tidy
from copilot.segmentation.data.text_sniff import csv_note, sniff_text, zero_padded_columns

CHUNK_ROWS = 200_000  # ~50 MB of a typical 20-column table per chunk, a few passes per million


_COUNT = re.compile(r"\b\d[\d,]*\b")


def _merge_note(notes: list[str], seen: dict[str, int], counts: dict[str, int],
                note: str) -> None:
    """Each chunk says what it found ("12 blank values read as missing"): say it once for the
    whole file, its count the sum over the chunks, instead of once per chunk."""
    key = re.sub(r"\bvalues?\b", "value", _COUNT.sub("#", note))
    numbers = _COUNT.findall(note)
    if key not in seen:
        seen[key] = len(notes)
        notes.append(note)
        if len(numbers) == 1:
            counts[key] = int(numbers[0].replace(",", ""))
        return
    if key not in counts or len(numbers) != 1:
        return  # the same words, not a count: said once already
    counts[key] += int(numbers[0].replace(",", ""))
    total = counts[key]
    merged = _COUNT.sub(f"{total:,}", notes[seen[key]], count=1)
    notes[seen[key]] = re.sub(r"\bvalue\b", "values", merged) if total != 1 else merged


def iter_table_chunks(path: str | Path, *, rows: int = CHUNK_ROWS,
                      notes: list[str] | None = None, query: str | None = None,
                      table: str | None = None) -> Iterator[pd.DataFrame]:
    """Yield the table at ``path`` as tidy frames of at most ``rows`` rows, in file order.

    ``notes`` collects what ``load_table`` would have said about the file, once each. A
    database URL (with ``query`` or ``table``) is read whole, in Arrow, then sliced.
    """
    if query is not None or table is not None or is_database_url(str(path)):
        yield from _database_chunks(str(path), query, table, rows, notes)
        return
    p = Path(path).expanduser()
    src = str(path)
    if not p.is_file():
        # The whole-file loader has the full set of one-sentence refusals (missing, folder,
        # empty, not a table): let it give them.
        yield from _sliced(_load.load_table(p).frame, rows)
        return
    fmt, gz = _format_of(p, src)
    seen: dict[str, int] = {}  # a note's wording without its numbers -> its place in notes
    counts: dict[str, int] = {}

    def tidy(frame: pd.DataFrame) -> pd.DataFrame:
        chunk_notes: list[str] = []
        frame = _tidy(frame, src, delimiter, chunk_notes)
        if notes is not None:
            for note in chunk_notes:
                _merge_note(notes, seen, counts, note)
        return frame

    delimiter: str | None = None
    if fmt == "csv" and p.stat().st_size > 0:
        sniff = sniff_text(p, src, gz)
        gz, encoding, text = sniff.gz, sniff.encoding, sniff.text
        delimiter, header, names = sniff.delimiter, sniff.header, sniff.names
        if notes is not None:
            for note in csv_note(delimiter, header, names):
                _merge_note(notes, seen, counts, note)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                codes = zero_padded_columns(text, delimiter, names)
                reader = pd.read_csv(p, sep=delimiter, encoding=encoding, engine="c",
                                     header=None if names else "infer", names=names,
                                     compression="gzip" if gz else None, chunksize=rows,
                                     low_memory=False, dtype={c: str for c in codes} or None)
                with reader:
                    for frame in reader:
                        yield tidy(frame)
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"File '{src}' could not be read as a table "
                            f"({_short(exc)}); check that it is a valid CSV file.") from exc
        return
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(p)
        except Exception as exc:
            raise DataError(f"File '{src}' is not a readable Parquet file ({_short(exc)}); "
                            "export it again as Parquet or CSV.") from exc
        for batch in parquet.iter_batches(batch_size=rows):
            yield tidy(batch.to_pandas(date_as_object=False))
        return
    loaded = _load.load_table(p)
    if notes is not None:
        notes.extend(loaded.notes)
    yield from _sliced(loaded.frame, rows)


def _database_chunks(url: str, query: str | None, table: str | None, rows: int,
                     notes: list[str] | None) -> Iterator[pd.DataFrame]:
    """A database source in chunks as the server sends them, each tidied like a file's chunk
    (a file with --query or --table gets the loader's refusal)."""
    if not is_database_url(url):
        _load.load_table(url, query=query, table=table)  # raises: flags for a file
    source = database_source(url, query=query, table=table)
    seen: dict[str, int] = {}
    counts: dict[str, int] = {}
    for arrow in iter_arrow(source, rows):
        chunk_notes: list[str] = []
        frame = _tidy(arrow_frame(arrow, source), source.shown, None, chunk_notes)
        if notes is not None:
            for note in chunk_notes:
                _merge_note(notes, seen, counts, note)
        yield frame


def _sliced(frame: pd.DataFrame, rows: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), rows):
        yield frame.iloc[start:start + rows]
