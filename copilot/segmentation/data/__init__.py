"""Reading input: tables (CSV, Parquet, Excel, text), amounts, customer IDs, chunked reading,
event logs and the JSON documents segment-copilot writes."""

from copilot.segmentation.data.documents import read_document
from copilot.segmentation.data.event_columns import EventSpec
from copilot.segmentation.data.events import build_features, outcome_flags, parse_as_of
from copilot.segmentation.data.ids import ids_as_text
from copilot.segmentation.data.load import LoadedTable, load_table
from copilot.segmentation.data.names import name_tokens, outcome_name_match
from copilot.segmentation.data.stream import CHUNK_ROWS, iter_table_chunks

__all__ = [
    "CHUNK_ROWS",
    "EventSpec",
    "LoadedTable",
    "build_features",
    "ids_as_text",
    "iter_table_chunks",
    "load_table",
    "name_tokens",
    "outcome_flags",
    "outcome_name_match",
    "parse_as_of",
    "read_document",
]
