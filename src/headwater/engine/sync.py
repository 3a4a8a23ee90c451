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

from headwater.engine import flush as flushing
from headwater.engine.state import StateStore
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
    HeadwaterError,
    OperationTypeError,
    OperationValueError,
    SchemaEvolutionError,
    SyncAlreadyFailedError,
)
from headwater.log import Level
from headwater.naming import Naming, identity
from headwater.operations import no_file_error, no_sync_error
from headwater.schema import DEFAULT_SCHEMA, TableSpec
from headwater.types import DataType, join

__all__ = ["Counters", "Sync", "SyncOptions"]

DEFAULT_BUFFER_BYTES = 256 * 1024 * 1024
# Rough bytes a buffered value costs (tuple slot + a small Python object); used to turn the
# memory budget into a row count per table.
BYTES_PER_VALUE = 56
LOCK_SPINS = 64


@dataclass
class Counters:
    """The summary's counters (SEM-70)."""

    upserts: int = 0
    updates: int = 0
    deletes: int = 0
    truncates: int = 0
    schema_changes: int = 0
    checkpoints: int = 0


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
        warehouse: Any,
        state_store: StateStore,
        *,
        naming: Naming,
        log: Callable[[Level, str], None],
        options: SyncOptions | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.state_store = state_store
        self.naming = naming
        self._log = log
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
        #: Why operations are refused from now on (the sync ended, or failed inside headwater);
        #: None while the sync runs. One attribute, so the per-row path checks it cheaply.
        self.closed: str | None = None
        self._last_ts: dt.datetime | None = None
        self.rows_committed = 0
        self.engine_seconds = 0.0   # flushing, typing, Arrow, DuckDB, commits
        self.op_seconds = 0.0       # inside op.* calls, minus the flushing they triggered (profile only)
        if self.options.profile:
            for name in ("upsert", "update", "delete"):
                setattr(self, name, self._timed(getattr(self, name)))

    def _timed(self, method: Callable[..., None]) -> Callable[..., None]:
        clock = time.perf_counter

        def timed(*args: Any, **kwargs: Any) -> None:
            engine_before = self.engine_seconds
            started = clock()
            try:
                method(*args, **kwargs)
            finally:
                self.op_seconds += clock() - started - (self.engine_seconds - engine_before)

        return timed

    @property
    def counters(self) -> Counters:
        """The summary's counters; the per-row ones are kept as plain attributes on the hot path."""
        c = self._counters
        c.upserts, c.updates, c.deletes = self.upserts, self.updates, self.deletes
        return c

    # -- logging -------------------------------------------------------------------------------

    def log_info(self, message: str) -> None:
        self._log(Level.INFO, message)

    def log_warning(self, message: str) -> None:
        self._log(Level.WARNING, message)

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
        schema_name = DEFAULT_SCHEMA if schema is None else self.naming.schema(schema)
        name = self.naming.table(table)
        key = (identity(schema_name), identity(name))
        state = self.tables.get(key)
        if state is None:
            state = self._existing_or_new(schema_name, name, key)
        try:
            self._tables[(table, schema)] = state
        except TypeError:
            pass
        return state

    def _existing_or_new(self, schema_name: str, name: str, key: tuple[str, str]) -> TableState:
        info = self.warehouse.table_info(key)
        if info is not None:
            state = TableState(self, info.schema, info.name, primary_key=info.primary_key, exists=True,
                               columns=[Column(n, t) for n, t in info.columns])
        else:
            state = TableState(self, schema_name, name, primary_key=())
        self.tables[key] = state
        return state

    def prepare(self, specs: list[TableSpec]) -> None:
        """Check the declared schema against the warehouse (ERR-EVOL) and apply what it adds (SEM-40, SEM-43)."""
        plans: list[tuple[TableState, list[tuple[str, DataType, DataType | None]]]] = []
        for spec in specs:
            key = (identity(spec.schema), identity(spec.table))
            info = self.warehouse.table_info(key)
            declared = {identity(c): t for c, t in spec.columns.items()}
            if info is None:
                state = TableState(self, spec.schema, spec.table, primary_key=spec.primary_key,
                                   declared=declared, declared_order=list(spec.columns))
                self.tables[key] = state
                self._declared.append(state)
                continue
            if tuple(identity(c) for c in info.primary_key) != tuple(identity(c) for c in spec.primary_key):
                stored_key = ", ".join(info.primary_key) or "none (keyless)"
                declared_key = ", ".join(spec.primary_key) or "none (keyless)"
                raise SchemaEvolutionError(
                    f"primary key changed for table {info.label!r}: the warehouse has ({stored_key}), schema() "
                    f"declares ({declared_key}); run `headwater reset` to start over, or keep the old key"
                )
            state = TableState(self, info.schema, info.name, primary_key=info.primary_key, exists=True,
                               declared=declared, declared_order=list(spec.columns),
                               columns=[Column(n, t) for n, t in info.columns])
            changes: list[tuple[str, DataType, DataType | None]] = []
            for column, declared_type in spec.columns.items():
                existing = state.columns.get(identity(column))
                if existing is None:
                    changes.append((column, declared_type, None))
                    continue
                current = existing.type
                if current == declared_type or (current.is_textual and declared_type.is_textual):
                    continue
                if join(current, declared_type) != declared_type:
                    raise SchemaEvolutionError(
                        f"cannot change type of column {existing.name!r} in table {info.label!r} from "
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
                    self.warehouse.add_column(state, column, declared_type)
                    state.columns[identity(column)] = Column(column, declared_type)
                    self.counters.schema_changes += 1
                    self.log_info(f"table {state.label!r}: added column {column!r} ({declared_type})")
                else:
                    self.warehouse.change_type(state, column, before, declared_type)
                    state.columns[identity(column)].type = declared_type
                    self.counters.schema_changes += 1
                    self.log_info(
                        f"table {state.label!r}: changed column {column!r} from {before} to {declared_type}"
                    )

    # -- operations (called from any thread) ------------------------------------------------------

    def _check_running(self, name: str = "operation") -> None:
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
            self.counters.checkpoints += 1
            self.log_info(
                f"checkpoint {self.counters.checkpoints} committed "
                f"({self.rows_committed - before:,} rows since the previous one); state saved"
            )

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
            self.warehouse.write_held()  # into the open transaction now: no commit follows

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
                        self.warehouse.deferred_truncate(t, t.deferred_since, self.timestamp())
            if self.warehouse.is_open:
                self.warehouse.commit()
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
                self.warehouse.rollback()
            except Exception:  # noqa: BLE001 - rollback of a broken connection; the file is intact
                pass

    # -- progress --------------------------------------------------------------------------------

    def progress(self) -> dict[str, int]:
        """Rows accepted per table so far (committed or buffered), for the progress display."""
        return {t.label: t.rows_written + t.buffered_rows() for t in self.tables.values()}


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
