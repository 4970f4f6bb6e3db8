"""Tidying a loaded frame the same way for every format: column names stripped (and refused
when duplicated), blank strings to missing, number-like text to numbers, date-like text to
datetimes, impossible numbers to missing, empty rows and unnamed empty columns dropped, each
change said in a note."""

from __future__ import annotations

import json
import re
import warnings
from collections import Counter

import numpy as np
import pandas as pd

from copilot.core import DataError

_DATE_SAMPLE = 200  # values tried before parsing a whole column as dates
_DATE_SHARE = 0.95  # share of values that must parse for a column to become dates
_MIXED_DATES_MAX_ROWS = 100_000  # slow per-value date parsing only below this size


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
