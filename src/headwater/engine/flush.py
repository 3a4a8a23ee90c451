"""Buffered operations of one table -> typed Arrow batches -> set-based writes.

A table's segments are applied in call order, one *run* (consecutive segments of one kind) at a
time, so the warehouse ends as if each operation had been applied alone (SEM-20):

* per column, the batch's values are typed at once: one ``set(map(type, ...))`` tells whether the
  column holds a single Python type (the common case, typed by a rule per type, e.g. min/max for
  ints); only columns that mix kinds are widened value by value in call order (TYPES-28);
* schema changes (new table, new columns, wider types) are applied before the data, in the open
  transaction;
* the rows go to DuckDB as one Arrow table and one or two SQL statements per run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater import values as V
from headwater.batch import Batch
from headwater.destinations.base import KeyBatch, TableDescription, UpdateBatch
from headwater.engine import columnar
from headwater.engine.resolve import Resolved, resolve_column, running, uniform_type
from headwater.engine.table import (
    DEFERRED,
    DELETE,
    TRUNCATE,
    UNKNOWN,
    UPDATE,
    UPSERT,
    Column,
    Segment,
    TableState,
)
from headwater.events import SchemaChanged, TableCreated
from headwater.types import (
    INT,
    LONG,
    STRING,
    DataType,
)

if TYPE_CHECKING:
    from headwater.engine.sync import Sync

__all__ = ["create_declared_table", "flush_table"]

NoneType = type(None)
ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "ABSENT"})()

# ---------------------------------------------------------------------------------------------
# gathering rows into columns


@dataclass
class Gathered:
    n: int
    columns: dict[int, list[Any]]          # slot index -> values (ABSENT/None where a row lacks the key)
    partial: set[int]                      # slots missing from some rows


def _gather(segments: list[Segment], fill: Any) -> Gathered:
    n = sum(len(seg.rows) for seg in segments)
    columns: dict[int, list[Any]] = {}
    partial: set[int] = set()
    offset = 0
    for seg in segments:
        assert seg.sig is not None
        rows = seg.rows
        m = len(rows)
        width = len(seg.sig.slots)
        transposed = list(zip(*rows)) if width else []
        present = set()
        for pos, slot in enumerate(seg.sig.slots):
            if slot < 0:
                continue
            present.add(slot)
            column = columns.get(slot)
            if column is None:
                if offset == 0 and m == n:
                    columns[slot] = list(transposed[pos])
                else:
                    column = [fill] * offset
                    column.extend(transposed[pos])
                    columns[slot] = column
                    if offset:
                        partial.add(slot)
            else:
                column.extend(transposed[pos])
        for slot, column in columns.items():
            if slot not in present:
                column.extend([fill] * m)
                partial.add(slot)
        offset += m
    return Gathered(n, columns, partial)


def _first_positions(segments: list[Segment], slots: set[int],
                     keep: set[int] | None = None) -> dict[int, tuple[int, int]]:
    """For each slot: (row index, position in that row) of its first non-null value in the run.

    ``keep``: only these row indexes count (an update of a missing row has no effect at all).
    """
    found: dict[int, tuple[int, int]] = {}
    wanted = set(slots)
    offset = 0
    for seg in segments:
        assert seg.sig is not None
        if not wanted:
            break
        positions = [(pos, slot) for pos, slot in enumerate(seg.sig.slots) if slot in wanted]
        if positions:
            for r, row in enumerate(seg.rows):
                if keep is not None and offset + r not in keep:
                    continue
                hit = [(pos, slot) for pos, slot in positions if slot in wanted and row[pos] is not None]
                for pos, slot in hit:
                    found[slot] = (offset + r, pos)
                    wanted.discard(slot)
                if not wanted:
                    break
                if hit:
                    positions = [(p, s) for p, s in positions if s in wanted]
        offset += len(seg.rows)
    return found


# ---------------------------------------------------------------------------------------------
# applying runs


def flush_table(sync: Sync, t: TableState) -> None:
    """Apply every buffered operation of ``t`` to the open transaction, in call order."""
    segments = t.take_segments()
    fold_after = sync.options.fold_after_runs
    i = 0
    while i < len(segments):
        kind = segments[i].kind
        if kind in (UPSERT, UPDATE, DELETE):
            j = i
            runs = 0
            while j < len(segments) and segments[j].kind in (UPSERT, UPDATE, DELETE):
                if j == i or segments[j].kind != segments[j - 1].kind:
                    runs += 1
                j += 1
            if runs > fold_after and _apply_folded(sync, t, segments[i:j]):
                i = j
                continue
        if kind == TRUNCATE:
            if t.exists:
                sync.destination.truncate(t.ref, synced=sync.timestamp())
            i += 1
            continue
        if kind == DEFERRED:
            if t.deferred_since is None:
                t.deferred_since = sync.timestamp()
            i += 1
            continue
        j = i
        while j < len(segments) and segments[j].kind == kind:
            j += 1
        run = segments[i:j]
        if kind == UPSERT:
            _apply_upserts(sync, t, run)
        elif kind == UPDATE:
            _apply_updates(sync, t, run)
        elif kind == DELETE:
            _apply_deletes(sync, t, run)
        i = j
    t.settle_signatures()


def _keyless_ids(t: TableState, segments: list[Segment]) -> list[str]:
    """``_fivetran_id`` of every row, computed column by column per segment (SEM-12)."""
    ids: list[str] = []
    empty = V.fivetran_id({}, {})
    for seg in segments:
        assert seg.sig is not None
        if not seg.rows:
            continue
        transposed = list(zip(*seg.rows)) if seg.sig.slots else []
        columns = [(t.slots[s].name, transposed[pos], t.slots[s].declared)
                   for pos, s in enumerate(seg.sig.slots) if s >= 0]
        ids.extend(V.fivetran_ids(columns) if columns else [empty] * len(seg.rows))
    return ids


def _apply_upserts(sync: Sync, t: TableState, segments: list[Segment]) -> None:
    typed = columnar.typed_upserts(t, segments)
    if typed is not None:
        n, resolved = typed
    else:
        g = _gather(segments, None)
        n, resolved = g.n, {}
        for slot_index, column in g.columns.items():
            slot = t.slots[slot_index]
            existing = t.columns.get(slot.identity)
            r = resolve_column(column, existing.type if existing is not None else None, slot.declared)
            if r is not None:
                resolved[slot_index] = r
    creating = not t.exists
    _schema_changes(sync, t, resolved, segments, creating=creating)

    names = [t.columns[t.slots[s].identity].name for s in resolved]
    arrays = [resolved[s].values for s in resolved]
    types = [resolved[s].type for s in resolved]
    if t.keyed:
        key_columns = [resolved[t.slot_by_identity[ident].index].values for ident in t.pk_identities]
    else:
        key_columns = [_keyless_ids(t, segments)]
        names.append("_fivetran_id")
        arrays.append(key_columns[0])
        types.append(STRING)
    # Arrow-typed runs of single-column keys: distinctness and range from the buffered values.
    stats = columnar.key_stats(t, segments, n) if typed is not None else None
    if stats is not None and stats[0]:
        keep = None
    else:
        keep = _last_of_each_key(key_columns, n, repeated=stats is not None)
    if keep is not None:
        arrays = [_take(column, keep) for column in arrays]
    if not t.keyed:
        bounds = None
    elif stats is not None:
        bounds = stats[1] if _bounded(t, resolved) else None
    else:
        bounds = _batch_bounds(t, resolved)
    if not sync.track_keys:
        bounds = None
    if t.key_bounds is UNKNOWN and bounds is not None:
        t.key_bounds = sync.destination.key_range(t.ref, t.primary_key[0])
    fresh = creating or (bounds is not None and t.key_bounds is not UNKNOWN and (
        t.key_bounds is None or bounds[1] < t.key_bounds[0] or bounds[0] > t.key_bounds[1]))
    sync.destination.upsert(t.ref, Batch(names, types, arrays), synced=sync.timestamp(), new_keys=fresh,
                            key_range=bounds)
    if bounds is None:
        t.key_bounds = UNKNOWN
    elif t.key_bounds is not UNKNOWN:
        low, high = bounds if t.key_bounds is None else t.key_bounds
        t.key_bounds = (min(bounds[0], low), max(bounds[1], high))
    t.rows_written += n


def _last_of_each_key(key_columns: list[Any], n: int, *, repeated: bool = False) -> list[int] | None:
    """The row indexes that survive when a key repeats within a batch (the last one wins, SEM-21);
    None when every key is distinct. Columns are lists or Arrow arrays. ``repeated``: the caller
    already knows some key repeats (no need to check again)."""
    if not isinstance(key_columns[0], list):
        if not repeated and columnar.key_columns_unique(key_columns):
            return None
        key_columns = [column.to_pylist() for column in key_columns]
    keys: list[Any] = key_columns[0] if len(key_columns) == 1 else list(zip(*key_columns))
    if not repeated and len(set(keys)) == n:
        return None
    last = {k: i for i, k in enumerate(keys)}
    return sorted(last.values())


def _take(column: Any, rows: list[int]) -> Any:
    if isinstance(column, list):
        return [column[i] for i in rows]
    return column.take(rows)


def _bounded(t: TableState, resolved: dict[int, Resolved]) -> bool:
    """Whether the batch's first key column is an integer or text column, whose bounds are tracked.

    Python and DuckDB order ints and strings the same way (strings by code point, which is UTF-8
    byte order), so these bounds can be compared with the stored rows' bounds.
    """
    r = resolved.get(t.slot_by_identity[t.pk_identities[0]].index)
    return r is not None and r.type.name in ("SHORT", "INT", "LONG", "STRING")


def _batch_bounds(t: TableState, resolved: dict[int, Resolved]) -> tuple[Any, Any] | None:
    """(low, high) of the batch's first key column when it is tracked (see :func:`_bounded`)."""
    if not _bounded(t, resolved):
        return None
    values = resolved[t.slot_by_identity[t.pk_identities[0]].index].values
    if not isinstance(values, list):
        return columnar.min_max(values)
    try:
        return min(values), max(values)
    except TypeError:
        return None


