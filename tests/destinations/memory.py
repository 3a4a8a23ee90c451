"""A toy destination that keeps its tables in Python dicts, written from docs/destinations.md alone.

It implements :class:`headwater.destinations.base.Destination` completely and strictly: besides doing
what the interface says, it checks what the engine promises (values canonical for their column's
type, keys distinct within an upsert, ``new_keys`` and ``key_range`` hints that hold, a saved state
never ahead of the committed data) and raises :class:`ContractViolation` when a promise is broken, so
the engine tests that run against it double as a check of the engine's side of the contract.

    database = MemoryDatabase()
    destination = MemoryDestination(database)
    store = MemoryStateStore(database)
    headwater.sync(project, connector=connector, destination=destination, state_store=store)
    database.rows("tester", "users")

* :class:`MemoryDatabase` is the "server": committed tables, shared by every sync that writes into it.
  It outlives the syncs, so consecutive syncs (the same destination instance, or new ones on the same
  database) see each other's committed data.
* :class:`MemoryDestination` is one connection to it. Each commit interval works on a copy of the
  table map; a table is copied on its first write of the interval (rows are never changed in place,
  only replaced, so the copy is shallow). ``commit()`` publishes the working copy, ``rollback()``
  drops it.
* :class:`MemoryStateStore` keeps the saved state text (and every state saved, in order).

Column types are headwater :class:`~headwater.types.DataType` values; identifiers fold with
:func:`~headwater.destinations.base.fold_ascii`; the default schema is ``tester``. XML columns are
stored as STRING columns (the doc allows the two to share a column type, and the spec says an XML
column reads back as STRING); ``MemoryDestination(xml_as_string=False)`` keeps them XML instead.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import struct
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from headwater.batch import Batch
from headwater.destinations.base import (
    Capabilities,
    KeyBatch,
    TableDescription,
    TableInfo,
    TableRef,
    UpdateBatch,
    fold_ascii,
)
from headwater.errors import DestinationLocked
from headwater.types import BOOLEAN, STRING, UTC_DATETIME, DataType, join
from headwater.values import text_form

__all__ = ["ContractViolation", "MemoryDatabase", "MemoryDestination", "MemoryStateStore", "widen_value"]

SYNCED = "_fivetran_synced"
DELETED = "_fivetran_deleted"
FIVETRAN_ID = "_fivetran_id"
SYSTEM_COLUMNS = (FIVETRAN_ID, SYNCED, DELETED)

UTC = dt.timezone.utc
MIDNIGHT = dt.time(0, 0)
_WIDE = decimal.Context(prec=200)  # exact arithmetic for every DECIMAL(p<=38) and 64-bit integer


class ContractViolation(AssertionError):
    """The engine asked something the destination interface rules out (a bug, not the environment)."""


# ---------------------------------------------------------------------------------------------
# values


def _float32(value: float) -> float:
    """The 32-bit float nearest ``value`` (NaN and infinities kept), as a Python float."""
    if math.isnan(value) or math.isinf(value):
        return value
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:  # beyond the 32-bit range: the engine never sends such a FLOAT
        raise ContractViolation(f"{value!r} is not a FLOAT value") from None


def _quantize(value: decimal.Decimal, scale: int) -> decimal.Decimal:
    return value.quantize(decimal.Decimal(1).scaleb(-scale), context=_WIDE)


def canonical(value: Any, dtype: DataType, tolerated: Counter[str] | None = None) -> Any:
    """``value`` checked against the Python type the doc's value table gives for ``dtype``, in the form
    this destination stores it (FLOAT rounded to 32 bits, DECIMAL at its scale, text as plain ``str``).

    With a ``tolerated`` counter, a Python ``int`` in a FLOAT, DOUBLE or DECIMAL column is converted
    as a SQL database would convert it, and counted there (the engine sends such values, see
    ``MemoryDestination.tolerated``); without one it is a :class:`ContractViolation`.
    """
    if value is None:
        return None
    name = dtype.name
    kind = type(value)
    if tolerated is not None and kind is int and name in ("FLOAT", "DOUBLE", "DECIMAL"):
        tolerated[f"int in a {name} column"] += 1
        value = decimal.Decimal(value) if name == "DECIMAL" else float(value)
        kind = type(value)
    if name == "BOOLEAN" and kind is bool:
        return value
    if dtype.is_integer and kind is int:
        bits = {"SHORT": 16, "INT": 32, "LONG": 64}[name]
        if -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            return value
    elif name in ("FLOAT", "DOUBLE") and kind is float:
        return _float32(value) if name == "FLOAT" else value
    elif name == "DECIMAL" and kind is decimal.Decimal and value.is_finite():
        assert dtype.precision is not None and dtype.scale is not None
        quantized = _quantize(value, dtype.scale)
        if len(quantized.as_tuple().digits) <= dtype.precision or quantized.is_zero():
            return quantized
    elif name == "NAIVE_DATE" and kind is dt.date:
        return value
    elif name == "NAIVE_DATETIME" and kind is dt.datetime and value.tzinfo is None:
        return value
    elif name == "UTC_DATETIME" and kind is dt.datetime and value.utcoffset() == dt.timedelta(0):
        return value.replace(tzinfo=UTC)
    elif name == "BINARY" and kind is bytes:
        return value
    elif name in ("STRING", "XML", "JSON") and isinstance(value, str):
        return str.__str__(value) if kind is not str else value
    raise ContractViolation(f"{value!r} ({kind.__name__}) is not a canonical {dtype} value")


def widen_value(value: Any, source: DataType, target: DataType) -> Any:
    """A stored ``source`` value converted to the wider ``target`` (TYPES-27; text forms TYPES-30)."""
    if value is None or source == target:
        return value
    if source.is_textual and target.is_textual:
        return value
    name = target.name
    if target.is_textual:
        return text_form(value, source)
    if name == "DOUBLE" and (source.is_exact_numeric or source.name == "FLOAT"):
        return float(value)  # the nearest double (a stored FLOAT is one already)
    if name == "FLOAT" and source.name == "SHORT":
        return float(value)
    if name == "DECIMAL" and source.is_exact_numeric:
        assert target.scale is not None
        return _quantize(decimal.Decimal(value), target.scale)
    if target.is_integer and source.is_integer:
        return value
    if name == "NAIVE_DATETIME" and source.name == "NAIVE_DATE":
        return dt.datetime.combine(value, MIDNIGHT)
    if name == "UTC_DATETIME" and source.name == "NAIVE_DATE":
        return dt.datetime.combine(value, MIDNIGHT, UTC)
    if name == "UTC_DATETIME" and source.name == "NAIVE_DATETIME":
        return value.replace(tzinfo=UTC)  # the same wall clock, read as UTC
    raise ContractViolation(f"no widening from {source} to {target}")


def _same_type(a: DataType, b: DataType) -> bool:
    """XML and STRING are one type to the engine (SEM-43)."""
    return a == b or (a.is_textual and b.is_textual)


# ---------------------------------------------------------------------------------------------
# tables


Key = tuple[Any, ...]
Row = dict[str, Any]


@dataclass
class MemoryTable:
    """One stored table: every column (system columns included) in table order, and its rows by key.

    A row is a dict from stored column name to value; a column missing from it is NULL. Rows are never
    changed in place once stored (a write stores a new dict), so copying a table copies no row.
    """

    schema: str
    name: str
    primary_key: tuple[str, ...]
    columns: list[tuple[str, DataType]]
    rows: dict[Key, Row] = field(default_factory=dict)

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The stored names of the key columns (``_fivetran_id`` for a keyless table)."""
        stored = {fold_ascii(n): n for n, _ in self.columns}
        return tuple(stored.get(fold_ascii(k), k) for k in self.primary_key) or (FIVETRAN_ID,)

    def copy(self) -> MemoryTable:
        return replace(self, columns=list(self.columns), rows=dict(self.rows))

    def column(self, name: str) -> tuple[str, DataType]:
        """The stored column whose name folds like ``name``."""
        folded = fold_ascii(name)
        for stored, dtype in self.columns:
            if fold_ascii(stored) == folded:
                return stored, dtype
        raise ContractViolation(f"table {self.schema}.{self.name} has no column {name!r}")

    def info(self) -> TableInfo:
        data = [(n, t) for n, t in self.columns if n not in SYSTEM_COLUMNS]
        return TableInfo(self.schema, self.name, data, self.primary_key)

    def ordered(self) -> list[tuple[Any, ...]]:
        """Every row as a tuple in column order (insertion order of the keys)."""
        names = [n for n, _ in self.columns]
        return [tuple(row.get(n) for n in names) for row in self.rows.values()]


