"""Load a customer table from CSV/TSV (optionally gzipped), Parquet, Excel or JSON.

``load_table`` sniffs the encoding and delimiter of text files, reads big CSVs with pyarrow
(multi-threaded), then tidies the frame the same way for every format: blank strings become
missing, number-like text becomes numbers, date-like text becomes datetimes, and column names
are stripped. Every problem a user can cause is raised as a one-sentence ``DataError``; no
pandas or pyarrow traceback escapes.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from copilot.core import DataError

TEXT_EXTENSIONS = (".csv", ".tsv", ".txt")
PARQUET_EXTENSIONS = (".parquet", ".pq")
EXCEL_EXTENSIONS = (".xlsx", ".xlsm", ".xls")
JSON_EXTENSIONS = (".json",)
JSONL_EXTENSIONS = (".jsonl", ".ndjson")
SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    *TEXT_EXTENSIONS,
    *(e + ".gz" for e in TEXT_EXTENSIONS),
    *PARQUET_EXTENSIONS,
    *EXCEL_EXTENSIONS,
    *JSON_EXTENSIONS,
    *JSONL_EXTENSIONS,
    *(e + ".gz" for e in JSON_EXTENSIONS + JSONL_EXTENSIONS),
)
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")

_SAMPLE_BYTES = 64 * 1024  # bytes read to sniff encoding and delimiter
_DATE_SAMPLE = 200  # values tried before parsing a whole column as dates
_DATE_SHARE = 0.95  # share of values that must parse for a column to become dates
_MIXED_DATES_MAX_ROWS = 100_000  # slow per-value date parsing only below this size
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
#: Columns separated by runs of spaces (fixed-width text exports, classic purchase logs): no
#: single character splits them, so it is a delimiter of its own, read with a pattern.
WHITESPACE = r"\s+"
_NUMBER = re.compile(r"[-+]?(\d[\d,]*\.?\d*|\.\d+)([eE][-+]?\d+)?")


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


# --------------------------------------------------------------------------------------------
# formats


def _format_of(p: Path, src: str) -> tuple[str, bool]:
    name = p.name.lower()
    gz = name.endswith(".gz")
    base = name[:-3] if gz else name
    ext = Path(base).suffix
    full = ext + (".gz" if gz else "")
    if full not in SUPPORTED_EXTENSIONS:
        shown = full or "(none)"
        raise DataError(
            f"File '{src}' has an unsupported extension {shown}; "
            f"use one of {', '.join(SUPPORTED_EXTENSIONS)}."
        )
    if ext in TEXT_EXTENSIONS:
        return "csv", gz
    if ext in PARQUET_EXTENSIONS:
        return "parquet", False
    if ext in EXCEL_EXTENSIONS:
        return "excel", False
    if ext in JSON_EXTENSIONS:
        return "json", gz
    return "jsonl", gz


def _short(exc: BaseException, limit: int = 160) -> str:
    """An exception's message as a clause: one line, no trailing period, no inner sentences."""
    text = str(exc) or type(exc).__name__
    text = " ".join(text.split())
    text = text.replace(". ", "; ").rstrip(" .")
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return text


def _open_binary(p: Path, gz: bool):
    return gzip.open(p, "rb") if gz else open(p, "rb")


def _read_head(p: Path, src: str, gz: bool, n: int = _SAMPLE_BYTES) -> bytes:
    try:
        with _open_binary(p, gz) as fh:
            return fh.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"File '{src}' is not a valid gzip file ({_short(exc)}); "
            "re-compress it or give the uncompressed file."
        ) from exc


def _check_text(head: bytes, src: str) -> None:
    """Refuse binary files (NUL bytes) with a hint when we recognise what they are."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    if b"\x00" not in head:
        return
    if head.startswith(b"PK\x03\x04"):
        hint = "it looks like an Excel workbook or a zip archive, so rename it to .xlsx or unzip it"
    elif head.startswith(b"PAR1"):
        hint = "it looks like a Parquet file, so rename it to .parquet"
    else:
        hint = "export the table as CSV text"
    raise DataError(f"File '{src}' is not a text file (it contains binary data); {hint}.")


# ------------------------------------------------------------------- encoding and delimiter


def _detect_encoding(head: bytes, truncated: bool) -> str:
    """utf-8 / utf-8-sig first, then charset-normalizer, then cp1252 / latin-1."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=not truncated)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    return _guess_single_byte(head)


