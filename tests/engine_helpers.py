"""A harness for in-process engine tests: run syncs with Python functions into any destination and read
the tables back in headwater terms.

::

    pytest_plugins = ["destinations.plugin"]   # the ``target`` fixture

    def test_something(target: Target) -> None:
        def update(configuration, state):
            op.upsert("t", {"id": 1})

        run = target.sync(update)
        assert run.succeeded, run.err
        assert target.rows("t", "id") == [(1,)]
        assert target.column_types("t")[0] == ("id", "INT")

The ``target`` fixture is parametrised over every destination of ``tests/destinations``
(:data:`destinations.BACKENDS`: ``duckdb`` and ``memory``), so each test runs once per destination.
A test that only makes sense for DuckDB takes the :data:`duckdb_only` mark.

No ``connector.py`` is needed: :func:`headwater.runner.run_debug` takes the connector object. The
process environment is never consulted (``environ={}``), so ``FIVETRAN_*`` variables of the machine
running the tests cannot leak into a sync. Column types are headwater type names (``LONG``,
``DECIMAL(12,2)``, ``UTC_DATETIME``...), whatever the destination calls them.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from destinations import BACKENDS, Backend, DuckDBBackend
from headwater.connector import Connector
from headwater.events import EventHandler
from headwater.runner import DebugRequest, SyncReport, run_debug

__all__ = ["TARGETS", "SyncRun", "Target", "duckdb_only", "target"]

#: The destinations every engine test runs against.
TARGETS = tuple(BACKENDS)

#: Mark for a test that checks something only DuckDB has (its file, its SQL types).
duckdb_only = pytest.mark.parametrize("target", ["duckdb"], indirect=True)


class SyncRun(NamedTuple):
    """What one :meth:`Target.sync` produced: the runner's report and what it printed."""

    report: SyncReport
    out: str
    err: str

    @property
    def succeeded(self) -> bool:
        return self.report.succeeded

    @property
    def counters(self) -> Any:
        return self.report.counters

    @property
    def error(self) -> str | None:
        return self.report.error


Columns = str | Sequence[str] | None


def _names(columns: Columns) -> list[str] | None:
    if columns is None or columns == "*":
        return None
    if isinstance(columns, str):
        return [c.strip() for c in columns.split(",")]
    return list(columns)


def _sort_key(values: Sequence[Any]) -> tuple[Any, ...]:
    """ORDER BY as SQL does it: ascending, NULLs last."""
    return tuple((v is None, v if v is not None else 0) for v in values)


