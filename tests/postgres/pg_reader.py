"""Reading a test database back, for the PostgreSQL destination tests (the ``pg`` fixture)."""

from __future__ import annotations

from typing import Any

import psycopg

from headwater.destinations.postgres import quote

__all__ = ["Reader"]


class Reader:
    """Reads a test database back: rows, column types, keys (autocommit, ``TimeZone`` UTC)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.con = psycopg.connect(dsn, autocommit=True)
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET extra_float_digits = 1")

    def sql(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        cursor = self.con.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []

    def one(self, sql: str, params: Any = None) -> Any:
        rows = self.sql(sql, params)
        assert len(rows) == 1 and len(rows[0]) == 1, rows
        return rows[0][0]

    def rows(self, table: str, schema: str = "tester", columns: list[str] | None = None,
             order: str | None = None, *, system: bool = False) -> list[tuple[Any, ...]]:
        """Rows of a table (ordered by ``order`` or the first column); without ``_fivetran_synced``
        unless ``system``."""
        names = columns or [n for n, _ in self.columns(table, schema)
                            if system or n != "_fivetran_synced"]
        select = ", ".join(quote(n) for n in names)
        by = order or quote(names[0])
        return self.sql(f"SELECT {select} FROM {quote(schema)}.{quote(table)} ORDER BY {by}")

    def columns(self, table: str, schema: str = "tester") -> list[tuple[str, str]]:
        """(name, format_type) in table order."""
        return self.sql(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (schema, table))

    def primary_key(self, table: str, schema: str = "tester") -> list[str]:
        return [r[0] for r in self.sql(
            "SELECT a.attname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, pos) "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.attnum "
            "WHERE k.contype = 'p' AND n.nspname = %s AND c.relname = %s ORDER BY u.pos", (schema, table))]

    def tables(self) -> list[tuple[str, str]]:
        return sorted(self.sql(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"))

    def close(self) -> None:
        self.con.close()
