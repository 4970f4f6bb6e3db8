"""How the summary and the memo name the table a run read: a file by its path (the memo by
its name alone), a database by its URL without the password and the table or query."""

from __future__ import annotations

from pathlib import Path

DATABASE_FORMATS = ("postgresql", "duckdb")


def source_name(source: dict, *, short: bool = False) -> str:
    """``customers.csv`` (``short``) or its path; ``table customers in postgresql://u:***@h/db``
    for a database (the URL was redacted when the table was loaded), ``table customers``
    (``short``)."""
    path = str(source.get("path") or "")
    if source.get("format") in DATABASE_FORMATS:
        what = f"table {source['table']}" if source.get("table") else "a query"
        return what if short else f"{what} in {path}"
    return Path(path).name if short and path else path


def source_query(source: dict, limit: int = 300) -> str | None:
    """The SQL a database table was read with, one line, cut at ``limit`` characters."""
    query = source.get("query")
    if not query:
        return None
    text = " ".join(str(query).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
