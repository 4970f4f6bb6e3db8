"""Customer IDs as the text a person typed, whatever type a reader gave them.

One rule serves the holdout hash, the CRM file and the assignments: a control group must not
change because one file's reader saw ``12346`` and another's ``12346.0``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_WHOLE_WITH_POINT_ZERO = re.compile(r"^-?\d+\.0+$")


def ids_as_text(values) -> pd.Series:
    """Customer IDs as text, as a person would type them.

    Text stays as it is (leading zeros included); whole numbers stored as floats (a column with
    a gap, read by pandas) lose the ``.0``; so does a text column whose every value is a whole
    number followed by ``.0`` (such a float column written to CSV). Missing IDs become "".
    """
    s = pd.Series(values)
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(str)
    if pd.api.types.is_float_dtype(s.dtype):
        finite = s.dropna()
        if len(finite) and np.all(np.isfinite(finite)) and np.all(finite == np.round(finite)):
            return s.map(lambda v: "" if pd.isna(v) else str(int(v)))
        return s.map(lambda v: "" if pd.isna(v) else repr(float(v)))
    kind = pd.api.types.infer_dtype(s, skipna=True)
    if pd.api.types.is_integer_dtype(s.dtype) or kind == "integer":
        # Whole numbers (an int column, or ints held as objects, as the holdout passes them):
        # converted in one C loop, not a Python call per ID (1 s on a million IDs); text of
        # digits never carries a ".0" to drop.
        if not s.hasnans:
            return s.astype(str)
        return s.map(lambda v: "" if pd.isna(v) else str(int(v)))
    if kind == "string":
        text = s.fillna("").astype(str)  # the common case: already text, nothing to fix per ID
    else:
        text = s.map(_one_id)
    present = text[text != ""]
    if len(present) and present.map(lambda t: bool(_WHOLE_WITH_POINT_ZERO.match(t))).all():
        text = text.map(lambda t: t.split(".", 1)[0] if t else t)
    return text


def _one_id(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)