def _guess_single_byte(data: bytes) -> str:
    try:
        from charset_normalizer import from_bytes

        matches = list(from_bytes(data))
    except Exception:  # noqa: BLE001 - detection is best effort
        matches = []
    if matches:
        best = min(m.chaos for m in matches)
        close = [m for m in matches if m.chaos <= best + 0.01]
        # Western files are by far the most common; prefer cp1252 when it reads as well.
        for m in close:
            if "cp1252" in (m.encoding, *m.could_be_from_charset):
                return "cp1252"
        enc = matches[0].encoding
        try:
            data.decode(enc)
            return enc
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _decode_sample(head: bytes, encoding: str) -> str:
    dec = codecs.getincrementaldecoder(encoding)(errors="replace")
    return dec.decode(head, final=False)


def _sniff_delimiter(text: str, default: str) -> str:
    lines = text.splitlines()
    if len(lines) > 1:
        lines = lines[:-1]  # the last line of a sample may be cut short
    lines = [ln for ln in lines[:100] if ln.strip()]
    if not lines:
        return default
    sample = "\n".join(lines)
    try:
        sniffed: str | None = csv.Sniffer().sniff(sample[:16384], delimiters="".join(DELIMITERS))
        sniffed = sniffed.delimiter  # type: ignore[union-attr]
    except csv.Error:
        sniffed = None

    def score(d: str) -> tuple:
        try:
            counts = [len(r) for r in csv.reader(io.StringIO(sample), delimiter=d) if r]
        except csv.Error:
            return (False, 0.0, False, False, 0)
        if not counts:
            return (False, 0.0, False, False, 0)
        mode, hits = Counter(counts).most_common(1)[0]
        return (mode > 1, round(hits / len(counts), 2), d == sniffed, d == default, mode)

    scores = {d: score(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=scores.__getitem__)
    splits, consistency = scores[best][:2]
    if splits and consistency >= 0.9:
        return best
    # No one character splits the rows evenly: are they columns separated by runs of spaces?
    widths = [len(ln.split()) for ln in lines]
    mode, hits = Counter(widths).most_common(1)[0]
    if mode > 1 and hits >= 0.9 * len(widths):
        return WHITESPACE
    return best if splits else default


def split_row(line: str, delimiter: str) -> list[str]:
    """One line of text split into its fields (a sniffing aid: no quoting rules for spaces)."""
    if delimiter == WHITESPACE:
        return line.split()
    return next(csv.reader(io.StringIO(line), delimiter=delimiter), [])


def has_header(text: str, delimiter: str) -> bool:
    """Does the sample start with column names? Not when every field of its first row is a
    number (a log exported without a header): names would then be the first customer's data."""
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    try:
        fields = [f.strip() for f in split_row(first, delimiter)]
    except csv.Error:
        return True
    return not (len(fields) > 1 and all(_NUMBER.fullmatch(f) for f in fields if f)
                and all(fields))


def generated_names(text: str, delimiter: str) -> list[str]:
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    return [f"column_{i + 1}" for i in range(len(split_row(first, delimiter)))]


def csv_note(delimiter: str, header: bool, names: list[str] | None) -> list[str]:
    """The notes a reader gives about how it split a text file."""
    out = []
    if delimiter == WHITESPACE:
        out.append("Columns are separated by runs of spaces.")
    elif delimiter != ",":
        out.append(f"Columns are separated by {_DELIMITER_NAMES[delimiter]}s.")
    if not header and names:
        out.append(f"The file has no header row (its first row is data), so its columns are "
                   f"named {names[0]} to {names[-1]}; rename them in the file to use your own.")
    return out


# ------------------------------------------------------------------------------------ CSV


@dataclass(frozen=True)
class TextSniff:
    """How a delimited text file is laid out, from its first bytes."""

    gz: bool  # gzip-compressed (by its name or its magic bytes)
    encoding: str
    text: str  # the decoded sample
    delimiter: str  # one character, or WHITESPACE
    header: bool
    names: list[str] | None  # generated column names when there is no header row


def sniff_text(p: Path, src: str, gz: bool) -> TextSniff:
    """Encoding, delimiter and header of a text table, shared by every reader of one (the
    whole-file loader, the chunked reader and the event-log reader). Binary or empty files get
    one sentence."""
    head = _read_head(p, src, gz)
    if not gz and head[:2] == b"\x1f\x8b":
        gz = True
        head = _read_head(p, src, gz)
    _check_text(head, src)
    if not head.strip():
        raise DataError(f"File '{src}' contains no data; export the table again with its rows.")
    encoding = _detect_encoding(head, len(head) >= _SAMPLE_BYTES)
    text = _decode_sample(head, encoding)
    default = "\t" if p.name.lower().removesuffix(".gz").endswith(".tsv") else ","
    delimiter = _sniff_delimiter(text, default)
    header = has_header(text, delimiter)
    return TextSniff(gz, encoding, text, delimiter, header,
                     None if header else generated_names(text, delimiter))


def _read_csv(p: Path, src: str, gz: bool, notes: list[str]):
    sniff = sniff_text(p, src, gz)
    if sniff.gz and not gz:
        notes.append("The file is gzip-compressed; it was decompressed while reading.")
    gz, encoding, text = sniff.gz, sniff.encoding, sniff.text
    delimiter, header, names = sniff.delimiter, sniff.header, sniff.names
    if header:
        _check_header(text, delimiter, src)
    codes = zero_padded_columns(text, delimiter, names)

    if delimiter == WHITESPACE or not header:
        # pyarrow splits on one character and always reads a header: pandas does both.
        frame, encoding = _read_pandas_guarded(p, src, gz, encoding, delimiter, codes, names)
    else:
        frame, encoding = _read_csv_arrow_or_pandas(p, src, gz, encoding, delimiter, notes, codes)
    if encoding not in ("utf-8", "utf-8-sig"):
        notes.append(f"The file is not UTF-8; it was read as {encoding}.")
    notes.extend(csv_note(delimiter, header, names))
    return frame, encoding, delimiter


_DIGITS = re.compile(r"\d+")
_ZERO_PADDED = re.compile(r"0\d+")


def zero_padded_columns(text: str, delimiter: str,
                        names: list[str] | None = None) -> tuple[str, ...]:
    """Header names of the sample's columns that hold digit codes with leading zeros ("00123"):
    IDs, postcodes, account numbers. Read as numbers they would lose the zeros and stop
    matching the systems they come from, so they are read as text. ``names``: the columns'
    names when the text has no header row (every row is then data)."""
    try:
        if delimiter == WHITESPACE:
            rows = [ln.split() for ln in text.splitlines() if ln.strip()]
        else:
            rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error:
        return ()
    if names is not None:
        rows = [list(names), *rows]
    if len(rows) < 2:
        return ()
    header, body = rows[0], rows[1:-1] if len(rows) > 2 else rows[1:]  # the last may be cut
    found = []
    for i, name in enumerate(header):
        values = [r[i].strip() for r in body if i < len(r) and r[i].strip()]
        if (values and all(_DIGITS.fullmatch(v) for v in values)
                and any(_ZERO_PADDED.fullmatch(v) for v in values)):
            found.append(name)
    return tuple(found)


def _check_header(text: str, delimiter: str, src: str) -> None:
    try:
        header = split_row(next(iter(text.splitlines()), ""), delimiter)
    except csv.Error:
        return
    _check_duplicates([h.strip().lstrip("\ufeff") for h in header], src)


def _read_csv_arrow_or_pandas(p, src, gz, encoding, delimiter, notes, codes=()):
    for attempt in range(2):
        try:
            frame, binary = _read_csv_arrow(p, gz, encoding, delimiter, codes)
        except Exception as exc:  # fall back to pandas below
            if "Empty CSV" in str(exc):
                raise DataError(
                    f"File '{src}' contains no data; export the table again with its rows."
                ) from exc
            break
        if binary and attempt == 0 and encoding in ("utf-8", "utf-8-sig"):
            # Text that is not valid UTF-8 further down the file: detect again around it.
            encoding = _encoding_from_whole_file(p, gz)
            continue
        return frame, encoding
    frame, encoding = _read_pandas_guarded(p, src, gz, encoding, delimiter, codes, None)
    notes.append("The fast reader could not parse the file; it was read with the pandas reader.")
    return frame, encoding


def _read_pandas_guarded(p, src, gz, encoding, delimiter, codes, names):
    """(frame, encoding) read by pandas; text that is not UTF-8 after all is detected again."""
    try:
        try:
            return _read_csv_pandas(p, gz, encoding, delimiter, codes, names), encoding
        except UnicodeDecodeError:
            if encoding not in ("utf-8", "utf-8-sig"):
                raise
            encoding = _encoding_from_whole_file(p, gz)
            return _read_csv_pandas(p, gz, encoding, delimiter, codes, names), encoding
    except pd.errors.EmptyDataError as exc:
        raise DataError(
            f"File '{src}' contains no data; export the table again with its rows."
        ) from exc
    except Exception as exc:
        raise _unparseable(src, exc) from exc


def _unparseable(src: str, exc: BaseException) -> DataError:
    return DataError(
        f"File '{src}' could not be parsed as a table ({_short(exc)}); check that every row has "
        "the same number of fields and that the delimiter is a comma, semicolon, tab, pipe or "
        "runs of spaces."
    )


def _encoding_from_whole_file(p: Path, gz: bool) -> str:
    with _open_binary(p, gz) as fh:
        data = fh.read()
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        start = exc.start
    window = data[max(0, start - 32768): start + 32768]
    return _guess_single_byte(window)


def _read_csv_arrow(p: Path, gz: bool, encoding: str, delimiter: str, codes=()):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    read_opts = pacsv.ReadOptions(encoding=arrow_encoding, block_size=4 << 20)
    convert = pacsv.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=True,
                                   column_types={c: pa.string() for c in codes})
    table = None
    last: Exception | None = None
    for newlines in (False, True):  # quoted newlines are rare and slow the parser down
        parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=newlines)
        stream = pa.input_stream(str(p), compression="gzip" if gz else None)
        try:
            table = pacsv.read_csv(stream, read_options=read_opts, parse_options=parse,
                                   convert_options=convert)
            break
        except pa.ArrowInvalid as exc:
            last = exc
            if "Empty CSV" in str(exc):
                raise
        finally:
            stream.close()
    if table is None:
        assert last is not None
        raise last
    binary = any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)
                 for f in table.schema)
    frame = table.to_pandas(date_as_object=False, split_blocks=True, self_destruct=True)
    return frame, binary


