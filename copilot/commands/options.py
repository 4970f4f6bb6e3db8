"""Options every command that reads a customer table or writes assignments shares, defined
once: the flags that make a database URL a table (--query, --table) and that write a database
table instead of a CSV (--out-table, --out-db). Parser code only: nothing heavy is imported."""

from __future__ import annotations

import argparse


def source_options(p: argparse.ArgumentParser) -> None:
    """--query and --table: what to read when the table argument is a database URL."""
    g = p.add_argument_group("A database as the table: postgresql://user:password@host:5432/db "
                             "or duckdb:///path/file.duckdb, with one of")
    g.add_argument("--query", metavar="SQL", help="the SQL whose rows are the customers")
    g.add_argument("--table", metavar="NAME", help="the table (or view) of customers, "
                   "NAME or SCHEMA.NAME")


def out_table_options(p: argparse.ArgumentParser, *,
                      default_db: str = "the database the customers were read from") -> None:
    """--out-table and --out-db: write the result as a database table instead of a CSV."""
    g = p.add_argument_group("Writing to a database table (instead of --out FILE)")
    g.add_argument("--out-table", metavar="NAME", help="create this table (NAME or SCHEMA.NAME) "
                   "in one transaction; a table segment-copilot wrote before is replaced, any "
                   "other is refused")
    g.add_argument("--out-db", metavar="URL", help="the database to write --out-table in "
                   f"(default: {default_db})")
