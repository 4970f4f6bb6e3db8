"""Files and tables for other systems: assignments, CRM files, database tables, the glossary,
per-level outputs, and publishing an output folder whole or not at all."""

from typing import TYPE_CHECKING

from copilot.core import lazy_face

if TYPE_CHECKING:  # what the package exports; each module is imported on first use
    from copilot.segmentation.outputs.anchored_export import (
        check_anchored_folder,
        folder_name,
        write_anchored,
    )
    from copilot.segmentation.outputs.crm import (
        DEFAULT_SALT,
        crm_frame,
        get_preset,
        write_crm_csv,
    )
    from copilot.segmentation.outputs.db_table import (
        WrittenTable,
        check_out_table,
        crm_arrow,
        write_table,
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
    from copilot.segmentation.outputs.publish import (
        check_out_dir,
        produced_input,
        recover,
        staged_folder,
        swap_in,
    )

__getattr__, __dir__, __all__ = lazy_face(__name__)
