"""The versioned segment glossary: the next version, planned and checked before anything is
written, then published. The chat's ``/glossary`` and ``export --glossary`` call these."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from copilot.core import InputError
from copilot.llm import Writing
from copilot.segmentation import Glossary, SegmentAnalysis


@dataclass(frozen=True)
class GlossaryPlan:
    """The glossary a folder gets: ``write`` False when nothing changed since its last version
    (``glossary`` is then that version)."""

    glossary: Glossary
    write: bool
    folder: Path
    assignments: pd.Series | None  # segment per customer ID, saved beside the version


def definitions_of(writing: Writing | None) -> dict[int, str]:
    """The narratives that open with a definition (the model's), by segment."""
    from copilot.segmentation import is_definition

    if writing is None:
        return {}
    return {n.segment: n.narrative for n in writing.narratives
            if is_definition(n.narrative, n.author.writer)}


def plan_glossary(analysis: SegmentAnalysis, folder: Path, *, names: dict[int, str],
                  definitions: dict[int, str], owners: dict[int, str],
                  model_version: str | None, assignments: pd.Series | None,
                  option: str = "--glossary", owner_option: str = "--owner") -> GlossaryPlan:
    """The next glossary version in ``folder`` against the one already there (matched by
    customers through ``assignments``), or version 1; refused in one sentence for a folder
    that is a file, an owner of no segment, or a glossary of another table."""
    from copilot.segmentation import (
        OtherTableError,
        build_glossary,
        latest_glossary,
        read_glossary_assignments,
        unchanged,
    )

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{option} {folder} is a file; give a folder for the glossary.")
    segments = {s.segment for s in analysis.sizes if s.segment >= 0}
    for seg in owners:
        if seg not in segments:
            raise InputError(f"There is no segment {seg} to give an owner ({owner_option}); "
                             f"the segments are {', '.join(str(s) for s in sorted(segments))}.")
    previous = latest_glossary(folder)
    previous_assignments = (read_glossary_assignments(folder, previous)
                            if previous is not None else None)
    try:
        glossary = build_glossary(
            analysis, names=names, definitions=definitions, owners=owners,
            model_version=model_version or None, previous=previous,
            previous_assignments=previous_assignments, assignments=assignments)
    except OtherTableError as err:
        raise InputError(f"The glossary in {folder} describes segments of another table "
                         f"({err.detail}); give a new {option} folder.") from None
    write = previous is None or not unchanged(glossary, previous)
    return GlossaryPlan(glossary=glossary if write else previous, write=write, folder=folder,
                        assignments=assignments)


def publish_glossary(plan: GlossaryPlan) -> Glossary:
    """Write the planned version (Markdown, JSON and the customers beside it) when it is new."""
    from copilot.segmentation import write_glossary

    if plan.write:
        write_glossary(plan.glossary, plan.folder, assignments=plan.assignments)
    return plan.glossary