class Target:
    """One destination for one test: syncs into it and reads back what it committed.

    Consecutive :meth:`sync` calls write into the same destination (the same project folder and
    DuckDB file, or the same in-memory database, destination and state store), so incremental syncs
    see earlier ones. :meth:`new` gives an independent, empty target of the same destination.
    """

    def __init__(self, kind: str, project: Path) -> None:
        self.kind = kind
        self.project = Path(project)
        self.backend: Backend = BACKENDS[kind](self.project)
        self._children = itertools.count()

    def __repr__(self) -> str:
        return f"Target({self.kind!r}, {str(self.project)!r})"

    @property
    def path(self) -> Path | None:
        """The DuckDB warehouse file (None for destinations without one)."""
        return self.backend.path

    def new(self, label: str = "project") -> Target:
        """A fresh, empty target of the same destination, in a new project folder under this one's."""
        folder = self.project / f"{label}-{next(self._children)}"
        folder.mkdir(parents=True)
        return Target(self.kind, folder)

    # -- running --------------------------------------------------------------------------------------

    def sync(
        self,
        update: Callable[..., Any],
        schema: Callable[..., Any] | None = None,
        state: dict[str, Any] | None = None,
        naming: str | None = None,
        *,
        buffer_bytes: int | None = None,
        configuration: dict[str, Any] | None = None,
        fold_after_runs: int | None = None,
        on_event: EventHandler | None = None,
    ) -> SyncRun:
        """Run one sync of ``Connector(update=update, schema=schema)`` into this destination."""
        request = DebugRequest(
            project=self.project,
            connector=Connector(update=update, schema=schema),
            state=state,
            naming=naming,
            buffer_bytes=buffer_bytes,
            configuration=configuration,
            fold_after_runs=fold_after_runs,
            environ={},
            **self.backend.request(),
        )
        out, err = io.StringIO(), io.StringIO()
        try:
            report = run_debug(request, out=out, err=err, on_event=on_event)
        finally:
            self.backend.finish()
        return SyncRun(report, out.getvalue(), err.getvalue())

    # -- reading back ---------------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the destination holds anything at all (a database file, an in-memory database)."""
        return self.backend.exists()

    def tables(self) -> list[tuple[str, str]]:
        """``(schema, table)`` of every table, sorted."""
        return self.backend.tables()

    def column_types(self, table: str, schema: str = "tester") -> list[tuple[str, str]]:
        """``(column, headwater type name)`` in table order, system columns included (``_fivetran_synced``
        is ``UTC_DATETIME``, ``_fivetran_deleted`` ``BOOLEAN``, ``_fivetran_id`` ``STRING``)."""
        return self.backend.columns(schema, table)

    def columns(self, table: str, schema: str = "tester") -> list[str]:
        """The column names of a table, in table order."""
        return [name for name, _ in self.column_types(table, schema)]

    def type_of(self, column: str, table: str = "t", schema: str = "tester") -> str:
        """The headwater type name of one column."""
        return dict(self.column_types(table, schema))[column]

    def stored_type(self, type_name: str) -> str:
        """What a column created as ``type_name`` reads back as here (DuckDB: XML is STRING)."""
        return self.backend.stored_type(type_name)

    def rows(
        self,
        table: str,
        columns: Columns = None,
        *,
        schema: str = "tester",
        where: Mapping[str, Any] | None = None,
        deleted: bool | None = None,
        order_by: Columns = None,
    ) -> list[tuple[Any, ...]]:
        """Rows of a table as tuples of ``columns`` (``"id, name"``, a list, or None for all).

        ``where``: column -> value, rows whose columns equal those values (None: IS NULL);
        ``deleted``: only rows whose ``_fivetran_deleted`` is that; ``order_by``: columns to sort by,
        ascending with NULLs last (without it the order is the destination's).
        """
        names = self.columns(table, schema)
        if not names:
            raise LookupError(f"no table {schema}.{table} in {self.kind}; tables: {self.tables()}")
        position = {name: i for i, name in enumerate(names)}

        def at(column: str) -> int:
            if column not in position:
                raise KeyError(f"no column {column!r} in {schema}.{table}; columns: {names}")
            return position[column]

        selected = [at(c) for c in _names(columns) or names]
        found = self.backend.rows(schema, table)
        conditions = [(at(c), v) for c, v in (where or {}).items()]
        if deleted is not None:
            conditions.append((at("_fivetran_deleted"), deleted))
        found = [row for row in found if all(row[i] == v if v is not None else row[i] is None
                                             for i, v in conditions)]
        order = [at(c) for c in _names(order_by) or []]
        if order:
            found.sort(key=lambda row: _sort_key([row[i] for i in order]))
        return [tuple(row[i] for i in selected) for row in found]

    def values(self, table: str, column: str, **options: Any) -> list[Any]:
        """One column of :meth:`rows` as a list."""
        return [row[0] for row in self.rows(table, [column], **options)]

    def table_rows(self, table: str, schema: str = "tester", *, system: bool = False) -> list[tuple[Any, ...]]:
        """Every row of a table, sorted, without ``_fivetran_synced`` (and without the other system
        columns unless ``system``); handy for comparing whole tables."""
        keep = [n for n in self.columns(table, schema)
                if n != "_fivetran_synced" and (system or not n.startswith("_fivetran_"))]
        found = self.rows(table, keep, schema=schema)
        return sorted(found, key=lambda row: tuple((v is None, repr(v)) for v in row))

    def saved_state(self) -> str | None:
        """The text of the last saved state, or None when none was saved."""
        return self.backend.saved_state()

    def save_state(self, text: str) -> None:
        """Make ``text`` the saved state, as a previous sync would have."""
        self.backend.save_state(text)

    def sql(self, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Raw SQL on the DuckDB warehouse, read-only, TimeZone UTC (DuckDB-only tests)."""
        return self._duckdb("sql").sql(sql, parameters)

    def sql_column_types(self, table: str, schema: str = "tester") -> list[tuple[str, str]]:
        """``(column, DuckDB type)`` as information_schema spells them (DuckDB-only tests)."""
        return self._duckdb("sql_column_types").sql_columns(schema, table)

    def _duckdb(self, what: str) -> DuckDBBackend:
        if not isinstance(self.backend, DuckDBBackend):
            raise TypeError(f"{what}() reads DuckDB only, not {self.kind}; mark the test duckdb_only")
        return self.backend


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """A :class:`Target` for the test's ``tmp_path``, once per destination of ``tests/destinations``."""
    return Target(request.param, tmp_path)
