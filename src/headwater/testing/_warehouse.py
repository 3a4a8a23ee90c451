"""Read-only looks into a finished sync's warehouse, for SyncResult and the assertion helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headwater.destinations.base import fold_ascii as identity
from headwater.destinations.duckdb import DEFAULT_SCHEMA, quote

FIVETRAN_ID = "_fivetran_id"
SYNCED = "_fivetran_synced"
DELETED = "_fivetran_deleted"


@dataclass(frozen=True)
class TableRef:
    """A table found in the warehouse, with its names as stored."""

    schema: str
    name: str
    comment: str | None

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def sql(self) -> str:
        return f"{quote(self.schema)}.{quote(self.name)}"


@contextmanager
def connect(warehouse: Path) -> Iterator[Any]:
    """A read-only connection with session time zone UTC; LookupError when there is no warehouse."""
    import duckdb

    if not warehouse.exists():
        raise LookupError(f"no warehouse at {warehouse}: the sync wrote nothing (did it fail before its first commit?)")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


def tables(con: Any) -> list[TableRef]:
    rows = con.execute(
        "SELECT schema_name, table_name, comment FROM duckdb_tables() "
        "WHERE database_name = current_database() AND NOT temporary ORDER BY schema_name, table_name"
    ).fetchall()
    return [TableRef(schema, name, comment) for schema, name, comment in rows]


def find_table(con: Any, name: str, schema: str | None = None) -> TableRef:
    """The table called ``name`` (``"schema.table"`` also works; the default schema is ``tester``).

    Names match as DuckDB matches identifiers (ASCII case folded). LookupError lists the tables
    that exist when there is no such table.
    """
    candidates = [(schema or DEFAULT_SCHEMA, name)]
    if schema is None and "." in name:
        qualified, _, table = name.rpartition(".")
        candidates.append((qualified, table))
    found = tables(con)
    for wanted_schema, wanted_table in candidates:
        for ref in found:
            if identity(ref.schema) == identity(wanted_schema) and identity(ref.name) == identity(wanted_table):
                return ref
    existing = ", ".join(ref.label for ref in found) or "none"
    wanted = " or ".join(f"{s}.{t}" for s, t in candidates)
    raise LookupError(f"no table {wanted} in the warehouse; its tables: {existing}")


def columns(con: Any, ref: TableRef) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ? ORDER BY column_index",
        [ref.schema, ref.name],
    ).fetchall()
    return [row[0] for row in rows]


def primary_key(con: Any, ref: TableRef) -> list[str]:
    """The primary key from the table comment ``{"headwater": {"primary_key": [...]}}``;
    ``["_fivetran_id"]`` for a table without one."""
    key: list[str] = []
    if ref.comment:
        try:
            declared = json.loads(ref.comment)["headwater"]["primary_key"]
        except (ValueError, KeyError, TypeError):
            declared = None
        if isinstance(declared, list):
            key = [str(column) for column in declared]
    if not key and any(identity(column) == FIVETRAN_ID for column in columns(con, ref)):
        key = [FIVETRAN_ID]
    return key


def fetch_dicts(con: Any, sql: str, parameters: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, parameters or [])
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
