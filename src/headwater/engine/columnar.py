"""Arrow batches: column types as Arrow types, and the path that types a run of upserts with Arrow.

The general path (:mod:`headwater.engine.flush`) transposes a batch's row tuples into per-column
lists, types each list in Python, then converts each list to Arrow. For the common batch, whose
columns each hold one plain Python type (str, int, float, bool), that is three passes over every
value. :func:`typed_upserts` instead reads the column types from the type plans the per-row path
already cached (each buffered row's tuple of value types is a key of its signature's ``plans``),
builds the whole batch with ONE ``pa.array(rows, type=struct)`` call (ints 32-bit wide first, so
that Arrow itself tells whether they fit), and reads the rest from the arrays (null counts). It
declines (returns None) whenever the general path might decide differently, and that path then
runs as before.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

from headwater.batch import arrow_type, to_arrow
from headwater.engine.resolve import INT32_MAX, INT32_MIN, Resolved
from headwater.engine.table import PLAN_LIMIT, Segment, TableState
from headwater.types import BOOLEAN, DOUBLE, INT, LONG, STRING, DataType

if TYPE_CHECKING:
    pass

__all__ = ["ARROW_MIN_ROWS", "PYTHON_KEY_ROWS", "arrow_type", "key_columns_unique", "key_stats", "min_max", "to_arrow",
           "typed_upserts"]

#: Smaller batches take the general path. Measured per 1,000-row batch of 8 columns: 0.45 ms here
#: against 0.7 ms there; below a few hundred rows the Arrow kernels' fixed costs take over.
ARROW_MIN_ROWS = 256
#: Up to this many rows, a run's one-column keys are checked in Python (see :func:`key_stats`).
PYTHON_KEY_ROWS = 65_536

NoneType = type(None)
# The column type a plain Python type gives, when it is not declared otherwise.
_OWN: dict[type, DataType] = {str: STRING, float: DOUBLE, bool: BOOLEAN, int: LONG}
# The stored or declared types that a column of that Python type is written to unchanged.
_COMPATIBLE: dict[type, tuple[DataType, ...]] = {str: (STRING,), float: (DOUBLE,), bool: (BOOLEAN,), int: (INT, LONG)}

def _column_kinds(t: TableState, segments: list[Segment]) -> list[type | None] | None:
    """The one Python type of each position of the run's rows (None: only nulls), or None to decline."""
    sig = segments[0].sig
    if sig is None or not sig.slots or min(sig.slots) < 0 or any(seg.sig is not sig for seg in segments):
        return None
    plans = sig.plans
    # Every buffered row's type tuple is a key of ``plans`` while the cache is below its limit;
    # an empty plan means the row was buffered unconverted.
    if len(plans) >= PLAN_LIMIT or any(plans.values()):
        return None
    kinds: list[set[type]] = [set() for _ in sig.slots]
    for types in plans:
        for position, tp in enumerate(types):
            kinds[position].add(tp)
    out: list[type | None] = []
    for found in kinds:
        found.discard(NoneType)
        if len(found) > 1:
            return None
        kind = found.pop() if found else None
        if kind is not None and kind not in _OWN:
            return None
        out.append(kind)
    return out


