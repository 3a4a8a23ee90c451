"""Assertions about a sync's result, with failure messages that show the offending rows.

::

    from headwater.testing import run_connector
    from headwater.testing.assertions import (
        assert_no_duplicate_keys, assert_no_null_keys, assert_row_count, assert_state_advanced,
        assert_sync_succeeded,
    )

    def test_second_sync_continues(tmp_path):
        first = run_connector("my_connector", warehouse_dir=tmp_path)
        second = run_connector("my_connector", warehouse_dir=tmp_path)
        assert_sync_succeeded(second)
        assert_no_duplicate_keys(second, "orders")          # keys default to the table's primary key
        assert_no_null_keys(second, "orders")
        assert_row_count(second, "orders", 5000)
        assert_state_advanced(first, second, "cursors.orders.value")

Each raises ``AssertionError`` (so pytest reports a failure, not an error). Tables are named as in
the warehouse: ``"orders"`` is ``tester.orders``; ``"other_schema.orders"`` names another
schema. A table's primary key is read from its comment (``{"headwater": {"primary_key": [...]}}``);
a table without one is keyed by ``_fivetran_id``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from headwater.destinations.duckdb import quote
from headwater.incremental import CursorError, parse_cursor_value
from headwater.testing import _warehouse

if TYPE_CHECKING:
    from headwater.testing import SyncResult

__all__ = [
    "assert_no_duplicate_keys",
    "assert_no_null_keys",
    "assert_row_count",
    "assert_state_advanced",
    "assert_sync_succeeded",
]

MAX_GROUPS = 10
MAX_ROWS = 5
MAX_SHOWN_ROWS = 10


def _show(row: Mapping[str, Any]) -> str:
    return repr({name: value for name, value in row.items() if name != _warehouse.SYNCED})


def _open_table(con: Any, table: str) -> _warehouse.TableRef:
    __tracebackhide__ = True
    try:
        return _warehouse.find_table(con, table)
    except LookupError as exc:
        raise AssertionError(str(exc)) from None


def _connect(result: SyncResult) -> AbstractContextManager[Any]:
    __tracebackhide__ = True
    if not result.warehouse.exists():
        raise AssertionError(
            f"no warehouse at {result.warehouse}: the sync wrote nothing (did it fail before its first commit?)"
        )
    return _warehouse.connect(result.warehouse)


def _key_columns(con: Any, ref: _warehouse.TableRef, keys: str | Sequence[str] | None) -> list[str]:
    __tracebackhide__ = True
    if keys is None:
        found = _warehouse.primary_key(con, ref)
        if not found:
            raise AssertionError(f"{ref.label} has no primary key and no _fivetran_id column; pass keys=[...]")
        return found
    chosen = [keys] if isinstance(keys, str) else list(keys)
    existing = _warehouse.columns(con, ref)
    missing = [k for k in chosen if k not in existing]
    if missing:
        raise AssertionError(f"{ref.label} has no column {', '.join(map(repr, missing))}; its columns: {existing}")
    return chosen


def _order_by(con: Any, ref: _warehouse.TableRef) -> str:
    """Show rows in key order, so messages are the same from run to run."""
    key = _warehouse.primary_key(con, ref)
    return f" ORDER BY {', '.join(quote(k) for k in key)}" if key else ""


def _where_deleted(include_deleted: bool, con: Any, ref: _warehouse.TableRef) -> str:
    if include_deleted or _warehouse.DELETED not in _warehouse.columns(con, ref):
        return "TRUE"
    return f"{_warehouse.DELETED} IS NOT TRUE"


def assert_sync_succeeded(result: SyncResult) -> None:
    """The sync succeeded; otherwise the failure shows its error line and the end of its log."""
    __tracebackhide__ = True  # pytest shows the failure at the caller's line
    if result.succeeded:
        return
    tail = "\n".join(result.output.splitlines()[-30:])
    raise AssertionError(
        f"the sync failed (exit status {result.exit_code}): {result.error or result.errors.strip()}\n"
        f"--- output (last 30 lines) ---\n{tail}"
    )


def assert_no_duplicate_keys(
    result: SyncResult,
    table: str,
    keys: str | Sequence[str] | None = None,
    *,
    include_deleted: bool = True,
) -> None:
    """No two rows of ``table`` share a value of ``keys`` (default: the table's primary key).

    Soft-deleted rows count unless ``include_deleted=False``.
    """
    __tracebackhide__ = True  # pytest shows the failure at the caller's line
    with _connect(result) as con:
        ref = _open_table(con, table)
        key = _key_columns(con, ref, keys)
        columns = ", ".join(quote(k) for k in key)
        where = _where_deleted(include_deleted, con, ref)
        groups = con.execute(
            f"SELECT {columns}, count(*) FROM {ref.sql} WHERE {where} GROUP BY {columns} "
            f"HAVING count(*) > 1 ORDER BY count(*) DESC, {columns}"
        ).fetchall()
        if not groups:
            return
        total_rows = sum(group[-1] for group in groups)
        lines = [
            f"{ref.label} has {len(groups)} duplicated value{'s' if len(groups) != 1 else ''} of "
            f"({', '.join(key)}), {total_rows} rows in all:"
        ]
        match = " AND ".join(f"{quote(k)} IS NOT DISTINCT FROM ?" for k in key)
        for group in groups[:MAX_GROUPS]:
            values, count = list(group[:-1]), group[-1]
            label = ", ".join(f"{k}={v!r}" for k, v in zip(key, values))
            lines.append(f"  {label}: {count} rows")
            rows = _warehouse.fetch_dicts(
                con, f"SELECT * FROM {ref.sql} WHERE {where} AND {match}{_order_by(con, ref)} LIMIT {MAX_ROWS}",
                values,
            )
            lines.extend(f"    {_show(row)}" for row in rows)
            if count > MAX_ROWS:
                lines.append(f"    ... and {count - MAX_ROWS} more")
        if len(groups) > MAX_GROUPS:
            lines.append(f"  ... and {len(groups) - MAX_GROUPS} more duplicated values")
    raise AssertionError("\n".join(lines))


def assert_no_null_keys(
    result: SyncResult,
    table: str,
    keys: str | Sequence[str] | None = None,
) -> None:
    """No row of ``table`` has a NULL in any of ``keys`` (default: the table's primary key)."""
    __tracebackhide__ = True  # pytest shows the failure at the caller's line
    with _connect(result) as con:
        ref = _open_table(con, table)
        key = _key_columns(con, ref, keys)
        condition = " OR ".join(f"{quote(k)} IS NULL" for k in key)
        (count,) = con.execute(f"SELECT count(*) FROM {ref.sql} WHERE {condition}").fetchone()
        if not count:
            return
        rows = _warehouse.fetch_dicts(
            con, f"SELECT * FROM {ref.sql} WHERE {condition}{_order_by(con, ref)} LIMIT {MAX_SHOWN_ROWS}"
        )
    lines = [f"{ref.label} has {count} row{'s' if count != 1 else ''} with a NULL in ({', '.join(key)}):"]
    lines.extend(f"  {_show(row)}" for row in rows)
    if count > MAX_SHOWN_ROWS:
        lines.append(f"  ... and {count - MAX_SHOWN_ROWS} more")
    raise AssertionError("\n".join(lines))


def assert_row_count(result: SyncResult, table: str, expected: int, *, include_deleted: bool = True) -> None:
    """``table`` holds ``expected`` rows (soft-deleted rows count unless ``include_deleted=False``)."""
    __tracebackhide__ = True  # pytest shows the failure at the caller's line
    with _connect(result) as con:
        ref = _open_table(con, table)
        has_deleted = _warehouse.DELETED in _warehouse.columns(con, ref)
        deleted_sql = f"count(*) FILTER (WHERE {_warehouse.DELETED})" if has_deleted else "0"
        total, deleted = con.execute(f"SELECT count(*), {deleted_sql} FROM {ref.sql}").fetchone()
        actual = total if include_deleted else total - deleted
        if actual == expected:
            return
        rows = _warehouse.fetch_dicts(
            con,
            f"SELECT * FROM {ref.sql} WHERE {_where_deleted(include_deleted, con, ref)}{_order_by(con, ref)} "
            f"LIMIT {MAX_SHOWN_ROWS}",
        )
    counted = "rows" if include_deleted else "rows not deleted"
    detail = f" ({deleted} of them soft-deleted; pass include_deleted=False to leave those out)" if (
        include_deleted and deleted) else ""
    if not include_deleted and deleted:
        detail = f" (plus {deleted} soft-deleted)"
    lines = [f"{ref.label} has {actual} {counted}, expected {expected}{detail}"]
    if rows:
        lines.append("first rows:" if actual > len(rows) else "rows:")
        lines.extend(f"  {_show(row)}" for row in rows)
    raise AssertionError("\n".join(lines))


_MISSING = object()


def _state_of(value: SyncResult | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if value is None or isinstance(value, Mapping):
        return value
    return value.state


def _lookup(state: Mapping[str, Any] | None, path: Sequence[str]) -> Any:
    current: Any = state
    for part in path:
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def assert_state_advanced(
    before: SyncResult | Mapping[str, Any] | None,
    after: SyncResult | Mapping[str, Any] | None,
    path: str | Sequence[str] | None = None,
) -> None:
    """The state value at ``path`` moved forward from ``before`` to ``after``.

    ``before`` and ``after`` are states or SyncResults (their saved state). ``path`` is a dotted
    path (``"cursors.orders.value"``) or a list of keys; ``None`` compares the whole state.
    Numbers, datetimes and ISO-8601 strings must have grown (compared as cursor values: instants
    in UTC); other values must merely have changed. A value missing before counts as advanced
    once it exists.
    """
    __tracebackhide__ = True  # pytest shows the failure at the caller's line
    parts: list[str] = [] if path is None else (path.split(".") if isinstance(path, str) else list(path))
    where = f"state[{']['.join(map(repr, parts))}]" if parts else "the state"
    old_state, new_state = _state_of(before), _state_of(after)
    old, new = _lookup(old_state, parts), _lookup(new_state, parts)
    if new is _MISSING or new is None:
        raise AssertionError(f"{where} is missing after the sync; the state after: {new_state!r}")
    if old is _MISSING or old is None:
        return
    order = _order(old, new)
    if order is None:
        if old == new:
            raise AssertionError(f"{where} did not change: still {new!r}")
        return
    if order == 0:
        raise AssertionError(f"{where} did not advance: still {new!r} (before: {old!r})")
    if order < 0:
        raise AssertionError(f"{where} went backwards: {old!r} before, {new!r} after")


def _order(old: Any, new: Any) -> int | None:
    """1, 0 or -1 as ``new`` is after, equal to or before ``old`` as cursor values; None if not comparable."""
    try:
        old_parsed, new_parsed = parse_cursor_value(old), parse_cursor_value(new)
    except CursorError:
        return None
    if isinstance(old_parsed, dt.datetime) and isinstance(new_parsed, dt.datetime):
        return int(new_parsed > old_parsed) - int(new_parsed < old_parsed)
    if isinstance(old_parsed, (int, float)) and isinstance(new_parsed, (int, float)):
        return int(new_parsed > old_parsed) - int(new_parsed < old_parsed)
    return None
