"""Files for other systems: assignments, CRM files, the glossary, per-level outputs, and
publishing an output folder whole or not at all."""

from copilot.segmentation.outputs.anchored_export import (
    check_anchored_folder,
    folder_name,
    write_anchored,
)
from copilot.segmentation.outputs.crm import (
    DEFAULT_SALT,
    crm_frame,
    get_preset,
    ids_as_text,
    write_crm_csv,
)
from copilot.segmentation.outputs.export import csv_text, write_outputs
from copilot.segmentation.outputs.glossary import (
    build_glossary,
    is_definition,
    unchanged,
)
from copilot.segmentation.outputs.glossary_files import (
    latest_glossary,
    read_glossary_assignments,
    write_glossary,
)
from copilot.segmentation.outputs.glossary_records import Glossary, OtherTableError
from copilot.segmentation.outputs.glossary_render import no_change_text
from copilot.segmentation.outputs.publish import check_out_dir, produced_input, staged_folder

__all__ = [
    "DEFAULT_SALT",
    "Glossary",
    "OtherTableError",
    "build_glossary",
    "check_anchored_folder",
    "check_out_dir",
    "crm_frame",
    "csv_text",
    "folder_name",
    "get_preset",
    "ids_as_text",
    "is_definition",
    "latest_glossary",
    "no_change_text",
    "produced_input",
    "read_glossary_assignments",
    "staged_folder",
    "unchanged",
    "write_anchored",
    "write_crm_csv",
    "write_glossary",
    "write_outputs",
]