def _read_csv_pandas(p: Path, gz: bool, encoding: str, delimiter: str,
                     codes=(), names: list[str] | None = None) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.read_csv(
            p,
            sep=delimiter,
            header=None if names else "infer",
            names=names,
            encoding=encoding,
            engine="c",
            compression="gzip" if gz else None,
            low_memory=False,
            dtype={c: str for c in codes} or None,
        )


# ------------------------------------------------------------------- Parquet, Excel, JSON


def _read_parquet(p: Path, src: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(p)
    except Exception as exc:
        raise DataError(
            f"File '{src}' is not a readable Parquet file ({_short(exc)}); "
            "export it again as Parquet or CSV."
        ) from exc
    _check_duplicates(table.column_names, src)
    frame = table.to_pandas(date_as_object=False)
    return _index_to_columns(frame)


def _read_excel(p: Path, src: str, sheet, notes: list[str]) -> pd.DataFrame:
    try:
        book = pd.ExcelFile(p)
    except ImportError as exc:
        raise DataError(
            f"File '{src}' is an old .xls workbook that needs the xlrd package; "
            "save it as .xlsx or CSV, or install xlrd."
        ) from exc
    except Exception as exc:
        raise DataError(
            f"File '{src}' is not a readable Excel workbook ({_short(exc)}); "
            "open it in Excel and save it again as .xlsx or CSV."
        ) from exc
    with book:
        names = list(book.sheet_names)
        if not names:
            raise DataError(f"Workbook '{src}' has no sheets; save a sheet with the table in it.")
        if sheet is None:
            chosen = names[0]
        elif isinstance(sheet, int) and not isinstance(sheet, bool):
            if not 0 <= sheet < len(names):
                raise DataError(
                    f"Workbook '{src}' has no sheet number {sheet}; use 0 to {len(names) - 1} "
                    f"or a sheet name ({', '.join(names)})."
                )
            chosen = names[sheet]
        else:
            if str(sheet) not in names:
                raise DataError(
                    f"Workbook '{src}' has no sheet named '{sheet}'; "
                    f"use one of {', '.join(names)}."
                )
            chosen = str(sheet)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = book.parse(chosen)
            if sheet is None and frame.empty and len(frame.columns) == 0:
                for other in names[1:]:
                    candidate = book.parse(other)
                    if len(candidate.columns):
                        notes.append(f"The first sheet is empty; read sheet '{other}' instead.")
                        chosen, frame = other, candidate
                        break
            if len(frame.columns):
                raw = book.parse(chosen, header=None, nrows=1)
                if len(raw):
                    header = ["" if pd.isna(v) else str(v).strip() for v in raw.iloc[0]]
                    _check_duplicates([h for h in header if h], src)
    if len(names) > 1:
        notes.append(f"Read sheet '{chosen}' (the workbook has {len(names)} sheets).")
    return frame


def _read_text(p: Path, src: str, gz: bool) -> tuple[str, str]:
    head = _read_head(p, src, gz)
    _check_text(head, src)
    with _open_binary(p, gz) as fh:
        data = fh.read()
    encoding = _detect_encoding(data, truncated=False)
    return data.decode(encoding, errors="replace"), encoding


def _read_json(p: Path, src: str, gz: bool, notes: list[str]):
    text, encoding = _read_text(p, src, gz)
    if not text.strip():
        raise DataError(f"File '{src}' contains no data; export the table again with its rows.")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) > 1 and lines[0].lstrip().startswith("{"):
            try:
                records = [json.loads(ln) for ln in lines]
            except json.JSONDecodeError:
                records = None
            if records is not None:
                notes.append("The file holds one JSON object per line; read it as JSON lines.")
                return _records_frame(records, src), encoding
        raise DataError(
            f"File '{src}' is not valid JSON ({_short(exc)}); fix the syntax or export it again."
        ) from exc
    return _json_to_frame(obj, src, notes), encoding


