"""The saved model: the bundle on disk, assigning new customers, and drift."""

from copilot.segmentation.model.assign import assign_file, assign_table
from copilot.segmentation.model.bundle import (
    SavedModel,
    load_bundle,
    model_folder,
    rename_bundle,
    save_bundle,
    save_bundle_with_data,
)
from copilot.segmentation.model.drift import (
    check_snapshot,
    compare_snapshots,
    train_reference_model,
)
from copilot.segmentation.model.drift_render import render_markdown
from copilot.segmentation.model.drift_report import DriftReport

__all__ = [
    "DriftReport",
    "SavedModel",
    "assign_file",
    "assign_table",
    "check_snapshot",
    "compare_snapshots",
    "load_bundle",
    "model_folder",
    "rename_bundle",
    "render_markdown",
    "save_bundle",
    "save_bundle_with_data",
    "train_reference_model",
]
