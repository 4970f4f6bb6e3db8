"""Operations on a saved model: new customers assigned to its segments, and drift between
snapshots. The chat's ``/assign`` and ``/drift`` and the ``assign`` and ``compare`` commands
call these."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from copilot.segmentation import DEFAULT_SALT, DriftReport, SavedModel, WrittenTable
from copilot.workflow.folder import write_csv


@dataclass(frozen=True)
class Assigned:
    """A written assignment file: its customers, per-name counts and notes."""

    path: Path
    frame: pd.DataFrame
    notes: tuple[str, ...]
    table: WrittenTable | None = None  # when written to a database table instead of ``path``

    def counts(self) -> pd.Series:
        """Customers per segment name, the largest first."""
        return self.frame["segment_name"].value_counts()


def assign_to_file(model: SavedModel, data: Path | str, out: Path | str, *,
                   holdout_share: float = 0.1, salt: str = DEFAULT_SALT,
                   id_column: str | None = None, query: str | None = None,
                   table: str | None = None) -> Assigned:
    """Assign every row of ``data`` to ``model``'s segments (CRM columns: segment, name,
    confidence, holdout, model version, time) and write them to ``out`` atomically. Read in
    chunks: millions of customers never have to fit in memory at once. The caller refuses an
    ``out`` that would overwrite an input first. ``data`` may be a database URL with
    ``query`` or ``table``."""
    from copilot.segmentation import assign_file

    result = assign_file(model, data, holdout_share=holdout_share, salt=salt,
                         id_column=id_column, query=query, table=table)
    write_csv(result.frame, Path(out))
    return Assigned(path=Path(out), frame=result.frame, notes=tuple(result.notes))


def assign_to_table(model: SavedModel, data: Path | str, out_db: str, out_table: str, *,
                    holdout_share: float = 0.1, salt: str = DEFAULT_SALT,
                    id_column: str | None = None, query: str | None = None,
                    table: str | None = None) -> Assigned:
    """``assign_to_file``, written as the table ``out_table`` in the database ``out_db`` in
    one transaction (the caller checks the target with ``check_out_table`` first)."""
    from copilot.segmentation import assign_file, crm_arrow, write_table

    result = assign_file(model, data, holdout_share=holdout_share, salt=salt,
                         id_column=id_column, query=query, table=table)
    written = write_table(out_db, out_table, crm_arrow(result.frame),
                          what=f"segment assignments, model {model.info.bundle_id}")
    return Assigned(path=Path(out_table), frame=result.frame, notes=tuple(result.notes),
                    table=written)


def assign_to_parquet(model: SavedModel, data: Path | str, out: Path | str, *,
                      master: str | None = None, holdout_share: float = 0.1,
                      salt: str = DEFAULT_SALT, id_column: str | None = None) -> Any:
    """``assign_to_file`` in Spark (``--engine spark``): every row of ``data`` (Parquet, CSV
    or a table name) scored by the same function, written to the Parquet folder ``out`` whole
    or not at all. Returns the engine's ``SparkAssigned`` (path, rows, counts per name, notes)."""
    from copilot.segmentation import assign_spark

    return assign_spark(model, str(data), out, master=master, holdout_share=holdout_share,
                        salt=salt, id_column=id_column)


def drift_report(new: pd.DataFrame, model: SavedModel, *, old: pd.DataFrame | None = None,
                 id_column: str | None = None, old_label: str = "OLD", new_label: str = "NEW",
                 model_note: str = "") -> DriftReport:
    """Drift and migration from ``old`` to ``new`` through ``model``; without ``old``, the
    distribution checks of ``new`` against what the model recorded of its training data."""
    from copilot.segmentation import check_snapshot, compare_snapshots

    if old is None:
        return check_snapshot(new, model, new_label=new_label, model_note=model_note)
    return compare_snapshots(old, new, model, id_column=id_column, old_label=old_label,
                             new_label=new_label, model_note=model_note)


def write_drift_report(report: DriftReport, path: Path | str) -> Path:
    """The report as Markdown, or as JSON when ``path`` ends in .json (atomically)."""
    from copilot.core import atomic_write_text
    from copilot.segmentation import render_markdown

    text = (report.model_dump_json(indent=2) + "\n" if str(path).lower().endswith(".json")
            else render_markdown(report))
    return atomic_write_text(path, text)
