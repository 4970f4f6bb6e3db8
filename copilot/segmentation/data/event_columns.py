"""The columns of an event log and of the table built from it, and how their names reach SQL.

``EventSpec`` says which column of the log plays which part; ``FeatureInfo`` describes one
column of the per-customer table. The checks here run before any row is read: every named
column exists and plays one part, and ``Quantity*UnitPrice`` is parsed into two validated
column names, never evaluated. Column names reach SQL only quoted as identifiers, and times
only as literals made from datetimes, never from user text.
"""

from __future__ import annotations

import difflib
from datetime import datetime
from typing import Literal

from copilot.core import ColumnError, Frozen

FeatureGroup = Literal[
    "recency", "frequency", "activity", "timing", "monetary", "returns", "products", "events",
    "outcome",
]


# ------------------------------------------------------------------------------ public types


class EventSpec(Frozen):
    """Which columns of the log play which part. Names are checked against the file.

    ``amount`` is a column name or the product of two, written ``Quantity*UnitPrice``.
    ``order`` groups rows into orders (invoice) or sessions; ``product`` counts distinct
    products; ``event`` gives event-type shares. ``purchase_event`` (a value of the event
    column, for logs without an amount) marks purchases in a clickstream: it adds purchase
    features and the ``outcome_bought_after`` outcome.
    """

    id: str
    time: str
    amount: str | None = None
    event: str | None = None
    order: str | None = None
    product: str | None = None
    purchase_event: str | None = None


class FeatureInfo(Frozen):
    """One output column: its name, what it measures in one line, and its group."""

    name: str
    description: str
    group: FeatureGroup


# ------------------------------------------------------------------------------ column names


def quote_identifier(name: str) -> str:
    """A column name as a DuckDB identifier: double quotes, inner quotes doubled."""
    if "\x00" in name:
        raise ColumnError("A column name contains a NUL character; rename the column.")
    return '"' + name.replace('"', '""') + '"'


def parse_amount(text: str, columns: list[str]) -> tuple[str, ...]:
    """The column(s) whose value (or product) is the amount: ``"Sales"`` or ``"Qty*Price"``.

    A name that is itself a column wins over reading it as a product, so a column called
    ``a*b`` still works. Nothing is evaluated: the two sides must be column names.
    """
    if text in columns:
        return (text,)
    parts = [p.strip() for p in text.split("*")]
    if len(parts) == 2 and all(parts):
        unknown = [p for p in parts if p not in columns]
        if not unknown:
            return (parts[0], parts[1])
        raise _missing_columns([(p, "part of --amount") for p in unknown], columns)
    if len(parts) > 2:
        raise ColumnError(
            f"The amount '{text}' multiplies more than two columns; give one column or a "
            "product of two, like Quantity*UnitPrice."
        )
    raise _missing_columns([(text, "--amount")], columns)


def _missing_columns(missing: list[tuple[str, str]], columns: list[str]) -> ColumnError:
    listing = ", ".join(f"'{c}'" for c in columns[:10]) + (", ..." if len(columns) > 10 else "")
    parts = []
    for name, flag in missing:
        close = difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
        if not close:
            lowered = {c.lower(): c for c in columns}
            close = [lowered[name.lower()]] if name.lower() in lowered else []
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        parts.append(f"'{name}' given as {flag}{hint}")
    what = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    noun = "column" if len(parts) == 1 else "columns"
    return ColumnError(f"The events file has no {noun} {what}; its columns are {listing}.")


def _ts_literal(value: datetime) -> str:
    # Only ever given datetimes this module made, never user text.
    return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def _check_columns(spec: EventSpec, columns: dict[str, str]) -> tuple[str, ...]:
    """Every named column exists and plays one part; returns the amount column(s)."""
    names = list(columns)
    wanted = [(spec.id, "--id"), (spec.time, "--time")]
    wanted += [(getattr(spec, k), f"--{k}") for k in ("event", "order", "product")
               if getattr(spec, k)]
    missing = [(n, flag) for n, flag in wanted if n not in columns]
    if missing:
        raise _missing_columns(missing, names)
    amount = parse_amount(spec.amount, names) if spec.amount else ()
    if spec.purchase_event is not None:
        if not spec.event:
            raise ColumnError("A purchase event type needs the column that holds event types; "
                              "add --event COL or drop --purchase-event.")
        if amount:
            raise ColumnError("With --amount every row that is not a return is a purchase; "
                              "drop --purchase-event, which is for logs without amounts.")
    used = [n for n, _ in wanted] + list(amount)
    for n in used:
        if used.count(n) > 1:
            raise ColumnError(
                f"Column '{n}' is named for two parts (ID, time, amount, event, order or "
                "product); give each part its own column."
            )
    return amount


def _is_text(duck_type: str) -> bool:
    return duck_type.upper() in ("VARCHAR", "TEXT", "STRING") or duck_type.upper().startswith(
        "VARCHAR")


def _is_number(duck_type: str) -> bool:
    t = duck_type.upper()
    return t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL")


def _text_of(col: str) -> str:
    return f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"
