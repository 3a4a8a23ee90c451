"""One sync: operations in, commit points out (SEM-20 to SEM-57).

:class:`Sync` receives every ``Operations`` call (from any thread, serialised by one lock),
buffers it per table, and at each commit point flushes all tables into the open warehouse
transaction, commits, and only then replaces the state file (SEM-55). A table whose buffer grows
past the spill threshold is flushed early into the *same* open transaction: DuckDB keeps
uncommitted data invisible and spills it to disk itself, so memory stays flat and nothing becomes
durable before its commit point (SEM-50).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from headwater.destinations.base import Destination, TableInfo
from headwater.engine import flush as flushing
from headwater.engine.table import (
    DEFERRED,
    DELETE,
    TRUNCATE,
    UPDATE,
    UPSERT,
    Column,
    Signature,
    TableState,
)
from headwater.errors import (
    ConnectorReportedError,
    DestinationError,
    HeadwaterError,
    OperationTypeError,
    OperationValueError,
    SchemaDeclarationError,
    SchemaEvolutionError,
    StateStoreError,
    SyncAlreadyFailedError,
)
from headwater.events import (
    CheckpointCommitted,
    EventHandler,
    Message,
    OperationAccepted,
    SchemaChanged,
    TableCreated,
    Warning,
)
from headwater.log import Level
from headwater.naming import Naming
from headwater.operations import no_file_error, no_sync_error
from headwater.result import Counters
from headwater.schema import TableSpec
from headwater.statestore import StateStore
from headwater.types import STRING, DataType, join

__all__ = ["Counters", "Sync", "SyncOptions", "create_sync"]

DEFAULT_BUFFER_BYTES = 256 * 1024 * 1024
# Rough bytes a buffered value costs (tuple slot + a small Python object); used to turn the
# memory budget into a row count per table.
BYTES_PER_VALUE = 56
LOCK_SPINS = 64


@dataclass(frozen=True)
class SyncOptions:
    """Engine settings."""

    buffer_bytes: int = DEFAULT_BUFFER_BYTES
    #: Time every operation call (for ``--profile``); costs ~0.2 µs per call, so off by default.
    profile: bool = False
    #: A batch of one table that switches between upsert, update and delete more often than this
    #: is folded per key in Python instead of being written run by run (see flush._apply_folded).
    fold_after_runs: int = 4
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.timezone.utc))


class Sync:
    """The engine side of one sync. Operations call its methods; the runner drives its lifecycle."""

    def __init__(
        self,
        destination: Destination,
        state_store: StateStore,
        *,
        naming: Naming,
        on_event: EventHandler,
        options: SyncOptions | None = None,
    ) -> None:
        self.destination = destination
        capabilities = destination.capabilities
        #: How the destination compares names (two names with one fold are one table or column).
        self.fold = capabilities.fold
        self.default_schema = capabilities.default_schema
        #: Track stored key ranges so upserts of new keys can skip looking for rows to replace.
        self.track_keys = not capabilities.merge
        self._reserved = capabilities.reserved_schemas
        self._max_name = capabilities.max_identifier_length
        if not capabilities.transactional_ddl:
            raise DestinationError(
                f"the {capabilities.name} destination does not roll back table changes with its data; headwater "
                "needs transactional DDL to keep a failed sync's tables as at the last checkpoint"
            )
        self._stored: dict[tuple[str, str], TableInfo] | None = None
        self.state_store = state_store
        self.naming = naming
        self.on_event = on_event
        self.options = options or SyncOptions()
        self.upserts = self.updates = self.deletes = 0
        self.pending = 0            # operations buffered in all tables since the last flush
        self.widest = 0
        self.flush_at = 1 << 62
        self._counters = Counters()
        self._lock = threading.Lock()
        self._tables: dict[tuple[Any, Any], TableState] = {}   # by raw (table, schema) arguments
        self.tables: dict[tuple[str, str], TableState] = {}     # by (schema identity, table identity)
        self._declared: list[TableState] = []
        self._declared_created = False
        self.reported_error: str | None = None
        self.internal_error: BaseException | None = None
        #: The destination or the state store failed (disk full, connection lost...): the sync is over.
        self.environment_error: DestinationError | StateStoreError | None = None
        #: Why operations are refused from now on (the sync ended, or failed inside headwater);
        #: None while the sync runs. One attribute, so the per-row path checks it cheaply.
        self.closed: str | None = None
        self._last_ts: dt.datetime | None = None
        self.rows_committed = 0
        self.engine_seconds = 0.0   # flushing, typing, Arrow, destination writes, commits
        self.op_seconds = 0.0       # inside op.* calls, minus the flushing they triggered (profile only)

    @property
    def any_operation(self) -> bool:
        """Whether the connector has sent any operation (or checkpoint) in this sync."""
        c = self._counters
        return bool(self.upserts or self.updates or self.deletes or c.truncates or c.checkpoints)

    @property
    def counters(self) -> Counters:
        """The summary's counters; the per-row ones are kept as plain attributes on the hot path."""
        c = self._counters
        c.upserts, c.updates, c.deletes = self.upserts, self.updates, self.deletes
        return c

    # -- logging -------------------------------------------------------------------------------

    def log_info(self, message: str) -> None:
        self.on_event(Message(message))

    def log_warning(self, message: str) -> None:
        self.on_event(Warning(message))

    def schema_event(self, event: TableCreated | SchemaChanged) -> None:
        """A table or column change was applied to the open transaction: count it (SEM-70) and report it."""
        self._counters.schema_changes += event.changes
        self.on_event(event)

    # -- tables --------------------------------------------------------------------------------

    def _resolve(self, table: Any, schema: Any) -> TableState:
        if not isinstance(table, str):
            raise OperationTypeError(
                f"table name must be a non-empty string, got {table!r} ({type(table).__name__})"
            )
        if not table.strip():
            raise OperationValueError(f"table name must be a non-empty string, got {table!r}")
        if schema is not None and not isinstance(schema, str):
            raise OperationTypeError(
                f"schema name must be a non-empty string or None, got {schema!r} ({type(schema).__name__})"
            )
        if schema is not None and not schema.strip():
            raise OperationValueError(f"schema name must be a non-empty string or None, got {schema!r}")
        schema_name = self.default_schema if schema is None else self.naming.schema(schema)
        name = self.naming.table(table)
        problem = self.name_problem(schema_name, "schema") or self.name_problem(name, "table")
        if problem:
            raise OperationValueError(problem)
        key = (self.fold(schema_name), self.fold(name))
        state = self.tables.get(key)
        if state is None:
            state = self._existing_or_new(schema_name, name, key)
        try:
            self._tables[(table, schema)] = state
        except TypeError:
            pass
        return state

    def name_problem(self, name: str, kind: str) -> str | None:
        """Why the destination cannot take this schema, table or column name (None: it can)."""
        if not name.isascii():
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                return (f"{kind} name {name!r} is not valid Unicode text (it holds a lone surrogate) and cannot be "
                        "stored; decode the source's bytes properly (errors='replace') or rename it")
        if "\x00" in name:
            return f"{kind} name {name!r} contains a NUL character, which no destination stores; remove it"
        if kind == "schema" and self.fold(name) in self._reserved:
            return (f"schema name {name!r} is reserved by the {self.destination.capabilities.name} destination; "
                    "write the table to another schema")
        if self._max_name is not None and len(name.encode("utf-8")) > self._max_name:
            return (f"{kind} name {name[:40]!r}... is {len(name.encode('utf-8'))} bytes long; the "
                    f"{self.destination.capabilities.name} destination takes at most {self._max_name}: "
                    "use a shorter name")
        return None

    def label(self, schema: str, name: str) -> str:
        """How messages name a table: without its schema when that is the default one."""
        return name if schema == self.default_schema else f"{schema}.{name}"

    def stored_table(self, key: tuple[str, str]) -> TableInfo | None:
        """The table with this folded (schema, name) as it was when the sync started, if it exists."""
        if self._stored is None:
            fold = self.fold
            self._stored = {(fold(info.schema), fold(info.name)): info for info in self.destination.tables()}
        return self._stored.get(key)

    def _existing_or_new(self, schema_name: str, name: str, key: tuple[str, str]) -> TableState:
        info = self.stored_table(key)
        if info is not None:
            state = TableState(self, info.schema, info.name, primary_key=info.primary_key, exists=True,
                               columns=_stored_columns(info))
        else:
            state = TableState(self, schema_name, name, primary_key=())
        self.tables[key] = state
        return state

    def prepare(self, specs: list[TableSpec]) -> None:
        """Check the declared schema against the warehouse (ERR-EVOL) and apply what it adds (SEM-40, SEM-43)."""
        plans: list[tuple[TableState, list[tuple[str, DataType, DataType | None]]]] = []
        for spec in specs:
            schema_name = spec.schema if spec.schema is not None else self.default_schema
            names = [(schema_name, "schema"), (spec.table, "table"),
                     *((c, "column") for c in [*spec.columns, *spec.primary_key])]
            problem = next(filter(None, (self.name_problem(n, kind) for n, kind in names)), None)
            if problem:
                raise SchemaDeclarationError(f"schema() entry for table {spec.table!r}: {problem}")
            key = (self.fold(schema_name), self.fold(spec.table))
            info = self.stored_table(key)
            declared = {self.fold(c): t for c, t in spec.columns.items()}
            if info is None:
                state = TableState(self, schema_name, spec.table, primary_key=spec.primary_key,
                                   declared=declared, declared_order=list(spec.columns))
                self.tables[key] = state
                self._declared.append(state)
                continue
            label = self.label(info.schema, info.name)
            if tuple(self.fold(c) for c in info.primary_key) != tuple(self.fold(c) for c in spec.primary_key):
                stored_key = ", ".join(info.primary_key) or "none (keyless)"
                declared_key = ", ".join(spec.primary_key) or "none (keyless)"
                raise SchemaEvolutionError(
                    f"primary key changed for table {label!r}: the warehouse has ({stored_key}), schema() "
                    f"declares ({declared_key}); run `headwater reset` to start over, or keep the old key"
                )
            state = TableState(self, info.schema, info.name, primary_key=info.primary_key, exists=True,
                               declared=declared, declared_order=list(spec.columns),
                               columns=_stored_columns(info))
            changes: list[tuple[str, DataType, DataType | None]] = []
            for column, declared_type in spec.columns.items():
                existing = state.columns.get(self.fold(column))
                if existing is None:
                    changes.append((column, declared_type, None))
                    continue
                current = existing.type
                if current == declared_type or (current.is_textual and declared_type.is_textual):
                    continue
                if join(current, declared_type) != declared_type:
                    raise SchemaEvolutionError(
                        f"cannot change type of column {existing.name!r} in table {label!r} from "
                        f"{current} to {declared_type}: headwater only widens columns; declare {current} "
                        "(or a wider type), or run `headwater reset`"
                    )
                changes.append((existing.name, declared_type, current))
            self.tables[key] = state
            self._declared.append(state)
            plans.append((state, changes))
        for state, changes in plans:
            for column, declared_type, before in changes:
                if before is None:
                    self.destination.add_column(state.ref, column, declared_type)
                    state.columns[self.fold(column)] = Column(column, declared_type)
                else:
                    self.destination.widen_column(state.ref, column, before, declared_type)
                    state.columns[self.fold(column)].type = declared_type
                self.schema_event(SchemaChanged(state.label, column, before, declared_type))

    # -- operations (called from any thread) ------------------------------------------------------

    def _check_running(self, name: str = "operation") -> None:
        if self.environment_error is not None:
            raise RuntimeError(
                f"the sync has failed: {self.environment_error.message}; no further operations are accepted"
            ) from self.environment_error
        if self.closed is not None and self.internal_error is None:
            raise no_sync_error(name, self.closed)
        if self.internal_error is not None:
            raise RuntimeError(
                "the sync has failed inside headwater; no further operations are accepted"
            ) from self.internal_error

    # The per-row path. While a sync runs, Operations.upsert/update/delete ARE these bound methods
    # (operations.bind installs them), so a connector's op.upsert(...) costs one Python call.

    def upsert(self, table: Any, data: Any, schema: Any = None, file: Any = None) -> None:
        # Checks and conversions run without the lock: they only read the shared caches (anything
        # that creates a table, a signature or a plan takes the lock itself), so threads calling
        # op.upsert contend only for the few instructions that append the row. Holding the lock for
        # the whole call made every GIL switch land inside it and the threads convoy.
        if self.closed is not None or file is not None:
            self._refuse("upsert", file)
        try:
            t = self._tables[(table, schema)]
        except (KeyError, TypeError):
            t = self._locked(self._resolve, table, schema)
        sig = t.last_sig[UPSERT]
        row: Any
        if type(data) is dict and len(data) == sig.width and not (sig.order_matters and tuple(data) != sig.keys):
            try:
                row = sig.getter(data)
            except KeyError:  # as many keys as the last row, but other ones
                sig, row = self._shape(t, UPSERT, "upsert", "data", data)
        else:
            sig, row = self._shape(t, UPSERT, "upsert", "data", data)
        plan = sig.plans.get(tuple(map(type, row)))
        if plan is None:
            plan = self._locked(t.plan, sig, row)
        if plan:
            row = list(row)
            for pos, conv in plan:
                row[pos] = conv(row[pos])
        lock = self._lock
        if not lock.acquire(False):
            self._wait_for_lock()
        try:
            seg = t.current
            if seg is None or seg.sig is not sig:
                # Every flush and the end of the sync take the segments (t.current becomes None),
                # so a row arriving after the sync ended always comes through here.
                if self.closed is not None:
                    self._refuse("upsert", None)
                seg = t.new_segment(UPSERT, sig)
            seg.rows.append(row)
            self.upserts += 1
            self.pending += 1
            if self.pending >= self.flush_at:
                self._spill()
        finally:
            lock.release()

    def _shape(self, t: TableState, kind: int, name: str, argument: str, data: Any) -> tuple[Signature, Any]:
        """The signature and value tuple of a row whose keys differ from the last row's (or of a
        dict subclass, whose lookups may invent missing keys: it is matched on its exact keys)."""
        if not isinstance(data, dict):
            raise _not_a_dict(name, argument, data)
        sig: Signature = self._locked(t.signature_of, kind, data)
        return sig, sig.getter(data)

    def _wait_for_lock(self) -> None:
        """Take the lock another thread holds, without convoying behind it.

        A thread that blocks on a lock releases the GIL and must win it back after the lock is
        freed, while the holder keeps the GIL and usually takes the lock again: with several
        threads calling op.upsert, every GIL switch then costs a round of futile wake-ups (measured:
        4 threads took 2.7x as long as 1). Yielding the GIL and retrying lets the holder finish its
        few instructions first; past a few tries (the holder is inside a long flush, which runs
        without the GIL) the thread blocks instead of spinning.
        """
        lock = self._lock
        for _ in range(LOCK_SPINS):
            time.sleep(0)
            if lock.acquire(False):
                return
        lock.acquire()

    def _locked(self, function: Callable[..., Any], *args: Any) -> Any:
        with self._lock:
            return function(*args)

    def update(self, table: Any, modified: Any, schema: Any = None, file: Any = None) -> None:
        if file is not None:
            self._refuse("update", file)
        self._keyed_op(UPDATE, "update", "modified", table, modified, schema)

    def delete(self, table: Any, keys: Any, schema: Any = None) -> None:
        self._keyed_op(DELETE, "delete", "keys", table, keys, schema)

    def _refuse(self, name: str, file: Any) -> None:
        self._check_running(name)
        if file is not None:
            raise no_file_error(name)

    def _keyed_op(self, kind: int, name: str, argument: str, table: Any, data: Any, schema: Any) -> None:
        # The same steps as upsert(), which inlines them because it is the hottest call there is.
        if self.closed is not None:
            self._refuse(name, None)
        try:
            t = self._tables[(table, schema)]
        except (KeyError, TypeError):
            t = self._locked(self._resolve, table, schema)
        sig = t.last_sig[kind]
        row: Any
        if type(data) is dict and len(data) == sig.width and not (sig.order_matters and tuple(data) != sig.keys):
            try:
                row = sig.getter(data)
            except KeyError:
                sig, row = self._shape(t, kind, name, argument, data)
        else:
            sig, row = self._shape(t, kind, name, argument, data)
        plan = sig.plans.get(tuple(map(type, row)))
        if plan is None:
            plan = self._locked(t.plan, sig, row)
        if plan:
            row = list(row)
            for pos, conv in plan:
                row[pos] = conv(row[pos])
        lock = self._lock
        if not lock.acquire(False):
            self._wait_for_lock()
        try:
            seg = t.current
            if seg is None or seg.sig is not sig:
                if self.closed is not None:
                    self._refuse(name, None)
                seg = t.new_segment(kind, sig)
            seg.rows.append(row)
            if kind == UPDATE:
                self.updates += 1
            else:
                self.deletes += 1
            self.pending += 1
            if self.pending >= self.flush_at:
                self._spill()
        finally:
            lock.release()

    def truncate(self, table: Any, schema: Any, deferred: Any) -> None:
        with self._lock:
            self._check_running("truncate")
            t = self._resolve(table, schema)
            if deferred:
                if not t.has_deferred:
                    t.has_deferred = True
                    t.new_segment(DEFERRED, None)
            else:
                t.new_segment(TRUNCATE, None)
            self.counters.truncates += 1

    def warning(self, message: Any) -> None:
        _check_message(message)
        self._log_connector(Level.WARNING, message)

    def error(self, message: Any, trace: Any = None) -> None:
        _check_message(message)
        if trace is not None and not isinstance(trace, str):
            raise OperationTypeError(
                f"Operations.error() trace must be a string or None, got {type(trace).__name__}; "
                "the message must be a non-empty string"
            )
        self._log_connector(Level.SEVERE, message if trace is None else f"{message}\n{trace}")
        with self._lock:
            if self.reported_error is None:
                self.reported_error = message
        raise ConnectorReportedError(message)

    def _log_connector(self, level: Level, message: str) -> None:
        from headwater.log import emit

        emit(level, message, origin="connector")

    def checkpoint(self, state: Any) -> None:
        with self._lock:
            self._check_running("checkpoint")
            if self.reported_error is not None:
                raise SyncAlreadyFailedError(
                    f"checkpoint refused: the sync has failed (Operations.error was called: "
                    f"{self.reported_error!r}); nothing more is committed"
                )
            if not isinstance(state, dict):
                raise OperationTypeError(
                    f"checkpoint state must be a dict, got {type(state).__name__}; pass the state dict "
                    "itself, e.g. op.checkpoint({'cursor': '2024-01-01'})"
                )
            try:
                text = json.dumps(state, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise OperationTypeError(
                    f"checkpoint state is not JSON serializable: {exc}; store only dicts, lists, "
                    "strings, finite numbers, booleans and None (dates as ISO strings)"
                ) from None
            before = self.rows_committed
            self._commit(text, final=False)
            self._counters.checkpoints += 1
            self.on_event(CheckpointCommitted(self._counters.checkpoints, text, self.rows_committed - before,
                                              self.upserts + self.updates + self.deletes))

    # -- flushing and committing ------------------------------------------------------------------

    def note_row_width(self, width: int) -> None:
        """A new row shape was seen: lower the spill threshold if its rows are the widest so far.

        The threshold counts buffered operations across all tables. A quarter of the memory budget
        goes to buffered Python rows (the rest covers the Arrow copy made while flushing and
        DuckDB's own buffers); a row's size is estimated from its number of values.
        """
        if width > self.widest:
            self.widest = width
            per_row = 64 + BYTES_PER_VALUE * max(1, width)
            self.flush_at = max(1024, (self.options.buffer_bytes // 4) // per_row)

    def timestamp(self) -> dt.datetime:
        """A `_fivetran_synced` value, strictly increasing within the sync."""
        now = self.options.clock()
        last = self._last_ts
        if last is not None and now <= last:
            now = last + dt.timedelta(microseconds=1)
        self._last_ts = now
        return now

    def _guarded(self, action: Callable[[], None]) -> None:
        """Run engine work; a failure inside headwater breaks the sync for good (ERR-7).

        The cyclic garbage collector is paused meanwhile: a flush allocates a few objects per
        buffered value and creates no cycles, and each collection it would trigger walks every live
        object of the process (the connector's included), which made a 200k-row flush 30-70 % slower.
        """
        started = time.perf_counter()
        collecting = gc.isenabled()
        gc.disable()
        try:
            action()
        except (DestinationError, StateStoreError) as exc:
            self.environment_error = exc
            self.closed = "the destination failed"
            raise
        except HeadwaterError:
            raise
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.internal_error = exc
            self.closed = "the sync failed inside headwater"
            raise
        finally:
            if collecting:
                gc.enable()
            self.engine_seconds += time.perf_counter() - started

    def _spill(self) -> None:
        """The buffers reached the memory budget: write them into the open transaction (not committed)."""
        def work() -> None:
            for t in list(self.tables.values()):
                if t.segments:
                    flushing.flush_table(self, t)
            self.pending = 0

        self._guarded(work)

    def _commit(self, state_text: str | None, *, final: bool) -> None:
        def work() -> None:
            if state_text is not None:
                # Written and synced aside while the warehouse commits; named state.json only after.
                self.state_store.stage(state_text)
            for t in list(self.tables.values()):
                if t.segments:
                    flushing.flush_table(self, t)
            self.pending = 0
            if not self._declared_created:
                self._declared_created = True
                for t in self._declared:
                    if not t.exists:
                        flushing.create_declared_table(self, t)
            if final:
                for t in self.tables.values():
                    if t.deferred_since is not None and t.exists:
                        self.destination.truncate(t.ref, synced=self.timestamp(), written_before=t.deferred_since)
            self.destination.commit()
            if state_text is not None:
                self.state_store.save(state_text)

        try:
            self._guarded(work)
        except BaseException:
            self.state_store.discard()
            raise
        self.rows_committed = sum(t.rows_written for t in self.tables.values())

    def finish(self) -> None:
        """The successful end of ``update()``: the last commit point (SEM-53)."""
        with self._lock:
            self._check_running()
            self.closed = "update() has returned"
            self._commit(None, final=True)
            self.state_store.close()

    def abort(self) -> None:
        """Discard everything since the last commit point (SEM-54)."""
        with self._lock:
            self.closed = self.closed or "the sync has failed"
            for t in self.tables.values():
                t.take_segments()
            self.state_store.close()
            try:
                self.destination.rollback()
            except Exception:  # noqa: BLE001 - rollback of a broken connection; the store is intact
                pass

    # -- progress --------------------------------------------------------------------------------

    def progress(self) -> dict[str, int]:
        """Rows accepted per table so far (committed or buffered), for the progress display."""
        return {t.label: t.rows_written + t.buffered_rows() for t in self.tables.values()}


def _stored_columns(info: TableInfo) -> list[Column]:
    """A stored table's columns; XML reads as STRING, since the two are one type (SEM-43)."""
    return [Column(name, STRING if dtype.is_textual else dtype) for name, dtype in info.columns]


def _not_a_dict(op_name: str, argument: str, value: Any) -> OperationTypeError:
    return OperationTypeError(
        f"Operations.{op_name}() {argument} must be a dict, got {type(value).__name__}; "
        f"call op.{op_name} once per row with one dict"
    )


def _check_message(message: Any) -> None:
    if not isinstance(message, str):
        raise OperationTypeError(
            f"message must be a non-empty string, got {type(message).__name__}"
        )
    if not message:
        raise OperationValueError("message must be a non-empty string, got an empty one")


class _ProfiledSync(Sync):
    """A sync that also times every op.upsert/update/delete call (``--profile``; ~0.2 µs a call)."""

    def upsert(self, table: Any, data: Any, schema: Any = None, file: Any = None) -> None:
        engine_before = self.engine_seconds
        started = time.perf_counter()
        try:
            super().upsert(table, data, schema, file)
        finally:
            self.op_seconds += time.perf_counter() - started - (self.engine_seconds - engine_before)

    def update(self, table: Any, modified: Any, schema: Any = None, file: Any = None) -> None:
        engine_before = self.engine_seconds
        started = time.perf_counter()
        try:
            super().update(table, modified, schema, file)
        finally:
            self.op_seconds += time.perf_counter() - started - (self.engine_seconds - engine_before)

    def delete(self, table: Any, keys: Any, schema: Any = None) -> None:
        engine_before = self.engine_seconds
        started = time.perf_counter()
        try:
            super().delete(table, keys, schema)
        finally:
            self.op_seconds += time.perf_counter() - started - (self.engine_seconds - engine_before)


def _copy(data: Any) -> Any:
    """A deep copy, so later changes to the connector's dict do not show; shallow if that fails."""
    import copy

    try:
        return copy.deepcopy(data)
    except Exception:  # noqa: BLE001 - an uncopyable value (a lock, a generator) must not fail the sync
        return dict(data) if isinstance(data, dict) else data


class _RecordingSync(_ProfiledSync):
    """A sync that reports every accepted operation as an :class:`OperationAccepted` event."""

    def upsert(self, table: Any, data: Any, schema: Any = None, file: Any = None) -> None:
        if self.options.profile:
            super().upsert(table, data, schema, file)
        else:
            Sync.upsert(self, table, data, schema, file)
        self.on_event(OperationAccepted("upsert", table, _copy(data), schema))

    def update(self, table: Any, modified: Any, schema: Any = None, file: Any = None) -> None:
        if self.options.profile:
            super().update(table, modified, schema, file)
        else:
            Sync.update(self, table, modified, schema, file)
        self.on_event(OperationAccepted("update", table, _copy(modified), schema))

    def delete(self, table: Any, keys: Any, schema: Any = None) -> None:
        if self.options.profile:
            super().delete(table, keys, schema)
        else:
            Sync.delete(self, table, keys, schema)
        self.on_event(OperationAccepted("delete", table, _copy(keys), schema))

    def truncate(self, table: Any, schema: Any, deferred: Any) -> None:
        super().truncate(table, schema, deferred)
        self.on_event(OperationAccepted("truncate", table, None, schema, bool(deferred)))


def create_sync(
    destination: Destination,
    state_store: StateStore,
    *,
    naming: Naming,
    on_event: EventHandler,
    options: SyncOptions | None = None,
    record_operations: bool = False,
) -> Sync:
    """A :class:`Sync`, profiled (``options.profile``) or reporting operations as events when asked."""
    options = options or SyncOptions()
    cls: type[Sync] = _RecordingSync if record_operations else _ProfiledSync if options.profile else Sync
    return cls(destination, state_store, naming=naming, on_event=on_event, options=options)

