"""The DuckDB destination: ``files/warehouse.db`` of ``headwater debug`` (SEM-2 to SEM-4, SEM-50 to SEM-55).

One connection per sync, holding the file exclusively, with one transaction open between commit
points. Every write is set-based: a batch arrives as a :class:`~headwater.batch.Batch`, is read by
SQL as an Arrow table (or, for a few rows, a typed VALUES list) through a replacement scan, and is
applied with one or two SQL statements. A table's primary key is kept in the table's comment
(SEM-4: no bookkeeping tables)::

    COMMENT ON TABLE tester.users IS '{"headwater": {"primary_key": ["id"]}}'

Internal names cannot collide with a connector's: every user table is named with all three parts
(database, schema, table), the session's search path is DuckDB's empty ``temp.main`` (so the batch
variable ``hw_batch`` is always the batch, whatever tables exist), and the target and source of every
statement are aliased.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import uuid
from pathlib import Path
from typing import Any

# Imported with the module, when the runner sets up the destination before the sync starts:
# DuckDB is needed by nearly every sync, and loading it (about 0.1 s) is start-up work.
import duckdb

from headwater.batch import Batch
from headwater.destinations.base import (
    DELETED,
    FIVETRAN_ID,
    SYNCED,
    Capabilities,
    KeyBatch,
    TableDescription,
    TableInfo,
    TableRef,
    UpdateBatch,
    fold_ascii,
)
from headwater.errors import (
    DestinationError,
    DestinationFull,
    DestinationLocked,
    DestinationOutOfMemory,
    DestinationPermissionError,
    WarehouseError,
)
from headwater.types import (
    BINARY,
    BOOLEAN,
    DOUBLE,
    FLOAT,
    INT,
    JSON,
    LONG,
    NAIVE_DATE,
    NAIVE_DATETIME,
    SHORT,
    STRING,
    UTC_DATETIME,
    DataType,
    decimal,
)

__all__ = ["DEFAULT_SCHEMA", "DuckDBDestination", "convert_sql", "duckdb_type", "from_duckdb", "quote"]

DEFAULT_SCHEMA = "tester"
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
# Schemas DuckDB keeps for itself: a connector cannot create tables there.
RESERVED_SCHEMAS = frozenset({"information_schema", "pg_catalog"})

CAPABILITIES = Capabilities(
    name="duckdb",
    default_schema=DEFAULT_SCHEMA,
    fold=fold_ascii,
    max_identifier_length=None,
    reserved_schemas=RESERVED_SCHEMAS,
    transactional_ddl=True,
    merge=False,
)

_DUCKDB = {
    "BOOLEAN": "BOOLEAN",
    "SHORT": "SMALLINT",
    "INT": "INTEGER",
    "LONG": "BIGINT",
    "FLOAT": "FLOAT",
    "DOUBLE": "DOUBLE",
    "NAIVE_DATE": "DATE",
    "NAIVE_DATETIME": "TIMESTAMP",
    "UTC_DATETIME": "TIMESTAMP WITH TIME ZONE",
    "BINARY": "BLOB",
    "XML": "VARCHAR",
    "STRING": "VARCHAR",
    "JSON": "JSON",
}
_FROM_DUCKDB = {
    "BOOLEAN": BOOLEAN,
    "SMALLINT": SHORT,
    "INTEGER": INT,
    "BIGINT": LONG,
    "FLOAT": FLOAT,
    "DOUBLE": DOUBLE,
    "DATE": NAIVE_DATE,
    "TIMESTAMP": NAIVE_DATETIME,
    "TIMESTAMP WITH TIME ZONE": UTC_DATETIME,
    "BLOB": BINARY,
    "VARCHAR": STRING,
    "JSON": JSON,
}
_DECIMAL_RE = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


def duckdb_type(dtype: DataType) -> str:
    """The DuckDB column type of a headwater type, exactly as information_schema reports it (TYPES-1)."""
    if dtype.name == "DECIMAL":
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    return _DUCKDB[dtype.name]


def from_duckdb(type_name: str) -> DataType | None:
    """The headwater type of an existing DuckDB column (SEM-42); ``None`` for a type headwater never makes."""
    name = type_name.strip().upper()
    if name in _FROM_DUCKDB:
        return _FROM_DUCKDB[name]
    match = _DECIMAL_RE.match(name)
    if match:
        return decimal(int(match.group(1)), int(match.group(2)))
    return None


def quote(identifier: str) -> str:
    """Quote ``identifier`` for DuckDB SQL, doubling embedded ``"`` (NAME-3).

    >>> quote('a"b')
    '"a""b"'
    """
    return '"' + identifier.replace('"', '""') + '"'


def text_sql(expr: str, source: DataType) -> str:
    """SQL for the text form (TYPES-30) of a stored value of type ``source``."""
    name = source.name
    if name in ("BOOLEAN",):
        return f"CASE WHEN {expr} THEN 'true' WHEN NOT {expr} THEN 'false' END"
    if name in ("FLOAT", "DOUBLE"):
        return (f"CASE WHEN isnan({expr}) THEN 'NaN' WHEN {expr} = 'inf'::DOUBLE THEN 'Infinity' "
                f"WHEN {expr} = '-inf'::DOUBLE THEN '-Infinity' ELSE CAST({expr} AS VARCHAR) END")
    if name == "DECIMAL":
        # DuckDB writes DECIMAL(2,2) 0.05 as '.05'; the text form has its leading zero.
        return f"regexp_replace(CAST({expr} AS VARCHAR), '^(-?)[.]', '\\10.')"
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
    return f"CAST({expr} AS {duckdb_type(target)})"


# DuckDB's wording around the cause of a failed replay (the cause is kept, the path is said once).
_REPLAY_PREFIX = re.compile(r'^(?:[A-Za-z ]+ Error: )?Failure while replaying WAL file "[^"]*": ')
_CORE_NUMBERS = frozenset({"SHORT", "INT", "LONG", "DECIMAL", "FLOAT", "DOUBLE"})


def _replays_anywhere(source: DataType, target: DataType) -> bool:
    """Whether ``convert_sql`` of this widening is a cast that DuckDB's core computes alike in every
    session (no function, no extension, no setting such as TimeZone), so that a write-ahead log holding
    it replays offline to the same values (see DuckDBDestination.widen_column)."""
    if source.is_textual and target.is_textual:
        return True
    if source.name in _CORE_NUMBERS and target.name in _CORE_NUMBERS:
        return True
    return source.name == "NAIVE_DATE" and target.name == "NAIVE_DATETIME"


def _chain_sql(expr: str, chain: list[DataType]) -> str:
    for source, target in zip(chain, chain[1:]):
        expr = convert_sql(expr, source, target)
    return expr


def _environment_error(exc: duckdb.Error, path: Path) -> DestinationError | None:
    """The typed error for a DuckDB failure caused by the machine (disk, permissions, locks, memory);
    None for anything else (a bug)."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    lowered = reason.lower()
    where = f"warehouse {path}"
    if "no space left" in lowered or "disk full" in lowered or "not enough space" in lowered:
        return DestinationFull(
            f"{where}: the disk is full ({reason}); free some space (or point the project elsewhere) and run "
            "again: the last checkpoint is intact"
        )
    if "permission denied" in lowered or "read-only" in lowered or "read only" in lowered:
        return DestinationPermissionError(
            f"{where}: permission denied ({reason}); make {path.parent} writable and run again: the last "
            "checkpoint is intact"
        )
    if "lock" in lowered and ("conflicting" in lowered or "could not set" in lowered):
        return DestinationLocked(
            f"cannot open {where}: another process holds it ({reason}); close the other headwater run or "
            "DuckDB shell and run again"
        )
    if isinstance(exc, duckdb.OutOfMemoryException) or "out of memory" in lowered:
        return DestinationOutOfMemory(
            f"{where}: DuckDB ran out of memory ({reason}); lower --buffer-memory or free memory and run "
            "again: the last checkpoint is intact"
        )
    if isinstance(exc, duckdb.IOException):
        return DestinationError(
            f"{where}: input/output error ({reason}); check the disk and the file, then run again: the last "
            "checkpoint is intact"
        )
    return None


