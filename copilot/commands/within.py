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

from copilot.core import InputError


def segment_within(df, settings, source: dict, args: argparse.Namespace, *, llm_wanted: bool,
                   progress) -> int:
    """Run and write the per-level segmentations; return the exit code."""
    from copilot.report import render_anchored_summary
    from copilot.segmentation import check_anchored_folder, suggest_anchors
    from copilot.workflow import segment_within_levels

    if not settings.anchors:
        found = ", ".join(a.column for a in suggest_anchors(df)) or "none found"
        raise InputError("--anchor-mode within needs the anchor column to segment within; give "
                         f"one --anchor COL (columns that look like anchors: {found}).")
    out = Path(args.out_dir)
    check_anchored_folder(out, "--out-dir")
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
    result, files, summary = segment_within_levels(
        df, anchor, level_settings, out, progress=level_progress,
        done=lambda: progress("done", 1.0, f"segmented within {anchor}"),
        fix="use a coarser anchor or --anchor-mode report")
    if args.json:
        sys.stdout.write(summary + "\n")
    else:
        sys.stdout.write(render_anchored_summary(result, source, dict(files)))
    return 0
