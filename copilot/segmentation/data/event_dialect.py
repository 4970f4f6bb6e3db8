"""The few SQL spellings that differ between DuckDB and Spark SQL, and the query runner the
feature catalogue talks to, so one catalogue writes the features for both engines.

The catalogue (``event_features``) writes every feature once, in SQL both engines read
(``count(*) FILTER (WHERE ...)``, ``median``, ``date_trunc``, ``lag() OVER``, ``INTERVAL '90
days'``, ``JOIN ... USING``); what they spell differently goes through a ``SqlDialect``:
identifiers, milliseconds since the epoch, the weekend test and "the value at the earliest
key". Numbers are written as doubles (``8.64E7``): a plain ``86400000.0`` is a DECIMAL in
Spark, whose division rounds to a few decimals where DuckDB's gives a double.

A ``Queries`` runs that SQL on one engine and hands back pandas frames (one row per customer
or smaller); ``DuckQueries`` is the local one, the Spark one lives in the engine's ``spark``
floor and is handed in by whoever asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pandas as pd


@dataclass(frozen=True)
class SqlDialect:
    """How one engine spells the handful of expressions the catalogue cannot write neutrally.

    Each field is a template with ``{}`` (or ``{value}`` and ``{keys}``) for the arguments.
    """

    name: str
    quote: str  # identifier quote character
    epoch_ms_sql: str  # a TIMESTAMP to whole milliseconds since 1970-01-01 (UTC wall time)
    weekend_sql: str  # true on Saturday and Sunday
    first_by_sql: str  # the value at the smallest key; keys compared as a tuple
    last_by_sql: str
    keys_sql: str  # several keys as one comparable value

    def ident(self, name: str) -> str:
        """A column name as this engine's identifier (the quote character doubled inside)."""
        return self.quote + name.replace(self.quote, self.quote * 2) + self.quote

    def epoch_ms(self, ts: str) -> str:
        return self.epoch_ms_sql.format(ts)

    def is_weekend(self, ts: str) -> str:
        return self.weekend_sql.format(ts)

    def first_by(self, value: str, *keys: str) -> str:
        return self.first_by_sql.format(value=value, keys=self._keys(keys))

    def last_by(self, value: str, *keys: str) -> str:
        return self.last_by_sql.format(value=value, keys=self._keys(keys))

    def _keys(self, keys: tuple[str, ...]) -> str:
        return keys[0] if len(keys) == 1 else self.keys_sql.format(", ".join(keys))


DUCKDB_SQL = SqlDialect(
    name="duckdb", quote='"', epoch_ms_sql="epoch_ms({})",
    weekend_sql="dayofweek({}) IN (0, 6)",  # DuckDB: Sunday 0 ... Saturday 6
    first_by_sql="arg_min({value}, {keys})", last_by_sql="arg_max({value}, {keys})",
    keys_sql="({})",  # a row value, compared field by field
)

SPARK_SQL = SqlDialect(
    name="spark", quote="`", epoch_ms_sql="unix_millis({})",  # truncates, as epoch_ms does
    weekend_sql="dayofweek({}) IN (1, 7)",  # Spark: Sunday 1 ... Saturday 7
    first_by_sql="min_by({value}, {keys})", last_by_sql="max_by({value}, {keys})",
    keys_sql="struct({})",  # structs compare field by field
)


def double(value: float) -> str:
    """A number as a DOUBLE literal in both engines (see the module's note on DECIMAL)."""
    return f"{float(value)!r}E0"


class Queries(Protocol):
    """SQL on one engine over the cleaned events (the ``ev`` table or view)."""

    dialect: SqlDialect

    def execute(self, sql: str) -> None: ...

    def rows(self, sql: str) -> list[tuple]: ...

    def frame(self, sql: str) -> pd.DataFrame: ...


@dataclass(frozen=True)
class DuckQueries:
    """The local engine: the DuckDB connection that staged the events."""

    con: object
    dialect: SqlDialect = DUCKDB_SQL

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def rows(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()

    def frame(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()
