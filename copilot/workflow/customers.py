"""A segmentation's own customers as the CRM frame: one reader for ``export`` and the chat.

Before this module the chat's ``/crm`` read ``assignments.csv`` without the command's checks
(a damaged or mismatched file, a model with another k) and without its recovery of IDs that
lost their leading zeros, so the same folder could export differently from the two.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from copilot.core import InputError
from copilot.llm import display_names
from copilot.segmentation import DEFAULT_SALT, SavedModel, crm_frame, ids_as_text


@dataclass
class OwnCustomers:
    frame: pd.DataFrame  # the CRM frame: ID, segment, name, confidence, holdout, version, time
    assignments: pd.Series  # segment per customer ID (for the glossary's version matching)
    model_version: str
    has_ids: bool  # False when the rows are only numbered ("row")
    names: dict[int, str] = field(default_factory=dict)  # names somebody gave (no "Segment N")
    notes: list[str] = field(default_factory=list)


def real_names(names: dict[int, str]) -> dict[int, str]:
    """The names somebody gave: "Segment N" is what the engine calls a segment nobody named."""
    return {s: n for s, n in names.items() if n and n != f"Segment {s}"}


def read_own_customers(file: Path, analysis, *, model: SavedModel | None = None,
                       names: dict[int, str] | None = None, holdout_share: float = 0.1,
                       salt: str = DEFAULT_SALT) -> OwnCustomers:
    """The customers ``analysis`` was built on, from its ``assignments.csv`` (``file``).

    Checked before use, each with one sentence: the file exists and is the assignments file,
    every row has a segment, its segments and row count match ``analysis``, and ``model`` (the
    saved model beside it, when there is one) has the same k. Names: ``names`` over the
    model's, over "Segment N". IDs that a reader turned from ``00123`` into 123 are read
    again as text from the segmented CSV.
    """
    if not file.is_file():
        raise InputError(f"{file.parent} has no {file.name} (the per-customer segments); run "
                         "the segmentation again.")
    try:
        raw = pd.read_csv(file, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise InputError(f"Cannot read {file} ({type(err).__name__}); run the segmentation "
                         "again.") from None
    if len(raw.columns) < 3 or not {"segment", "confidence"} <= set(raw.columns):
        raise InputError(f"{file} is not the assignments file segment writes (it needs an ID "
                         "column, segment and confidence); run the segmentation again.")
    id_column = str(raw.columns[0])
    segments = pd.to_numeric(raw["segment"], errors="coerce")
    confidence = pd.to_numeric(raw["confidence"], errors="coerce")
    if segments.isna().any():
        raise InputError(f"{file} has rows without a segment number; run the segmentation "
                         "again.")
    known = {s.segment for s in analysis.sizes} | {-1}
    stray = sorted(set(segments.astype(int)) - known)
    if stray or len(raw) != analysis.n_rows:
        why = f"segment {stray[0]} is unknown" if stray else "the row counts differ"
        raise InputError(f"{file} does not match the analysis beside it ({why}); run the "
                         "segmentation again.")
    notes: list[str] = []
    given = real_names(names or {})
    if model is not None:
        if model.info.k != analysis.choice.k:
            raise InputError(f"The saved model has {model.info.k} segments but the analysis "
                             f"has {analysis.choice.k}; run the segmentation again.")
        version = model.info.bundle_id
        assigned_at = model.info.created_at
        given = {**real_names({int(k): v for k, v in model.info.names.items()}), **given}
    else:
        # No saved model: the segmentation is identified by its assignments' content.
        version = hashlib.sha256(file.read_bytes()).hexdigest()[:16]
        assigned_at = datetime.fromtimestamp(file.stat().st_mtime, UTC).isoformat(
            timespec="seconds")
    ids = _recover_leading_zeros(ids_as_text(raw[id_column]), analysis, id_column, notes)
    # The CSV shows what every other surface shows (the one display rule: a given name, else
    # the draft from the segment's traits); ``names`` below stays the given ones, which a
    # glossary keeps, so a draft never replaces a name a previous glossary carries over.
    shown = display_names(analysis, given)
    all_names = {s.segment: shown.get(s.segment, f"Segment {s.segment}")
                 for s in analysis.sizes if s.segment >= 0}
    frame = crm_frame(ids, segments.astype(int), confidence.fillna(0.0), names=all_names,
                      model_version=version, assigned_at=assigned_at, id_column=id_column,
                      holdout_share=holdout_share, salt=salt)
    return OwnCustomers(frame=frame,
                        assignments=pd.Series(segments.astype(int).to_numpy(),
                                              index=ids.to_numpy()),
                        model_version=version, has_ids=id_column != "row", names=given,
                        notes=notes)


def _recover_leading_zeros(ids: pd.Series, analysis, id_column: str,
                           notes: list[str]) -> pd.Series:
    """IDs as the segmented CSV spells them, when its reader turned ``00123`` into 123.

    Only all-digit IDs can have lost zeros; the original file is read again (the ID column
    only, as text) and used when it still holds the same IDs in the same order.
    """
    digits = ids.str.fullmatch(r"\d+")
    if not len(ids) or not digits.all() or analysis.source.get("format") != "csv":
        return ids
    path = Path(str(analysis.source.get("path", "")))
    if not path.is_file():
        return ids
    try:
        with path.open("rb") as fh:
            header = fh.readline().decode("utf-8", errors="replace")
        sep = next((d for d in (",", ";", "\t", "|")
                    if id_column in [h.strip().strip('"') for h in header.split(d)]), None)
        if sep is None:
            return ids
        text = pd.read_csv(path, usecols=[id_column], dtype=str, keep_default_na=False,
                           sep=sep, encoding_errors="replace")[id_column].str.strip()
    except (OSError, ValueError, UnicodeDecodeError):
        return ids
    same = len(text) == len(ids) and (
        text.str.lstrip("0").replace("", "0").to_numpy()
        == ids.str.lstrip("0").replace("", "0").to_numpy()).all()
    if not same or (text.to_numpy() == ids.to_numpy()).all():
        return ids
    notes.append(f"Customer IDs were read again as text from {path} to keep their "
                 "leading zeros.")
    return text.reset_index(drop=True)


def folder_customers(folder, analysis, *, names: dict[int, str] | None = None,
                     require_model: bool = False, holdout_share: float = 0.1,
                     salt: str = DEFAULT_SALT) -> OwnCustomers:
    """The customers of an analysis folder (``copilot.workflow.AnalysisFolder``) with its saved
    model when it has one (``require_model``: refused without)."""
    model = folder.saved_model() if require_model or folder.has_model() else None
    return read_own_customers(folder.assignments, analysis, model=model, names=names,
                              holdout_share=holdout_share, salt=salt)


@dataclass(frozen=True)
class CrmFile:
    """A written CRM import file."""

    path: Path
    rows: int
    held: int  # customers flagged as the holdout group


def write_crm(frame: pd.DataFrame, out: Path, preset) -> CrmFile:
    """Write the CRM frame as ``preset``'s import file (atomically)."""
    from copilot.segmentation import write_crm_csv

    write_crm_csv(frame, out, preset)
    return CrmFile(path=Path(out), rows=len(frame), held=int(frame["holdout"].sum()))