def _table_key(schema: str, name: str) -> tuple[str, str]:
    return fold_ascii(schema), fold_ascii(name)


class MemoryDatabase:
    """The committed tables of an in-memory "server", shared by the syncs (connections) that use it.

    ``exists`` is False until a sync creates the database and True from then on, unless that first
    sync ends without ever committing (then its ``close()`` drops the database again, SEM-54).
    """

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], MemoryTable] = {}
        self.exists = False
        self.holder: MemoryDestination | None = None  # the open connection, if any
        self.in_transaction = False                    # a connection has uncommitted writes
        self.commits = 0

    def table(self, schema: str, name: str) -> MemoryTable | None:
        return self.tables.get(_table_key(schema, name))

    def names(self) -> list[tuple[str, str]]:
        """``(schema, table)`` of every committed table, as stored, sorted."""
        return sorted((t.schema, t.name) for t in self.tables.values())


# ---------------------------------------------------------------------------------------------
# the destination


class MemoryDestination:
    """A :class:`~headwater.destinations.base.Destination` over a :class:`MemoryDatabase`.

    One instance may serve several consecutive syncs (each ``open()`` ... ``close()``); ``fail_on``
    maps a method name to an exception that method raises once (fault injection for tests).

    ``strict=True`` refuses every value that is not exactly what the doc's value table promises; by
    default a Python ``int`` in a FLOAT, DOUBLE or DECIMAL column is converted and counted in
    :attr:`tolerated`, because the engine sends such values (an inferred DECIMAL(p,0) column holds
    ints; ints written into a stored DOUBLE column arrive unconverted).
    """

    def __init__(self, database: MemoryDatabase | None = None, *, default_schema: str = "tester",
                 merge: bool = False, max_identifier_length: int | None = None,
                 reserved_schemas: Iterable[str] = (), xml_as_string: bool = True, strict: bool = False) -> None:
        self.database = database if database is not None else MemoryDatabase()
        self.xml_as_string = xml_as_string
        #: Values off the documented contract that were accepted anyway, by kind (``strict=True``: refused).
        self.tolerated: Counter[str] | None = None if strict else Counter()
        self.capabilities = Capabilities(
            name="memory",
            default_schema=default_schema,
            fold=fold_ascii,
            max_identifier_length=max_identifier_length,
            reserved_schemas=frozenset(fold_ascii(s) for s in reserved_schemas),
            transactional_ddl=True,
            merge=merge,
        )
        self.fail_on: dict[str, BaseException] = {}
        self.calls: list[str] = []          # every call, in order (for tests of the call sequence)
        self._opened = False
        self._created = False               # this sync created the database
        self._committed = False             # this sync committed at least once
        self._work: dict[tuple[str, str], MemoryTable] | None = None
        self._copied: set[tuple[str, str]] = set()

    # -- lifecycle --------------------------------------------------------------------------------

    def open(self) -> None:
        self._call("open")
        holder = self.database.holder
        if holder is not None and holder is not self:
            raise DestinationLocked("the in-memory database is open in another sync; wait for it to end")
        self.database.holder = self
        self._opened = True
        self._created = not self.database.exists
        self._committed = False
        self.database.exists = True

    def close(self) -> None:
        self.calls.append("close")
        if not self._opened:
            return  # closed already, or never opened (open() failed): nothing to release
        self._discard()
        if self._created and not self._committed:
            self.database.tables = {}
            self.database.exists = False
        self._created = False
        self._opened = False
        if self.database.holder is self:
            self.database.holder = None

    def commit(self) -> None:
        self._call("commit")
        if self._work is None:
            return  # nothing written since the last commit: nothing happens (not even for close())
        self._committed = True
        self.database.tables = self._work
        self.database.commits += 1
        self._discard()

    def rollback(self) -> None:
        self.calls.append("rollback")
        self._discard()

    def _discard(self) -> None:
        self._work = None
        self._copied = set()
        if self.database.holder is self:
            self.database.in_transaction = False

    def _call(self, name: str) -> None:
        self.calls.append(name)
        failure = self.fail_on.pop(name, None)
        if failure is not None:
            raise failure
        if name != "open" and not self._opened:
            raise ContractViolation(f"{name}() called on a destination that is not open")

    # -- reading back ---------------------------------------------------------------------------------

    def tables(self) -> list[TableInfo]:
        self._call("tables")
        return [t.info() for t in sorted(self.database.tables.values(), key=lambda t: (t.schema, t.name))]

    def key_range(self, table: TableRef, column: str) -> tuple[Any, Any] | None:
        self._call("key_range")
        if self.capabilities.merge:
            raise ContractViolation("key_range() is only asked of destinations without merge")
        t = self._read(table)
        name, _ = t.column(column)
        values = [row[name] for row in t.rows.values() if row.get(name) is not None]
        return (min(values), max(values)) if values else None

    def existing_keys(self, table: TableRef, keys: KeyBatch) -> list[int]:
        self._call("existing_keys")
        matches = self._match(self._read(table), keys)
        return [i for i, found in enumerate(matches) if found]

    # -- schema ---------------------------------------------------------------------------------------

    def create_table(self, description: TableDescription) -> None:
        self._call("create_table")
        ref = description.ref
        work = self._begin()
        key = _table_key(ref.schema, ref.name)
        if key in work:
            raise ContractViolation(f"create_table(): {ref.schema}.{ref.name} exists already")
        columns = [(n, self._column_type(t)) for n, t in description.columns]
        if not ref.keyed:
            columns.append((FIVETRAN_ID, STRING))
        columns += [(SYNCED, UTC_DATETIME), (DELETED, BOOLEAN)]
        columns += [(n, self._column_type(t)) for n, t in description.appended]
        folded = [fold_ascii(n) for n, _ in columns]
        if len(set(folded)) != len(folded):
            raise ContractViolation(f"create_table(): two columns of {ref.name} fold alike: {columns}")
        # A key column may be missing here: a declared table is created at its first commit point,
        # before any row, and its key columns arrive later through add_column() (SEM-41).
        work[key] = MemoryTable(ref.schema, ref.name, tuple(ref.primary_key), columns)
        self._copied.add(key)

    def add_column(self, table: TableRef, name: str, dtype: DataType) -> None:
        self._call("add_column")
        t = self._write(table)
        if fold_ascii(name) in {fold_ascii(n) for n, _ in t.columns}:
            raise ContractViolation(f"add_column(): {table.name} has a column {name!r} already")
        t.columns.append((name, self._column_type(dtype)))

    def widen_column(self, table: TableRef, name: str, source: DataType, target: DataType) -> None:
        self._call("widen_column")
        t = self._write(table)
        stored, dtype = t.column(name)
        if not _same_type(dtype, source):
            raise ContractViolation(f"widen_column(): {name!r} is {dtype}, not {source}")
        if join(source, target) != target and not _same_type(source, target):
            raise ContractViolation(f"widen_column(): {target} is not wider than {source}")
        target = self._column_type(target)
        t.columns = [(n, target if n == stored else d) for n, d in t.columns]
        changed = {k: {**row, stored: widen_value(row[stored], source, target)}
                   for k, row in t.rows.items() if row.get(stored) is not None}
        if stored in t.key_columns:
            position = t.key_columns.index(stored)
            rebuilt: dict[Key, Row] = {}
            for k, row in t.rows.items():
                row = changed.get(k, row)
                new_key = k[:position] + (row[stored],) + k[position + 1:]
                if new_key in rebuilt:
                    raise ContractViolation(f"widen_column(): two keys of {table.name} become {new_key!r}")
                rebuilt[new_key] = row
            t.rows = rebuilt
        else:
            t.rows.update(changed)

    # -- data -----------------------------------------------------------------------------------------

    def upsert(self, table: TableRef, batch: Batch, *, synced: dt.datetime, new_keys: bool = False,
               key_range: tuple[Any, Any] | None = None, deleted: list[bool] | None = None) -> None:
        self._call("upsert")
        if new_keys and self.capabilities.merge and self.tolerated is not None:
            # The doc says the engine never sets new_keys for a destination with merge; it does (for
            # instance into a table created in the same interval). Harmless while the promise holds.
            self.tolerated["new_keys with merge"] += 1
        elif new_keys and self.capabilities.merge:
            raise ContractViolation("upsert(): new_keys is never set for a destination with merge")
        t = self._write(table)
        synced = self._synced(synced)
        names, columns = self._columns(t, batch)
        key_positions = [names.index(k) for k in t.key_columns] if all(
            k in names for k in t.key_columns) else None
        if key_positions is None:
            raise ContractViolation(f"upsert(): the batch lacks key columns {t.key_columns} of {table.name}")
        if deleted is not None and len(deleted) != len(batch):
            raise ContractViolation("upsert(): deleted= has another length than the batch")
        seen: set[Key] = set()
        for r in range(len(batch)):
            row = {name: values[r] for name, values in zip(names, columns) if values[r] is not None}
            row[SYNCED] = synced
            row[DELETED] = bool(deleted[r]) if deleted is not None else False
            key = tuple(columns[p][r] for p in key_positions)
            if any(v is None for v in key):
                raise ContractViolation(f"upsert(): NULL key {key!r} in {table.name}")
            if key in seen:
                raise ContractViolation(f"upsert(): key {key!r} twice in one batch of {table.name}")
            seen.add(key)
            if new_keys and key in t.rows:
                raise ContractViolation(f"upsert(new_keys=True): key {key!r} of {table.name} is stored already")
            if key_range is not None and not key_range[0] <= key[0] <= key_range[1]:
                raise ContractViolation(f"upsert(): key {key[0]!r} outside key_range {key_range!r}")
            t.rows[key] = row

    def update(self, table: TableRef, batch: UpdateBatch, *, synced: dt.datetime) -> int:
        self._call("update")
        t = self._write(table)
        synced = self._synced(synced)
        matches = self._match(t, batch.keys)
        names, columns = self._columns(t, batch.columns)
        if len(batch.presence) != len(names):
            raise ContractViolation("update(): one presence entry per column is needed")
        if batch.deleted is not None and len(batch.deleted) != len(matches):
            raise ContractViolation("update(): deleted= has another length than the keys")
        if not batch.repeated:
            given = list(zip(*batch.keys.values))
            if len(set(given)) != len(given):
                raise ContractViolation("update(): repeated keys in a batch not marked repeated")
        changed: dict[Key, Row] = {}
        for r, found in enumerate(matches):
            for key in found:
                row = changed.get(key)
                if row is None:
                    row = changed[key] = dict(t.rows[key])
                for i, name in enumerate(names):
                    present = batch.presence[i]
                    if present is None or present[r]:
                        self._set(row, name, columns[i][r])
                if batch.deleted is not None and batch.deleted[r]:
                    row[DELETED] = True
                row[SYNCED] = synced
        t.rows.update(changed)
        return len(changed)

    def soft_delete(self, table: TableRef, keys: KeyBatch, *, synced: dt.datetime) -> None:
        self._call("soft_delete")
        t = self._write(table)
        synced = self._synced(synced)
        for found in self._match(t, keys):
            for key in found:
                t.rows[key] = {**t.rows[key], DELETED: True, SYNCED: synced}

    def truncate(self, table: TableRef, *, synced: dt.datetime, written_before: dt.datetime | None = None) -> None:
        self._call("truncate")
        t = self._write(table)
        synced = self._synced(synced)
        limit = self._synced(written_before) if written_before is not None else None
        for key, row in list(t.rows.items()):
            if row[DELETED]:
                continue
            if limit is not None and not row[SYNCED] < limit:
                continue
            t.rows[key] = {**row, DELETED: True, SYNCED: synced}

    # -- helpers --------------------------------------------------------------------------------------

    def _begin(self) -> dict[tuple[str, str], MemoryTable]:
        """The working copy of the open transaction (opened by the first write of an interval)."""
        if self._work is None:
            self._work = dict(self.database.tables)
            self._copied = set()
            self.database.in_transaction = True
        return self._work

    def _read(self, ref: TableRef) -> MemoryTable:
        tables = self._work if self._work is not None else self.database.tables
        found = tables.get(_table_key(ref.schema, ref.name))
        if found is None:
            raise ContractViolation(f"no table {ref.schema}.{ref.name}")
        self._check_key(found, ref)
        return found

    def _write(self, ref: TableRef) -> MemoryTable:
        work = self._begin()
        key = _table_key(ref.schema, ref.name)
        found = work.get(key)
        if found is None:
            raise ContractViolation(f"no table {ref.schema}.{ref.name}")
        self._check_key(found, ref)
        if key not in self._copied:
            found = work[key] = found.copy()
            self._copied.add(key)
        return found

    @staticmethod
    def _check_key(t: MemoryTable, ref: TableRef) -> None:
        if tuple(fold_ascii(k) for k in ref.primary_key) != tuple(fold_ascii(k) for k in t.primary_key):
            raise ContractViolation(f"{ref.name}: primary key {ref.primary_key} differs from the stored "
                                    f"{t.primary_key}")

    def _column_type(self, dtype: DataType) -> DataType:
        return STRING if self.xml_as_string and dtype.name == "XML" else dtype

    @staticmethod
    def _synced(value: dt.datetime) -> dt.datetime:
        return canonical(value, UTC_DATETIME)

    def _columns(self, t: MemoryTable, batch: Batch) -> tuple[list[str], list[list[Any]]]:
        """The stored names of a batch's columns and their values, canonical for the stored types."""
        names: list[str] = []
        columns: list[list[Any]] = []
        for name, dtype in zip(batch.names, batch.types):
            stored, stored_type = t.column(name)
            if stored in (SYNCED, DELETED):
                raise ContractViolation(f"a batch may not write {stored}")
            if dtype is not None and not _same_type(dtype, stored_type):
                raise ContractViolation(f"{t.name}.{stored} is {stored_type}, the batch says {dtype}")
            if stored in names:
                raise ContractViolation(f"column {stored!r} twice in one batch")
            names.append(stored)
            columns.append([canonical(v, stored_type, self.tolerated) for v in batch.column(name)])
        return names, columns

    @staticmethod
    def _set(row: Row, name: str, value: Any) -> None:
        if value is None:
            row.pop(name, None)
        else:
            row[name] = value

    def _match(self, t: MemoryTable, keys: KeyBatch) -> list[list[Key]]:
        """For each key of the batch, the stored keys it names (converting stored values along the
        chains, TYPES-29); usually none or one."""
        if len(keys.names) != len(t.key_columns) or len(keys.chains) != len(keys.names) or len(
                keys.values) != len(keys.names):
            raise ContractViolation(f"{t.name}: keys {keys.names} do not match the key {t.key_columns}")
        order = [t.key_columns.index(t.column(n)[0]) for n in keys.names]
        # chains in table key order
        chains: list[Sequence[DataType]] = [[]] * len(order)
        given_columns: list[list[Any]] = [[]] * len(order)
        for position, chain, values in zip(order, keys.chains, keys.values):
            stored_type = t.column(t.key_columns[position])[1]
            if not chain or not _same_type(chain[0], stored_type):
                raise ContractViolation(f"{t.name}: key chain {chain} does not start at the stored {stored_type}")
            chains[position] = chain
            given_columns[position] = [canonical(v, chain[-1], self.tolerated) for v in values]
        given = list(zip(*given_columns)) if given_columns else []
        if all(len(chain) == 1 for chain in chains):
            return [[key] if key in t.rows else [] for key in given]
        index: dict[Key, list[Key]] = {}
        for key in t.rows:
            converted = []
            for value, chain in zip(key, chains):
                for source, target in zip(chain, chain[1:]):
                    value = widen_value(value, source, target)
                converted.append(value)
            index.setdefault(tuple(converted), []).append(key)
        return [index.get(key, []) for key in given]


# ---------------------------------------------------------------------------------------------
# state


class MemoryStateStore:
    """A :class:`~headwater.statestore.StateStore` in memory: ``saved`` is the saved state's text.

    Given the :class:`MemoryDatabase` the data goes to, it also checks the store's one rule: a state is
    saved only once the data written before it is committed.
    """

    def __init__(self, database: MemoryDatabase | None = None, saved: str | None = None) -> None:
        self.database = database
        self.saved = saved
        self.staged: str | None = None
        self.history: list[str] = []   # every saved state, in order
        self.closed = False

    def load(self) -> str | None:
        self.closed = False
        return self.saved

    def stage(self, text: str) -> None:
        self.staged = text

    def save(self, text: str) -> None:
        if self.database is not None and self.database.in_transaction:
            raise ContractViolation("a state is saved while the destination has uncommitted writes")
        self.saved = text
        self.staged = None
        self.history.append(text)

    def discard(self) -> None:
        self.staged = None

    def close(self) -> None:
        self.staged = None
        self.closed = True