def _not_a_table(src: str) -> DataError:
    return DataError(
        f"File '{src}' does not hold a table; use a JSON array of records "
        "([{\"column\": value, ...}, ...]) or a pandas-style JSON export."
    )


def _records_frame(records: list, src: str) -> pd.DataFrame:
    if not records:
        raise DataError(f"File '{src}' contains no rows; export the table again with its rows.")
    if not all(isinstance(r, dict) for r in records):
        raise _not_a_table(src)
    return pd.DataFrame.from_records(records)


def _json_to_frame(obj, src: str, notes: list[str]) -> pd.DataFrame:
    if isinstance(obj, list):
        return _records_frame(obj, src)
    if not isinstance(obj, dict) or not obj:
        raise _not_a_table(src)
    # pandas orient="table": {"schema": ..., "data": [records]}
    if "schema" in obj and isinstance(obj.get("data"), list):
        frame = _records_frame(obj["data"], src)
        keys = obj["schema"].get("primaryKey") if isinstance(obj["schema"], dict) else None
        if keys == ["index"] and "index" in frame.columns:
            frame = frame.drop(columns="index")
        return frame
    # pandas orient="split": {"columns": [...], "data": [[...], ...]}
    if isinstance(obj.get("columns"), list) and isinstance(obj.get("data"), list):
        rows = obj["data"]
        if not rows:
            raise DataError(f"File '{src}' contains no rows; export the table again with its rows.")
        if not all(isinstance(r, list) and len(r) == len(obj["columns"]) for r in rows):
            raise _not_a_table(src)
        return pd.DataFrame(rows, columns=[str(c) for c in obj["columns"]])
    values = list(obj.values())
    # {"customers": [records]}: a single key wrapping the table
    if len(obj) == 1 and isinstance(values[0], list) and values[0] \
            and all(isinstance(r, dict) for r in values[0]):
        key = next(iter(obj))
        notes.append(f"Read the records under the JSON key '{key}'.")
        return _records_frame(values[0], src)
    # pandas orient="columns": {col: {row: value}}; or {col: [values]}
    if all(isinstance(v, dict) for v in values):
        inner = {str(k) for v in values for k in v}
        if all(str(k).isdigit() for k in obj) and not all(k.isdigit() for k in inner):
            frame = pd.DataFrame.from_dict(obj, orient="index")  # {row: {col: value}}
        else:
            frame = pd.DataFrame(obj)  # {col: {row: value}}
        if frame.empty:
            raise DataError(f"File '{src}' contains no rows; export the table again with its rows.")
        return frame.reset_index(drop=True)
    if all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
        if not values[0]:
            raise DataError(f"File '{src}' contains no rows; export the table again with its rows.")
        return pd.DataFrame(obj)
    raise _not_a_table(src)


