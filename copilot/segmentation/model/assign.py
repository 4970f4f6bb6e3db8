"""Assign a table of customers with a saved model: the CRM-ready frame and what to tell the user.

Checks come before scoring, each a sentence naming the columns: training columns that are
missing (refused), numeric training columns that now hold text (refused), extra columns
(ignored, noted). Rows with no value in any feature cannot be scored: they are kept, marked
``unscored`` with confidence 0, and counted in a note, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from copilot.core import InputError, percent
from copilot.segmentation.analysis import DEFAULT_SALT, OTHER_LEVEL, check_share, holdout_flags
from copilot.segmentation.data import CHUNK_ROWS, ids_as_text, iter_table_chunks
from copilot.segmentation.model.bundle import SavedModel

# A numeric training column whose values mostly fail to parse as numbers was retyped.
_RETYPED_SHARE = 0.5
# The bundle stores at most this many levels per category (bundle.feature_distributions): a
# shorter list is the whole list, so a value outside it is new.
_STORED_LEVELS = 50


@dataclass(frozen=True)
class Assignment:
    frame: pd.DataFrame  # id, segment, segment_name, confidence, holdout, model_version, assigned_at
    notes: tuple[str, ...]


def assign_table(model: SavedModel, df: pd.DataFrame, *, holdout_share: float = 0.1,
                 salt: str = DEFAULT_SALT, id_column: str | None = None,
                 require_id: bool = True) -> Assignment:
    """Segment, name, confidence and holdout flag for every row of ``df``."""
    chunks = (df.iloc[i:i + CHUNK_ROWS] for i in range(0, max(len(df), 1), CHUNK_ROWS))
    return assign_chunks(model, chunks, holdout_share=holdout_share, salt=salt,
                         id_column=id_column, require_id=require_id)


def assign_file(model: SavedModel, path, *, holdout_share: float = 0.1,
                salt: str = DEFAULT_SALT, id_column: str | None = None,
                query: str | None = None, table: str | None = None) -> Assignment:
    """``assign_table`` over a file read in chunks: a file larger than memory works, since
    only the seven output columns are kept for all rows. A database URL with ``query`` or
    ``table`` works too."""
    notes: list[str] = []
    check_share(holdout_share)  # before the file is read: a bad share wastes no scoring
    chunks = iter_table_chunks(path, notes=notes, query=query, table=table)
    result = assign_chunks(model, chunks,
                           holdout_share=holdout_share, salt=salt, id_column=id_column)
    return Assignment(result.frame, (*notes, *result.notes))


def assign_chunks(model: SavedModel, chunks: Iterable[pd.DataFrame], *,
                  holdout_share: float = 0.1, salt: str = DEFAULT_SALT,
                  id_column: str | None = None, require_id: bool = True) -> Assignment:
    """Score each chunk as it comes.

    ``id_column`` names this table's ID column when it differs from the training table's;
    by default the training ID column is used, and a table without it is refused (row numbers
    would match no customer in a CRM, and their holdout flags would follow the row order)
    unless ``require_id`` is False (the caller then numbers the rows and says so).
    """
    check_share(holdout_share)
    info = model.info
    wanted_id = id_column
    parts_ids, parts_labels, parts_conf = [], [], []
    extra: list[str] = []
    n_unscored = n_rows = n_outside = 0
    scope_missing = False
    odd: dict[tuple[str, str], list] = {}  # (column, kind) -> [count, an example]
    for number, chunk in enumerate(chunks):
        if number == 0:
            id_column = _id_column(model, chunk, wanted_id, require_id)
            extra = [str(c) for c in chunk.columns
                     if c not in _known_columns(model) and c != id_column]
        _check_types(model, chunk)
        chunk = _read_booleans_as_trained(model, chunk, odd)
        _count_odd_values(model, chunk, odd)
        labels, confidence = model.assign(chunk)
        features = [c for c in info.preparation.input_columns if c in chunk.columns]
        unscored = (chunk[features].isna().all(axis=1).to_numpy() if features
                    else np.zeros(len(chunk), bool))
        # A model trained on a scope (month-to-month customers) has no segment for the others.
        scoped = info.scope is not None and all(c in chunk.columns
                                                for c, _ in info.scope.conditions)
        scope_missing |= info.scope is not None and not scoped
        outside = ~info.scope.mask(chunk) if scoped else np.zeros(len(chunk), bool)
        n_outside += int(outside.sum())
        unscored = unscored & ~outside
        labels = np.where(outside, -3, labels)
        confidence = np.where(outside, 0.0, confidence)
        parts_labels.append(np.where(unscored, -2, labels))
        parts_conf.append(np.where(unscored, 0.0, confidence))
        parts_ids.append(chunk[id_column].to_numpy() if id_column
                         else np.arange(n_rows + 1, n_rows + len(chunk) + 1))
        n_unscored += int(unscored.sum())
        n_rows += len(chunk)
    labels = np.concatenate(parts_labels) if parts_labels else np.zeros(0, int)
    confidence = np.concatenate(parts_conf) if parts_conf else np.zeros(0)
    # IDs as typed: 12346, not the 12346.0 a reader makes of a column with a blank, and the
    # same text the holdout hashes and the CRM export writes.
    ids = ids_as_text(np.concatenate(parts_ids) if parts_ids else np.zeros(0, int))
    notes: list[str] = _odd_value_notes(odd)
    if id_column and (blank := int((ids == "").sum())):
        notes.append(f"{blank:,} row(s) have no {id_column}; they are assigned but a CRM cannot "
                     "match them to a customer.")
    if extra:
        notes.append(f"{len(extra)} column(s) the model does not know are ignored: "
                     f"{', '.join(extra[:10])}{' ...' if len(extra) > 10 else ''}.")
    if n_unscored:
        notes.append(f"{n_unscored:,} row(s) have no value in any feature and are "
                     "marked unscored.")
    if n_outside:
        notes.append(f"{n_outside:,} row(s) are outside the customers the model was trained on "
                     f"({info.scope.describe()}) and are marked out of scope.")
    if scope_missing:
        notes.append(f"The model was trained only on customers with {info.scope.describe()}; "
                     "this table lacks that column, so every row is scored.")
    notes += _unassigned_notes(info, labels)
    frame = _assignment_frame(info, ids, labels, confidence, id_column, holdout_share, salt)
    return Assignment(frame, tuple(notes))


def _odd_value_notes(odd: dict) -> list[str]:
    """One note per column and kind of value the model scored by a fallback."""
    notes: list[str] = []
    for (column, kind), (count, example) in odd.items():
        what = {"level": "not seen in training (scored as the nearest known profile)",
                "text": "not numbers (scored as missing)",
                "boolean": "neither of the two values it held in training (scored as missing)",
                "spelling": "spelled other than in training (read as the training's value)",
                "negative": "negative, which the training never was (scored as 0)",
                }.get(kind) or (f"far outside the training range ({kind.removeprefix('far ')}; "
                                "scored at its edge, so their segment rests on the other "
                                "columns)")
        notes.append(f"{count:,} value(s) of {column} are {what}, like {example!r}.")
    return notes


def _unassigned_notes(info, labels: np.ndarray) -> list[str]:
    """What the unassigned rows mean: for HDBSCAN, a share the training had too; otherwise
    customers farther from every segment than any training customer."""
    notes: list[str] = []
    n_novel = int((labels == -1).sum())
    trained_share = float(info.segment_shares.get(-1, 0.0))
    if n_novel and trained_share > 0:
        # HDBSCAN: outliers are a share of the training data too, not a sign of change.
        notes.append(f"{n_novel:,} row(s) ({percent(n_novel / max(len(labels), 1), 1)}) fit no segment "
                     f"and are marked unassigned ({percent(trained_share, 1)} of the training customers "
                     "did not either).")
    elif n_novel:
        notes.append(f"{n_novel:,} row(s) lie farther from every segment than any training "
                     "customer did and are marked unassigned; many of them mean the customers "
                     "have changed since the model was trained.")
    return notes


def _assignment_frame(info, ids, labels: np.ndarray, confidence: np.ndarray,
                      id_column: str | None, holdout_share: float, salt: str) -> pd.DataFrame:
    """The seven output columns (unscored and out-of-scope rows show as segment -1)."""
    names = {**{int(k): v for k, v in info.names.items()}, -1: "unassigned", -2: "unscored",
             -3: "out of scope"}
    frame = pd.DataFrame({
        id_column or "row": ids,
        "segment": np.where(labels < -1, -1, labels),
        "segment_name": pd.Series(labels).map(names).to_numpy(),
        "confidence": np.round(confidence, 4),
        "holdout": holdout_flags(ids, labels, share=holdout_share, salt=salt),
        "model_version": info.bundle_id,
        "assigned_at": datetime.now(UTC).isoformat(timespec="seconds"),
    })
    return frame


def _count_odd_values(model: SavedModel, chunk: pd.DataFrame, odd: dict) -> None:
    """Count values the model scores by a fallback: category levels it never saw, and text in
    numeric columns (below the share that refuses the column), so the user hears of them."""
    info = model.info
    complete = {d.name for d in info.distributions
                if d.kind == "categorical" and len(d.levels) < _STORED_LEVELS}
    seen = {d.name: set(d.levels) for d in info.distributions if d.name in complete}
    for step in info.preparation.categorical:
        if step.name not in chunk.columns:
            continue
        known = seen.get(step.name) or (set(step.levels) if OTHER_LEVEL not in step.levels
                                        else None)
        if known is None:  # rare training levels were folded away: "new" cannot be told apart
            continue
        text = chunk[step.name].dropna().astype(str)
        _tally(odd, (step.name, "level"), text[~text.isin(known | set(step.levels))])
    ranges = {d.name: (d.quantiles[0], d.quantiles[-1]) for d in info.distributions
              if d.kind == "numeric" and len(d.quantiles) >= 2}
    for step in info.preparation.numeric:
        if step.source != "numeric" or step.name not in chunk.columns:
            continue
        s = chunk[step.name]
        numbers = pd.to_numeric(s, errors="coerce")
        if not pd.api.types.is_numeric_dtype(s):
            present = s.dropna()
            _tally(odd, (step.name, "text"), present[numbers[present.index].isna()])
        if step.name not in ranges:
            continue
        # Values the preparation cannot represent: clipped to the training's fences, or (log1p)
        # floored at zero. Such a customer is still scored, but on the other columns mostly.
        low, high = ranges[step.name]
        width = max(high - low, 1e-12)
        _tally(odd, (step.name, f"far {_num(low)} to {_num(high)}"),
               numbers[(numbers > high + width) | (numbers < low - width)])
        if step.transform == "log1p" and low >= 0:
            _tally(odd, (step.name, "negative"), numbers[numbers < 0])


_TRUE_WORDS = frozenset({"yes", "true", "1", "1.0", "y", "t"})
_FALSE_WORDS = frozenset({"no", "false", "0", "0.0", "n", "f"})


def _read_booleans_as_trained(model: SavedModel, chunk: pd.DataFrame, odd: dict
                              ) -> pd.DataFrame:
    """Two-valued training columns: a value spelled another way (MALE for Male, True for Yes)
    reads as the training's value; any other value is missing, never silently "false" (the
    preparation reads everything but the training's true value as 0)."""
    trained = {d.name: list(d.levels) for d in model.info.distributions
               if d.kind == "categorical"}
    changed: dict[str, pd.Series] = {}
    for step in model.info.preparation.numeric:
        levels = trained.get(step.name)
        if step.source != "boolean" or step.name not in chunk.columns or not levels:
            continue
        text = chunk[step.name].astype("string")
        present = text.notna()
        known = text.isin(levels) | ~present
        if known.all():
            continue
        by_key = {_spelling(v): v for v in levels}
        truth = {v: _truth(v) for v in levels}
        for v, t in truth.items():
            if t is not None and list(truth.values()).count(t) == 1:
                by_key.setdefault(t, v)  # "true"/"false" stand for the matching training value
        odd_values = text[~known]
        mapped = odd_values.map(lambda v: by_key.get(_spelling(v), by_key.get(_truth(v))))
        _tally(odd, (step.name, "spelling"), odd_values[mapped.notna()])
        _tally(odd, (step.name, "boolean"), odd_values[mapped.isna()])
        fixed = text.astype(object)
        fixed[~known] = mapped.astype(object).where(mapped.notna(), None)
        changed[step.name] = fixed
    return chunk.assign(**changed) if changed else chunk


