"""``segment --anchor COL --anchor-mode within``: the whole analysis per level of one anchor.

Numbers only: each level of the anchor (industry, company size, region) is segmented on its
own and written like a plain ``segment --out-dir`` under ``levels/<level>/``; the combined
``assignments.csv`` names each customer's segment "Retail / Segment 0". Small levels are
pooled or skipped by the engine (``segment_within_anchors``), with the reason in the summary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from copilot.errors import InputError


def segment_within(df, settings, source: dict, args: argparse.Namespace, *, llm_wanted: bool,
                   progress) -> int:
    """Run and write the per-level segmentations; return the exit code."""
    import json
    import re
    from dataclasses import replace

    import numpy as np
    import pandas as pd

    from copilot.report.summary import render_anchored_summary
    from copilot.segmentation.anchors import segment_within_anchors, suggest_anchors
    from copilot.segmentation.bundle import save_bundle_with_data
    from copilot.segmentation.export import atomic_write_text, write_outputs
    from copilot.segmentation.pipeline import check_settings

    if not settings.anchors:
        found = ", ".join(a.column for a in suggest_anchors(df)) or "none found"
        raise InputError("--anchor-mode within needs the anchor column to segment within; give "
                         f"one --anchor COL (columns that look like anchors: {found}).")
    out = Path(args.out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"The output path {out} is a file; give a folder with --out-dir.")
    if (out / "analysis.json").exists():
        # Its analysis and model would sit beside the per-level assignments and contradict them.
        raise InputError(f"{out} holds a segmentation of the whole table (analysis.json); "
                         "choose another --out-dir for the per-level results.")
    if llm_wanted or args.goal:
        sys.stderr.write("note: --anchor-mode within computes numbers only; segment one "
                         "level's rows on their own for names, narratives and a strategy.\n")
    (anchor,) = settings.anchors

    def level_progress(stage: str, fraction: float, message: str) -> None:
        level, _, step = stage.rpartition(": ")  # the stage is "Retail: sweep"
        if step != "done":  # one "done" at the very end, so a terminal line ends once
            progress(stage, fraction, f"{level}: {message}")

    # Each level's own analysis reports the other suggested anchors, never the one it is in.
    level_settings = settings.model_copy(update={"anchors": None})
    check_settings(df, level_settings)  # a wrong --text is one error, not a skip per level
    result = segment_within_anchors(df, anchor, level_settings, progress=level_progress)
    progress("done", 1.0, f"segmented within {anchor}")
    if result.summary.n_segments == 0:
        raise InputError(f"No level of {anchor} could be segmented on its own "
                         f"({result.summary.groups[0].reason.rstrip('.')}); use a coarser "
                         "anchor or --anchor-mode report.")

    first = next(g.run for g in result.groups if g.run is not None)
    id_column = first.analysis.id_column
    ids = df[id_column] if id_column else pd.Series(np.arange(1, len(df) + 1), name="row")
    confidence = np.full(len(df), np.nan)
    folders: dict[str, Path] = {}
    for g, summary in zip(result.groups, result.summary.groups, strict=True):
        if g.run is None:
            continue
        # A folder name from the level ("North America" -> north-america), unique per level.
        base = re.sub(r"[^a-z0-9]+", "-", g.level.lower()).strip("-") or "level"
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
    assignments = pd.DataFrame({
        ids.name: ids.to_numpy(), anchor: df[anchor].to_numpy(), "segment": result.labels,
        "segment_name": result.label_names().to_numpy(), "confidence": confidence.round(4),
    })
    anchored = json.dumps({**result.summary.model_dump(mode="json"),
                           "folders": {lv: str(f.relative_to(out)) for lv, f in folders.items()}},
                          indent=2, ensure_ascii=False)
    files: dict[str, object] = {
        "assignments": atomic_write_text(out / "assignments.csv",
                                         assignments.to_csv(index=False)),
        "summary": atomic_write_text(out / "anchored.json", anchored),
        # One folder per segmented level, each like a plain segment --out-dir.
        "levels": out / "levels",
    }
    if args.json:
        sys.stdout.write(anchored + "\n")
    else:
        sys.stdout.write(render_anchored_summary(result, source, files))
    return 0

