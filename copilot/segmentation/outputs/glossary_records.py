"""The glossary's records as saved (``glossary.json``): the glossary, its entries and changes,
and the axes that standardise a segment's profile, with the format they are saved in."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from copilot.core import Frozen, InputError
from copilot.segmentation.analysis import skew_transform

GLOSSARY_FORMAT = "segment-copilot-glossary"
# Bump when the saved shape changes; older engines refuse newer glossaries rather than guess.
# 2: the segmentation's features, each entry's previous share, and "owner" changes.
GLOSSARY_FORMAT_VERSION = 2

ChangeKind = Literal["renamed", "merged", "split", "resized", "new", "retired", "regrouped",
                     "owner"]


class Axis(Frozen):
    """How one profile value becomes a standardised coordinate (for matching by profiles).

    Numeric, boolean and datetime features use the analysis' preparation (skew transform, clip,
    centre, scale); a categorical level uses its overall share ``center`` and the spread of a
    0/1 indicator with that share.
    """

    kind: Literal["numeric", "level"]
    transform: Literal["none", "log1p", "yeo-johnson"] = "none"
    yeo_johnson_lambda: float | None = None
    clip_low: float | None = None
    clip_high: float | None = None
    center: float
    scale: float

    def standardise(self, value: float) -> float:
        if self.kind == "level":
            return (value - self.center) / self.scale
        x = skew_transform(np.array([value], dtype=float), self.transform,
                            self.yeo_johnson_lambda)[0]
        if self.clip_low is not None and self.clip_high is not None:
            x = min(max(x, self.clip_low), self.clip_high)
        return (x - self.center) / self.scale


class RuleSummary(Frozen):
    text: str
    precision: float
    recall: float


class OutcomeFact(Frozen):
    """An outcome in one segment against the whole table."""

    name: str
    kind: Literal["binary", "continuous"]
    value: float | None  # rate (binary) or mean (continuous) in the segment
    overall: float | None
    significant: bool  # whether the outcome differs across segments at all (the analysis' test)
    phrase: str


class GlossaryEntry(Frozen):
    segment: int
    name: str
    definition: str
    definition_source: Literal["given", "engine"]
    rules: tuple[RuleSummary, ...]
    size: int
    share: float
    traits: tuple[str, ...]
    outcomes: tuple[OutcomeFact, ...]
    owner: str = ""  # "" = to assign
    previous_segments: tuple[int, ...] = ()  # the previous version's segments it came from
    previous_share: float | None = None  # their total share in the previous version
    profile: dict[str, float] = Field(default_factory=dict)  # raw medians (numbers) and shares (flags, levels)


class Change(Frozen):
    kind: ChangeKind
    before: tuple[int, ...]  # the previous version's segments
    after: tuple[int, ...]  # this version's segments
    before_names: tuple[str, ...]
    after_names: tuple[str, ...]
    before_share: float | None  # total share of ``before`` in the previous version
    after_share: float | None
    text: str


class Glossary(Frozen):
    format: Literal["segment-copilot-glossary"] = GLOSSARY_FORMAT
    format_version: int = GLOSSARY_FORMAT_VERSION
    version: int
    created_at: str
    model_version: str | None
    engine_version: str
    customers: int
    unassigned: int
    previous_version: int | None
    matched_by: Literal["customers", "profiles"] | None
    entries: tuple[GlossaryEntry, ...]
    changes: tuple[Change, ...]
    axes: dict[str, Axis]
    assignments_file: str | None = None  # this version's ID -> segment snapshot, if saved
    features: tuple[str, ...] = ()  # the columns the segments were built on (() before format 2)

    def entry(self, segment: int) -> GlossaryEntry:
        for e in self.entries:
            if e.segment == segment:
                return e
        raise KeyError(segment)


class OtherTableError(InputError):
    """The previous glossary describes segments of another table (too few features in common).

    ``detail`` says which features each side was built on, for a caller that words the error
    its own way (the CLI names its --glossary folder).
    """

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail
