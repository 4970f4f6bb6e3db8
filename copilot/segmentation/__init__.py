"""The headless segmentation engine: no LLM, no UI imports.

Load a table, infer column roles, report quality, prepare features, sweep algorithms and k,
choose, fit, and validate, profile and explain the segments. ``run_segmentation`` does it all.
"""

from typing import TYPE_CHECKING

from copilot.core import lazy_face

if TYPE_CHECKING:  # what the package exports; each module is imported on first use
    from copilot.segmentation.analysis import (
        ALGORITHM_NAMES,
        FEATURE_ROLES,
        AnchoredSegmentation,
        AnchorLevelShare,
        AnchorReport,
        OutcomeValidation,
        QualityReport,
        RoleReport,
        Scope,
        SegmentAnalysis,
        SegmentationRun,
        SegmentProfile,
        SegmentSettings,
        SegmentStance,
        Stances,
        SweepRow,
        SweepTable,
        anchor_lines,
        check_settings,
        find_scope,
        infer_roles,
        is_cumulative,
        is_tenure_name,
        is_value_name,
        outcome_polarity,
        parse_scope,
        quality_report,
        report_themes_and_anchors,
        run_segmentation,
        segment_stances,
        segment_within_anchors,
        suggest_anchors,
        theme_lines,
    )
    from copilot.segmentation.data import (
        DatabaseSource,
        EventSpec,
        LoadedTable,
        build_features,
        database_source,
        ids_as_text,
        is_database_url,
        load_table,
        name_tokens,
        outcome_flags,
        parse_as_of,
        read_document,
        redact,
        redact_text,
    )
    from copilot.segmentation.model import (
        DriftReport,
        SavedModel,
        assign_file,
        assign_table,
        check_snapshot,
        compare_snapshots,
        load_bundle,
        model_folder,
        rename_bundle,
        render_markdown,
        save_bundle,
        save_bundle_with_data,
        train_reference_model,
    )
    from copilot.segmentation.outputs import (
        DEFAULT_SALT,
        Glossary,
        OtherTableError,
        WrittenTable,
        build_glossary,
        check_anchored_folder,
        check_out_dir,
        check_out_table,
        crm_arrow,
        crm_frame,
        csv_text,
        folder_name,
        get_preset,
        is_definition,
        latest_glossary,
        no_change_text,
        produced_input,
        read_glossary_assignments,
        staged_folder,
        unchanged,
        write_anchored,
        write_crm_csv,
        write_glossary,
        write_outputs,
        write_table,
    )
    from copilot.segmentation.spark import (
        ASSIGNMENTS_PARQUET,
        SparkAssigned,
        SparkSegmentation,
        assign_spark,
        check_parquet_out,
        segment_spark,
        spark_missing_sentence,
        spark_session,
    )
    from copilot.segmentation.spark import spark_features

__getattr__, __dir__, __all__ = lazy_face(__name__)
