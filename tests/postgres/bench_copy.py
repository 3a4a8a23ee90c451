"""Binary COPY against text COPY for loading a batch into a staging table (docs/postgres.md, "Bulk path").

Run: ``.venv/bin/python tests/postgres/bench_copy.py [rows]`` (default 200,000 rows of 8 columns). It
starts its own throwaway server (pg_server.py) and prints the best of 5 runs per way of loading:

* binary: ``COPY ... (FORMAT BINARY)`` with ``set_types``, rows written with ``write_row``;
* text: ``COPY ... (FORMAT TEXT)``, rows written with ``write_row`` (psycopg's text dumpers);
* csv-arrow: the batch's Arrow table written as CSV by pyarrow's C++ writer, sent with ``write``;

each from Python lists, and (binary, text) from Arrow arrays converted with ``to_pylist()`` first.
Then the whole upsert of PostgresDestination (binary COPY into staging + INSERT ... ON CONFLICT):
into an empty table, and again with every key already stored.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import psycopg  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
from pg_server import EmbeddedServer  # noqa: E402

COLUMNS = [  # (name, staging type, copy type name, arrow type)
    ("id", "bigint", "int8", pa.int64()),
    ("name", "text", "text", pa.string()),
    ("amount", "double precision", "float8", pa.float64()),
    ("qty", "integer", "int4", pa.int32()),
    ("active", "boolean", "bool", pa.bool_()),
    ("created", "timestamptz", "timestamptz", pa.timestamp("us", tz="UTC")),
    ("price", "numeric", "numeric", pa.decimal128(12, 2)),
    ("day", "date", "date", pa.date32()),
]


def make_columns(n: int) -> list[list[object]]:
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return [
        list(range(n)),
        [f"customer number {i} with some text" for i in range(n)],
        [i * 1.25 + 0.1 for i in range(n)],
        [i % 1000 for i in range(n)],
        [i % 3 == 0 for i in range(n)],
        [base + dt.timedelta(seconds=i, microseconds=i % 1000) for i in range(n)],
        [decimal.Decimal(i % 100000) / 100 for i in range(n)],
        [dt.date(2020, 1, 1) + dt.timedelta(days=i % 2000) for i in range(n)],
    ]


def load(con: psycopg.Connection, how: str, columns: list[list[object]], table: pa.Table | None) -> float:
    started = time.perf_counter()
    con.execute("TRUNCATE pg_temp.stage")
    with con.cursor() as cur:
        if how.startswith("csv"):
            assert table is not None
            buffer = io.BytesIO()
            pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
            with cur.copy("COPY pg_temp.stage FROM STDIN (FORMAT CSV)") as copy:
                copy.write(buffer.getbuffer())
        else:
            if table is not None:
                columns = [c.to_pylist() for c in table.columns]
            fmt = "BINARY" if how.startswith("binary") else "TEXT"
            with cur.copy(f"COPY pg_temp.stage FROM STDIN (FORMAT {fmt})") as copy:
                if fmt == "BINARY":
                    copy.set_types([c[2] for c in COLUMNS])
                for row in zip(*columns):
                    copy.write_row(row)
    con.commit()
    return time.perf_counter() - started


def upserts(dsn: str, columns: list[list[object]], n: int) -> None:
    from headwater.batch import Batch
    from headwater.destinations.base import TableDescription, TableRef
    from headwater.destinations.postgres import PostgresDestination
    from headwater.types import BOOLEAN, DOUBLE, INT, LONG, NAIVE_DATE, STRING, UTC_DATETIME, decimal

    types = [LONG, STRING, DOUBLE, INT, BOOLEAN, UTC_DATETIME, decimal(12, 2), NAIVE_DATE]
    names = [c[0] for c in COLUMNS]
    synced = dt.datetime.now(dt.timezone.utc)
    for attempt in range(3):
        destination = PostgresDestination(dsn, schema_default="bench")
        try:
            ref = TableRef("bench", f"t{attempt}", ("id",))
            destination.create_table(TableDescription(ref, list(zip(names, types))))
            destination.commit()
            timings = []
            for _ in range(2):
                started = time.perf_counter()
                destination.upsert(ref, Batch(names, list(types), columns), synced=synced)
                destination.commit()
                timings.append(time.perf_counter() - started)
        finally:
            destination.close()
        print(f"  upsert (COPY + INSERT ON CONFLICT): new keys {timings[0]:.3f} s, all keys stored {timings[1]:.3f} s")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    server = EmbeddedServer()
    server.start()
    try:
        with psycopg.connect(server.dsn()) as con:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"CREATE TEMP TABLE stage ({', '.join(f'{c[0]} {c[1]}' for c in COLUMNS)})")
            con.commit()
            columns = make_columns(n)
            table = pa.Table.from_arrays([pa.array(v, type=c[3]) for v, c in zip(columns, COLUMNS)],
                                         names=[c[0] for c in COLUMNS])
            print(f"{n:,} rows x {len(COLUMNS)} columns, best of 5:")
            for how, source in (("binary from lists", None), ("text from lists", None),
                                ("binary from Arrow", table), ("text from Arrow", table), ("csv-arrow", table)):
                best = min(load(con, how, columns, source) for _ in range(5))
                print(f"  {how:<20} {best:7.3f} s  {n / best:>12,.0f} rows/s")
            rows = con.execute("SELECT count(*) FROM pg_temp.stage").fetchone()
            print("rows in stage after the last run:", rows[0] if rows else None)
        upserts(server.dsn(), columns, n)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