class DuckDBDestination:
    """The warehouse file; opened when first needed, or at once if it exists (to report ERR-WH-1 early)."""

    capabilities = CAPABILITIES

    def __init__(self, path: Path, *, memory_limit: str | None = None, threads: int | None = None,
                 schema: str = DEFAULT_SCHEMA, reserved_schemas: frozenset[str] = frozenset()) -> None:
        """``schema``: where tables without ``schema=`` go; ``reserved_schemas``: further schemas (folded)
        no connector may write to (``headwater run`` reserves its bookkeeping schema)."""
        if schema != DEFAULT_SCHEMA or reserved_schemas:
            self.capabilities = dataclasses.replace(
                CAPABILITIES, default_schema=schema,
                reserved_schemas=CAPABILITIES.reserved_schemas | reserved_schemas)
        self.path = Path(path)
        self.memory_limit = memory_limit
        self.threads = threads
        self._con: duckdb.DuckDBPyConnection | None = None
        self._catalog = ""                   # the catalog name of the file
        self._database = ""                  # the same, quoted for SQL
        self._parallel = self._threads = 1  # DuckDB's configured threads, and those in use (set at connect)
        # Each commit interval's statements run in one transaction, begun by its first statement.
        # When that statement is a plain INSERT of a small batch, it is held back instead: if nothing
        # follows it before the commit point, it runs alone in autocommit mode, which is the commit
        # itself (one statement instead of BEGIN, INSERT, COMMIT: 0.25 ms less per checkpoint).
        self._in_transaction = False
        self._held: tuple[str, Any] | None = None   # (INSERT ... FROM hw_batch, the batch)
        self._created: list[Path] = []     # what this sync created (the file, files/), until a commit
        self._committed = False
        self._identity: str | None = None   # kept in every table's comment (see headwater.pairing)
        self._read_identity = False

    # -- connection -------------------------------------------------------------------------------

    @staticmethod
    def memory_limit_for(buffer_bytes: int | None) -> str:
        """DuckDB's share of a sync's memory budget (default 256 MB): a quarter, at least 64 MB
        (it spills to disk past that)."""
        budget = buffer_bytes or 256 * 1024 * 1024
        return f"{max(64, budget // 4 // 2**20)}MB"

    def open(self) -> None:
        """Open an existing warehouse now, so that a locked or broken file fails before the sync."""
        if self.path.exists():
            self._connect()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self._con is not None:
            return self._con
        try:
            if not self.path.parent.exists():
                self.path.parent.mkdir(parents=True)
                self._created.append(self.path.parent)
        except OSError as exc:
            raise DestinationPermissionError(
                f"cannot create the folder {self.path.parent} for the warehouse: {exc.strerror or exc}; make "
                f"{self.path.parent.parent} writable"
            ) from exc
        if not self.path.exists():
            self._created.insert(0, self.path)
        wal = self.wal_path
        replays = wal.exists()  # a sync was killed after its last checkpoint to disk: connect replays it
        # Offline by construction: DuckDB never downloads an extension. A function of a built-in
        # extension (core_functions: isnan, to_base64...) is then loaded from the wheel when a statement
        # needs it, including while the log of a warehouse written by an older headwater is replayed,
        # before the built-in extensions are loaded (the default, autoinstall, tries a download there
        # first and fails offline). See "Crash consistency" at widen_column.
        config: dict[str, Any] = {"autoinstall_known_extensions": False, "autoload_known_extensions": True}
        if self.memory_limit:
            config["memory_limit"] = self.memory_limit
        if self.threads:
            config["threads"] = self.threads
        try:
            con = duckdb.connect(str(self.path), config=config)
        except duckdb.Error as exc:
            typed = _environment_error(exc, self.path)
            if isinstance(typed, (DestinationLocked, DestinationPermissionError, DestinationFull)):
                raise typed from exc
            raise WarehouseError(self._open_failure(exc)) from exc
        try:
            if replays:
                # Write the replayed commits into the file, so that any DuckDB (a shell, a notebook, an
                # older headwater) opens it without replaying anything. Only after a killed sync.
                con.execute("CHECKPOINT")
            con.execute("SET TimeZone = 'UTC'")
            row = con.execute("SELECT current_database(), current_setting('threads')").fetchone()
            assert row is not None
            self._catalog = str(row[0])
            self._database = quote(self._catalog)
            # Unqualified names resolve only in DuckDB's (empty) temporary schema, so that `hw_batch`
            # is always the batch variable, whatever tables the connector created.
            con.execute("SET search_path = 'temp.main'")
        except duckdb.Error as exc:
            con.close()
            raise self._error(exc) from exc
        self._parallel = self._threads = int(row[1])
        self._con = con
        return con

    @property
    def wal_path(self) -> Path:
        """DuckDB's write-ahead log of the warehouse: commits not yet checkpointed into the file."""
        return self.path.with_name(self.path.name + ".wal")

    def _open_failure(self, exc: duckdb.Error) -> str:
        """The ERR-WH-1 message: what is intact, and how to recover without deleting anything."""
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        wal = self.wal_path
        if "wal" in reason.lower() and wal.exists():
            cause = _REPLAY_PREFIX.sub("", reason)
            retry = ("run again once with network access (DuckDB wants to download an extension to replay the "
                     "log), or open" if "extension" in cause.lower() else "open")
            return (
                f"cannot open warehouse {self.path}: DuckDB could not replay its write-ahead log {wal} ({cause}). "
                f"Nothing was deleted: {self.path.name} holds the warehouse as of its last checkpoint to disk, "
                f"{wal.name} the commits made after it. To keep them, {retry} {self.path.name} once with a DuckDB "
                f"that can replay the log (the version that wrote it), then run again. To go on without them, move "
                f"{wal.name} out of {wal.parent} (keep it): the warehouse then opens as of its last checkpoint to "
                "disk, which may be older than the saved state, so run `headwater debug --full-resync` to sync every "
                "row again into it. Do not use `headwater reset` for this: it deletes the warehouse and the saved "
                "state"
            )
        kept = f" and its write-ahead log {wal.name}" if wal.exists() else ""
        return (
            f"cannot open warehouse {self.path}: {reason}; close any other program using it (another headwater "
            f"run, a DuckDB shell) and run again. headwater changed nothing: the file{kept} is kept as it is; if "
            "DuckDB cannot read it, keep a copy and open it with the DuckDB version that wrote it (`headwater "
            "reset` deletes the warehouse and the saved state: the last resort)"
        )

    def _error(self, exc: duckdb.Error) -> BaseException:
        typed = _environment_error(exc, self.path)
        return typed if typed is not None else exc

    def _execute(self, sql: str, batch: Any = None, parameters: list[Any] | None = None) -> Any:
        """Run one statement in the open transaction (``batch``: what SQL reads as ``hw_batch``)."""
        con = self._transaction()
        hw_batch = batch  # noqa: F841 - read by SQL through the replacement scan
        try:
            return con.execute(sql, parameters) if parameters else con.execute(sql)
        except duckdb.Error as exc:
            raise self._error(exc) from exc
        finally:
            del hw_batch

    def _transaction(self) -> duckdb.DuckDBPyConnection:
        """The connection, with this commit interval's transaction open (and its held write done)."""
        con = self._connect()
        if not self._in_transaction:
            try:
                con.execute("BEGIN TRANSACTION")
                self._in_transaction = True
                self._run_held(con)
            except duckdb.Error as exc:
                raise self._error(exc) from exc
        return con

    def _run_held(self, con: duckdb.DuckDBPyConnection) -> None:
        if self._held is not None:
            sql, hw_batch = self._held  # noqa: F841 - hw_batch is read by SQL
            self._held = None
            con.execute(sql)

    def _fit_threads(self, rows: int) -> None:
        """One DuckDB thread for small batches, all of them for big ones (see PARALLEL_MIN_ROWS)."""
        wanted = 1 if rows < PARALLEL_MIN_ROWS else self._parallel
        if wanted != self._threads:
            self._connect().execute(f"SET threads = {wanted}")
            self._threads = wanted

    def commit(self) -> None:
        """The commit point. A held write, the interval's only statement, commits by itself."""
        if self._con is None:
            return
        try:
            if self._in_transaction:
                self._con.execute("COMMIT")
                self._in_transaction = False
            else:
                self._run_held(self._con)
        except duckdb.Error as exc:
            self._in_transaction = False
            raise self._error(exc) from exc
        self._committed = True

    def rollback(self) -> None:
        self._held = None
        if self._con is not None and self._in_transaction:
            self._in_transaction = False
            try:
                self._con.execute("ROLLBACK")
            except duckdb.Error:
                pass  # a broken connection: nothing was committed since the last commit point

    def close(self) -> None:
        """Close the connection; rolls back what was not committed.

        If this sync created the warehouse and never committed, it is deleted again, so a failed
        first sync leaves the project exactly as it was (SEM-54).
        """
        self.rollback()
        if self._con is not None:
            self._con.close()
            self._con = None
        if not self._committed and self._created:
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

    @property
    def identity(self) -> str | None:
        """This warehouse's identity: set when its first table is created, kept in table comments."""
        if not self._read_identity:
            self.tables()
        return self._identity

    def tables(self) -> list[TableInfo]:
        if self._con is None and not self.path.exists():
            self._read_identity = True
            return []
        con = self._connect()
        try:
            rows = con.execute(
                "SELECT schema_name, table_name, comment FROM duckdb_tables() "
                "WHERE database_name = ? AND NOT temporary", [self._catalog]
            ).fetchall()
            found: dict[tuple[str, str], list[tuple[str, str]]] = {}
            for schema, table, column, data_type in con.execute(
                "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
                "WHERE database_name = ? ORDER BY schema_name, table_name, column_index", [self._catalog]
            ).fetchall():
                found.setdefault((schema, table), []).append((column, data_type))
        except duckdb.Error as exc:
            raise self._error(exc) from exc
        tables: list[TableInfo] = []
        for schema, table, comment in rows:
            typed: list[tuple[str, DataType]] = []
            for name, data_type in found.get((schema, table), []):
                if fold_ascii(name) in (SYNCED, DELETED, FIVETRAN_ID):
                    continue
                parsed = from_duckdb(data_type)
                typed.append((name, parsed if parsed is not None else STRING))
            meta = _comment(comment)
            tables.append(TableInfo(schema, table, typed, _primary_key_from_comment(meta)))
            if self._identity is None and isinstance(meta.get("warehouse"), str):
                self._identity = meta["warehouse"]
        self._read_identity = True
        return tables

    # -- DDL ------------------------------------------------------------------------------------

    def qualified(self, t: TableRef) -> str:
        self._connect()
        return f"{self._database}.{quote(t.schema)}.{quote(t.name)}"

    def create_table(self, description: TableDescription) -> None:
        t = description.ref
        self._connect()
        self._execute(f"CREATE SCHEMA IF NOT EXISTS {self._database}.{quote(t.schema)}")
        parts = [f"{quote(name)} {duckdb_type(dtype)}" for name, dtype in description.columns]
        if not t.keyed:
            parts.append(f"{FIVETRAN_ID} VARCHAR")
        parts.append(f"{SYNCED} TIMESTAMP WITH TIME ZONE")
        parts.append(f"{DELETED} BOOLEAN")
        parts.extend(f"{quote(name)} {duckdb_type(dtype)}" for name, dtype in description.appended)
        self._execute(f"CREATE TABLE {self.qualified(t)} ({', '.join(parts)})")
        if self.identity is None:
            self._identity = uuid.uuid4().hex
        comment = json.dumps({"headwater": {"primary_key": list(t.primary_key)}, "warehouse": self._identity})
        self._execute(f"COMMENT ON TABLE {self.qualified(t)} IS '{comment.replace(chr(39), chr(39) * 2)}'")

    def add_column(self, table: TableRef, name: str, dtype: DataType) -> None:
        self._execute(f"ALTER TABLE {self.qualified(table)} ADD COLUMN {quote(name)} {duckdb_type(dtype)}")

    def widen_column(self, table: TableRef, name: str, source: DataType, target: DataType) -> None:
        """Change the column's type, converting stored values (TYPES-27), so that the commit replays anywhere.

        Crash consistency: DuckDB's write-ahead log keeps ``ALTER ... SET DATA TYPE ... USING expr`` as
        SQL, and replays it when a warehouse whose sync was killed is opened next, before DuckDB loads
        its built-in extensions, in a session of its own (default TimeZone). A text form made of
        ``isnan`` or ``to_base64`` (extension core_functions) then cannot be replayed offline, and a cast
        of TIMESTAMP WITH TIME ZONE would be replayed in the machine's time zone instead of UTC. So the
        log only ever holds conversions that DuckDB's core computes the same way in any session: a plain
        cast between numbers (or DATE to TIMESTAMP, or text to text). Any other conversion is computed
        here and logged as values: into a new column (UPDATE), which the column then takes over by
        name, ``USING`` that column, and which is dropped again; all in the interval's transaction.
        """
        qualified = self.qualified(table)
        column = quote(name)
        target_type = duckdb_type(target)
        if _replays_anywhere(source, target):
            self._execute(
                f"ALTER TABLE {qualified} ALTER COLUMN {column} SET DATA TYPE {target_type} "
                f"USING {convert_sql(column, source, target)}"
            )
            return
        scratch = quote(f"_headwater_widen_{uuid.uuid4().hex}")
        self._execute(f"ALTER TABLE {qualified} ADD COLUMN {scratch} {target_type}")
        self._execute(
            f"UPDATE {qualified} SET {scratch} = {convert_sql(column, source, target)} WHERE {column} IS NOT NULL"
        )
        self._execute(f"ALTER TABLE {qualified} ALTER COLUMN {column} SET DATA TYPE {target_type} USING {scratch}")
        self._execute(f"ALTER TABLE {qualified} DROP COLUMN {scratch}")

    # -- data -----------------------------------------------------------------------------------

    # -- data -----------------------------------------------------------------------------------

    def _relation(self, batch: Batch) -> Any:
        """What SQL reads as ``hw_batch``: an Arrow table, or for a few rows a typed VALUES list.

        A few rows (a hello-world sync) skip Arrow, which would cost an import of pyarrow and is no
        faster there (see :data:`SMALL_BATCH_ROWS`). Both forms hold the same typed values.
        """
        rows = len(batch)
        self._fit_threads(rows)
        if 0 < rows <= SMALL_BATCH_ROWS:
            casts = [f"CAST(? AS {duckdb_type(dtype)})" if dtype is not None else "?" for dtype in batch.types]
            row_sql = "(" + ", ".join(casts) + ")"
            params = [column[i] for i in range(rows) for column in batch.columns]
            names = ", ".join(quote(n) for n in batch.names)
            sql = f"SELECT * FROM (VALUES {', '.join([row_sql] * rows)}) AS v({names})"
            try:
                return self._connect().sql(sql, params=params)
            except duckdb.Error as exc:
                raise self._error(exc) from exc
        return batch.to_arrow()

    def upsert(self, table: TableRef, batch: Batch, *, synced: dt.datetime, new_keys: bool = False,
               key_range: tuple[Any, Any] | None = None, deleted: list[bool] | None = None) -> None:
        """Replace rows with the same key, insert the others (SEM-21).

        ``new_keys``: no stored row can have one of these keys, so nothing is deleted. ``key_range``
        (low, high of the first key column) lets DuckDB skip row groups outside it.
        """
        names = batch.names
        slots = [f"c{i}" for i in range(len(names))]
        types: list[DataType | None] = list(batch.types)
        columns = list(batch.columns)
        if deleted is not None:
            columns.append(deleted)
            slots.append("deleted")
            types.append(None)
        relation = self._relation(Batch(slots, types, columns))
        target = self.qualified(table)
        insert_columns = ", ".join([*(quote(n) for n in names), SYNCED, DELETED])
        flag = "hw_source.deleted" if deleted is not None else "false"
        select = ", ".join([*(f"hw_source.{c}" for c in slots[: len(names)]), _ts_sql(synced), flag])
        insert = f"INSERT INTO {target} ({insert_columns}) SELECT {select} FROM {BATCH} AS hw_source"
        if new_keys and not self._in_transaction and self._held is None and len(batch) < PARALLEL_MIN_ROWS:
            self._held = (insert, relation)  # the interval's first statement (see __init__)
            return
        if not new_keys:
            key = table.primary_key or (FIVETRAN_ID,)
            by_name = {fold_ascii(n): c for n, c in zip(names, slots)}
            condition = " AND ".join(f"hw_target.{quote(k)} = hw_source.{by_name[fold_ascii(k)]}" for k in key)
            if key_range is not None:
                low, high = (_literal(v) for v in key_range)
                condition += f" AND hw_target.{quote(key[0])} BETWEEN {low} AND {high}"
            self._execute(f"DELETE FROM {target} AS hw_target USING {BATCH} AS hw_source WHERE {condition}", relation)
        self._execute(insert, relation)

    @staticmethod
    def _key_condition(keys: KeyBatch, alias: str) -> str:
        parts = []
        for i, (name, chain) in enumerate(zip(keys.names, keys.chains)):
            column = f"hw_target.{quote(name)}"
            expr = _chain_sql(column, chain) if len(chain) > 1 else column
            parts.append(f"{expr} = {alias}.k{i}")
        return " AND ".join(parts)

    def _key_batch(self, keys: KeyBatch, extra: list[tuple[str, DataType | None, list[Any]]]) -> Any:
        names = [f"k{i}" for i in range(len(keys.values))]
        types: list[DataType | None] = [chain[-1] for chain in keys.chains]
        columns: list[Any] = list(keys.values)
        for name, dtype, values in extra:
            names.append(name)
            types.append(dtype)
            columns.append(values)
        return self._relation(Batch(names, types, columns))

    def existing_keys(self, table: TableRef, keys: KeyBatch) -> list[int]:
        """Positions of the keys that name an existing row."""
        relation = self._key_batch(keys, [("row", None, list(range(len(keys))))])
        condition = self._key_condition(keys, "hw_source")
        rows = self._execute(
            f"SELECT hw_source.row FROM {BATCH} AS hw_source WHERE EXISTS "
            f"(SELECT 1 FROM {self.qualified(table)} AS hw_target WHERE {condition}) ORDER BY hw_source.row",
            relation,
        ).fetchall()
        return [r[0] for r in rows]

    def update(self, table: TableRef, batch: UpdateBatch, *, synced: dt.datetime) -> int:
        """Set the given columns of existing rows (SEM-22); later updates of a key win per column.

        Returns how many rows were updated (keys naming no row update nothing)."""
        keys = batch.keys
        n = len(keys)
        extra: list[tuple[str, DataType | None, list[Any]]] = []
        for i, (values, dtype, present) in enumerate(zip(batch.columns.columns, batch.columns.types,
                                                         batch.presence)):
            extra.append((f"v{i}", dtype, values))
            if present is not None:
                extra.append((f"p{i}", None, present))
        extra.append(("seq", None, list(range(n))))
        if batch.deleted is not None:
            extra.append(("deleted", None, batch.deleted))
        relation = self._key_batch(keys, extra)
        key_list = ", ".join(f"k{i}" for i in range(len(keys.values)))
        if batch.repeated:
            parts = [key_list]
            for i, present in enumerate(batch.presence):
                if present is None:
                    parts.append(f"last(v{i} ORDER BY seq) AS v{i}")
                else:
                    parts.append(f"last(v{i} ORDER BY seq) FILTER (WHERE p{i}) AS v{i}, bool_or(p{i}) AS p{i}")
            if batch.deleted is not None:
                parts.append("bool_or(deleted) AS deleted")
            source = f"(SELECT {', '.join(parts)} FROM {BATCH} GROUP BY {key_list})"
        else:
            source = BATCH
        sets = []
        for i, (name, present) in enumerate(zip(batch.columns.names, batch.presence)):
            column = quote(name)
            if present is None:
                sets.append(f"{column} = hw_source.v{i}")
            else:
                sets.append(f"{column} = CASE WHEN hw_source.p{i} THEN hw_source.v{i} ELSE hw_target.{column} END")
        sets.append(f"{SYNCED} = {_ts_sql(synced)}")
        if batch.deleted is not None:
            sets.append(f"{DELETED} = CASE WHEN hw_source.deleted THEN true ELSE hw_target.{DELETED} END")
        condition = self._key_condition(keys, "hw_source")
        row = self._execute(
            f"UPDATE {self.qualified(table)} AS hw_target SET {', '.join(sets)} FROM {source} AS hw_source "
            f"WHERE {condition}",
            relation,
        ).fetchone()
        return int(row[0]) if row else 0

    def soft_delete(self, table: TableRef, keys: KeyBatch, *, synced: dt.datetime) -> None:
        """Mark the rows with these keys deleted (SEM-24); missing keys do nothing."""
        relation = self._key_batch(keys, [])
        condition = self._key_condition(keys, "hw_source")
        self._execute(
            f"UPDATE {self.qualified(table)} AS hw_target SET {DELETED} = true, {SYNCED} = {_ts_sql(synced)} "
            f"FROM (SELECT DISTINCT * FROM {BATCH}) AS hw_source WHERE {condition}",
            relation,
        )

    def key_range(self, table: TableRef, column: str) -> tuple[Any, Any] | None:
        """(min, max) of a stored key column; None when the table has no rows."""
        low, high = self._execute(
            f"SELECT min({quote(column)}), max({quote(column)}) FROM {self.qualified(table)}"
        ).fetchone() or (None, None)
        return None if low is None else (low, high)

    # -- for bookkeeping of headwater run (headwater.destinations.bookkeeping) -------------------------

    def acquire(self, connection: str) -> bool:
        """Lock a connection for this worker. DuckDB's own file lock already keeps every other process
        out while this one has the file open (a second worker fails to open it: DestinationLocked)."""
        self._connect()
        return True

    def release(self, connection: str) -> None:
        """The file lock goes with the connection (close())."""

    def bookkeeping_dialect(self) -> Any:
        from headwater.destinations.bookkeeping import Dialect

        self._connect()
        catalog = self._catalog.replace("'", "''")
        return Dialect(param="?", quote=quote, catalog=f"{self._database}.",
                       schema_exists="SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ? AND "
                                     f"database_name = '{catalog}'")

    def execute_in_transaction(self, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a statement in the open commit interval's transaction (it commits with the data)."""
        cursor = self._execute(sql, parameters=parameters)
        return cursor.fetchall() if cursor.description else []

    def execute_now(self, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a statement outside any commit interval, committed at once (never while one is open)."""
        if self._in_transaction or self._held is not None:
            raise RuntimeError("execute_now() while a commit interval is open")
        con = self._connect()
        try:
            cursor = con.execute(sql, parameters or [])
            rows = cursor.fetchall() if cursor.description else []
        except duckdb.Error as exc:
            raise self._error(exc) from exc
        self._committed = True  # the file now holds committed bookkeeping: never delete it
        return rows

    def truncate(self, table: TableRef, *, synced: dt.datetime, written_before: dt.datetime | None = None) -> None:
        """Soft-delete every live row (SEM-26), or those not written since ``written_before`` (SEM-27)."""
        since = f" AND {SYNCED} < {_ts_sql(written_before)}" if written_before is not None else ""
        self._execute(
            f"UPDATE {self.qualified(table)} SET {DELETED} = true, {SYNCED} = {_ts_sql(synced)} "
            f"WHERE NOT {DELETED}{since}"
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


def _comment(comment: str | None) -> dict[str, Any]:
    """A table comment written by headwater, parsed (empty for any other comment)."""
    if not comment:
        return {}
    try:
        meta = json.loads(comment)
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _primary_key_from_comment(meta: dict[str, Any]) -> tuple[str, ...]:
    headwater = meta.get("headwater")
    key = headwater.get("primary_key") if isinstance(headwater, dict) else None
    return tuple(str(k) for k in key) if isinstance(key, list) else ()
