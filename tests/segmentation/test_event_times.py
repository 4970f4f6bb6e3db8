"""Reading a time column: the separator guard in front of DuckDB's ``try_strptime`` (it skips
values that lack a format's '/', '.', '-' or ':') gives exactly what ``try_strptime`` alone
gives, value by value, on text written in every format and on text mangled in many ways."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from copilot.segmentation.data.event_times import TIME_FORMATS, _format_sql


def _texts(seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    stamps = pd.Timestamp("1999-01-01") + pd.to_timedelta(rng.integers(0, 10**9, 150), unit="s")
    texts = []
    for fmt in TIME_FORMATS:
        written = stamps.strftime("%Y-%m-%dT%H:%M:%S" if fmt == "iso" else fmt)
        texts += list(written)
        # Mangled: separators swapped or dropped, spaces added, cut short, letters inside.
        for a, b in (("/", "-"), ("/", "."), ("-", "/"), (".", "/"), (":", "."), (":", ""),
                     ("/", ""), (" ", "  "), (" ", "T"), ("0", "O")):
            texts += [t.replace(a, b) for t in written[:12]]
        texts += [t[: len(t) // 2] for t in written[:12]] + [f" {t} " for t in written[:12]]
    texts += ["", " ", "/", ":", "-", ".", "//::", "1/2", "12:30", "2024", "20240131",
              "31.12.2023", "2023-13-45", "n/a", "None", "1710325274", "2011-09-01 14:30"]
    return texts


def test_the_guard_changes_no_reading_of_any_value():
    con = duckdb.connect()
    con.register("t", pd.DataFrame({"x": _texts()}))
    for fmt in TIME_FORMATS:
        if fmt == "iso":
            continue
        guarded = _format_sql("x", fmt)
        assert "CASE WHEN" in guarded or "/" not in fmt  # the guard is there where it can be
        plain = f"try_strptime(x, '{fmt}')"
        rows = con.execute(f"SELECT x, {plain}, {guarded} FROM t").fetchall()
        read = sum(r[1] is not None for r in rows)
        assert read >= 150, fmt  # each format reads at least its own 150 values
        differ = [r for r in rows if r[1] != r[2]]
        assert differ == [], (fmt, differ[:5])