def _read_jsonl(p: Path, src: str, gz: bool, notes: list[str]):
    text, encoding = _read_text(p, src, gz)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise DataError(f"File '{src}' contains no data; export the table again with its rows.")
    frame = None
    try:
        import pyarrow as pa
        import pyarrow.json as pajson

        table = pajson.read_json(pa.BufferReader("\n".join(lines).encode("utf-8")))
        if not any(pa.types.is_struct(f.type) or pa.types.is_list(f.type) for f in table.schema):
            frame = table.to_pandas(date_as_object=False)
    except Exception:  # noqa: BLE001 - fall back to the line-by-line parser
        frame = None
    if frame is None:
        records = []
        for i, line in enumerate(lines, start=1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"File '{src}' has invalid JSON on non-empty line {i} ({_short(exc)}); "
                    "each line must be one JSON object."
                ) from exc
        frame = _records_frame(records, src)
    return frame, encoding


# ------------------------------------------------------------------------------- tidying


def _check_duplicates(names: list[str], src: str) -> None:
    counts = Counter(str(n).strip() for n in names)
    dups = [n for n, c in counts.items() if c > 1]
    if dups:
        # repr-style quoting: a name with a line break or a control character must not
        # break the one-sentence message in two.
        shown = ", ".join(repr(d) for d in dups[:5])
        raise DataError(
            f"File '{src}' has duplicate column names ({shown}); "
            "rename the columns so that each name is unique."
        )


