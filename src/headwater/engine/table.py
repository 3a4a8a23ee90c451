"""Per-table state of a sync: columns, primary key, and the buffer of operations since the last flush.

The per-row path lives here and in :mod:`headwater.engine.sync`. It is built so that a row costs a
few C-level operations once its shape is known:

* a :class:`Signature` is cached per tuple of the row's keys (names resolved, collisions and
  primary key checked once per shape);
* a *plan* is cached per tuple of the values' Python types (which values need converting, found
  once per type combination); most rows need no conversion at all;
* the row's values are appended as one tuple to the current :class:`Segment`.

Typing, widening and Arrow conversion happen per column and per batch at flush time
(:mod:`headwater.engine.flush`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater import values
from headwater.destinations.base import TableRef
from headwater.errors import OperationTypeError, OperationValueError
from headwater.naming import is_system_column
from headwater.types import DataType

if TYPE_CHECKING:
    from headwater.engine.sync import Sync

__all__ = ["DELETE", "DEFERRED", "PLAN_LIMIT", "TRUNCATE", "UPDATE", "UPSERT", "Column", "Segment", "Signature",
           "Slot", "TableState"]

UPSERT, UPDATE, DELETE, TRUNCATE, DEFERRED = range(5)
UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN"})()

NoneType = type(None)
# Python types an undeclared column buffers as they are (already canonical, see values.normalize).
PLAIN_TYPES = frozenset({NoneType, bool, int, float, str, bytes, dt.date})

Plan = tuple[tuple[int, Callable[[Any], Any]], ...]
#: Plans cached per signature, at most. Below it, every buffered row's tuple of value types is a
#: key of its signature's ``plans`` (the Arrow path of :mod:`headwater.engine.columnar` relies on it).
PLAN_LIMIT = 4096


@dataclass(eq=False)
class Slot:
    """A destination column name seen in this run's operations (it may not be a column yet)."""

    index: int
    name: str
    identity: str
    declared: DataType | None


@dataclass(eq=False)
class Column:
    """A column that exists in the warehouse (committed or in the open transaction)."""

    name: str
    type: DataType


@dataclass(eq=False)
class Signature:
    """What is known about rows with one tuple of keys, for one kind of operation."""

    kind: int
    slots: tuple[int, ...]          # slot index per position in the row; -1 = ignored key
    pk_positions: tuple[int, ...]   # positions holding primary key values, in primary key order
    getter: Callable[[dict[Any, Any]], tuple[Any, ...]] = tuple
    keys: tuple[Any, ...] = ()
    #: len(keys). A plain dict with this many keys, all of which the getter finds, has exactly
    #: these keys: the per-row path's shape check. -1 for :data:`NO_SIGNATURE`.
    width: int = 0
    #: While some of its keys are not columns yet, a row's key order decides the order in which
    #: columns are added (SEM-40/41), so rows with the same keys in another order need their own
    #: signature. Once every key is a column, any order of the same keys shares this signature.
    order_matters: bool = True
    plans: dict[tuple[type, ...], Plan] = field(default_factory=dict)


#: ``last_sig`` before any row: no dict matches its width.
NO_SIGNATURE = Signature(-1, (), (), width=-1)


def _values_getter(keys: tuple[Any, ...]) -> Callable[[dict[Any, Any]], tuple[Any, ...]]:
    """A C-level function returning a dict's values as a tuple, in the order of ``keys``.

    Rows with the same set of keys in another order then line up with the same signature.
    """
    if len(keys) >= 2:
        return operator.itemgetter(*keys)
    if len(keys) == 1:
        key = keys[0]
        return lambda data: (data[key],)
    return lambda data: ()


@dataclass(eq=False)
class Segment:
    """Consecutive operations of one kind and one signature (or a truncate marker without rows)."""

    kind: int
    sig: Signature | None
    rows: list[Any] = field(default_factory=list)


