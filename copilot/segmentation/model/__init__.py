"""The saved model: the bundle on disk, assigning new customers, and drift."""

from typing import TYPE_CHECKING

from copilot.core import lazy_face

if TYPE_CHECKING:  # what the package exports; each module is imported on first use
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

__getattr__, __dir__, __all__ = lazy_face(__name__)
