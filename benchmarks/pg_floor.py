"""The PostgreSQL floor: what "A into PostgreSQL" cannot beat, measured in its own process.

1. loop: scenario A's own ``update()`` (scenarios/a_upserts.py, imported as a module), with the
   module's ``op`` replaced by an object whose upsert/checkpoint do nothing (floor.py's NoOp).
2. load: the same rows as ONE pyarrow table built from per-column Python lists, loaded into a fresh
   table of the given database with ONE binary ``COPY ... FROM STDIN (FORMAT BINARY)`` through
   psycopg 3 (``set_types`` with the column types headwater gives A's table, then ``write_row`` for
   each row of the table's columns as Python values), CREATE TABLE and COPY in one transaction, then
   COMMIT.

floor = loop seconds + load seconds. Collecting the column lists (a second, recording pass over the
loop) and connecting to the database are not timed (headwater connects before its 'starting sync'
line too). Afterwards, not counted: ``ALTER TABLE ... ADD PRIMARY KEY (id)`` is timed (what building
A's key index at once would cost) and the table is counted. Prints one JSON object on stdout.

    python benchmarks/pg_floor.py ROWS CHECKPOINT_EVERY DSN
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from typing import Any

from floor import TEMPLATE, NoOp, Recorder

# A's columns with the PostgreSQL types headwater creates for them (its inferred types: Python int ->
# INT -> integer, the ISO timestamp strings stay STRING -> text); run.py checks them against
# headwater's table and says so when they differ.
COLUMNS = (
    ("id", "integer", "int4"),
    ("customer", "text", "text"),
    ("amount", "double precision", "float8"),
    ("active", "boolean", "bool"),
    ("updated_at", "text", "text"),
    ("city", "text", "text"),
    ("quantity", "integer", "int4"),
    ("note", "text", "text"),
)


def main() -> None:
    rows, every, dsn = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    import psycopg
    import pyarrow as pa

    sys.path.insert(0, str(TEMPLATE.parent))  # the template imports order_values from its folder
    spec = importlib.util.spec_from_file_location("bench_pg_floor_connector", TEMPLATE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    configuration = {"rows": str(rows), "checkpoint_every": every}

    setattr(module, "op", NoOp)  # noqa: B010 - the connector module's global
    started = time.perf_counter()
    module.update(configuration, {})
    loop_seconds = time.perf_counter() - started

    recorder = Recorder()
    setattr(module, "op", recorder)  # noqa: B010
    module.update(configuration, {})
    columns: dict[str, list[Any]] = recorder.columns
    if list(columns) != [name for name, _, _ in COLUMNS]:
        raise SystemExit(f"A's columns are {list(columns)}, pg_floor.py expects {[n for n, _, _ in COLUMNS]}")

    started = time.perf_counter()
    con = psycopg.connect(dsn)
    connect_seconds = time.perf_counter() - started

    started = time.perf_counter()
    table = pa.table(columns)
    arrow_seconds = time.perf_counter() - started
    with con.cursor() as cursor:
        definition = ", ".join(f"{name} {sql_type}" for name, sql_type, _ in COLUMNS)
        cursor.execute(f"CREATE TABLE orders ({definition})")  # opens the transaction
        converting = time.perf_counter()
        values = [table.column(name).to_pylist() for name, _, _ in COLUMNS]
        copying = time.perf_counter()
        with cursor.copy("COPY orders FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([copy_type for _, _, copy_type in COLUMNS])
            write = copy.write_row
            for row in zip(*values):
                write(row)
        copied = time.perf_counter()
        con.commit()
        load_seconds = time.perf_counter() - started
        commit_seconds = time.perf_counter() - copied

        started = time.perf_counter()
        cursor.execute("ALTER TABLE orders ADD PRIMARY KEY (id)")
        con.commit()
        key_seconds = time.perf_counter() - started
        cursor.execute("SELECT count(*), count(DISTINCT id) FROM orders")
        count, distinct = cursor.fetchone() or (0, 0)
    con.close()
    print(json.dumps({
        "rows": rows,
        "loaded_rows": count,
        "distinct_ids": distinct,
        "loop_seconds": loop_seconds,
        "load_seconds": load_seconds,
        "arrow_seconds": arrow_seconds,
        "to_pylist_seconds": copying - converting,
        "copy_seconds": copied - copying,
        "commit_seconds": commit_seconds,
        "connect_seconds": connect_seconds,
        "key_seconds": key_seconds,
        "arrow_schema": str(table.schema).replace("\n", "; "),
        "columns": {name: sql_type for name, sql_type, _ in COLUMNS},
    }))


if __name__ == "__main__":
    main()