class TableState:
    """One destination table as this sync sees it."""

    def __init__(
        self,
        sync: Sync,
        schema: str,
        name: str,
        *,
        primary_key: tuple[str, ...],
        declared: dict[str, DataType] | None = None,
        declared_order: list[str] | None = None,
        exists: bool = False,
        columns: list[Column] | None = None,
    ) -> None:
        self.sync = sync
        self.schema = schema
        self.name = name
        self.primary_key = primary_key
        #: The table as the destination knows it.
        self.ref = TableRef(schema, name, primary_key)
        #: How the destination compares names (see Capabilities.fold).
        self.fold = identity = sync.fold
        self.pk_identities = tuple(identity(c) for c in primary_key)
        self.keyed = bool(primary_key)
        self.declared = declared or {}          # identity -> declared type (this run)
        self.declared_order = declared_order or []  # destination names, in `columns` order
        self.exists = exists
        self.columns: dict[str, Column] = {identity(c.name): c for c in columns or []}
        self.label = sync.label(schema, name)
        self.slots: list[Slot] = []
        self.slot_by_identity: dict[str, Slot] = {}
        self.sigs: tuple[dict[tuple[Any, ...], Signature], ...] = ({}, {}, {})
        self.last_sig: list[Signature] = [NO_SIGNATURE] * 3   # per kind: the signature used last
        self.segments: list[Segment] = []
        self.current: Segment | None = None
        self.deferred_since: dt.datetime | None = None
        self.has_deferred = False
        self.warned: set[str] = set()
        self.rows_written = 0
        #: (low, high) of the first primary key column over all stored rows; None: no rows;
        #: UNKNOWN: not tracked (an upsert batch outside this range cannot replace anything).
        self.key_bounds: Any = UNKNOWN if exists else None
        for pk in primary_key:
            self._slot(pk)

    # -- slots and signatures ------------------------------------------------------------------

    def _slot(self, name: str) -> Slot:
        ident = self.fold(name)
        slot = self.slot_by_identity.get(ident)
        if slot is None:
            existing = self.columns.get(ident)
            spelled = existing.name if existing is not None else name
            slot = Slot(len(self.slots), spelled, ident, self.declared.get(ident))
            self.slots.append(slot)
            self.slot_by_identity[ident] = slot
        return slot

    def signature(self, kind: int, keys: tuple[Any, ...]) -> Signature:
        """Build (and cache) the signature of rows with these keys; raises for bad names (ERR-OP-3, -6, -7, -8)."""
        what = ("data", "modified", "keys")[kind]
        if kind == UPDATE and not self.keyed:
            raise OperationValueError(
                f"update on table {self.label!r} requires a primary key, and the table has none; "
                "declare primary_key in schema(), or use upsert"
            )
        naming = self.sync.naming
        slots: list[int] = []
        seen: dict[str, Any] = {}
        for key in keys:
            if not isinstance(key, str):
                raise OperationTypeError(
                    f"column name must be a non-empty string, got {key!r} ({type(key).__name__}) in the "
                    f"{what} dict for table {self.label!r}; use str keys"
                )
            if not key.strip():
                raise OperationValueError(
                    f"column name must be a non-empty string, got {key!r} in the {what} dict for table "
                    f"{self.label!r}"
                )
            dest = naming.column(key)
            problem = self.sync.name_problem(dest, "column")
            if problem:
                raise OperationValueError(f"{problem} (key {key!r} of the {what} dict for table {self.label!r})")
            ident = self.fold(dest)
            if ident in seen:
                raise OperationValueError(
                    f"keys {seen[ident]!r} and {key!r} of the {what} dict for table {self.label!r} both map "
                    f"to column {dest!r}; send only one of them"
                )
            seen[ident] = key
            if is_system_column(dest):
                if ident not in self.warned:
                    self.warned.add(ident)
                    self.sync.log_warning(
                        f"table {self.label!r}: key {key!r} is a system column name and is ignored; "
                        "rename it in your data"
                    )
                slots.append(-1)
                continue
            if kind == DELETE and self.keyed and ident not in self.pk_identities:
                slots.append(-1)  # delete ignores non-key keys (SEM-24)
                continue
            slots.append(self._slot(dest).index)
        pk_positions: list[int] = []
        if self.keyed:
            index_of = {self.slots[s].identity: pos for pos, s in enumerate(slots) if s >= 0}
            missing = [pk for pk, ident in zip(self.primary_key, self.pk_identities) if ident not in index_of]
            if missing:
                raise self._missing_key(missing, what)
            pk_positions = [index_of[ident] for ident in self.pk_identities]
        sig = Signature(kind, tuple(slots), tuple(pk_positions), _values_getter(keys), keys, len(keys))
        self.sigs[kind][keys] = sig
        self.sync.note_row_width(len(keys))
        return sig

    def signature_of(self, kind: int, data: dict[Any, Any]) -> Signature:
        """The signature of a row whose keys differ from the last row's (one dict lookup if seen before)."""
        keys = tuple(data)
        sig = self.sigs[kind].get(keys)
        if sig is None:
            sig = self.signature(kind, keys)
        self.last_sig[kind] = sig
        return sig

    def _missing_key(self, columns: list[str], what: str) -> OperationValueError:
        names = ", ".join(repr(c) for c in columns)
        return OperationValueError(
            f"missing primary key {names} in the {what} dict for table {self.label!r}: every "
            f"operation must give each primary key column ({', '.join(self.primary_key)}) a non-null value"
        )

    def plan(self, sig: Signature, row: tuple[Any, ...]) -> Plan:
        """Find which values of this type combination need converting; validate ``row`` by converting it."""
        convs: list[tuple[int, Callable[[Any], Any]]] = []
        pk = set(sig.pk_positions)
        for pos, slot_index in enumerate(sig.slots):
            if slot_index < 0:
                continue
            value = row[pos]
            tp = type(value)
            if value is None:
                if pos in pk:
                    raise self._missing_key([self.slots[slot_index].name], ("data", "modified", "keys")[sig.kind])
                continue
            slot = self.slots[slot_index]
            conv = _converter(slot, tp, self.label)
            if conv is not None:
                conv(value)  # raises for a bad value; nothing is buffered
                convs.append((pos, conv))
        plan = tuple(convs)
        if len(sig.plans) < PLAN_LIMIT:
            sig.plans[tuple(map(type, row))] = plan
        return plan

    # -- buffering -----------------------------------------------------------------------------

    def new_segment(self, kind: int, sig: Signature | None) -> Segment:
        seg = Segment(kind, sig)
        self.segments.append(seg)
        self.current = seg
        return seg

    def take_segments(self) -> list[Segment]:
        segments, self.segments, self.current = self.segments, [], None
        return segments

    def settle_signatures(self) -> None:
        """After a flush: signatures whose keys are all columns now no longer care about key order."""
        columns = self.columns
        for sigs in self.sigs:
            for sig in sigs.values():
                if sig.order_matters and all(s < 0 or self.slots[s].identity in columns for s in sig.slots):
                    sig.order_matters = False

    def buffered_rows(self) -> int:
        return sum(len(seg.rows) for seg in self.segments)