def _create_from_upsert(sync: Sync, t: TableState, resolved: dict[int, Resolved],
                        firsts: dict[int, tuple[int, int]]) -> None:
    """Create the table with the columns of SEM-41 for its first upsert, then those added later."""
    at_creation: list[tuple[str, DataType]] = []
    done: set[str] = set()
    creating_row = {s for s, (row, _) in firsts.items() if row == 0}

    identity = t.fold

    def add(slot_index: int | None, name: str, dtype: DataType) -> None:
        ident = identity(name)
        if ident not in done:
            done.add(ident)
            at_creation.append((t.columns[ident].name if ident in t.columns else name, dtype))

    for ident in t.pk_identities:
        slot = t.slot_by_identity[ident]
        if slot.declared is not None:
            add(slot.index, slot.name, slot.declared)
        elif slot.index in resolved and slot.index in creating_row:
            add(slot.index, slot.name, resolved[slot.index].type)
    for name in t.declared_order:
        ident = identity(name)
        seen = t.slot_by_identity.get(ident)
        add(None, seen.name if seen is not None else name, t.declared[ident])
    row0 = sorted((firsts[s][1], s) for s in creating_row)
    for _, s in row0:
        add(s, t.slots[s].name, resolved[s].type)
    changes = 1 + sum(len(resolved[s].chain) for s in resolved if t.slots[s].identity in done)
    later = sorted((firsts[s], s) for s in resolved if t.slots[s].identity not in done)
    added: list[tuple[str, DataType]] = []
    for _, s in later:
        slot = t.slots[s]
        done.add(slot.identity)
        added.append((slot.name, resolved[s].type))
        changes += len(resolved[s].chain)
    changes += len(added)
    sync.destination.create_table(TableDescription(t.ref, at_creation, added))
    for name, dtype in [*at_creation, *added]:
        t.columns[identity(name)] = Column(name, dtype)
    t.exists = True
    sync.schema_event(TableCreated(t.label, len(at_creation), changes - len(added)))
    for name, dtype in added:
        # First valued after the creating row: appended after the system columns (SEM-41).
        sync.schema_event(SchemaChanged(t.label, name, None, dtype))


