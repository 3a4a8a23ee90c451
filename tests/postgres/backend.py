"""The PostgreSQL destination as a backend of the engine tests (tests/destinations, "Backend").

To run every ``tests/test_engine_*.py`` test against PostgreSQL too, ``tests/destinations/__init__.py``
would register it::

    from postgres.backend import PostgresBackend      # tests/ is on sys.path
    BACKENDS["postgresql"] = PostgresBackend

Each backend gets a fresh database on one server per test process (started on first use, stopped
at exit; see pg_server.py), one :class:`PostgresDestination` (default schema ``tester``) and one
in-memory state store, shared by every sync of the test.
"""

from __future__ import annotations

import atexit
import itertools
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import psycopg  # noqa: E402
from pg_server import EmbeddedServer  # noqa: E402

from headwater.destinations.postgres import PostgresDestination, from_postgres, quote  # noqa: E402

__all__ = ["PostgresBackend", "shared_server"]

_server: EmbeddedServer | None = None
_databases = itertools.count(1)
_SYSTEM_TYPES = {"_fivetran_synced": "UTC_DATETIME", "_fivetran_deleted": "BOOLEAN", "_fivetran_id": "STRING"}


def shared_server() -> EmbeddedServer:
    """The test process's server, started on first use and stopped when the process exits."""
    global _server
    if _server is None:
        server = EmbeddedServer()
        try:
            server.start()
        except BaseException:
            server.stop()
            raise
        atexit.register(server.stop)
        _server = server
    return _server


class _StateStore:
    def __init__(self) -> None:
        self.saved: str | None = None

    def load(self) -> str | None:
        return self.saved

    def stage(self, text: str) -> None:
        pass

    def save(self, text: str) -> None:
        self.saved = text

    def discard(self) -> None:
        pass

    def close(self) -> None:
        pass


class PostgresBackend:
    name = "postgresql"
    path: Path | None = None

    def __init__(self, project: Path) -> None:
        self.project = project
        server = shared_server()
        database = f"hw_engine_{next(_databases)}"
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {database} TEMPLATE template0 STRATEGY FILE_COPY")
        self.dsn = server.dsn(database)
        self.destination = PostgresDestination(self.dsn, schema_default="tester")
        self.state_store = _StateStore()

    def request(self) -> dict[str, Any]:
        return {"destination": self.destination, "state_store": self.state_store}

    def finish(self) -> None:
        self.destination.close()  # the same instance serves the next sync of the test

    def _sql(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as con:
            con.execute("SET TimeZone = 'UTC'")
            cursor = con.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []

    def exists(self) -> bool:
        return bool(self._sql(
            "SELECT 1 FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' "
            "AND (nspname <> 'public' OR EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = pg_namespace.oid))"))

    def tables(self) -> list[tuple[str, str]]:
        return sorted(self._sql(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')"))

    def _sql_columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        return self._sql(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (schema, table))

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        found = []
        for name, sql_type in self._sql_columns(schema, table):
            dtype = from_postgres(sql_type)
            found.append((name, _SYSTEM_TYPES.get(name) or (str(dtype) if dtype else f"postgresql:{sql_type}")))
        return found

    def rows(self, schema: str, table: str) -> list[tuple[Any, ...]]:
        columns = self._sql_columns(schema, table)
        if not columns:
            raise LookupError(f"no table {schema}.{table}")
        # real as the float32 value itself (psycopg would read its shortest text); jsonb as its text.
        select = ", ".join(f"{quote(n)}::double precision" if t == "real" else f"{quote(n)}::text" if t == "jsonb"
                           else quote(n) for n, t in columns)
        return self._sql(f"SELECT {select} FROM {quote(schema)}.{quote(table)}")

    def saved_state(self) -> str | None:
        return self.state_store.saved

    def save_state(self, text: str) -> None:
        self.state_store.saved = text

    def stored_type(self, type_name: str) -> str:
        return "STRING" if type_name == "XML" else type_name
