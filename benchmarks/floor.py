"""The floor: what scenario A cannot beat, measured in its own process.

1. loop: scenario A's own ``update()`` (scenarios/a_upserts.py, imported as a module), with the
   module's ``op`` replaced by an object whose upsert/checkpoint do nothing. Same dicts, same calls.
2. load: the same rows as ONE pyarrow table built from per-column Python lists, loaded into a fresh
   DuckDB file with one CREATE TABLE AS inside a transaction, then COMMIT.

floor = loop seconds + load seconds. Collecting the column lists (a second, recording pass over
the loop) is not timed. Prints one JSON object on stdout.

    python benchmarks/floor.py ROWS CHECKPOINT_EVERY DB_PATH
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parent / "scenarios" / "a_upserts.py"


class NoOp:
    """op.upsert / op.checkpoint that do nothing."""

    @staticmethod
    def upsert(table: str, data: dict[str, Any]) -> None:
        pass

    @staticmethod
    def checkpoint(state: dict[str, Any]) -> None:
        pass


class Recorder:
    """op.upsert that appends each value to its column's list."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {}

    def upsert(self, table: str, data: dict[str, Any]) -> None:
        columns = self.columns
        for name, value in data.items():
            try:
                columns[name].append(value)
            except KeyError:
                columns[name] = [value]

    def checkpoint(self, state: dict[str, Any]) -> None:
        pass


def main() -> None:
    rows, every, db_path = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    import duckdb
    import pyarrow as pa

    sys.path.insert(0, str(TEMPLATE.parent))  # the template imports order_values from its folder
    spec = importlib.util.spec_from_file_location("bench_floor_connector", TEMPLATE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    configuration = {"rows": str(rows), "checkpoint_every": every}

    module.op = NoOp
    started = time.perf_counter()
    module.update(configuration, {})
    loop_seconds = time.perf_counter() - started

    recorder = Recorder()
    module.op = recorder
    module.update(configuration, {})
    columns = recorder.columns

    for suffix in ("", ".wal"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    table = pa.table(columns)
    con = duckdb.connect(str(db_path))
    con.register("source_rows", table)
    con.execute("BEGIN TRANSACTION")
    con.execute("CREATE TABLE orders AS SELECT * FROM source_rows")
    con.execute("COMMIT")
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    con.close()
    close_seconds = time.perf_counter() - started

    check = duckdb.connect(str(db_path), read_only=True)
    count = check.execute("SELECT count(*) FROM orders").fetchone()[0]
    check.close()
    print(json.dumps({
        "rows": rows,
        "loaded_rows": count,
        "loop_seconds": loop_seconds,
        "load_seconds": load_seconds,
        "close_seconds": close_seconds,
        "arrow_schema": str(table.schema).replace("\n", "; "),
    }))


if __name__ == "__main__":
    main()
