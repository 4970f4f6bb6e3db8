"""Which format a table file is in (by its extension), and its first bytes: read through gzip
when compressed, refused with a hint when binary. Shared by every reader of a table file."""

from __future__ import annotations

import codecs
import gzip
import zlib
from pathlib import Path

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

_SAMPLE_BYTES = 64 * 1024  # bytes read to sniff encoding and delimiter


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