def _index_to_columns(frame: pd.DataFrame) -> pd.DataFrame:
    if isinstance(frame.index, pd.RangeIndex):
        return frame
    named = any(n is not None for n in frame.index.names)
    return frame.reset_index(drop=not named)


def _tidy(frame: pd.DataFrame, src: str, delimiter: str | None, notes: list[str]):
    if len(frame.columns) == 0:
        raise DataError(f"File '{src}' contains no columns; export the table again with a header.")
    names = []
    unnamed: list[str] = []
    for i, c in enumerate(frame.columns):
        name = str(c).strip().lstrip("\ufeff").strip()
        if not name:
            name = f"column_{i + 1}"
            unnamed.append(name)
        names.append(name)
    _check_duplicates(names, src)
    frame = frame.set_axis(names, axis=1)
    if len(frame) == 0:
        raise DataError(
            f"File '{src}' has a header but no data rows; export the table again with its rows."
        )

    new_cols: dict[str, pd.Series] = {}
    kept_rows: np.ndarray | None = None
    for name in names:
        s = frame[name]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            if s.notna().any():
                notes.append(f"{name}: column read as dates.")
            continue
        if s.dtype == object:
            s = _normalise_object(s)
        if not _is_text_dtype(s.dtype):
            if s is not frame[name]:
                new_cols[name] = s
            continue
        converted, present = _convert_text(name, s, delimiter, notes)
        new_cols[name] = converted
        if present is not None:  # values that failed to parse as dates still make a row
            kept_rows = present if kept_rows is None else kept_rows | present
    for name, values in new_cols.items():
        frame[name] = values
    _missing_for_impossible_numbers(frame, notes)
    for name in unnamed:
        if frame[name].isna().all():  # a trailing delimiter, not a column
            frame = frame.drop(columns=name)
            notes.append(f"An empty column without a name (position {name[7:]}) was dropped.")
        else:
            notes.append(f"Column {name[7:]} has no name; it was called {name}.")
    empty_rows = frame.isna().all(axis=1).to_numpy()
    if kept_rows is not None:
        empty_rows = empty_rows & ~kept_rows
    n_empty = int(empty_rows.sum())
    if n_empty:
        frame = frame.loc[~empty_rows]
        if len(frame) == 0:
            raise DataError(
                f"File '{src}' has a header but no data rows (every row is empty); "
                "export the table again with its rows."
            )
        notes.append(f"{n_empty} completely empty rows were dropped.")
    return frame.reset_index(drop=True)


