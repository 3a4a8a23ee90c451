"""A tiny harness for in-process engine tests: run one sync with Python functions, read the warehouse.

::

    def update(configuration, state):
        op.upsert("t", {"id": 1})

    run = sync_once(tmp_path, update)
    assert run.succeeded
    assert rows(tmp_path, "SELECT id FROM tester.t") == [(1,)]

No ``connector.py`` is needed: :func:`headwater.runner.run_debug` takes the connector object. The
process environment is never consulted (``environ={}``), so ``FIVETRAN_*`` variables of the machine
running the tests cannot leak into a sync.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import duckdb

from headwater.connector import Connector
from headwater.runner import DebugRequest, SyncReport, run_debug

__all__ = ["SyncRun", "column_types", "rows", "saved_state", "sync_once", "table_rows", "warehouse_path"]


class SyncRun(NamedTuple):
    """What one :func:`sync_once` produced: the runner's report and what it printed."""

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


def sync_once(
    tmp_path: Path,
    update: Callable[..., Any],
    schema: Callable[..., Any] | None = None,
    state: dict[str, Any] | None = None,
    naming: str | None = None,
    *,
    buffer_bytes: int | None = None,
    configuration: dict[str, Any] | None = None,
) -> SyncRun:
    """Run one sync of ``Connector(update=update, schema=schema)`` on the project folder ``tmp_path``."""
    connector = Connector(update=update, schema=schema)
    request = DebugRequest(
        project=tmp_path,
        connector=connector,
        state=state,
        naming=naming,
        buffer_bytes=buffer_bytes,
        configuration=configuration,
        environ={},
    )
    out, err = io.StringIO(), io.StringIO()
    report = run_debug(request, out=out, err=err)
    return SyncRun(report, out.getvalue(), err.getvalue())


def warehouse_path(tmp_path: Path) -> Path:
    return Path(tmp_path) / "files" / "warehouse.db"


def rows(tmp_path: Path, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the project's warehouse, read-only, with ``TimeZone`` set to UTC."""
    con = duckdb.connect(str(warehouse_path(tmp_path)), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql, parameters or []).fetchall()
    finally:
        con.close()


def column_types(tmp_path: Path, table: str, schema: str = "tester") -> list[tuple[str, str]]:
    """``(column_name, data_type)`` of a table, in column order, as information_schema reports them."""
    return rows(
        tmp_path,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    )


def table_rows(tmp_path: Path, table: str, schema: str = "tester", *, system: bool = False) -> list[tuple[Any, ...]]:
    """Every row of a table, sorted, without ``_fivetran_synced`` (and without the other system columns
    unless ``system``); handy for comparing whole tables."""
    names = [name for name, _ in column_types(tmp_path, table, schema)]
    keep = [n for n in names if n != "_fivetran_synced" and (system or not n.startswith("_fivetran_"))]
    select = ", ".join('"' + n.replace('"', '""') + '"' for n in keep)
    fetched = rows(tmp_path, f'SELECT {select} FROM "{schema}"."{table}"')
    return sorted(fetched, key=lambda row: tuple((v is None, repr(v)) for v in row))


def saved_state(tmp_path: Path) -> str | None:
    """The text of ``files/state.json``, or None when it does not exist."""
    path = Path(tmp_path) / "files" / "state.json"
    return path.read_text(encoding="utf-8") if path.exists() else None
