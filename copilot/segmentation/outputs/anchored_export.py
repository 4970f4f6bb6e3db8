"""Write a segmentation within each level of an anchor to a folder.

The layout is the same whoever asks (``segment --anchor-mode within`` or the chat's
``segment_within_anchor`` tool): ``levels/<level>/`` holds each segmented level like a plain
``segment --out-dir`` (assignments, analysis, saved model), ``assignments.csv`` gives every
customer their combined segment ("Retail / Segment 0") and ``anchored.json`` the summary.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from copilot.core import InputError, atomic_write_text
from copilot.segmentation.analysis import AnchoredSegmentation
from copilot.segmentation.model import save_bundle_with_data
from copilot.segmentation.outputs.export import csv_text, write_outputs

ANCHORED_FILE = "anchored.json"


def check_anchored_folder(out: Path, option: str = "folder") -> None:
    """Refuse a folder the per-level results cannot go to, before any work is done.

    ``option`` is how the user names the folder (``--out-dir`` on the command line).
    """
    if out.exists() and not out.is_dir():
        raise InputError(f"The output path {out} is a file; give a folder"
                         f"{' with ' + option if option.startswith('-') else ''}.")
    if (out / "analysis.json").exists():
        # Its analysis and model would sit beside the per-level assignments and contradict them.
        raise InputError(f"{out} holds a segmentation of the whole table (analysis.json); "
                         f"choose another {option} for the per-level results.")


def folder_name(text: str, default: str = "level") -> str:
    """A folder name from a level or column ("North America" -> north-america)."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or default


def anchored_json(result: AnchoredSegmentation, folders: dict[str, Path], out: Path) -> str:
    return json.dumps({**result.summary.model_dump(mode="json"),
                       "folders": {lv: str(f.relative_to(out)) for lv, f in folders.items()}},
                      indent=2, ensure_ascii=False)


def write_anchored(result: AnchoredSegmentation, df: pd.DataFrame, out: str | Path
                   ) -> tuple[dict[str, Path], str]:
    """Write every segmented level and the combined assignments; return (files, summary JSON).

    ``df`` is the table ``result`` was computed on (its rows in the same order).
    """
    out = Path(out)
    check_anchored_folder(out)
    first = next((g.run for g in result.groups if g.run is not None), None)
    if first is None:
        raise InputError(f"No level of {result.anchor_column} was segmented, so there is "
                         "nothing to write.")
    id_column = first.analysis.id_column
    ids = df[id_column] if id_column else pd.Series(np.arange(1, len(df) + 1), name="row")
    confidence = np.full(len(df), np.nan)
    folders: dict[str, Path] = {}
    for g, summary in zip(result.groups, result.summary.groups, strict=True):
        if g.run is None:
            continue
        base = folder_name(g.level)  # unique per level below
        slug, n = base, 1
        while out / "levels" / slug in folders.values():
            n += 1
            slug = f"{base}-{n}"
        folder = folders[g.level] = out / "levels" / slug
        # Without an ID column, rows keep their numbers in the whole table, not in the level.
        run = g.run if id_column else replace(g.run, ids=ids.iloc[g.rows].reset_index(drop=True))
        write_outputs(run, folder)
        names = dict(enumerate(summary.segment_names))
        save_bundle_with_data(run, df.iloc[g.rows].reset_index(drop=True), folder / "model",
                              names=names)
        confidence[g.rows] = g.run.confidence
    anchor = result.anchor_column
    assignments = pd.DataFrame({
        ids.name: ids.to_numpy(), anchor: df[anchor].to_numpy(), "segment": result.labels,
        "segment_name": result.label_names().to_numpy(), "confidence": confidence.round(4),
    })
    summary = anchored_json(result, folders, out)
    files = {
        "assignments": atomic_write_text(out / "assignments.csv",
                                         csv_text(assignments)),
        "summary": atomic_write_text(out / ANCHORED_FILE, summary),
        # One folder per segmented level, each like a plain segment --out-dir.
        "levels": out / "levels",
    }
    return files, summary