# Beyond this a number is an overflow or a sentinel, not a measurement (float32, which the
# feature matrix uses, ends near 3.4e38; squaring 1e308 overflows a float64).
MAX_MAGNITUDE = 1e30


def _missing_for_impossible_numbers(frame: pd.DataFrame, notes: list[str]) -> None:
    """Infinities and absurd magnitudes become missing values, with a note per column."""
    for name in frame.columns:
        s = frame[name]
        if not pd.api.types.is_float_dtype(s.dtype):
            continue
        values = s.to_numpy(dtype=float, na_value=np.nan)
        # nan_to_num turns +-inf into +-1.8e308: one comparison finds both kinds.
        bad = np.abs(np.nan_to_num(values)) >= MAX_MAGNITUDE
        n = int(bad.sum())
        if n:
            frame[name] = s.mask(bad)
            notes.append(f"{name}: {n:,} infinite or impossibly large value(s) (beyond "
                         f"{MAX_MAGNITUDE:.0e}) read as missing.")


def _is_text_dtype(dtype) -> bool:
    return isinstance(dtype, pd.StringDtype) or dtype == object


def _normalise_object(s: pd.Series) -> pd.Series:
    """Object columns (from JSON or Excel): all-text becomes str; nested values become JSON."""
    kind = pd.api.types.infer_dtype(s, skipna=True)
    if kind == "string":
        return s.astype("str")
    if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
        return pd.to_numeric(s, errors="coerce")
    if kind in ("boolean", "empty"):
        return s
    if kind in ("datetime", "datetime64", "date"):
        try:
            return pd.to_datetime(s, errors="coerce")
        except Exception:  # noqa: BLE001 - leave the column as it is
            return s

    def _cell(v):
        if isinstance(v, (dict, list)):
            return json.dumps(v, ensure_ascii=False, default=str)
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        return str(v)

    return pd.Series([_cell(v) for v in s], index=s.index, dtype="str", name=s.name)