def _spelling(value: str) -> str:
    return " ".join(str(value).split()).casefold()


def _truth(value: str) -> str | None:
    key = _spelling(value)
    return "true" if key in _TRUE_WORDS else "false" if key in _FALSE_WORDS else None


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _tally(odd: dict, key: tuple[str, str], values: pd.Series) -> None:
    if len(values):
        entry = odd.setdefault(key, [0, str(values.iloc[0])])
        entry[0] += len(values)


def _id_column(model: SavedModel, chunk: pd.DataFrame, wanted: str | None,
               required: bool) -> str | None:
    """The ID column of the table being assigned (None: rows are numbered)."""
    if wanted is not None:
        if wanted not in chunk.columns:
            raise InputError(f"The ID column '{wanted}' is not in the table; its columns are "
                             f"{', '.join(map(str, chunk.columns[:12]))}"
                             f"{' ...' if len(chunk.columns) > 12 else ''}.")
        return wanted
    trained = model.info.id_column
    if trained is None or trained in chunk.columns:
        return trained
    if not required:
        return None
    known = _known_columns(model)
    others = [str(c) for c in chunk.columns if c not in known]
    hint = f" (columns the model does not know: {', '.join(others[:5])})" if others else ""
    raise InputError(f"The model identifies customers by '{trained}', which this table "
                     f"lacks{hint}; add that column, or name this table's ID column with --id.")


def _known_columns(model: SavedModel) -> set[str]:
    return set(model.info.preparation.input_columns) | {c.name for c in model.info.schema_}


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
