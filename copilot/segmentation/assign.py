"""Assign a table of customers with a saved model: the CRM-ready frame and what to tell the user.

Checks come before scoring, each a sentence naming the columns: training columns that are
missing (refused), numeric training columns that now hold text (refused), extra columns
(ignored, noted). Rows with no value in any feature cannot be scored: they are kept, marked
``unscored`` with confidence 0, and counted in a note, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from copilot.errors import InputError
from copilot.segmentation.bundle import SavedModel
from copilot.segmentation.holdout import DEFAULT_SALT, holdout_flags

# A numeric training column whose values mostly fail to parse as numbers was retyped.
_RETYPED_SHARE = 0.5


@dataclass(frozen=True)
class Assignment:
    frame: pd.DataFrame  # id, segment, segment_name, confidence, holdout, model_version, assigned_at
    notes: tuple[str, ...]


def assign_table(model: SavedModel, df: pd.DataFrame, *, holdout_share: float = 0.1,
                 salt: str = DEFAULT_SALT) -> Assignment:
    """Segment, name, confidence and holdout flag for every row of ``df``."""
    info = model.info
    notes: list[str] = []
    _check_types(model, df)
    used = set(info.preparation.input_columns) | {c.name for c in info.schema_}
    extra = [str(c) for c in df.columns if c not in used]
    if extra:
        notes.append(f"{len(extra)} column(s) the model does not know are ignored: "
                     f"{', '.join(extra[:10])}{' ...' if len(extra) > 10 else ''}.")
    labels, confidence = model.assign(df)
    features = [c for c in info.preparation.input_columns if c in df.columns]
    unscored = df[features].isna().all(axis=1).to_numpy() if features else np.zeros(len(df), bool)
    labels = np.where(unscored, -2, labels)
    confidence = np.where(unscored, 0.0, confidence)
    if unscored.any():
        notes.append(f"{int(unscored.sum()):,} row(s) have no value in any feature and are "
                     "marked unscored.")
    names = {**{int(k): v for k, v in info.names.items()}, -1: "unassigned", -2: "unscored"}
    id_column = info.id_column if info.id_column in df.columns else None
    ids = df[id_column].to_numpy() if id_column else np.arange(1, len(df) + 1)
    frame = pd.DataFrame({
        id_column or "row": ids,
        "segment": np.where(labels == -2, -1, labels),
        "segment_name": pd.Series(labels).map(names).to_numpy(),
        "confidence": np.round(confidence, 4),
        "holdout": holdout_flags(ids, labels, share=holdout_share, salt=salt),
        "model_version": info.bundle_id,
        "assigned_at": datetime.now(UTC).isoformat(timespec="seconds"),
    })
    return Assignment(frame, tuple(notes))


def _check_types(model: SavedModel, df: pd.DataFrame) -> None:
    """Refuse numeric training columns that now hold text, naming them."""
    retyped = []
    for step in model.info.preparation.numeric:
        if step.source != "numeric" or step.name not in df.columns:
            continue
        s = df[step.name]
        if pd.api.types.is_numeric_dtype(s):
            continue
        present = s.notna()
        if not present.any():
            continue
        failed = pd.to_numeric(s[present], errors="coerce").isna().mean()
        if failed > _RETYPED_SHARE:
            retyped.append(step.name)
    if retyped:
        raise InputError(f"Column(s) {', '.join(retyped)} held numbers when the model was "
                         "trained but hold text here; fix their values or types and assign again.")
