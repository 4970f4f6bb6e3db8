"""The glossary's files: ``glossary.json`` and ``glossary.md`` (the current version),
``glossary-vN.json`` (history) and ``glossary-vN-assignments.csv``, each written atomically, and
read back with a one-sentence error for a missing, damaged or newer-format file."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from copilot.core import InputError, atomic_write_text
from copilot.segmentation.data import read_document
from copilot.segmentation.outputs.export import csv_text
from copilot.segmentation.outputs.glossary_matching import _as_series
from copilot.segmentation.outputs.glossary_records import (
    GLOSSARY_FORMAT,
    GLOSSARY_FORMAT_VERSION,
    Glossary,
)
from copilot.segmentation.outputs.glossary_render import render_markdown

CURRENT_JSON, CURRENT_MD = "glossary.json", "glossary.md"
_HISTORY = re.compile(r"^glossary-v(\d+)\.json$")


def history_name(version: int) -> str:
    return f"glossary-v{version}.json"


def assignments_name(version: int) -> str:
    return f"glossary-v{version}-assignments.csv"


def write_glossary(glossary: Glossary, folder: str | Path, *, assignments=None) -> dict[str, Path]:
    """Write ``glossary-vN.json`` (history), then ``glossary.md`` and ``glossary.json`` (current).

    With ``assignments`` (customer ID -> segment), also ``glossary-vN-assignments.csv``, which
    lets the next version match segments by customers. A history file of the same version that
    holds a different glossary is never overwritten. Returns the written paths.
    """
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise InputError(f"The glossary path {out} is a file; give a folder for the glossary.")
    history = out / history_name(glossary.version)
    if assignments is not None:
        glossary = glossary.model_copy(update={"assignments_file":
                                               assignments_name(glossary.version)})
    if history.is_file():
        try:
            existing = Glossary.model_validate_json(history.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            existing = None
        if existing is None or existing.created_at != glossary.created_at:
            raise InputError(f"{history} already exists and holds another version "
                             f"{glossary.version}; move it away or use another --glossary folder.")
    text = glossary.model_dump_json(indent=2)
    paths: dict[str, Path] = {}
    if assignments is not None:
        s = _as_series(assignments)
        frame = pd.DataFrame({"customer_id": s.index.astype(str), "segment": s.to_numpy()})
        paths["assignments"] = atomic_write_text(out / glossary.assignments_file,
                                                 csv_text(frame))
    # History first and the current JSON last: glossary.json never points past what exists.
    paths["history"] = atomic_write_text(history, text)
    paths["markdown"] = atomic_write_text(out / CURRENT_MD, render_markdown(glossary))
    paths["json"] = atomic_write_text(out / CURRENT_JSON, text)
    return paths


def read_glossary(folder: str | Path) -> Glossary:
    """The current glossary in ``folder`` (or the file given); one sentence for anything wrong."""
    path = Path(folder)
    if path.is_dir() or path.suffix.lower() != ".json":
        path = path / CURRENT_JSON
    raw = read_document(path, what="glossary", fmt=GLOSSARY_FORMAT, version_key="format_version",
                        max_version=GLOSSARY_FORMAT_VERSION,
                        find="give the folder an earlier export --glossary wrote",
                        fix="restore it from its glossary-vN.json copy or move it away to start "
                            "again")
    try:
        return Glossary.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputError(f"The glossary file {path} is damaged ({field}: "
                         f"{first['msg'].lower()}); restore it from its glossary-vN.json copy or "
                         "move it away to start again.") from None


def latest_glossary(folder: str | Path) -> Glossary | None:
    """The newest glossary in ``folder``: ``glossary.json``, else the highest ``glossary-vN.json``
    (so a deleted current file does not restart the numbering); None for a folder without one."""
    folder = Path(folder)
    if (folder / CURRENT_JSON).is_file():
        current = read_glossary(folder)
        newer = _history_versions(folder)
        if newer and max(newer) > current.version:
            return read_glossary(folder / history_name(max(newer)))
        return current
    versions = _history_versions(folder)
    return read_glossary(folder / history_name(max(versions))) if versions else None


def _history_versions(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return [int(m.group(1)) for p in folder.iterdir() if (m := _HISTORY.match(p.name))]


def read_glossary_assignments(folder: str | Path, glossary: Glossary) -> pd.Series | None:
    """The ID -> segment snapshot saved with ``glossary`` (None when there is none or it is
    unreadable: matching then falls back to profiles)."""
    if not glossary.assignments_file:
        return None
    path = Path(folder) / Path(glossary.assignments_file).name
    try:
        frame = pd.read_csv(path, dtype={"customer_id": str})
        return pd.Series(frame["segment"].to_numpy(), index=frame["customer_id"].to_numpy())
    except (OSError, ValueError, KeyError):
        return None
