"""A deterministic holdout (control) flag per customer, balanced across segments.

Each customer's place in line is a hash of the experiment salt and their ID, so the flag is the
same on every re-run, in any row order, on any machine, and a new salt draws a new group.
Within each segment the customers with the lowest hashes are held out, ``round(share * n)`` of
them: every segment gets its share exactly (to one customer), which a plain "hash below a
threshold" gives only on average.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from copilot.errors import InputError
from copilot.segmentation.ids import ids_as_text

DEFAULT_SALT = "segment-copilot-holdout"


def holdout_flags(ids, segments, *, share: float = 0.1, salt: str = DEFAULT_SALT) -> np.ndarray:
    """True for the customers held out as the control group.

    Parameters
    ----------
    ids
        Customer IDs (any values; compared as the text ``ids_as_text`` gives).
    segments
        Each customer's segment, same length as ``ids``.
    share
        The held-out share of each segment, between 0 and 0.5.
    salt
        Names the experiment: the same salt gives the same group.

    Examples
    --------
    >>> flags = holdout_flags([f"c{i}" for i in range(100)], [0] * 50 + [1] * 50)
    >>> int(flags[:50].sum()), int(flags[50:].sum())
    (5, 5)
    """
    if not 0 <= share <= 0.5:
        raise InputError(f"The holdout share must be between 0 (no control group) and 0.5, "
                         f"not {share}; 10% (0.1) is usual.")
    # The ID as text a person would type, so 12346 and 12346.0 (one reader's int, another's
    # float) are the same customer with the same flag; a missing ID is the empty text.
    keys = ids_as_text(pd.Series(ids, dtype=object)).to_numpy(dtype=object)
    segments = np.asarray(segments)
    if len(keys) != len(segments):
        raise ValueError("ids and segments differ in length")
    order = np.array([int.from_bytes(hashlib.sha256(f"{salt}\x1f{k}".encode()).digest()[:8],
                                     "big") for k in keys], dtype=np.uint64)
    flags = np.zeros(len(keys), dtype=bool)
    for segment in np.unique(segments):
        members = np.flatnonzero(segments == segment)
        n = round(share * len(members))
        if n:
            # Ties (equal IDs) fall back to the ID text so the pick never depends on row order.
            ranked = members[np.lexsort((keys[members], order[members]))]
            flags[ranked[:n]] = True
    return flags