def create_declared_table(sync: Sync, t: TableState) -> None:
    """A declared table nothing was written to: created at the first commit (SEM-5, SEM-41 items 1, 2, 4, 5)."""
    columns: list[tuple[str, DataType]] = []
    seen: set[str] = set()
    identity = t.fold
    for pk, ident in zip(t.primary_key, t.pk_identities):
        declared = t.declared.get(ident)
        if declared is not None:
            columns.append((pk, declared))
            seen.add(ident)
    for name in t.declared_order:
        ident = identity(name)
        if ident not in seen:
            seen.add(ident)
            columns.append((name, t.declared[ident]))
    sync.destination.create_table(TableDescription(t.ref, columns))
    for name, dtype in columns:
        t.columns[identity(name)] = Column(name, dtype)
    t.exists = True
    sync.schema_event(TableCreated(t.label, len(columns)))


def _key_columns(t: TableState, g: Gathered) -> KeyBatch | None:
    """The primary key values of a run, made comparable with the table's key columns (TYPES-29).

    None if a key column does not exist yet (then no row can match). A chain starts at the
    column's type; when the keys need a wider type to compare (an int key against a STRING column,
    say), the destination converts the stored side along the chain and the keys arrive converted to
    its last type.
    """
    out: list[list[Any]] = []
    chains: list[list[DataType]] = []
    for ident in t.pk_identities:
        column = t.columns.get(ident)
        if column is None:
            return None
        values = g.columns[t.slot_by_identity[ident].index]
        if _matches(values, column.type):
            out.append(values)
            chains.append([column.type])
        else:
            r = running(values, column.type)
            out.append(r.values)
            chains.append([column.type, *r.chain])
    return KeyBatch(list(t.primary_key), chains, out)


