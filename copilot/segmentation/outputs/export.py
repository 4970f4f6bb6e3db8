"""Write the analysis and the assignments to disk, atomically (``copilot.core.files``), and
CSV text that no spreadsheet runs as a formula."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from copilot.core import InputError, atomic_write_text
from copilot.segmentation.analysis import SegmentationRun

# A spreadsheet or CRM reads a cell starting with these as a formula (OWASP "CSV injection"):
# a segment renamed "=HYPERLINK(...)" would run in whoever opens crm.csv.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell that a spreadsheet would run as a formula prefixed with
    an apostrophe (shown as text, the way spreadsheets mark it); numbers such as ``-3`` are
    left alone, and an already prefixed cell is not prefixed twice."""
    out = frame.copy()
    for column in out.columns:
        s = out[column]
        if not (s.dtype == object or isinstance(s.dtype, pd.StringDtype)):
            continue
        text = s.astype("string")
        risky = text.str.startswith(_FORMULA_START).fillna(False)
        risky &= pd.to_numeric(text.where(risky), errors="coerce").isna()
        if risky.any():
            out[column] = s.where(~risky, "'" + text)
    return out


def csv_text(frame: pd.DataFrame, **kwargs) -> str:
    """A frame as CSV for people, spreadsheets and CRMs: no cell is a formula."""
    return neutralise_formulas(frame).to_csv(index=False, **kwargs)


def assignments_frame(run: SegmentationRun) -> pd.DataFrame:
    """One row per customer: the ID column, ``segment`` (-1 = unassigned) and ``confidence``."""
    name = run.analysis.id_column or "row"
    return pd.DataFrame({
        name: run.ids.to_numpy(),
        "segment": run.labels,
        "confidence": run.confidence.round(4),
    })


def write_outputs(run: SegmentationRun, out_dir: str | Path) -> dict[str, Path]:
    """Write ``assignments.csv`` and ``analysis.json`` into ``out_dir``; return their paths."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"The output path {out} is a file; give a folder with --out-dir.")
    assignments = atomic_write_text(out / "assignments.csv",
                                    csv_text(assignments_frame(run)))
    analysis = atomic_write_text(out / "analysis.json",
                                 run.analysis.model_dump_json(indent=2))
    return {"assignments": assignments, "analysis": analysis}