def _convert_text(name: str, s: pd.Series, delimiter: str | None, notes: list[str]):
    """The column converted (blanks to missing, then numbers or dates) and, for dates, which
    rows had a value before parsing."""
    if s.dtype == object:
        s = s.astype("str")
    stripped = s.str.strip()
    blank = (stripped == "").fillna(False).to_numpy(dtype=bool)
    n_blank = int(blank.sum())
    if n_blank:
        s = s.mask(blank)
        stripped = stripped.mask(blank)
    blank_note = (
        f"{n_blank} blank value{'s' if n_blank != 1 else ''} read as missing" if n_blank else ""
    )
    values = stripped.dropna()
    if len(values) == 0:
        if blank_note:
            notes.append(f"{name}: {blank_note}.")
        return (s.astype("float64") if n_blank == len(s) else s), None

    if values.str.fullmatch(r"\d+").all() and values.str.fullmatch(r"0\d+").any():
        notes.append(f"{name}: kept as text (codes like {values[values.str.match('0')].iloc[0]!r}"
                     " have leading zeros).")
        return s, None
    numbers, how = _as_numbers(stripped, values, delimiter)
    if numbers is not None:
        detail = "column read as numbers" + (f" ({how})" if how else "")
        notes.append(f"{name}: {blank_note}; {detail}." if blank_note else f"{name}: {detail}.")
        return numbers, None

    dates, n_bad = _as_dates(stripped, values)
    if dates is not None:
        detail = "column read as dates"
        if n_bad:
            detail += f" ({n_bad} value{'s' if n_bad != 1 else ''} that are not dates set to missing)"
        notes.append(f"{name}: {blank_note}; {detail}." if blank_note else f"{name}: {detail}.")
        return dates, stripped.notna().to_numpy()

    if blank_note:
        notes.append(f"{name}: {blank_note}.")
    return s, None


_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?|[+-]?\d+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?(\d+|\d{1,3}(\.\d{3})+)(,\d+)?")


def _all_numbers(values: pd.Series) -> bool:
    parsed = pd.to_numeric(values, errors="coerce")
    return bool(parsed.notna().all())


def _as_numbers(stripped: pd.Series, values: pd.Series, delimiter: str | None):
    """Whole column as float/int if every non-missing value is a number, else (None, '')."""
    head = values.iloc[:1000]
    if _all_numbers(head) and _all_numbers(values):
        return pd.to_numeric(stripped, errors="coerce"), ""
    if not head.str.contains(",", regex=False).any() and not values.str.contains(
        ",", regex=False
    ).any():
        return None, ""
    attempts = ["decimal", "thousands"] if delimiter in (";", "\t") else ["thousands", "decimal"]
    for how in attempts:
        pattern = _DECIMAL_COMMA if how == "decimal" else _THOUSANDS
        if not head.str.fullmatch(pattern).all() or not values.str.fullmatch(pattern).all():
            continue
        if how == "decimal":
            text = stripped.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
            label = "with a decimal comma"
        else:
            text = stripped.str.replace(",", "", regex=False)
            label = "thousands separators removed"
        out = pd.to_numeric(text, errors="coerce")
        if out.notna().sum() == len(values):
            return out, label
    return None, ""


def _parse_dates(values: pd.Series, **kw) -> pd.Series | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pd.to_datetime(values, errors="coerce", **kw)
        except Exception:  # noqa: BLE001 - mixed time zones, overflow, ...
            return None


def _as_dates(stripped: pd.Series, values: pd.Series):
    step = max(1, len(values) // _DATE_SAMPLE)
    sample = values.iloc[::step].iloc[:_DATE_SAMPLE]
    if not sample.str.contains(r"\d", regex=True).mean() >= _DATE_SHARE:
        return None, 0
    lengths = sample.str.len()
    if lengths.min() < 6 or lengths.max() > 40:
        return None, 0
    options: list[dict] = [{}, {"dayfirst": True}]
    if len(values) <= _MIXED_DATES_MAX_ROWS:
        options.append({"format": "mixed"})
    for kw in options:
        parsed = _parse_dates(sample, **kw)
        if parsed is None or parsed.notna().mean() < _DATE_SHARE:
            continue
        full = _parse_dates(stripped, **kw)
        if full is None:
            continue
        ok = int(full.notna().sum())
        if ok >= _DATE_SHARE * len(values):
            return full, len(values) - ok
    return None, 0
