"""Reading input: tables (CSV, Parquet, Excel, text, PostgreSQL and DuckDB), amounts, customer
IDs, chunked reading, event logs and the JSON documents segment-copilot writes."""

from typing import TYPE_CHECKING

from copilot.core import lazy_face

if TYPE_CHECKING:  # what the package exports; each module is imported on first use
    from copilot.segmentation.data.database import (
        DatabaseSource,
        database_source,
        duckdb_path,
        is_database_url,
        postgres_connect,
        postgres_driver,
        quote_name,
        redact,
        redact_text,
        scrub,
    )
    from copilot.segmentation.data.documents import read_document
    from copilot.segmentation.data.event_columns import EventSpec
    from copilot.segmentation.data.event_dialect import SPARK_SQL, Queries, SqlDialect
    from copilot.segmentation.data.events import (
        Aggregator,
        EventFeatures,
        build_features,
        outcome_flags,
        parse_as_of,
    )
    from copilot.segmentation.data.ids import ids_as_text
    from copilot.segmentation.data.load import LoadedTable, load_table
    from copilot.segmentation.data.names import name_tokens, outcome_name_match
    from copilot.segmentation.data.stream import CHUNK_ROWS, iter_table_chunks

__getattr__, __dir__, __all__ = lazy_face(__name__)
