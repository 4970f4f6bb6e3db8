"""Use-cases written once, below every front end: the chat's Session and the commands call
these, so a chat step and a command cannot drift apart.

Below ``copilot.agent``, ``copilot.commands``, ``copilot.tui`` and ``cli.py``; above the report,
the LLM layer and the engine (``copilot.segmentation``).

- the analysis folder (``AnalysisFolder``, ``publish_segments``): the files a run publishes;
- segment-and-write (``segment_table``, ``segment_with_spark``, ``write_segments``, ``add_strategy``,
  ``rename_segment``), the settings (``settings_with``) and ``segment_within_levels``;
- the CRM export (``folder_customers``, ``read_own_customers``, ``write_crm``);
- the glossary update (``plan_glossary``, ``publish_glossary``);
- the saved model's operations (``assign_to_file``, ``assign_to_parquet`` with Spark,
  ``drift_report``, ``write_drift_report``);
- the memo (``write_strategy_memo``).
"""

from copilot.workflow.assign import (
    Assigned,
    assign_to_file,
    assign_to_parquet,
    assign_to_table,
    drift_report,
    write_drift_report,
)
from copilot.workflow.customers import (
    CrmFile,
    OwnCustomers,
    folder_customers,
    read_own_customers,
    real_names,
    write_crm,
)
from copilot.workflow.folder import (
    ANALYSIS_FILE,
    ASSIGNMENTS_FILE,
    MODEL_DIR,
    WRITING_FILE,
    AnalysisFolder,
    publish_segments,
    write_csv,
)
from copilot.workflow.glossary import (
    GlossaryPlan,
    definitions_of,
    plan_glossary,
    publish_glossary,
)
from copilot.workflow.memo import write_strategy_memo
from copilot.workflow.segment import (
    build_feature_file,
    column_roles,
    inspect_table,
    read_scope,
    scope_sentence,
    segment_table,
    segment_with_spark,
    segment_within_levels,
    segmented_rows,
    settings_with,
)
from copilot.workflow.writing import (
    Renamed,
    add_strategy,
    drafts,
    given_names,
    rename_segment,
    segment_names,
    with_user_names,
    write_segments,
)

__all__ = [
    "ANALYSIS_FILE",
    "ASSIGNMENTS_FILE",
    "MODEL_DIR",
    "WRITING_FILE",
    "AnalysisFolder",
    "Assigned",
    "CrmFile",
    "GlossaryPlan",
    "OwnCustomers",
    "Renamed",
    "add_strategy",
    "assign_to_file",
    "assign_to_parquet",
    "assign_to_table",
    "build_feature_file",
    "column_roles",
    "definitions_of",
    "drafts",
    "drift_report",
    "folder_customers",
    "inspect_table",
    "plan_glossary",
    "publish_glossary",
    "publish_segments",
    "read_own_customers",
    "read_scope",
    "real_names",
    "rename_segment",
    "scope_sentence",
    "given_names",
    "segment_names",
    "segment_table",
    "segment_with_spark",
    "segment_within_levels",
    "segmented_rows",
    "settings_with",
    "with_user_names",
    "write_crm",
    "write_csv",
    "write_drift_report",
    "write_segments",
    "write_strategy_memo",
]
