"""Run a connector in-process from a test and look at what it produced.

::

    from headwater.testing import run_connector

    def test_first_sync_loads_orders(tmp_path):
        result = run_connector("path/to/project", configuration={"api_key": "test"}, warehouse_dir=tmp_path)
        assert result.succeeded, result.output
        assert result.rows("SELECT count(*) FROM tester.orders") == [(2500,)]
        assert result.state == {"cursor": "2024-01-31T00:00:00Z"}

The sync is exactly the one ``headwater debug`` runs (same engine, same warehouse format); its
log, summary and error line are captured instead of printed. The result also holds the
operations the connector made (``result.operations``, see :mod:`headwater.testing.operation_log`)
and the parsed log (``result.log``). :mod:`headwater.testing.assertions` checks keys, row counts
and state, and :mod:`headwater.testing.plugin` provides the pytest fixtures ``headwater_run`` and
``connector_project``.
"""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater.events import Event, EventHandler
from headwater.testing.assertions import (
    assert_no_duplicate_keys,
    assert_no_null_keys,
    assert_row_count,
    assert_state_advanced,
    assert_sync_succeeded,
)
from headwater.testing.logs import LogLine, parse_log
from headwater.testing.operation_log import Operation, OperationRecorder

__all__ = [
    "LogLine",
    "Operation",
    "SyncResult",
    "assert_no_duplicate_keys",
    "assert_no_null_keys",
    "assert_row_count",
    "assert_state_advanced",
    "assert_sync_succeeded",
    "run_connector",
]


@dataclass
class SyncResult:
    """What one in-process sync did."""

    exit_code: int
    output: str                      # stdout: log lines and the summary
    errors: str                      # stderr: the `error:` line of a failed sync
    project: Path
    warehouse: Path
    state_path: Path
    counters: Any = None
    error: str | None = None
    _state: dict[str, Any] | None = field(default=None, repr=False)
    #: The operations the sync accepted, in call order (empty when run with capture_operations=False).
    operations: list[Operation] = field(default_factory=list, repr=False)
    _state_captured: bool = field(default=False, repr=False)

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0

    @property
    def log(self) -> list[LogLine]:
        """The log records of the sync (connector's and headwater's), parsed from :attr:`output`."""
        return parse_log(self.output)

    def primary_keys(self, table: str, schema: str | None = None) -> list[str]:
        """The primary-key columns of ``table`` as stored in the warehouse (``["_fivetran_id"]`` for a
        table without a primary key). ``table`` may be ``"schema.table"``; LookupError if it does not exist."""
        from headwater.testing import _warehouse

        with _warehouse.connect(self.warehouse) as con:
            return _warehouse.primary_key(con, _warehouse.find_table(con, table, schema))

    @property
    def state(self) -> dict[str, Any] | None:
        """The saved state after the sync (None when no state file exists).

        run_connector() keeps a copy taken when the sync ended, so a later run in the same
        warehouse folder does not change it; a SyncResult built by hand reads ``state_path``.
        """
        if self._state_captured:
            return copy.deepcopy(self._state)
        return _read_state(self.state_path)

    def rows(self, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a read-only query on the warehouse (session time zone UTC)."""
        import duckdb

        if not self.warehouse.exists():
            return []
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            con.execute("SET TimeZone = 'UTC'")
            return [tuple(row) for row in con.execute(sql, parameters or []).fetchall()]
        finally:
            con.close()

    def table(self, name: str, schema: str = "tester", *, order_by: str | None = None) -> list[dict[str, Any]]:
        """All rows of one table as dicts (system columns included)."""
        import duckdb

        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            con.execute("SET TimeZone = 'UTC'")
            quoted = f'"{schema}"."{name}"'
            sql = f"SELECT * FROM {quoted}" + (f" ORDER BY {order_by}" if order_by else "")
            cursor = con.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            return [dict(zip(columns, row)) for row in cursor.fetchall()]
        finally:
            con.close()


def _read_state(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8") or "{}")
    return loaded


def run_connector(
    project: str | os.PathLike[str],
    *,
    configuration: Mapping[str, str] | None = None,
    state: Mapping[str, Any] | None = None,
    naming: str | None = None,
    warehouse_dir: str | os.PathLike[str] | None = None,
    capture_operations: bool = True,
    on_event: EventHandler | None = None,
) -> SyncResult:
    """Run one sync of the connector in ``project`` and return what happened.

    Args:
        project: the folder holding connector.py.
        configuration: used instead of the project's configuration.json.
        state: the input state (default: the saved state of the previous run in this warehouse).
        naming: "FIVETRAN" (default) or "SOURCE".
        warehouse_dir: where files/warehouse.db and files/state.json go; by default a copy of the
            project is made in a temporary folder, so tests never write into the project itself.
            Pass the same folder again to run an incremental second sync.
        capture_operations: record every operation in ``result.operations`` (a copy of each row;
            turn it off for very large syncs).
        on_event: also receives every event of the sync (:mod:`headwater.events`).
    """
    from headwater.runner import DebugRequest, run_debug

    source = Path(project).resolve()
    work = Path(warehouse_dir) if warehouse_dir is not None else Path(tempfile.mkdtemp(prefix="headwater-test-"))
    work.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.name in ("files", "__pycache__", ".git", "tests"):
            continue
        target = work / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(item, target)
    out, err = io.StringIO(), io.StringIO()
    request = DebugRequest(
        project=work,
        configuration=dict(configuration) if configuration is not None else None,
        state=dict(state) if state is not None else None,
        naming=naming,
        environ={},
        record_operations=capture_operations,
    )
    recorder = OperationRecorder()

    def events(event: Event) -> None:
        if capture_operations:
            recorder(event)
        if on_event is not None:
            on_event(event)

    report = run_debug(request, out=out, err=err, on_event=events)
    return SyncResult(
        exit_code=report.exit_code,
        output=out.getvalue(),
        errors=err.getvalue(),
        project=work,
        warehouse=work / "files" / "warehouse.db",
        state_path=work / "files" / "state.json",
        counters=report.counters,
        error=report.error,
        operations=recorder.operations,
        _state=_read_state(work / "files" / "state.json"),
        _state_captured=True,
    )