def _converter(slot: Slot, tp: type, table: str) -> Callable[[Any], Any] | None:
    if slot.declared is not None:
        return values.converter(slot.declared, tp, table=table, column=slot.name)
    if tp in PLAIN_TYPES:
        return None
    name = slot.name
    if tp is dt.datetime:
        return _to_utc_if_aware(table, name)
    if tp is decimal.Decimal:
        return _finite_decimal(table, name)
    return lambda v: values.normalize(v, table=table, column=name)


_UTC = dt.timezone.utc


def _to_utc_if_aware(table: str, column: str) -> Callable[[dt.datetime], dt.datetime]:
    """Undeclared datetimes: naive and UTC ones as they are; others via values.normalize, which
    converts them to UTC or names the table, column and value when that is impossible."""
    def to_utc(value: dt.datetime) -> dt.datetime:
        tz = value.tzinfo
        if tz is None or tz is _UTC:
            return value
        try:
            offset = value.utcoffset()
            if offset is not None:
                return (value - offset).replace(tzinfo=_UTC)
        except (OverflowError, ValueError, TypeError):
            pass  # beyond year 9999 in UTC, or a tzinfo without a valid offset: normalize says so
        converted: dt.datetime = values.normalize(value, table=table, column=column)
        return converted

    return to_utc


def _finite_decimal(table: str, column: str) -> Callable[[decimal.Decimal], Any]:
    """Undeclared Decimals: finite ones of a sane size as they are; NaN and Infinity (every kind of
    NaN) as floats, and refusals of huge exponents, via values.normalize."""
    def finite(value: decimal.Decimal) -> Any:
        if value.is_finite() and -_DIGITS < value.adjusted() < _DIGITS:
            return value
        return values.normalize(value, table=table, column=column)

    return finite


_DIGITS = values.MAX_PLAIN_DIGITS
