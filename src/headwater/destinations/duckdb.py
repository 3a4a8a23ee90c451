"""The DuckDB warehouse ``files/warehouse.db`` (SEM-2 to SEM-4, SEM-50 to SEM-55).

One connection per sync, holding the file exclusively, with one transaction open between commit
points. Every write is set-based: a batch arrives as an Arrow table, read by SQL through a replacement scan, and is
applied with one or two SQL statements. A table's primary key is kept in the table's comment
(SEM-4: no bookkeeping tables)::

    COMMENT ON TABLE tester.users IS '{"headwater": {"primary_key": ["id"]}}'
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Imported with the module, when the runner sets up the destination before the sync starts:
# DuckDB is needed by nearly every sync, and loading it (about 0.1 s) is start-up work.
import duckdb

from headwater.engine.columnar import to_arrow
from headwater.errors import WarehouseError
from headwater.naming import identity, quote
from headwater.types import DataType, from_duckdb

if TYPE_CHECKING:
    from headwater.engine.table import TableState

__all__ = ["DuckDBWarehouse", "TableInfo", "convert_sql"]

SYNCED = "_fivetran_synced"
DELETED = "_fivetran_deleted"
FIVETRAN_ID = "_fivetran_id"
# Batches reach SQL through DuckDB's replacement scan of a local variable with this name. (Not
# con.register(): a view registered inside an open transaction keeps its Arrow data alive until
# COMMIT even after unregister(), so memory would grow with every spilled batch.)
BATCH = "hw_batch"
# Up to this many rows, a batch goes to SQL as a typed VALUES list with parameters instead of Arrow:
# a hello-world sync then never imports pyarrow (~35 ms). Measured with 8 columns: VALUES costs
# 1.1 ms for 1 row, 1.6 ms for 8, 12 ms for 64, against ~1 ms for an Arrow batch of any small size.
SMALL_BATCH_ROWS = 8
# While batches stay below this many rows, DuckDB runs on one thread. Waking its other threads costs
# more than they save on such statements: a checkpoint of 1,000 rows (INSERT + COMMIT) measured
# 2.0 ms on one thread against 2.45 ms on two. Bigger batches get every thread; the setting changes
# only when the batch size crosses the line, since changing it costs about 0.3 ms.
PARALLEL_MIN_ROWS = 10_000


@dataclass(frozen=True)
class TableInfo:
    """A table found in the warehouse when the sync started."""

    schema: str
    name: str
    columns: list[tuple[str, DataType]]   # without system columns, in table order
    primary_key: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.name if self.schema == "tester" else f"{self.schema}.{self.name}"


def text_sql(expr: str, source: DataType) -> str:
    """SQL for the text form (TYPES-30) of a stored value of type ``source``."""
    name = source.name
    if name in ("BOOLEAN",):
        return f"CASE WHEN {expr} THEN 'true' WHEN NOT {expr} THEN 'false' END"
    if name in ("FLOAT", "DOUBLE"):
        return (f"CASE WHEN isnan({expr}) THEN 'NaN' WHEN {expr} = 'inf'::DOUBLE THEN 'Infinity' "
                f"WHEN {expr} = '-inf'::DOUBLE THEN '-Infinity' ELSE CAST({expr} AS VARCHAR) END")
    if name == "NAIVE_DATE":
        return f"strftime({expr}, '%Y-%m-%d')"
    if name in ("NAIVE_DATETIME", "UTC_DATETIME"):
        ts = expr if name == "NAIVE_DATETIME" else f"CAST({expr} AS TIMESTAMP)"
        suffix = " || 'Z'" if name == "UTC_DATETIME" else ""
        return (f"(strftime({ts}, '%Y-%m-%dT%H:%M:%S') || CASE WHEN strftime({ts}, '%f') = '000000' "
                f"THEN '' ELSE '.' || strftime({ts}, '%f') END{suffix})")
    if name == "BINARY":
        return f"to_base64({expr})"
    return f"CAST({expr} AS VARCHAR)"


def convert_sql(expr: str, source: DataType, target: DataType) -> str:
    """SQL converting a stored ``source`` value to the wider ``target`` (TYPES-27)."""
    if source == target or (source.is_textual and target.is_textual):
        return expr
    if target.is_textual:
        return text_sql(expr, source)
    return f"CAST({expr} AS {target.duckdb})"


def _chain_sql(expr: str, chain: list[DataType]) -> str:
    for source, target in zip(chain, chain[1:]):
        expr = convert_sql(expr, source, target)
    return expr


class DuckDBWarehouse:
    """The warehouse file; opened when first needed, or at once if it exists (to report ERR-WH-1 early)."""

    def __init__(self, path: Path, *, memory_limit: str | None = None, threads: int | None = None) -> None:
        self.path = path
        self.memory_limit = memory_limit
        self.threads = threads
        self._con: duckdb.DuckDBPyConnection | None = None
        self._tables: dict[tuple[str, str], TableInfo] | None = None
        self._parallel = self._threads = 1  # DuckDB's configured threads, and those in use (set at connect)
        # Each commit interval's statements run in one transaction, begun by its first statement.
        # When that statement is a plain INSERT, it is held back instead: if nothing follows it
        # before the commit point, it runs alone in autocommit mode, which is the commit itself
        # (one statement instead of BEGIN, INSERT, COMMIT: 0.25 ms less per checkpoint).
        self._in_transaction = False
        self._held: tuple[str, Any] | None = None   # (INSERT ... FROM hw_batch, the batch)
        self._created: list[Path] = []     # what this sync created (the file, files/), until a commit
        self._committed = False

    # -- connection -------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._con is not None

    def check(self) -> None:
        """Open an existing warehouse now, so that a locked or broken file fails before the sync."""
        if self.path.exists():
            self._connect()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self._con is not None:
            return self._con
        if not self.path.parent.exists():
            self.path.parent.mkdir(parents=True)
            self._created.append(self.path.parent)
        if not self.path.exists():
            self._created.insert(0, self.path)
        config: dict[str, Any] = {}
        if self.memory_limit:
            config["memory_limit"] = self.memory_limit
        if self.threads:
            config["threads"] = self.threads
        try:
            con = duckdb.connect(str(self.path), config=config)
        except duckdb.Error as exc:
            reason = str(exc).splitlines()[0]
            raise WarehouseError(
                f"cannot open warehouse {self.path}: {reason}; close any other program using it "
                "(another headwater run, a DuckDB shell), or run `headwater reset` if the file is damaged"
            ) from exc
        con.execute("SET TimeZone = 'UTC'")
        row = con.execute("SELECT current_setting('threads')").fetchone()
        self._parallel = self._threads = int(row[0]) if row else 1
        self._con = con
        return con

    def _transaction(self) -> duckdb.DuckDBPyConnection:
        """The connection, with this commit interval's transaction open (and its held write done)."""
        con = self._connect()
        if not self._in_transaction:
            con.execute("BEGIN TRANSACTION")
            self._in_transaction = True
            self._run_held(con)
        return con

    def _run_held(self, con: duckdb.DuckDBPyConnection) -> None:
        if self._held is not None:
            sql, hw_batch = self._held  # noqa: F841 - hw_batch is read by SQL
            self._held = None
            con.execute(sql)

    def write_held(self) -> None:
        """Make a held write part of the open transaction now (a spill: no commit follows)."""
        if self._held is not None:
            self._transaction()

    def _fit_threads(self, rows: int) -> None:
        """One DuckDB thread for small batches, all of them for big ones (see PARALLEL_MIN_ROWS)."""
        wanted = 1 if rows < PARALLEL_MIN_ROWS else self._parallel
        if wanted != self._threads:
            self.con.execute(f"SET threads = {wanted}")
            self._threads = wanted

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self._connect()

    def commit(self) -> None:
        """The commit point. A held write, the interval's only statement, commits by itself."""
        if self._con is None:
            return
        if self._in_transaction:
            self._con.execute("COMMIT")
            self._in_transaction = False
        else:
            self._run_held(self._con)
        self._committed = True

    def rollback(self) -> None:
        self._held = None
        if self._con is not None and self._in_transaction:
            self._in_transaction = False
            self._con.execute("ROLLBACK")

    def close(self, *, discard_new: bool = False) -> None:
        """Close the connection; rolls back what was not committed.

        ``discard_new``: if this sync created the warehouse and never committed, delete it again,
        so a failed first sync leaves the project exactly as it was (SEM-54).
        """
        self._held = None
        if self._con is not None:
            if self._in_transaction:
                self._in_transaction = False
                try:
                    self._con.execute("ROLLBACK")
                except Exception:  # noqa: BLE001 - the connection is already broken
                    pass
            self._con.close()
            self._con = None
        if discard_new and not self._committed and self._created:
            for path in [*self._created[:1], Path(f"{self.path}.wal"), *self._created[1:]]:
                try:
                    if path.is_dir():
                        path.rmdir()
                    elif path.exists() and (path == self.path or path.name.endswith(".wal")):
                        path.unlink()
                except OSError:
                    pass
            self._created = []

    # -- metadata -------------------------------------------------------------------------------

    def _load_tables(self) -> dict[tuple[str, str], TableInfo]:
        if self._tables is not None:
            return self._tables
        tables: dict[tuple[str, str], TableInfo] = {}
        if self._con is None and not self.path.exists():
            self._tables = tables
            return tables
        con = self.con
        rows = con.execute(
            "SELECT schema_name, table_name, comment FROM duckdb_tables() "
            "WHERE database_name = current_database() AND NOT temporary"
        ).fetchall()
        columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for schema, table, column, data_type in con.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() ORDER BY schema_name, table_name, column_index"
        ).fetchall():
            columns.setdefault((schema, table), []).append((column, data_type))
        for schema, table, comment in rows:
            cols = columns.get((schema, table), [])
            primary_key = _primary_key_from_comment(comment)
            typed: list[tuple[str, DataType]] = []
            for name, data_type in cols:
                if identity(name) in (SYNCED, DELETED, FIVETRAN_ID):
                    continue
                parsed = from_duckdb(data_type)
                typed.append((name, parsed if parsed is not None else DataType("STRING")))
            tables[(identity(schema), identity(table))] = TableInfo(schema, table, typed, primary_key)
        self._tables = tables
        return tables

    def table_info(self, key: tuple[str, str]) -> TableInfo | None:
        return self._load_tables().get(key)

    # -- DDL ------------------------------------------------------------------------------------

    @staticmethod
    def qualified(t: TableState) -> str:
        return f"{quote(t.schema)}.{quote(t.name)}"

    def create_table(self, t: TableState, columns: list[tuple[str, DataType]],
                     added: list[tuple[str, DataType]]) -> None:
        con = self._transaction()
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(t.schema)}")
        parts = [f"{quote(name)} {dtype.duckdb}" for name, dtype in columns]
        if not t.keyed:
            parts.append(f"{FIVETRAN_ID} VARCHAR")
        parts.append(f"{SYNCED} TIMESTAMP WITH TIME ZONE")
        parts.append(f"{DELETED} BOOLEAN")
        parts.extend(f"{quote(name)} {dtype.duckdb}" for name, dtype in added)
        con.execute(f"CREATE TABLE {self.qualified(t)} ({', '.join(parts)})")
        comment = json.dumps({"headwater": {"primary_key": list(t.primary_key)}})
        con.execute(f"COMMENT ON TABLE {self.qualified(t)} IS '{comment.replace(chr(39), chr(39) * 2)}'")

    def add_column(self, t: TableState, name: str, dtype: DataType) -> None:
        self._transaction().execute(f"ALTER TABLE {self.qualified(t)} ADD COLUMN {quote(name)} {dtype.duckdb}")

    def change_type(self, t: TableState, name: str, source: DataType, target: DataType) -> None:
        column = quote(name)
        self._transaction().execute(
            f"ALTER TABLE {self.qualified(t)} ALTER COLUMN {column} SET DATA TYPE {target.duckdb} "
            f"USING {convert_sql(column, source, target)}"
        )

    # -- data -----------------------------------------------------------------------------------

    def _arrow(self, arrays: list[list[Any]], types: list[DataType | None], names: list[str]) -> Any:
        """A batch SQL can read as ``hw_batch``: an Arrow table, or for a few rows a typed VALUES list.

        A few rows (a hello-world sync) skip Arrow, which would cost an import of pyarrow and is no
        faster there (see :data:`SMALL_BATCH_ROWS`). Both forms hold the same typed values.
        """
        rows = len(arrays[0]) if arrays else 0
        self._fit_threads(rows)
        if 0 < rows <= SMALL_BATCH_ROWS:
            casts = [f"CAST(? AS {dtype.duckdb})" if dtype is not None else "?" for dtype in types]
            row_sql = "(" + ", ".join(casts) + ")"
            params = [column[i] for i in range(rows) for column in arrays]
            sql = f"SELECT * FROM (VALUES {', '.join([row_sql] * rows)}) AS v({', '.join(names)})"
            return self.con.sql(sql, params=params)
        import pyarrow as pa

        fields = [to_arrow(values, dtype) for values, dtype in zip(arrays, types)]
        return pa.Table.from_arrays(fields, names=names)

    def upsert(self, t: TableState, names: list[str], types: list[DataType], arrays: list[list[Any]],
               key_names: list[str], ts: dt.datetime, *, fresh: bool,
               key_range: tuple[Any, Any] | None = None, deleted: list[bool] | None = None) -> None:
        """Replace rows with the same key, insert the others (SEM-21).

        ``fresh``: no stored row can have one of these keys, so nothing is deleted. ``key_range``
        (low, high of the first key column) lets DuckDB skip row groups outside it.
        """
        batch_names = [f"c{i}" for i in range(len(names))]
        batch_types: list[DataType | None] = list(types)
        if deleted is not None:
            arrays = [*arrays, deleted]
            batch_names.append("deleted")
            batch_types.append(None)
        hw_batch = self._arrow(arrays, batch_types, batch_names)
        try:
            target = self.qualified(t)
            columns = ", ".join([*(quote(n) for n in names), SYNCED, DELETED])
            values = batch_names[: len(names)]
            flag = "deleted" if deleted is not None else "false"
            select = ", ".join([*values, _ts_sql(ts), flag])
            insert = f"INSERT INTO {target} ({columns}) SELECT {select} FROM {BATCH}"
            if fresh and not self._in_transaction and self._held is None:
                self._held = (insert, hw_batch)  # the interval's first statement (see __init__)
                return
            con = self._transaction()
            if not fresh:
                by_name = {identity(n): b for n, b in zip(names, batch_names)}
                condition = " AND ".join(f"{target}.{quote(k)} = {BATCH}.{by_name[identity(k)]}" for k in key_names)
                if key_range is not None:
                    low, high = (_literal(v) for v in key_range)
                    condition += f" AND {target}.{quote(key_names[0])} BETWEEN {low} AND {high}"
                con.execute(f"DELETE FROM {target} USING {BATCH} WHERE {condition}")
            con.execute(insert)
        finally:
            del hw_batch

    def _key_condition(self, t: TableState, key_names: list[str], column_types: list[DataType],
                       compare_types: list[list[DataType]], alias: str) -> str:
        target = self.qualified(t)
        parts = []
        for i, (name, chain) in enumerate(zip(key_names, compare_types)):
            expr = _chain_sql(f"{target}.{quote(name)}", chain) if len(chain) > 1 else f"{target}.{quote(name)}"
            parts.append(f"{expr} = {alias}.k{i}")
        return " AND ".join(parts)

    def matching_rows(self, t: TableState, key_names: list[str], column_types: list[DataType],
                      compare_types: list[list[DataType]], key_values: list[list[Any]]) -> list[int]:
        """Indexes of the keys that name an existing row."""
        con = self._transaction()
        n = len(key_values[0]) if key_values else 0
        names = [f"k{i}" for i in range(len(key_values))] + ["row"]
        hw_batch = self._arrow([*key_values, list(range(n))], [c[-1] for c in compare_types] + [None], names)  # noqa: F841
        try:
            condition = self._key_condition(t, key_names, column_types, compare_types, "b")
            rows = con.execute(
                f"SELECT b.row FROM {BATCH} b WHERE EXISTS (SELECT 1 FROM {self.qualified(t)} WHERE {condition}) "
                "ORDER BY b.row"
            ).fetchall()
        finally:
            del hw_batch
        return [r[0] for r in rows]

    def update(self, t: TableState, key_names: list[str], column_types: list[DataType],
               compare_types: list[list[DataType]], key_values: list[list[Any]], names: list[str],
               types: list[DataType], arrays: list[list[Any]], presence: list[list[bool] | None],
               ts: dt.datetime, *, duplicates: bool, deleted: list[bool | None] | None = None) -> int:
        """Set the given columns of existing rows (SEM-22); later updates of a key win per column.

        Returns how many rows were updated (keys naming no row update nothing)."""
        con = self._transaction()
        n = len(key_values[0])
        batch_names = [f"k{i}" for i in range(len(key_values))]
        all_arrays: list[list[Any]] = list(key_values)
        all_types: list[DataType | None] = [c[-1] for c in compare_types]
        for i, (values, dtype, present) in enumerate(zip(arrays, types, presence)):
            batch_names.append(f"v{i}")
            all_arrays.append(values)
            all_types.append(dtype)
            if present is not None:
                batch_names.append(f"p{i}")
                all_arrays.append(present)
                all_types.append(None)
        batch_names.append("seq")
        all_arrays.append(list(range(n)))
        all_types.append(None)
        if deleted is not None:
            batch_names.append("deleted")
            all_arrays.append(deleted)
            all_types.append(None)
        hw_batch = self._arrow(all_arrays, all_types, batch_names)  # noqa: F841
        try:
            keys = ", ".join(f"k{i}" for i in range(len(key_values)))
            if duplicates:
                parts = [keys]
                for i, present in enumerate(presence):
                    if present is None:
                        parts.append(f"last(v{i} ORDER BY seq) AS v{i}")
                    else:
                        parts.append(f"last(v{i} ORDER BY seq) FILTER (WHERE p{i}) AS v{i}, bool_or(p{i}) AS p{i}")
                source = f"(SELECT {', '.join(parts)} FROM {BATCH} GROUP BY {keys})"
            else:
                source = BATCH
            target = self.qualified(t)
            sets = []
            for i, (name, present) in enumerate(zip(names, presence)):
                column = quote(name)
                if present is None:
                    sets.append(f"{column} = u.v{i}")
                else:
                    sets.append(f"{column} = CASE WHEN u.p{i} THEN u.v{i} ELSE {target}.{column} END")
            sets.append(f"{SYNCED} = {_ts_sql(ts)}")
            if deleted is not None:
                sets.append(f"{DELETED} = CASE WHEN u.deleted THEN true ELSE {target}.{DELETED} END")
            condition = self._key_condition(t, key_names, column_types, compare_types, "u")
            row = con.execute(f"UPDATE {target} SET {', '.join(sets)} FROM {source} AS u WHERE {condition}").fetchone()
            return int(row[0]) if row else 0
        finally:
            del hw_batch

    def soft_delete(self, t: TableState, key_names: list[str], column_types: list[DataType],
                    compare_types: list[list[DataType]], key_values: list[list[Any]], ts: dt.datetime) -> None:
        """Mark the rows with these keys deleted (SEM-24); missing keys do nothing."""
        con = self._transaction()
        names = [f"k{i}" for i in range(len(key_values))]
        hw_batch = self._arrow(key_values, [c[-1] for c in compare_types], names)  # noqa: F841
        try:
            condition = self._key_condition(t, key_names, column_types, compare_types, "u")
            con.execute(
                f"UPDATE {self.qualified(t)} SET {DELETED} = true, {SYNCED} = {_ts_sql(ts)} "
                f"FROM (SELECT DISTINCT * FROM {BATCH}) AS u WHERE {condition}"
            )
        finally:
            del hw_batch

    def key_bounds(self, t: TableState, column: str) -> tuple[Any, Any] | None:
        """(min, max) of a stored key column; None when the table has no rows."""
        low, high = self._transaction().execute(
            f"SELECT min({quote(column)}), max({quote(column)}) FROM {self.qualified(t)}"
        ).fetchone() or (None, None)
        return None if low is None else (low, high)

    def truncate(self, t: TableState, ts: dt.datetime) -> None:
        """Soft-delete every live row (SEM-26)."""
        self._transaction().execute(
            f"UPDATE {self.qualified(t)} SET {DELETED} = true, {SYNCED} = {_ts_sql(ts)} "
            f"WHERE NOT {DELETED}"
        )

    def deferred_truncate(self, t: TableState, since: dt.datetime, ts: dt.datetime) -> None:
        """Soft-delete live rows not written since the deferred truncate was called (SEM-27)."""
        self._transaction().execute(
            f"UPDATE {self.qualified(t)} SET {DELETED} = true, {SYNCED} = {_ts_sql(ts)} "
            f"WHERE NOT {DELETED} AND {SYNCED} < {_ts_sql(since)}"
        )


def _ts_sql(ts: dt.datetime) -> str:
    """A `_fivetran_synced` value as a SQL literal: binding it as a parameter would make DuckDB
    prepare every statement separately, which costs more than the statement for small batches."""
    return f"TIMESTAMPTZ '{ts.astimezone(dt.timezone.utc).isoformat()}'"


def _literal(value: int | str) -> str:
    """An int or string key bound as a SQL literal (see _ts_sql for why not a parameter)."""
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def _primary_key_from_comment(comment: str | None) -> tuple[str, ...]:
    if not comment:
        return ()
    try:
        meta = json.loads(comment)
        key = meta["headwater"]["primary_key"]
    except (ValueError, KeyError, TypeError):
        return ()
    return tuple(str(k) for k in key) if isinstance(key, list) else ()
