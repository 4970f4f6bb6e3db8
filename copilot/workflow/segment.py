"""Segmenting: the settings a user changes, a run published to its folder, and the per-level
segmentation within an anchor. The chat's steps and the ``segment``/``demo`` commands call these.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from copilot.core import InputError, SettingsError, atomic_write_text, percent
from copilot.segmentation import (
    AnchoredSegmentation,
    EventSpec,
    QualityReport,
    RoleReport,
    Scope,
    SegmentationRun,
    SegmentSettings,
    check_settings,
    infer_roles,
    quality_report,
    run_segmentation,
    segment_within_anchors,
    write_anchored,
)
from copilot.workflow.folder import AnalysisFolder, publish_segments

Progress = Callable[[str, float, str], None]


def settings_with(settings: SegmentSettings, overrides: dict[str, Any]) -> SegmentSettings:
    """``settings`` updated by ``overrides``, validated (an unknown name or a wrong type is one
    sentence). Giving ``k`` clears ``k_range`` and the reverse: the engine takes one."""
    update = dict(overrides)
    if update.get("k") is not None and "k_range" not in update:
        update["k_range"] = None
    if update.get("k_range") is not None and "k" not in update:
        update["k"] = None
    try:
        # Validate rather than model_copy: an unknown name or a wrong type must be refused.
        return SegmentSettings.model_validate({**settings.model_dump(), **update})
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            raise SettingsError(f"There is no setting named {field}; choose from "
                                f"{', '.join(SegmentSettings.model_fields)}.") from None
        raise SettingsError(f"The setting {field} cannot be {first.get('input')!r}: "
                            f"{first['msg'].lower()}.") from None


def segmented_rows(frame: pd.DataFrame, settings: SegmentSettings) -> pd.DataFrame:
    """The rows ``settings`` segment: the table, narrowed to the scope when there is one."""
    return settings.scope.apply(frame) if settings.scope is not None else frame


def segment_table(frame: pd.DataFrame, settings: SegmentSettings, folder: AnalysisFolder, *,
                  source: dict[str, Any], progress: Progress | None = None,
                  names: dict[int, str] | None = None,
                  inspected: tuple[RoleReport, QualityReport] | None = None) -> SegmentationRun:
    """Segment ``frame`` (the whole table: the engine applies the settings' scope and reports
    it) and publish the run to ``folder``: ``assignments.csv``, ``analysis.json`` and the saved
    model, which keeps the segmented rows' distributions for drift checks. ``inspected``: the
    roles and quality report ``inspect_table`` gave for these rows and settings, not read twice."""
    run = run_segmentation(frame, settings, source=source, progress=progress,
                           inspected=inspected)
    publish_segments(run, folder, df=segmented_rows(frame, settings), names=names)
    return run


def segment_with_spark(data: str | Path, settings: SegmentSettings, folder: AnalysisFolder, *,
                       master: str | None = None, progress: Progress | None = None,
                       names: dict[int, str] | None = None) -> Any:
    """``segment_table`` for a table in Spark (``--engine spark``): the model is chosen on a
    sample and saved to ``folder``, every row is scored in Spark into ``assignments.parquet``,
    and ``analysis.json`` holds sizes and outcome tests over every row. Returns the engine's
    ``SparkSegmentation`` (its ``analysis`` is what the writers and the memo read)."""
    from copilot.segmentation import segment_spark

    return segment_spark(str(data), settings, folder.path, master=master, progress=progress,
                         names=names)


def segment_within_levels(frame: pd.DataFrame, column: str, settings: SegmentSettings,
                          out: Path, *, progress: Progress | None = None,
                          done: Callable[[], None] | None = None,
                          fix: str = "choose a coarser anchor"
                          ) -> tuple[AnchoredSegmentation, dict[str, Path], str]:
    """Segment each level of ``column`` on its own and write the levels to ``out`` (checked
    first by the caller with ``check_anchored_folder``); return the result, the files and the
    summary JSON. ``done`` is called once the levels are segmented, ``fix`` says what to do
    when no level can be."""
    check_settings(frame, settings)  # a wrong text column is one error, not a skip per level
    result = segment_within_anchors(frame, column, settings, progress=progress)
    if done is not None:
        done()
    if result.summary.n_segments == 0:
        raise InputError(f"No level of {column} could be segmented on its own "
                         f"({result.summary.groups[0].reason.rstrip('.')}); {fix}.")
    files, summary = write_anchored(result, frame, out)
    return result, files, summary


def read_scope(text: str, frame: pd.DataFrame) -> Scope | None:
    """The scope a user asks for: ``COLUMN=LEVEL[,LEVEL]``, a population in words
    ("month-to-month customers"), or all/none/everyone/off (None). Refused in one sentence
    when no column level matches, or when too few customers would be left."""
    from copilot.segmentation import find_scope, parse_scope

    words = text.strip()
    if words.lower() in ("all", "none", "everyone", "off", ""):
        return None
    if "=" in words:
        scope = parse_scope(words, frame)
    else:  # "/scope month-to-month customers": read like a goal's population
        found = find_scope(f"among {words}", frame)
        if found is None or found.scope is None:
            raise SettingsError(f"No column of the table has a level like "
                                f"\u201c{words}\u201d; give it as COLUMN=LEVEL, e.g. "
                                "/scope Contract=Month-to-month.")
        scope = found.scope.model_copy(update={"words": None})  # the user's, not a goal's
    scope.apply(frame)  # too few customers: refused before anything changes
    return scope


def scope_sentence(scope: Scope, frame: pd.DataFrame, undo: str) -> str:
    """The one sentence a scope is told in, with how to undo it (``undo``)."""
    rows = int(scope.mask(frame).sum())
    said = f", as the goal says \u201c{scope.words}\u201d" if scope.words else ""
    return (f"Segmenting only the {rows:,} customers with {scope.describe()} "
            f"({percent(rows / len(frame), 0)} of {len(frame):,}){said}; {undo}.")


def column_roles(frame: pd.DataFrame, settings: SegmentSettings) -> RoleReport:
    """Each column's role (ID, feature, outcome, ignored) under ``settings``."""
    s = settings
    return infer_roles(frame, id_column=s.id_column, exclude=list(s.exclude),
                       outcomes=list(s.outcomes) if s.outcomes is not None else None)


def inspect_table(frame: pd.DataFrame, settings: SegmentSettings
                  ) -> tuple[RoleReport, QualityReport]:
    """Column roles and the quality report, before any clustering (settings checked first)."""
    check_settings(frame, settings)
    roles = column_roles(frame, settings)
    return roles, quality_report(frame, roles)


def build_feature_file(path: Path, out: Path, spec: EventSpec, *, as_of: str | None = None,
                       horizon_days: int | None = None, progress: Progress | None = None
                       ) -> Any:
    """Turn an event or transaction log into one row per customer, written to ``out`` (CSV),
    and return the build's summary (the engine's ``EventSummary``);
    with ``as_of``, features come from before the cut-off and ``outcome_`` columns from after
    it, so segments are tested on the future."""
    from copilot.segmentation import build_features

    built = build_features(Path(path).expanduser(), spec, as_of=as_of,
                           horizon_days=horizon_days, progress=progress)
    atomic_write_text(out, built.frame.to_csv(index=False))
    return built.summary