def _matches(values: list[Any], dtype: DataType) -> bool:
    """True when every value already has the column's type (no conversion needed to compare)."""
    kinds = set(map(type, values))
    if len(kinds) != 1:
        return False
    own = uniform_type(next(iter(kinds)), values)
    return own == dtype or (own == INT and dtype == LONG)


def _apply_updates(sync: Sync, t: TableState, segments: list[Segment]) -> None:
    if not t.exists:
        return
    g = _gather(segments, ABSENT)
    keys = _key_columns(t, g)
    if keys is None:
        return
    duplicates = len(set(zip(*keys.values))) < g.n
    # An update of a missing row has no effect at all (SEM-22), so the columns are typed over the
    # updates that match a row. When typing all of them changes no column (the common case), the
    # matching ones cannot either, and the warehouse need not be asked first which rows exist.
    # (Repeated keys always take the exact path: typing every update first would be wasted.)
    typed = None if duplicates else _typed_updates(t, g, g.columns)
    if typed is None or not _changes_nothing(t, typed[0]):
        matched = sync.destination.existing_keys(t.ref, keys)
        if not matched:
            return
        if len(matched) < g.n:
            keys = KeyBatch(keys.names, keys.chains, [[column[i] for i in matched] for column in keys.values])
            typed = _typed_updates(t, g, {s: [column[i] for i in matched] for s, column in g.columns.items()})
        elif typed is None:
            typed = _typed_updates(t, g, g.columns)
        _schema_changes(sync, t, typed[0], segments, creating=False, keep=set(matched))
    resolved, present_by_slot = typed
    names: list[str] = []
    types: list[DataType] = []
    arrays: list[list[Any]] = []
    presence: list[list[bool] | None] = []
    for s, r in resolved.items():
        present = present_by_slot[s]
        if present is not None and not any(present):
            continue
        names.append(t.columns[t.slots[s].identity].name)
        types.append(r.type)
        arrays.append(r.values)
        presence.append(present)
    updated = sync.destination.update(
        t.ref,
        UpdateBatch(keys, Batch(names, types, arrays), presence,
                    repeated=duplicates),
        synced=sync.timestamp(),
    )
    # Without repeated keys, each row updated is one update that took effect.
    t.rows_written += updated if not duplicates else len(keys)


def _typed_updates(t: TableState, g: Gathered, columns: dict[int, list[Any]]
                   ) -> tuple[dict[int, Resolved], dict[int, list[bool] | None]]:
    """The typed values of an update run's columns (key columns aside), and where each is present."""
    pk_slots = {t.slot_by_identity[ident].index for ident in t.pk_identities}
    resolved: dict[int, Resolved] = {}
    present_by_slot: dict[int, list[bool] | None] = {}
    for s, column in columns.items():
        if s in pk_slots:
            continue
        partial = s in g.partial
        values = [None if v is ABSENT else v for v in column] if partial else column
        slot = t.slots[s]
        existing = t.columns.get(slot.identity)
        r = resolve_column(values, existing.type if existing is not None else None, slot.declared)
        if r is None:
            if existing is None:
                continue  # only NULLs (or absent): no column is created (TYPES-24)
            r = Resolved(existing.type, values, existing.type, [])
        resolved[s] = r
        present_by_slot[s] = [v is not ABSENT for v in column] if partial else None
    return resolved, present_by_slot


def _changes_nothing(t: TableState, resolved: dict[int, Resolved]) -> bool:
    """Whether writing these typed columns needs no new column and no wider type."""
    for s, r in resolved.items():
        existing = t.columns.get(t.slots[s].identity)
        if existing is None or r.chain or r.type != existing.type:
            return False
    return True


