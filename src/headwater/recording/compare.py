"""Compare the tables of two warehouses, as the checker and the fault trials do.

Rows are compared on every column except ``_fivetran_synced`` (when a row was written says
nothing about what it holds) and any ``ignore`` column. A table with a primary key is compared per
key, so a row that differs is reported as *changed*; a table without one is compared as a
multiset of rows. Both files are attached read-only to one in-memory DuckDB connection, so the
comparison runs in SQL whatever the table sizes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "TableDiff",
    "TableInfo",
    "compare_warehouses",
    "count_rows_with_keys",
    "describe_row",
    "read_tables",
    "volatile_columns",
]

SYNCED = "_fivetran_synced"
FIVETRAN_ID = "_fivetran_id"
DELETED = "_fivetran_deleted"
SAMPLE_ROWS = 5


@dataclass(frozen=True)
class TableInfo:
    """A table of a warehouse: qualified name, columns in order with their types, primary key."""

    schema: str
    name: str
    columns: tuple[tuple[str, str], ...]
    primary_key: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"

    def sql(self, database: str) -> str:
        return f"{_quote(database)}.{_quote(self.schema)}.{_quote(self.name)}"


@dataclass
class TableDiff:
    """How the ``actual`` table differs from the ``expected`` one."""

    table: str
    missing: int = 0                    # rows (or keys) expected but not found
    extra: int = 0                      # rows (or keys) found but not expected
    changed: int = 0                    # keys found in both, with other values
    samples: list[str] = field(default_factory=list)
    missing_keys: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.missing or self.extra or self.changed or self.note)

    def summary(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"{self.missing} row{_s(self.missing)} missing")
        if self.extra:
            parts.append(f"{self.extra} row{_s(self.extra)} added")
        if self.changed:
            parts.append(f"{self.changed} row{_s(self.changed)} changed")
        if self.note:
            parts.append(self.note)
        return f"table {self.table}: " + ", ".join(parts)


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def _attached(**databases: Path) -> Iterator[Any]:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for alias, path in databases.items():
            con.execute(f"ATTACH '{str(path)}' AS {_quote(alias)} (READ_ONLY)".replace("\\", "\\\\"))
        yield con
    finally:
        con.close()


def _tables(con: Any, database: str) -> dict[str, TableInfo]:
    rows = con.execute(
        "SELECT schema_name, table_name, comment FROM duckdb_tables() WHERE database_name = ? AND NOT temporary",
        [database],
    ).fetchall()
    columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, data_type in con.execute(
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = ? "
        "ORDER BY schema_name, table_name, column_index", [database],
    ).fetchall():
        columns.setdefault((schema, table), []).append((column, data_type))
    found = {}
    for schema, table, comment in rows:
        info = TableInfo(schema, table, tuple(columns.get((schema, table), [])), _primary_key(comment))
        found[info.label] = info
    return found


def _primary_key(comment: str | None) -> tuple[str, ...]:
    try:
        key = json.loads(comment or "")["headwater"]["primary_key"]
    except (ValueError, KeyError, TypeError):
        return ()
    return tuple(str(column) for column in key) if isinstance(key, list) else ()


def read_tables(warehouse: Path) -> dict[str, TableInfo]:
    """The tables of a warehouse file, by ``schema.table``."""
    if not warehouse.exists():
        return {}
    with _attached(w=warehouse) as con:
        return _tables(con, "w")


def describe_row(row: Mapping[str, Any], limit: int = 160) -> str:
    """A row as compact JSON-like text for evidence lines."""
    shown = {key: value for key, value in row.items()
             if key not in (SYNCED, FIVETRAN_ID) and not (key == DELETED and value is False)}
    text = json.dumps(shown, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compare_warehouses(expected: Path, actual: Path, *,
                       ignore: Mapping[str, Sequence[str]] | None = None) -> list[TableDiff]:
    """The differences of ``actual`` from ``expected``, one entry per table that differs.

    ``ignore`` maps ``schema.table`` to columns left out (columns that differ between two
    identical runs, see :func:`volatile_columns`).
    """
    if not expected.exists() and not actual.exists():
        return []
    databases = {name: path for name, path in (("expected", expected), ("actual", actual)) if path.exists()}
    with _attached(**databases) as con:
        left = _tables(con, "expected") if "expected" in databases else {}
        right = _tables(con, "actual") if "actual" in databases else {}
        diffs = []
        for label in sorted({*left, *right}):
            skipped = set((ignore or {}).get(label, ()))
            diff = _compare_table(con, left.get(label), right.get(label), label, skipped)
            if not diff.is_empty:
                diffs.append(diff)
        return diffs


def _rows(cursor: Any) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description or []]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _compare_table(con: Any, left: TableInfo | None, right: TableInfo | None, label: str,
                   skipped: set[str]) -> TableDiff:
    diff = TableDiff(label)
    if left is None or right is None:
        present = left or right
        assert present is not None
        database = "expected" if left is not None else "actual"
        rows = int(con.execute(f"SELECT count(*) FROM {present.sql(database)}").fetchone()[0])
        if left is None:
            diff.extra, diff.note = rows, "the table is new"
        else:
            diff.missing, diff.note = rows, "the table is missing"
        return diff
    left_types, right_types = dict(left.columns), dict(right.columns)
    common = [name for name, _ in left.columns if name in right_types and name != SYNCED and name not in skipped]
    only = sorted({*left_types, *right_types} - {*left_types.keys() & right_types.keys()} - skipped)
    if only:
        diff.note = "columns differ: " + ", ".join(only)
    select = ", ".join(_quote(name) if left_types[name] == right_types[name]
                       else f"CAST({_quote(name)} AS VARCHAR) AS {_quote(name)}" for name in common)
    missing_sql = f"SELECT {select} FROM {left.sql('expected')} EXCEPT ALL SELECT {select} FROM {right.sql('actual')}"
    extra_sql = f"SELECT {select} FROM {right.sql('actual')} EXCEPT ALL SELECT {select} FROM {left.sql('expected')}"
    key = [name for name in (left.primary_key or ()) if name in common]
    if not key:
        diff.missing = int(con.execute(f"SELECT count(*) FROM ({missing_sql})").fetchone()[0])
        diff.extra = int(con.execute(f"SELECT count(*) FROM ({extra_sql})").fetchone()[0])
        for word, sql in (("missing", missing_sql), ("added", extra_sql)):
            for row in _rows(con.execute(f"{sql} LIMIT {SAMPLE_ROWS}")):
                diff.samples.append(f"{word}: {describe_row(row)}")
        return diff
    on = " AND ".join(f"m.{_quote(name)} IS NOT DISTINCT FROM e.{_quote(name)}" for name in key)
    order_m = ", ".join(f"m.{_quote(name)}" for name in key)
    order_e = ", ".join(f"e.{_quote(name)}" for name in key)
    base = f"WITH m AS ({missing_sql}), e AS ({extra_sql}) "

    def count(sql: str) -> int:
        return int(con.execute(base + sql).fetchone()[0])

    diff.changed = count(f"SELECT count(*) FROM m JOIN e ON {on}")
    diff.missing = count(f"SELECT count(*) FROM m ANTI JOIN e ON {on}")
    diff.extra = count(f"SELECT count(*) FROM e ANTI JOIN m ON {on}")
    missing_rows = _rows(con.execute(
        base + f"SELECT m.* FROM m ANTI JOIN e ON {on} ORDER BY {order_m} LIMIT {SAMPLE_ROWS}"))
    diff.missing_keys = [{name: row[name] for name in key} for row in missing_rows]
    diff.samples.extend(f"missing: {describe_row(row)}" for row in missing_rows)
    diff.samples.extend(f"added: {describe_row(row)}" for row in _rows(con.execute(
        base + f"SELECT e.* FROM e ANTI JOIN m ON {on} ORDER BY {order_e} LIMIT {SAMPLE_ROWS}")))
    width = len(common)
    for pair in con.execute(
            base + f"SELECT m.*, e.* FROM m JOIN e ON {on} ORDER BY {order_m} LIMIT {SAMPLE_ROWS}").fetchall():
        before, after = dict(zip(common, pair[:width])), dict(zip(common, pair[width:]))
        changes = [f"{name} {before[name]!r} -> {after[name]!r}" for name in common if before[name] != after[name]]
        diff.samples.append(f"changed: key {describe_row({name: before[name] for name in key})}: " + ", ".join(changes))
    return diff


def volatile_columns(first: Path, second: Path) -> dict[str, list[str]]:
    """Columns whose values differ between two runs that should be identical (a clock or a random
    value in the rows), by ``schema.table``; keyed tables only."""
    found: dict[str, list[str]] = {}
    if not first.exists() or not second.exists():
        return found
    with _attached(a=first, b=second) as con:
        left, right = _tables(con, "a"), _tables(con, "b")
        for label, table in left.items():
            other = right.get(label)
            if other is None or not table.primary_key:
                continue
            other_columns = dict(other.columns)
            on = " AND ".join(f"x.{_quote(name)} IS NOT DISTINCT FROM y.{_quote(name)}" for name in table.primary_key)
            names = [name for name, _ in table.columns
                     if name in other_columns and name != SYNCED and name not in table.primary_key]
            if not names:
                continue
            tests = ", ".join(
                f"count(*) FILTER (WHERE CAST(x.{_quote(name)} AS VARCHAR) "
                f"IS DISTINCT FROM CAST(y.{_quote(name)} AS VARCHAR))" for name in names)
            counts = con.execute(f"SELECT {tests} FROM {table.sql('a')} x JOIN {other.sql('b')} y ON {on}").fetchone()
            volatile = [name for name, count in zip(names, counts) if count]
            if volatile:
                found[label] = volatile
    return found


def count_rows_with_keys(warehouse: Path, table: str, keys: Sequence[Mapping[str, Any]]) -> int:
    """How many of ``keys`` (primary-key values) ``table`` (``schema.table``) of ``warehouse`` holds."""
    if not keys or not warehouse.exists():
        return 0
    with _attached(w=warehouse) as con:
        info = _tables(con, "w").get(table)
        names = {name for name, _ in info.columns} if info is not None else set()
        if info is None or any(name not in names for key in keys for name in key):
            return 0
        found = 0
        for key in keys:
            where = " AND ".join(f"{_quote(name)} IS NOT DISTINCT FROM ?" for name in key)
            found += int(con.execute(f"SELECT count(*) > 0 FROM {info.sql('w')} WHERE {where}",
                                     list(key.values())).fetchone()[0])
        return found
