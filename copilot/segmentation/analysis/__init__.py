"""The analysis: roles, quality, preparation, the sweep over algorithms and k, the choice, and
the profiles, validation, rules and themes that explain the segments."""

from typing import TYPE_CHECKING

from copilot.core import lazy_face

if TYPE_CHECKING:  # what the package exports; each module is imported on first use
    from copilot.segmentation.analysis.algorithms import FittedClusters
    from copilot.segmentation.analysis.anchors import (
        AnchorLevelShare,
        AnchorReport,
        anchor_lines,
        suggest_anchors,
    )
    from copilot.segmentation.analysis.choose import ALGORITHM_NAMES
    from copilot.segmentation.analysis.holdout import DEFAULT_SALT, check_share, holdout_flags
    from copilot.segmentation.analysis.mixture import Layout, MixedMixture
    from copilot.segmentation.analysis.pipeline import (
        ConfidenceSummary,
        SegmentAnalysis,
        SegmentationRun,
        SegmentSettings,
        check_settings,
        report_themes_and_anchors,
        run_segmentation,
    )
    from copilot.segmentation.analysis.prepare import OTHER_LEVEL, Preparation, skew_transform
    from copilot.segmentation.analysis.profile import SegmentProfile
    from copilot.segmentation.analysis.quality import QualityReport, quality_report
    from copilot.segmentation.analysis.roles import (
        FEATURE_ROLES,
        RoleReport,
        infer_roles,
        outcome_values,
    )
    from copilot.segmentation.analysis.scope import Scope, find_scope, parse_scope
    from copilot.segmentation.analysis.stance import (
        SegmentStance,
        Stances,
        is_cumulative,
        is_tenure_name,
        is_value_name,
        outcome_polarity,
        segment_stances,
    )
    from copilot.segmentation.analysis.sweep import SweepRow, SweepTable
    from copilot.segmentation.analysis.themes import theme_lines
    from copilot.segmentation.analysis.validate import (
        GroupSums,
        OutcomeSums,
        OutcomeValidation,
        SegmentSize,
        validate_outcome_sums,
    )
    from copilot.segmentation.analysis.within import AnchoredSegmentation, segment_within_anchors

__getattr__, __dir__, __all__ = lazy_face(__name__)