def _apply_deletes(sync: Sync, t: TableState, segments: list[Segment]) -> None:
    if not t.exists:
        return
    if t.keyed:
        g = _gather(segments, None)
        keys = _key_columns(t, g)
        if keys is None:
            return
        sync.destination.soft_delete(t.ref, keys, synced=sync.timestamp())
        t.rows_written += g.n
    else:
        ids = _keyless_ids(t, segments)
        sync.destination.soft_delete(t.ref, KeyBatch(["_fivetran_id"], [[STRING]], [ids]), synced=sync.timestamp())
        t.rows_written += len(ids)


# ---------------------------------------------------------------------------------------------
# many alternating kinds: fold per key


def _apply_folded(sync: Sync, t: TableState, segments: list[Segment]) -> bool:
    """Apply a batch that alternates upserts, updates and deletes many times (a change log, say).

    Applying it run by run would cost a few SQL statements per change of kind. Instead the
    operations are folded per key in Python, in call order, into each key's net effect: a full
    row image (the key was upserted in the batch; later updates merged in, a later delete sets
    the flag) or a patch of an existing row (updates and deletes only). Values are typed in call
    order over the writes that take effect (an update of a missing row has none, SEM-22), exactly
    as the run-by-run path does, and the result is written with at most three statements.

    Returns False (nothing done) when the batch's keys are not all of one Python type, so that
    comparing them as Python values would not match how the warehouse compares them.
    """
    ops: list[tuple[int, Any, Any]] = [(seg.kind, seg.sig, row) for seg in segments for row in seg.rows]
    keyed = t.keyed
    if keyed:
        keys: list[Any] = []
        kinds: set[type] = set()
        for _, sig, row in ops:
            key = tuple(row[p] for p in sig.pk_positions)
            kinds.update(map(type, key))
            keys.append(key)
        if len(kinds) > 1:
            return False
    else:
        keys = _keyless_ids(t, segments)
    # Updates of keys neither upserted earlier in the batch nor stored have no effect at all.
    upserted: set[Any] = set()
    unknown: dict[Any, int] = {}
    for index, (kind, _, _) in enumerate(ops):
        if kind == UPSERT:
            upserted.add(keys[index])
        elif kind == UPDATE and keys[index] not in upserted and keys[index] not in unknown:
            unknown[keys[index]] = index
    existing = _existing_keys(sync, t, list(unknown)) if unknown else set()
    applied: list[int] = []
    seen_full: set[Any] = set()
    for index, (kind, _, _) in enumerate(ops):
        key = keys[index]
        if kind == UPSERT:
            seen_full.add(key)
            applied.append(index)
        elif kind == UPDATE and (key in seen_full or key in existing):
            applied.append(index)

    # Type the applied writes in call order, and make the schema changes they cause.
    write_segments = [Segment(ops[i][0], ops[i][1], [ops[i][2]]) for i in applied]
    g = _gather(write_segments, ABSENT)
    resolved: dict[int, Resolved] = {}
    for slot_index, column in g.columns.items():
        slot = t.slots[slot_index]
        existing_column = t.columns.get(slot.identity)
        typed = [None if v is ABSENT else v for v in column] if slot_index in g.partial else column
        r = resolve_column(typed, existing_column.type if existing_column is not None else None, slot.declared)
        if r is None and existing_column is not None:
            r = Resolved(existing_column.type, typed, existing_column.type, [])  # only NULLs: still set
        if r is not None:
            resolved[slot_index] = r
    if applied:
        _schema_changes(sync, t, resolved, write_segments, creating=not t.exists)
    if not t.exists:
        return True  # only updates/deletes of a table that does not exist: no effect

    # Fold per key.
    position = {index: n for n, index in enumerate(applied)}
    pk_slots = {t.slot_by_identity[ident].index for ident in t.pk_identities} if keyed else set()
    full: dict[Any, list[Any]] = {}      # key -> [values by slot, deleted]
    patch: dict[Any, list[Any]] = {}     # key -> [values by slot, deleted or None]
    for index, (kind, sig, _) in enumerate(ops):
        key = keys[index]
        if kind == UPSERT:
            n = position[index]
            full[key] = [{s: r.values[n] for s, r in resolved.items()}, False]
            patch.pop(key, None)
        elif kind == UPDATE:
            n = position.get(index, -1)
            if n < 0:
                continue
            values = {s: resolved[s].values[n] for s in sig.slots
                      if s >= 0 and s not in pk_slots and s in resolved}
            target = full.get(key) or patch.get(key)
            if target is None:
                patch[key] = [values, None]
            else:
                target[0].update(values)
        else:
            target = full.get(key) or patch.get(key)
            if target is None:
                patch[key] = [{}, True]
            else:
                target[1] = True

    ts = sync.timestamp()
    if full:
        _write_full(sync, t, resolved, full, ts)
    if patch:
        _write_patch(sync, t, resolved, patch, pk_slots, ts)
    t.rows_written += len(ops)
    return True