def typed_upserts(t: TableState, segments: list[Segment]) -> tuple[int, dict[int, Resolved]] | None:
    """Type a run of upserts with Arrow: (rows, Resolved per slot with Arrow arrays as values).

    None when the run does not qualify: fewer than :data:`ARROW_MIN_ROWS` rows, several row shapes,
    ignored keys, converted values, a column mixing Python types, a type the stored or declared
    column would have to widen or convert to, or values Arrow refuses (ints beyond 64 bits).
    """
    n = sum(len(seg.rows) for seg in segments)
    if n < ARROW_MIN_ROWS:
        return None
    kinds = _column_kinds(t, segments)
    if kinds is None:
        return None
    sig = segments[0].sig
    assert sig is not None
    currents: list[DataType | None] = []
    for slot_index, kind in zip(sig.slots, kinds):
        slot = t.slots[slot_index]
        existing = t.columns.get(slot.identity)
        current = existing.type if existing is not None else slot.declared
        if kind is not None and current is not None and current not in _COMPATIBLE[kind]:
            return None
        currents.append(current)

    import pyarrow as pa

    # Int columns that are new or INT are built 32-bit wide: Arrow refuses a value beyond that
    # range, and the batch is then built again with 64-bit ints (and typed by their min and max).
    narrow = [kind is int and current in (None, INT) for kind, current in zip(kinds, currents)]
    columns = _build(segments, kinds, narrow)
    if columns is None and any(narrow):
        narrow = [False] * len(kinds)
        columns = _build(segments, kinds, narrow)
    if columns is None:
        return None  # the general path reports or handles the value

    resolved: dict[int, Resolved] = {}
    for position, (slot_index, kind, current, column) in enumerate(zip(sig.slots, kinds, currents, columns)):
        if kind is None or column.null_count == n:
            continue  # no value in this batch: no column is created (TYPES-24)
        own = _OWN[kind]
        if kind is int:
            if narrow[position]:
                own = INT
            else:
                low, high = min_max(column)
                own = INT if INT32_MIN <= low and high <= INT32_MAX else LONG
                if (current or own) == INT:
                    if own == LONG:
                        return None  # the stored INT column widens: the general path makes that change
                    column = column.cast(pa.int32())
        if current is None:
            start = own
            if kind is int:
                first = _first_value(segments, position)
                start = INT if INT32_MIN <= first <= INT32_MAX else LONG
            resolved[slot_index] = Resolved(own, column, start, [] if start == own else [own])
        else:
            resolved[slot_index] = Resolved(current, column, current, [])
    return n, resolved


def _build(segments: list[Segment], kinds: list[type | None], narrow: list[bool]) -> list[Any] | None:
    """The run's rows as one Arrow array per position, or None when Arrow refuses a value."""
    import pyarrow as pa

    fields = [pa.field(f"c{position}", pa.null() if kind is None else pa.int32() if is_narrow
                       else arrow_type(_OWN[kind]))
              for position, (kind, is_narrow) in enumerate(zip(kinds, narrow))]
    struct = pa.struct(fields)
    try:
        parts = [pa.array(seg.rows, type=struct) for seg in segments if seg.rows]
        return list((parts[0] if len(parts) == 1 else pa.concat_arrays(parts)).flatten())
    except (pa.ArrowException, OverflowError, UnicodeError, ValueError, TypeError):
        return None


def _first_value(segments: list[Segment], position: int) -> Any:
    for seg in segments:
        for row in seg.rows:
            if row[position] is not None:
                return row[position]
    return None


def key_stats(t: TableState, segments: list[Segment], n: int) -> tuple[bool, tuple[Any, Any]] | None:
    """(whether the keys are distinct, (low, high)) of a keyed run of one row shape with a one-column
    key of up to :data:`PYTHON_KEY_ROWS` rows, read from the buffered values; None otherwise.

    For such runs Python is quicker than Arrow's kernels, which also cost an import of 30 ms.
    """
    sig = segments[0].sig
    if not t.keyed or sig is None or len(sig.pk_positions) != 1 or n > PYTHON_KEY_ROWS:
        return None
    value = operator.itemgetter(sig.pk_positions[0])
    keys = [value(row) for seg in segments for row in seg.rows]
    try:
        return len(set(keys)) == n, (min(keys), max(keys))
    except TypeError:  # values that do not order (they are of one Python type here, so rare)
        return None


def key_columns_unique(columns: list[Any]) -> bool:
    """Whether the rows of these Arrow key columns are pairwise distinct."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(columns[0])
    if len(columns) == 1:
        return bool(pc.count_distinct(columns[0]).as_py() == n)
    names = [f"k{i}" for i in range(len(columns))]
    return bool(pa.Table.from_arrays(columns, names=names).group_by(names).aggregate([]).num_rows == n)


def min_max(column: Any) -> tuple[Any, Any]:
    """(low, high) of an Arrow column without nulls, as Python values."""
    import pyarrow.compute as pc

    low, high = pc.min_max(column).values()
    return low.as_py(), high.as_py()
