"""A text table's layout from its first bytes: encoding, delimiter (one character, or runs of
spaces), whether the first row is a header, and which columns hold zero-padded codes. Shared by
the whole-file loader, the chunked reader and the event-log reader."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from copilot.core import DataError
from copilot.segmentation.data.table_format import _SAMPLE_BYTES, _check_text, _read_head

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
#: Columns separated by runs of spaces (fixed-width text exports, classic purchase logs): no
#: single character splits them, so it is a delimiter of its own, read with a pattern.
WHITESPACE = r"\s+"
_NUMBER = re.compile(r"[-+]?(\d[\d,]*\.?\d*|\.\d+)([eE][-+]?\d+)?")


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