def _existing_keys(sync: Sync, t: TableState, keys: list[Any]) -> set[Any]:
    """Which of these (raw) keys name a stored row."""
    if not t.exists or not t.keyed:
        return set()
    columns = [[key[i] for key in keys] for i in range(len(t.pk_identities))]
    g = Gathered(len(keys), {t.slot_by_identity[ident].index: columns[i] for i, ident in enumerate(t.pk_identities)},
                 set())
    converted = _key_columns(t, g)
    if converted is None:
        return set()
    matched = sync.destination.existing_keys(t.ref, converted)
    return {keys[i] for i in matched}


def _schema_changes(sync: Sync, t: TableState, resolved: dict[int, Resolved], segments: list[Segment],
                    *, creating: bool, keep: set[int] | None = None) -> None:
    """Create the table, or add and widen columns, for a batch's typed writes (SEM-40, TYPES-25).

    ``keep``: the rows of ``segments`` that take effect (an update of a missing row has none).
    """
    new_slots = [s for s in resolved if t.slots[s].identity not in t.columns]
    firsts = _first_positions(segments, set(new_slots), keep) if new_slots else {}
    if creating:
        _create_from_upsert(sync, t, resolved, firsts)
        return
    for s in sorted(new_slots, key=lambda s: firsts.get(s, (1 << 62, 0))):
        slot, r = t.slots[s], resolved[s]
        sync.destination.add_column(t.ref, slot.name, r.type)
        t.columns[slot.identity] = Column(slot.name, r.type)
        sync.schema_event(SchemaChanged(t.label, slot.name, None, r.start, 1 + len(r.chain)))
    for s, r in resolved.items():
        if s in new_slots or not r.chain:
            continue
        stored = t.columns[t.slots[s].identity]
        if t.keyed and t.slots[s].identity == t.pk_identities[0]:
            t.key_bounds = UNKNOWN
        previous = r.start
        for wider in r.chain:
            sync.destination.widen_column(t.ref, stored.name, previous, wider)
            sync.schema_event(SchemaChanged(t.label, stored.name, previous, wider))
            previous = wider
        stored.type = r.type


def _write_full(sync: Sync, t: TableState, resolved: dict[int, Resolved], full: dict[Any, list[Any]],
                ts: dt.datetime) -> None:
    slots = list(resolved)
    images = list(full.values())
    names = [t.columns[t.slots[s].identity].name for s in slots]
    types = [resolved[s].type for s in slots]
    arrays = [[image[0].get(s) for image in images] for s in slots]
    if not t.keyed:
        names.append("_fivetran_id")
        types.append(STRING)
        arrays.append(list(full))
    sync.destination.upsert(t.ref, Batch(names, types, arrays), synced=ts,
                            deleted=[image[1] for image in images])
    t.key_bounds = UNKNOWN if t.keyed else t.key_bounds


def _write_patch(sync: Sync, t: TableState, resolved: dict[int, Resolved], patch: dict[Any, list[Any]],
                 pk_slots: set[int], ts: dt.datetime) -> None:
    keys = list(patch)
    if t.keyed:
        columns = {t.slot_by_identity[ident].index: [key[i] for key in keys] for i, ident in enumerate(t.pk_identities)}
        key_batch = _key_columns(t, Gathered(len(keys), columns, set()))
        if key_batch is None:
            return
    else:
        key_batch = KeyBatch(["_fivetran_id"], [[STRING]], [keys])
    entries = list(patch.values())
    names: list[str] = []
    types: list[DataType] = []
    arrays: list[list[Any]] = []
    presence: list[list[bool] | None] = []
    for s, r in resolved.items():
        if s in pk_slots:
            continue
        present = [s in entry[0] for entry in entries]
        if not any(present):
            continue
        names.append(t.columns[t.slots[s].identity].name)
        types.append(r.type)
        arrays.append([entry[0].get(s) for entry in entries])
        presence.append(present)
    sync.destination.update(
        t.ref,
        UpdateBatch(key_batch, Batch(names, types, arrays), presence, deleted=[entry[1] for entry in entries]),
        synced=ts,
    )
