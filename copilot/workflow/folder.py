"""The analysis folder: the files a segmentation run publishes and every later step reads.

A ``segment --out-dir`` folder, the ``demo`` folder and a chat/ask session folder hold the same
files: ``assignments.csv`` (each customer's segment), ``analysis.json`` (the segments),
``writing.json`` (names, narratives and strategy, when something wrote them) and ``model/``
(the saved model that assigns new customers). This module reads and writes them, so the chat
and the commands agree on what a folder holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from copilot.core import InputError, atomic_write_text
from copilot.llm import Writing
from copilot.segmentation import (
    SavedModel,
    SegmentAnalysis,
    SegmentationRun,
    csv_text,
    load_bundle,
    rename_bundle,
    save_bundle,
    write_outputs,
)

ASSIGNMENTS_FILE = "assignments.csv"
ANALYSIS_FILE = "analysis.json"
WRITING_FILE = "writing.json"
MODEL_DIR = "model"


@dataclass(frozen=True)
class AnalysisFolder:
    """A folder a segmentation run was (or will be) published to."""

    path: Path

    @property
    def assignments(self) -> Path:
        """The per-row segments (``assignments.csv``)."""
        return self.path / ASSIGNMENTS_FILE

    @property
    def analysis_file(self) -> Path:
        return self.path / ANALYSIS_FILE

    @property
    def writing_file(self) -> Path:
        return self.path / WRITING_FILE

    @property
    def model(self) -> Path:
        """The saved model (the ``model/`` folder)."""
        return self.path / MODEL_DIR

    def has_model(self) -> bool:
        return (self.model / "bundle.json").is_file()

    def saved_model(self) -> SavedModel:
        """The saved model; ``InputError`` when segments were never computed."""
        if not self.has_model():
            raise InputError("There is no saved model yet; run the segmentation first.")
        return load_bundle(self.model)

    def labels(self) -> np.ndarray:
        """Each row's segment, read from ``assignments.csv``."""
        if not self.assignments.is_file():
            raise InputError(f"The per-customer segments ({self.assignments}) are missing; run "
                             "the segmentation again.")
        return pd.read_csv(self.assignments, usecols=["segment"])["segment"].to_numpy()

    def read_analysis(self) -> SegmentAnalysis:
        """``analysis.json``, checked: one sentence when it is missing, unreadable or damaged."""
        from pydantic import ValidationError

        path = self.analysis_file
        if not path.is_file():
            raise InputError(f"{path.parent} has no analysis.json; give the whole folder "
                             "segment --out-dir wrote.")
        try:
            return SegmentAnalysis.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"Cannot read {path} ({type(err).__name__}); run segment "
                             "again.") from None
        except ValidationError:
            raise InputError(f"{path} is damaged or from another version of segment-copilot; "
                             "run segment again.") from None

    def analysis_of(self, data_path: Path | str | None) -> SegmentAnalysis | None:
        """The analysis on disk when it is complete and was built on ``data_path`` (same path,
        as many assignments as rows, consistent), else None."""
        try:
            analysis = SegmentAnalysis.model_validate_json(
                self.analysis_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        rows = sum(1 for _ in self.assignments.open(encoding="utf-8")) - 1
        if (str(analysis.source.get("path")) != str(data_path) or rows != analysis.n_rows
                or analysis.inconsistency() is not None):
            return None
        return analysis

    def write_analysis(self, analysis: SegmentAnalysis) -> Path:
        return atomic_write_text(self.analysis_file, analysis.model_dump_json(indent=2))

    def write_writing(self, writing: Writing) -> Path:
        return atomic_write_text(self.writing_file, writing.model_dump_json(indent=2))

    def rename_model(self, names: dict[int, str]) -> None:
        """The saved model carries the current names, so assignments and CRM exports show them."""
        if self.has_model():
            rename_bundle(self.model, names)

    def named_assignments(self, names: dict[int, str]) -> pd.DataFrame:
        """``assignments.csv`` with each segment's name beside its number."""
        if not self.assignments.is_file():
            raise InputError(f"The per-customer segments ({self.assignments}) are missing; run "
                             "the segmentation again.")
        frame = pd.read_csv(self.assignments, dtype={0: str})
        names = {**names, -1: "Unassigned"}
        frame.insert(frame.columns.get_loc("segment") + 1, "segment_name",
                     frame["segment"].map(names).fillna("Unassigned"))
        return frame


def publish_segments(run: SegmentationRun, folder: AnalysisFolder, *, df: pd.DataFrame,
                     names: dict[int, str] | None = None) -> dict[str, Path]:
    """Write a run's ``assignments.csv``, ``analysis.json`` and saved model into ``folder``.

    ``df`` is the rows that were segmented (the model keeps their distributions for drift
    checks); ``names`` the segments' names (default "Segment N").
    """
    files = write_outputs(run, folder.path)
    return {**files, "model": save_bundle(run, folder.model, names=names, df=df)}


def write_csv(frame: pd.DataFrame, out: Path) -> Path:
    """A table as CSV, written atomically."""
    return atomic_write_text(out, csv_text(frame))
