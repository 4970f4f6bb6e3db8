"""One reader per table format: CSV and other delimited text (pyarrow, or pandas where pyarrow
cannot), Parquet, Excel and JSON (records, columns or JSON lines). Each gives a raw frame and
notes; tidying is the same for all (``table_tidy``)."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pandas as pd

from copilot.core import DataError
from copilot.segmentation.data.table_format import _check_text, _open_binary, _read_head, _short
from copilot.segmentation.data.table_tidy import _check_duplicates, _index_to_columns
from copilot.segmentation.data.text_sniff import (
    WHITESPACE,
    _detect_encoding,
    _guess_single_byte,
    csv_note,
    sniff_text,
    split_row,
    zero_padded_columns,
)

# ------------------------------------------------------------------------------------ CSV


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
