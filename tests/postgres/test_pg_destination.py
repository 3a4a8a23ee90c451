"""The PostgreSQL destination called directly, against a real server (conftest.py): types, names,
keys, every data call, widening and its text forms, transactions and errors."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import random
import struct
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg_reader import Reader

from headwater.batch import Batch
from headwater.destinations.base import Destination, KeyBatch, TableDescription, TableRef, UpdateBatch, fold_ascii
from headwater.destinations.postgres import (
    PostgresDestination,
    environment_error,
    from_postgres,
    postgres_type,
)
from headwater.errors import (
    DestinationError,
    DestinationFull,
    DestinationLocked,
    DestinationOutOfMemory,
    DestinationPermissionError,
    DestinationUnavailable,
)
from headwater.types import (
    BINARY,
    BOOLEAN,
    DOUBLE,
    FLOAT,
    INT,
    JSON,
    LONG,
    NAIVE_DATE,
    NAIVE_DATETIME,
    SHORT,
    STRING,
    UTC_DATETIME,
    XML,
    DataType,
    decimal,
)
from headwater.values import convert_stored, text_form

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
T1 = T0 + dt.timedelta(seconds=1)
T2 = T0 + dt.timedelta(seconds=2)
T3 = T0 + dt.timedelta(seconds=3)


def f32(value: float) -> float:
    """The float32 nearest to ``value``, as a Python float (what a FLOAT column holds)."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


def create(destination: PostgresDestination, name: str, columns: list[tuple[str, DataType]],
           key: tuple[str, ...] = ("id",), schema: str = "tester",
           appended: list[tuple[str, DataType]] | None = None) -> TableRef:
    ref = TableRef(schema, name, key)
    destination.create_table(TableDescription(ref, columns, appended or []))
    return ref


def stored_tables(dsn: str) -> list[Any]:
    """What a new destination's tables() reads (as a later sync would)."""
    fresh = PostgresDestination(dsn, schema_default="tester")
    try:
        return fresh.tables()
    finally:
        fresh.close()


def keys(names: list[str], chains: list[list[DataType]], *columns: list[Any]) -> KeyBatch:
    return KeyBatch(names, chains, [list(c) for c in columns])


# -- capabilities and the type map ---------------------------------------------------------------


def test_capabilities_describe_postgresql(pg_dsn: str) -> None:
    destination = PostgresDestination(pg_dsn, schema_default="analytics")
    assert isinstance(destination, Destination)
    caps = destination.capabilities
    assert (caps.name, caps.default_schema, caps.max_identifier_length, caps.merge, caps.transactional_ddl) == (
        "postgresql", "analytics", 63, False, True)
    assert caps.fold is fold_ascii
    for reserved in ("pg_catalog", "information_schema", "pg_toast", "pg_temp_3", "pg_anything"):
        assert reserved in caps.reserved_schemas
    for free in ("public", "tester", "pgx", "catalog", "_headwater"):
        assert free not in caps.reserved_schemas
    assert "password" not in repr(destination)
    # As headwater run builds it: the DuckDB destination's keyword, and its bookkeeping schema reserved.
    other = PostgresDestination(pg_dsn, schema="shop", reserved_schemas={"_Headwater"})
    assert other.capabilities.default_schema == "shop"
    assert all(name in other.capabilities.reserved_schemas for name in ("_headwater", "pg_x", "information_schema"))
    with pytest.raises(TypeError, match="schema_default"):
        PostgresDestination(pg_dsn)


ALL_TYPES: list[tuple[str, DataType, str]] = [
    ("b", BOOLEAN, "boolean"),
    ("s", SHORT, "smallint"),
    ("i", INT, "integer"),
    ("l", LONG, "bigint"),
    ("d", decimal(12, 2), "numeric(12,2)"),
    ("d38", decimal(38, 10), "numeric(38,10)"),
    ("f", FLOAT, "real"),
    ("x", DOUBLE, "double precision"),
    ("nd", NAIVE_DATE, "date"),
    ("ndt", NAIVE_DATETIME, "timestamp without time zone"),
    ("udt", UTC_DATETIME, "timestamp with time zone"),
    ("bin", BINARY, "bytea"),
    ("xml", XML, "text"),
    ("str", STRING, "text"),
    ("js", JSON, "jsonb"),
]


def test_type_map_is_documented_and_maps_back() -> None:
    for _, dtype, pg_type in ALL_TYPES:
        assert postgres_type(dtype) == pg_type
        expected = STRING if dtype == XML else dtype
        assert from_postgres(pg_type) == expected
    assert from_postgres("character varying(20)") is None  # a type headwater never makes
    assert from_postgres("numeric") is None


def test_every_type_round_trips_exactly(destination: PostgresDestination, pg: Reader) -> None:
    columns = [(name, dtype) for name, dtype, _ in ALL_TYPES]
    ref = create(destination, "every_type", [("id", LONG), *columns])
    rows: list[list[Any]] = [
        [1, True, -32768, -2147483648, -9223372036854775808, Decimal("0.05"),
         Decimal("-1234567890123456789012345678.0123456789"), f32(10.4), float("nan"), dt.date(1, 1, 1),
         dt.datetime(1, 1, 1, 0, 0, 0), dt.datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC), b"\x00\x01\xff" * 100,
         "<a x='1'>é</a>", "", '{"b": [1, 2.5, null], "a": "é\\n"}'],
        [2, False, 32767, 2147483647, 9223372036854775807, Decimal("-12.50"),
         Decimal("9999999999999999999999999999.9999999999"), float("inf"), float("-inf"), dt.date(9999, 12, 31),
         dt.datetime(9999, 12, 31, 23, 59, 59, 999999), dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
         b"", "", "it's \"quoted\"\n\ttabbed \\ backslash ✓ 𝄞", '"just a string"'],
        [3, None, None, None, None, None, None, float("-inf"), -0.0, None, None, None, None, None, None, None],
        [4, None, 0, 0, 0, Decimal("0.00"), Decimal("0E-10"), f32(3.4028234663852886e38), 5e-324, None,
         dt.datetime(2024, 2, 29, 12, 30, 15, 123456), dt.datetime(2024, 2, 29, 12, 30, 15, tzinfo=UTC), None,
         None, "null", "null"],
    ]
    names = ["id", *(n for n, _ in columns)]
    types: list[DataType | None] = [LONG, *(t for _, t in columns)]
    batch = Batch(names, types, [list(col) for col in zip(*rows)])
    destination.upsert(ref, batch, synced=T0)
    destination.commit()

    assert pg.columns("every_type") == [("id", "bigint"), *((n, t) for n, _, t in ALL_TYPES),
                                        ("_fivetran_synced", "timestamp with time zone"),
                                        ("_fivetran_deleted", "boolean")]
    stored = pg.rows("every_type")
    assert len(stored) == 4
    for expected, got in zip(rows, stored):
        for name, want, have in zip(names, expected, got):
            if name == "js":
                assert (None if have is None else have) == (None if want is None else json.loads(want)), name
            elif isinstance(want, float) and math.isnan(want):
                assert isinstance(have, float) and math.isnan(have), name
            elif isinstance(want, float):
                if name == "f":  # psycopg reads real as its text, the shortest float32 digits
                    have = f32(have)
                assert have == want and math.copysign(1, have) == math.copysign(1, want), (name, want, have)
            else:
                assert have == want, (name, want, have)
                assert type(have) is type(want), (name, type(have))
        assert got[-1] is False  # _fivetran_deleted
    assert pg.one("SELECT count(*) FROM tester.every_type WHERE _fivetran_synced = %s", (T0,)) == 4
    # The aware datetimes are instants in UTC.
    assert pg.one("SELECT udt::text FROM tester.every_type WHERE id = 4") == "2024-02-29 12:30:15+00"

    (info,) = stored_tables(destination.dsn)
    assert (info.schema, info.name, info.primary_key) == ("tester", "every_type", ("id",))
    assert info.columns == [("id", LONG), *((n, STRING if t == XML else t) for n, t, _ in ALL_TYPES)]


# -- keys and tables() ------------------------------------------------------------------------------


def test_keys_are_primary_key_constraints_read_back_from_the_catalog(destination: PostgresDestination,
                                                                       pg: Reader) -> None:
    create(destination, "composite", [("a", STRING), ("b", LONG), ("v", STRING)], key=("b", "a"))
    create(destination, "keyless", [("line", STRING)], key=())
    create(destination, "other_schema", [("id", INT)], schema="sales",
           appended=[("late", STRING)])
    destination.commit()
    assert pg.primary_key("composite") == ["b", "a"]
    assert pg.primary_key("keyless") == ["_fivetran_id"]
    assert [n for n, _ in pg.columns("keyless")] == ["line", "_fivetran_id", "_fivetran_synced", "_fivetran_deleted"]
    assert [n for n, _ in pg.columns("other_schema", "sales")] == [
        "id", "_fivetran_synced", "_fivetran_deleted", "late"]
    # A table that is not headwater's (no system columns) is left out; so are system schemas.
    pg.sql("CREATE TABLE tester.foreign_one (id int PRIMARY KEY)")
    found = {(t.schema, t.name): t for t in stored_tables(pg.dsn)}
    assert destination.tables() and destination._idle()  # the read-only transaction is over
    assert set(found) == {("tester", "composite"), ("tester", "keyless"), ("sales", "other_schema")}
    assert found[("tester", "composite")].primary_key == ("b", "a")
    assert found[("tester", "composite")].columns == [("a", STRING), ("b", LONG), ("v", STRING)]
    assert found[("tester", "keyless")].primary_key == ()
    assert found[("tester", "keyless")].columns == [("line", STRING)]
    assert found[("sales", "other_schema")].columns == [("id", INT), ("late", STRING)]


def test_a_key_whose_columns_come_later_waits_in_the_comment(destination: PostgresDestination, pg: Reader) -> None:
    """A declared table is created at the first commit point even before any row typed its key columns."""
    ref = create(destination, "later", [], key=("ID", "part"))
    destination.commit()
    assert pg.primary_key("later") == []
    (info,) = stored_tables(pg.dsn)
    assert info.primary_key == ("ID", "part") and info.columns == []
    destination.add_column(ref, "id", LONG)          # spelled in another case: the same column (fold_ascii)
    assert pg.primary_key("later") == []
    destination.add_column(ref, "part", STRING)
    destination.upsert(ref, Batch(["id", "part"], [LONG, STRING], [[1, 1], ["a", "b"]]), synced=T0)
    destination.upsert(ref, Batch(["id", "part"], [LONG, STRING], [[1], ["a"]]), synced=T1)
    destination.commit()
    assert pg.primary_key("later") == ["id", "part"]
    assert pg.one("SELECT obj_description('tester.later'::regclass, 'pg_class')") is None
    assert pg.rows("later", columns=["id", "part", "_fivetran_synced"], order="part") == [(1, "a", T1), (1, "b", T0)]
    (info,) = stored_tables(pg.dsn)
    assert info.primary_key == ("id", "part")


def test_creating_a_table_over_a_foreign_table_is_a_clear_error(destination: PostgresDestination,
                                                                  pg: Reader) -> None:
    pg.sql("CREATE SCHEMA tester")
    pg.sql("CREATE TABLE tester.users (id int)")
    with pytest.raises(DestinationError, match="not made by headwater"):
        create(destination, "users", [("id", LONG)])


def test_an_existing_schema_is_used_without_the_create_privilege(pg_dsn: str, pg: Reader) -> None:
    pg.sql("CREATE ROLE loader LOGIN")
    pg.sql("CREATE SCHEMA tester AUTHORIZATION loader")
    pg.sql("REVOKE CREATE ON DATABASE " + pg.one("SELECT current_database()") + " FROM PUBLIC")
    destination = PostgresDestination(pg_dsn.replace("user=postgres", "user=loader"), schema_default="tester")
    try:
        ref = create(destination, "t", [("id", LONG)])
        destination.upsert(ref, Batch(["id"], [LONG], [[1]]), synced=T0)
        destination.commit()
        with pytest.raises(DestinationPermissionError, match="permission denied"):
            create(destination, "t", [("id", LONG)], schema="elsewhere")
    finally:
        destination.close()
    assert pg.rows("t") == [(1, False)]


# -- upsert -------------------------------------------------------------------------------------------


def test_upsert_inserts_and_replaces_whole_rows(destination: PostgresDestination, pg: Reader) -> None:
    ref = create(destination, "users", [("id", LONG), ("name", STRING), ("age", INT)])
    destination.upsert(ref, Batch(["id", "name", "age"], [LONG, STRING, INT], [[1, 2], ["ann", "bob"], [30, 40]]),
                       synced=T0)
    destination.commit()
    # Row 1 is replaced as a whole: "age" is not in the batch and becomes NULL; row 3 is new.
    destination.upsert(ref, Batch(["id", "name"], [LONG, STRING], [[1, 3], ["anna", "cy"]]), synced=T1,
                       deleted=[False, True])
    destination.commit()
    assert pg.rows("users", system=True) == [
        (1, "anna", None, T1, False), (2, "bob", 40, T0, False), (3, "cy", None, T1, True)]
    # A deleted row comes back live when upserted again.
    destination.upsert(ref, Batch(["id", "name", "age"], [LONG, STRING, INT], [[3], ["cy"], [5]]), synced=T2)
    destination.commit()
    assert pg.rows("users")[2] == (3, "cy", 5, False)
    # new_keys: a plain append.
    destination.upsert(ref, Batch(["id"], [LONG], [[4]]), synced=T3, new_keys=True)
    destination.commit()
    assert pg.one("SELECT count(*) FROM tester.users") == 4


def test_upsert_into_a_keyless_table_is_keyed_by_fivetran_id(destination: PostgresDestination, pg: Reader) -> None:
    ref = create(destination, "log", [("line", STRING)], key=())
    destination.upsert(ref, Batch(["line", "_fivetran_id"], [STRING, STRING], [["a", "b"], ["id-a", "id-b"]]),
                       synced=T0)
    destination.upsert(ref, Batch(["line", "_fivetran_id"], [STRING, STRING], [["a2"], ["id-a"]]), synced=T1)
    destination.commit()
    assert pg.rows("log", order="_fivetran_id") == [("a2", "id-a", False), ("b", "id-b", False)]


def test_upsert_after_add_column_and_of_arrow_batches(destination: PostgresDestination, pg: Reader) -> None:
    import pyarrow as pa

    ref = create(destination, "big", [("id", LONG), ("name", STRING)])
    n = 20_000
    batch = Batch(["id", "name"], [LONG, STRING], [pa.array(range(n), pa.int64()),
                                                  pa.array([f"n{i}" for i in range(n)])])
    destination.upsert(ref, batch, synced=T0)
    destination.add_column(ref, "score", DOUBLE)
    destination.upsert(ref, Batch(["id", "name", "score"], [LONG, STRING, DOUBLE],
                                  [pa.array(range(0, n, 2), pa.int64()), pa.array(["x"] * (n // 2)),
                                   pa.array([0.5] * (n // 2))]), synced=T1)
    destination.commit()
    assert pg.sql("SELECT count(*), count(score), sum(id) FROM tester.big") == [(n, n // 2, n * (n - 1) // 2)]
    assert pg.rows("big")[:2] == [(0, "x", False, 0.5), (1, "n1", False, None)]


# -- update -------------------------------------------------------------------------------------------


def test_update_sets_present_columns_and_the_last_setting_row_wins(destination: PostgresDestination,
                                                                     pg: Reader) -> None:
    ref = create(destination, "u", [("id", LONG), ("a", STRING), ("b", INT), ("c", JSON)])
    destination.upsert(ref, Batch(["id", "a", "b", "c"], [LONG, STRING, INT, JSON],
                                  [[1, 2, 3], ["a1", "a2", "a3"], [1, 2, 3], ['{"v": 1}', None, None]]), synced=T0)
    destination.commit()
    # Key 1 appears three times: "a" is set by rows 0 and 2 (row 2 wins), "b" only by row 1, "c" by row 2
    # (to NULL). Key 2: only "b". Key 9 names no row.
    update = UpdateBatch(
        keys(["id"], [[LONG]], [1, 1, 2, 1, 9]),
        Batch(["a", "b", "c"], [STRING, INT, JSON],
              [["first", None, None, "last", "nine"], [None, 10, 20, None, 90], [None, None, None, None, '[1]']]),
        presence=[[True, False, False, True, True], [False, True, True, False, True],
                  [False, False, False, True, True]],
        repeated=True,
        deleted=[None, True, None, None, None],
    )
    assert destination.update(ref, update, synced=T1) == 2
    destination.commit()
    assert pg.rows("u", system=True) == [
        (1, "last", 10, None, T1, True),
        (2, "a2", 20, None, T1, False),
        (3, "a3", 3, None, T0, False),
    ]
    # Not repeated, every column present, no deleted flags; a key from another type chain.
    update = UpdateBatch(keys(["id"], [[LONG, STRING]], ["2", "3"]),
                         Batch(["a", "c"], [STRING, JSON], [["x2", "x3"], ['{"k": "é"}', "[]"]]),
                         presence=[None, None])
    assert destination.update(ref, update, synced=T2) == 2
    destination.commit()
    assert pg.rows("u", columns=["id", "a", "c", "_fivetran_deleted"]) == [
        (1, "last", None, True), (2, "x2", {"k": "é"}, False), (3, "x3", [], False)]


# -- soft delete and truncate ----------------------------------------------------------------------


def test_soft_delete_marks_rows_and_ignores_missing_and_repeated_keys(destination: PostgresDestination,
                                                                        pg: Reader) -> None:
    ref = create(destination, "d", [("k1", STRING), ("k2", INT), ("v", STRING)], key=("k1", "k2"))
    destination.upsert(ref, Batch(["k1", "k2", "v"], [STRING, INT, STRING],
                                  [["a", "a", "b"], [1, 2, 1], ["x", "y", "z"]]), synced=T0)
    destination.soft_delete(ref, keys(["k1", "k2"], [[STRING], [INT]], ["a", "a", "zz"], [2, 2, 1]), synced=T1)
    destination.commit()
    assert pg.rows("d", system=True, order="k1, k2") == [
        ("a", 1, "x", T0, False), ("a", 2, "y", T1, True), ("b", 1, "z", T0, False)]


def test_truncate_soft_deletes_live_rows_and_respects_written_before(destination: PostgresDestination,
                                                                      pg: Reader) -> None:
    ref = create(destination, "t", [("id", LONG)])
    destination.upsert(ref, Batch(["id"], [LONG], [[1, 2]]), synced=T0)
    destination.soft_delete(ref, keys(["id"], [[LONG]], [2]), synced=T0)
    destination.upsert(ref, Batch(["id"], [LONG], [[3]]), synced=T1)
    destination.commit()
    # Deferred truncate: only live rows written before T1.
    destination.truncate(ref, synced=T2, written_before=T1)
    destination.commit()
    assert pg.rows("t", system=True) == [(1, T2, True), (2, T0, True), (3, T1, False)]
    destination.truncate(ref, synced=T3)
    destination.commit()
    assert pg.rows("t", system=True) == [(1, T2, True), (2, T0, True), (3, T3, True)]


# -- existing keys -------------------------------------------------------------------------------------


def test_existing_keys_compares_along_chains_and_sees_uncommitted_rows(destination: PostgresDestination) -> None:
    ref = create(destination, "k", [("id", INT), ("day", NAIVE_DATE), ("price", decimal(5, 2)), ("on", BOOLEAN),
                                    ("f", FLOAT), ("blob", BINARY)], key=("id",))
    destination.upsert(ref, Batch(["id", "day", "price", "on", "f", "blob"],
                                  [INT, NAIVE_DATE, decimal(5, 2), BOOLEAN, FLOAT, BINARY],
                                  [[1, 2, 3], [dt.date(2024, 1, 1), dt.date(2024, 1, 2), None],
                                   [Decimal("0.50"), Decimal("-1.25"), None], [True, False, None],
                                   [f32(10.4), 1e6, None], [b"\x00\x01\x02\x03", b"", None]]), synced=T0)
    def found(names: list[str], chains: list[list[DataType]], *columns: list[Any]) -> list[int]:
        return destination.existing_keys(ref, keys(names, chains, *columns))

    # Not committed: still visible to this transaction.
    assert found(["id"], [[INT]], [3, 7, 1]) == [0, 2]
    assert found(["id"], [[INT, LONG]], [2, 2**40]) == [0]
    assert found(["id"], [[INT, STRING]], ["2", "02", "x", "1"]) == [0, 3]
    assert found(["id"], [[INT, decimal(11, 1)]], [Decimal("1.0"), Decimal("1.5")]) == [0]
    midnight = dt.datetime(2024, 1, 2, tzinfo=UTC)
    assert found(["day"], [[NAIVE_DATE, NAIVE_DATETIME, UTC_DATETIME]], [midnight, T0]) == [0]
    assert found(["day"], [[NAIVE_DATE, STRING]], ["2024-01-01", "2024-1-1"]) == [0]
    assert found(["price"], [[decimal(5, 2), STRING]], ["-1.25", "0.5", "0.50"]) == [0, 2]
    assert found(["on"], [[BOOLEAN, STRING]], ["false", "False"]) == [0]
    assert found(["f"], [[FLOAT, DOUBLE]], [f32(10.4), 10.4]) == [0]
    assert found(["f"], [[FLOAT, STRING]], ["10.4", "1000000.0", "1e+06"]) == [0, 1]
    assert found(["blob"], [[BINARY, STRING]], ["AAECAw==", "", "AAECAw"]) == [0, 1]
    assert found(["id", "day"], [[INT], [NAIVE_DATE]], [1, 1, 2],
                 [dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 2)]) == [0, 2]
    assert destination.existing_keys(ref, keys(["id"], [[INT]], [])) == []


# -- widening --------------------------------------------------------------------------------------------


def _double_samples() -> list[float]:
    rng = random.Random(1234)
    values = [0.0, -0.0, 1.0, -1.0, 0.1, 2.5, 100.0, 1e15, 1e16, 1e17, 123456789012345.6, 1234567890123456.7,
              9999999999999998.0, 1e-4, 1.5e-4, 1e-5, 0.00012345, 1e22, 1e-7, 5e-324, 2.2250738585072014e-308,
              1.7976931348623157e308, -1.5e300, 3.141592653589793, 1 / 3, 2**53, 2**63, float("nan"),
              float("inf"), float("-inf")]
    values += [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(300)]
    values += [rng.uniform(-1e6, 1e6) for _ in range(100)]
    values += [float(rng.randint(-10**17, 10**17)) for _ in range(50)]
    values += [rng.random() * 10.0 ** rng.randint(-8, 20) for _ in range(200)]
    return [v for v in values if not math.isnan(v)] + [float("nan")]


def _float_samples() -> list[float]:
    rng = random.Random(99)
    values = [0.0, -0.0, 10.4, 0.1, 1e6, 1234567.5, 16777216.0, 1e7, 1e-7, 3.4028234663852886e38, 1.401298464324817e-45,
              1e15, 1e16, 1e17, 100.0, 0.0001, 1e-5, float("inf"), float("-inf"), float("nan")]
    values += [struct.unpack("f", struct.pack("I", rng.getrandbits(32)))[0] for _ in range(300)]
    values += [rng.random() * 10.0 ** rng.randint(-8, 20) for _ in range(200)]
    return [f32(v) for v in values]


WIDEN_TEXT: list[tuple[DataType, list[Any]]] = [
    (BOOLEAN, [True, False]),
    (SHORT, [-32768, 0, 7, 32767]),
    (INT, [-2147483648, 42, 2147483647]),
    (LONG, [-9223372036854775808, 9223372036854775807, 0]),
    (decimal(2, 2), [Decimal("0.05"), Decimal("-0.50"), Decimal("0.00")]),
    (decimal(5, 2), [Decimal("-12.50"), Decimal("105.30"), Decimal("0.01"), Decimal("999.99")]),
    (decimal(38, 0), [Decimal("12345678901234567890123456789012345678"), Decimal(0)]),
    (decimal(38, 37), [Decimal("-1.2345678901234567890123456789012345678"), Decimal("0E-37")]),
    (DOUBLE, _double_samples()),
    (FLOAT, _float_samples()),
    (NAIVE_DATE, [dt.date(1, 1, 1), dt.date(999, 12, 31), dt.date(2024, 2, 29), dt.date(9999, 12, 31)]),
    (NAIVE_DATETIME, [dt.datetime(1, 1, 1), dt.datetime(2024, 2, 29, 13, 14, 15),
                      dt.datetime(2024, 2, 29, 13, 14, 15, 120000), dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
                      dt.datetime(999, 1, 2, 3, 4, 5, 6)]),
    (UTC_DATETIME, [dt.datetime(1, 1, 1, tzinfo=UTC), dt.datetime(2007, 12, 3, 10, 15, 30, 123000, tzinfo=UTC),
                    dt.datetime(2024, 6, 1, 0, 0, tzinfo=UTC),
                    dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)]),
    (BINARY, [b"", b"\x00\x01\x02\x03", bytes(range(256)) * 3, b"a"]),
    (XML, ["<a/>", ""]),
]


@pytest.mark.parametrize(("source", "values"), WIDEN_TEXT, ids=[str(s) for s, _ in WIDEN_TEXT])
def test_widening_to_string_writes_the_text_forms(destination: PostgresDestination, pg: Reader,
                                                  source: DataType, values: list[Any]) -> None:
    ref = create(destination, "w", [("id", LONG), ("v", source)])
    destination.upsert(ref, Batch(["id", "v"], [LONG, source], [list(range(len(values))) + [len(values)],
                                                                [*values, None]]), synced=T0)
    destination.commit()
    destination.widen_column(ref, "v", source, STRING)
    destination.commit()
    assert pg.columns("w")[1] == ("v", "text")
    stored = dict(pg.sql("SELECT id, v FROM tester.w"))
    mismatches = [(v, stored[i], text_form(v, source)) for i, v in enumerate(values)
                  if stored[i] != text_form(v, source)]
    assert not mismatches, mismatches[:10]
    assert stored[len(values)] is None


def test_widening_json_to_string_keeps_valid_json_text(destination: PostgresDestination, pg: Reader) -> None:
    """jsonb keeps no original text: the STRING is PostgreSQL's normalised JSON text (docs/postgres.md)."""
    ref = create(destination, "wj", [("id", LONG), ("v", JSON)])
    texts = ['{"b": 1, "a": [1, 2.5, null, "é"]}', '"s"', "[]", "1.50"]
    destination.upsert(ref, Batch(["id", "v"], [LONG, JSON], [[0, 1, 2, 3], texts]), synced=T0)
    destination.widen_column(ref, "v", JSON, STRING)
    destination.commit()
    stored = [r[0] for r in pg.sql("SELECT v FROM tester.wj ORDER BY id")]
    assert [json.loads(s) for s in stored] == [json.loads(t) for t in texts]
    assert stored == ['{"a": [1, 2.5, null, "é"], "b": 1}', '"s"', "[]", "1.50"]


WIDEN_VALUES: list[tuple[DataType, DataType, list[Any]]] = [
    (SHORT, INT, [-32768, 32767]),
    (INT, LONG, [-2147483648, 2147483647]),
    (SHORT, FLOAT, [-32768, 12345]),
    (INT, decimal(11, 1), [-2147483648, 7]),
    (LONG, decimal(19, 0), [-9223372036854775808, 9223372036854775807]),
    (decimal(5, 2), decimal(6, 3), [Decimal("-999.99"), Decimal("0.05")]),
    (LONG, DOUBLE, [9007199254740993, -9223372036854775808, 3]),
    (decimal(38, 10), DOUBLE, [Decimal("0.1000000000"), Decimal("1234567890123456789012345678.0123456789")]),
    (FLOAT, DOUBLE, [f32(10.4), f32(0.1), float("inf")]),
    (NAIVE_DATE, NAIVE_DATETIME, [dt.date(2024, 2, 29), dt.date(1, 1, 1)]),
    (NAIVE_DATE, UTC_DATETIME, [dt.date(2024, 2, 29)]),
    (NAIVE_DATETIME, UTC_DATETIME, [dt.datetime(2024, 2, 29, 23, 59, 59, 5), dt.datetime(1, 1, 1)]),
]


@pytest.mark.parametrize(("source", "target", "values"), WIDEN_VALUES,
                         ids=[f"{s}-{t}" for s, t, _ in WIDEN_VALUES])
def test_widening_converts_stored_values_exactly(pg_dsn: str, pg: Reader, source: DataType, target: DataType,
                                                 values: list[Any]) -> None:
    # A session whose time zone is not UTC must not change how naive values are read as UTC.
    destination = PostgresDestination(pg_dsn + " options='-c TimeZone=Asia/Kolkata'", schema_default="tester")
    try:
        ref = create(destination, "w", [("id", LONG), ("v", source)])
        destination.upsert(ref, Batch(["id", "v"], [LONG, source], [list(range(len(values))), values]), synced=T0)
        destination.widen_column(ref, "v", source, target)
        destination.commit()
    finally:
        destination.close()
    assert pg.columns("w")[1] == ("v", postgres_type(target))
    assert [r[1] for r in pg.rows("w")] == [convert_stored(v, source, target) for v in values]


def test_widening_a_key_column_keeps_the_primary_key(destination: PostgresDestination, pg: Reader) -> None:
    ref = create(destination, "wk", [("id", INT), ("v", STRING)])
    destination.upsert(ref, Batch(["id", "v"], [INT, STRING], [[1, 2], ["a", "b"]]), synced=T0)
    destination.widen_column(ref, "id", INT, STRING)
    destination.upsert(ref, Batch(["id", "v"], [STRING, STRING], [["1", "x"], ["A", "X"]]), synced=T1)
    destination.commit()
    assert pg.primary_key("wk") == ["id"]
    assert pg.rows("wk") == [("1", "A", False), ("2", "b", False), ("x", "X", False)]


# -- transactions ----------------------------------------------------------------------------------------


def test_rollback_discards_ddl_and_data_of_the_interval(destination: PostgresDestination, pg: Reader) -> None:
    ref = create(destination, "r", [("id", LONG), ("v", INT)])
    destination.upsert(ref, Batch(["id", "v"], [LONG, INT], [[1], [1]]), synced=T0)
    assert pg.tables() == []  # not visible before the commit
    destination.commit()
    destination.commit()  # nothing written since: nothing to do
    destination.add_column(ref, "extra", STRING)
    destination.widen_column(ref, "v", INT, STRING)
    destination.upsert(ref, Batch(["id", "v", "extra"], [LONG, STRING, STRING], [[1, 2], ["x", "y"], ["e", "f"]]),
                       synced=T1)
    other = create(destination, "gone", [("id", LONG)], schema="new_schema")
    destination.upsert(other, Batch(["id"], [LONG], [[1]]), synced=T1)
    destination.rollback()
    assert pg.tables() == [("tester", "r")]
    assert pg.columns("r") == [("id", "bigint"), ("v", "integer"), ("_fivetran_synced", "timestamp with time zone"),
                               ("_fivetran_deleted", "boolean")]
    assert pg.rows("r", system=True) == [(1, 1, T0, False)]
    assert pg.sql("SELECT 1 FROM pg_namespace WHERE nspname = 'new_schema'") == []
    # The destination goes on after a rollback: staging tables and caches were forgotten with it.
    destination.upsert(ref, Batch(["id", "v"], [LONG, INT], [[2], [2]]), synced=T2)
    destination.commit()
    assert pg.rows("r") == [(1, 1, False), (2, 2, False)]


def test_staging_tables_are_reused_and_left_empty(destination: PostgresDestination, pg: Reader) -> None:
    ref = create(destination, "s", [("id", LONG), ("v", STRING)])
    for round_ in range(3):
        for i in range(5):
            destination.upsert(ref, Batch(["id", "v"], [LONG, STRING], [[i], [f"{round_}"]]), synced=T0)
            destination.soft_delete(ref, keys(["id"], [[LONG]], [i + 100]), synced=T0)
        destination.commit()
    con = destination._connect()
    staging = con.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                          "WHERE n.oid = pg_my_temp_schema() AND c.relkind = 'r' ORDER BY 1").fetchall()
    assert staging == [("hw_stage_0",), ("hw_stage_1",)]
    assert con.execute("SELECT count(*) FROM pg_temp.hw_stage_0").fetchone() == (0,)
    con.rollback()
    assert pg.rows("s") == [(i, "2", False) for i in range(5)]


def test_a_destination_can_be_closed_and_opened_again(destination: PostgresDestination, pg: Reader) -> None:
    ref = create(destination, "again", [("id", LONG)])
    destination.upsert(ref, Batch(["id"], [LONG], [[1]]), synced=T0)
    destination.commit()
    destination.close()
    destination.open()  # a new session: its staging tables are made again
    destination.upsert(ref, Batch(["id"], [LONG], [[2]]), synced=T1)
    destination.commit()
    assert pg.rows("again") == [(1, False), (2, False)]


def test_user_objects_named_like_internal_ones_do_not_interfere(destination: PostgresDestination,
                                                                 pg: Reader) -> None:
    for schema in ("tester", "public"):
        pg.sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        pg.sql(f"CREATE TABLE {schema}.hw_stage_0 (c0 text)")
        pg.sql(f"CREATE TABLE {schema}.hw_source (c0 text)")
    pg.sql("CREATE FUNCTION public.encode(bytea, text) RETURNS text LANGUAGE sql AS $$ SELECT 'hijacked' $$")
    ref = create(destination, "hw_target", [("id", LONG), ("hw_source", BINARY)])
    destination.upsert(ref, Batch(["id", "hw_source"], [LONG, BINARY], [[1], [b"\x01"]]), synced=T0)
    destination.widen_column(ref, "hw_source", BINARY, STRING)
    destination.commit()
    assert pg.rows("hw_target") == [(1, "AQ==", False)]
    assert pg.one("SELECT count(*) FROM tester.hw_stage_0") == 0


# -- names -------------------------------------------------------------------------------------------------

ODD_NAMES = ['we"ird', "with space", "select", "user", "Mixed Case", "ünïcødé", "50%s", "%(x)s", "a'b", "表",
             "é" * 31 + "x"]  # the last: 63 bytes


def test_identifiers_are_quoted_everywhere(destination: PostgresDestination, pg: Reader) -> None:
    assert len(ODD_NAMES[-1].encode()) == 63
    schema = 'Sch"ema %s'
    columns = [(name, STRING) for name in ODD_NAMES]
    ref = TableRef(schema, 'order "by"', ("select",))
    destination.create_table(TableDescription(ref, [("select", LONG), *(c for c in columns if c[0] != "select")]))
    names = ["select", *(n for n in ODD_NAMES if n != "select")]
    types: list[DataType | None] = [LONG, *([STRING] * (len(names) - 1))]
    destination.upsert(ref, Batch(names, types, [[1, 2], *([["v1", "v2"]] * (len(names) - 1))]), synced=T0)
    destination.add_column(ref, "new % col", INT)
    changed = destination.update(ref, UpdateBatch(keys(["select"], [[LONG]], [2, 2]),
                                                  Batch(["user", "new % col"], [STRING, INT], [["u", "u2"], [1, 2]]),
                                                  presence=[None, [False, True]], repeated=True), synced=T1)
    assert changed == 1
    destination.widen_column(ref, "new % col", INT, LONG)
    destination.soft_delete(ref, keys(["select"], [[LONG]], [1]), synced=T1)
    assert destination.existing_keys(ref, keys(["select"], [[LONG, STRING]], ["1", "3"])) == [0]
    destination.truncate(ref, synced=T2, written_before=T1)
    destination.commit()
    assert pg.primary_key('order "by"', schema) == ["select"]
    stored = pg.rows('order "by"', schema, columns=["select", "user", ODD_NAMES[-1], "new % col", "_fivetran_deleted"])
    assert stored == [(1, "v1", "v1", None, True), (2, "u2", "v2", 2, False)]
    (info,) = stored_tables(pg.dsn)
    assert (info.schema, info.name, info.primary_key) == (schema, 'order "by"', ("select",))
    assert [n for n, _ in info.columns] == [*names, "new % col"]


def test_names_longer_than_63_bytes_are_refused_by_the_engine(destination: PostgresDestination) -> None:
    from headwater.engine.sync import Sync
    from headwater.naming import Naming
    from headwater.statestore import FileStateStore

    sync = Sync(destination, FileStateStore(Path("unused")), naming=Naming("SOURCE"), on_event=lambda e: None)
    assert sync.name_problem("é" * 31 + "x", "column") is None
    problem = sync.name_problem("é" * 32, "column")
    assert problem is not None and "64 bytes" in problem and "at most 63" in problem
    problem = sync.name_problem("pg_mine", "schema")
    assert problem is not None and "reserved" in problem


# -- what headwater run's bookkeeping uses ------------------------------------------------------------


def test_statements_in_the_interval_commit_and_roll_back_with_the_data(destination: PostgresDestination,
                                                                        pg: Reader) -> None:
    assert destination.execute_now("CREATE TABLE public.books (k text PRIMARY KEY, v text)") == []
    assert destination.execute_now("SELECT count(*) FROM public.books") == [(0,)]
    ref = create(destination, "t", [("id", LONG)])
    destination.execute_in_transaction("INSERT INTO public.books VALUES (%s, %s)", ["state", "1"])
    with pytest.raises(RuntimeError, match="commit interval is open"):
        destination.execute_now("SELECT 1")
    destination.upsert(ref, Batch(["id"], [LONG], [[1]]), synced=T0)
    assert pg.sql("SELECT * FROM public.books") == []
    destination.commit()
    assert pg.sql("SELECT * FROM public.books") == [("state", "1")]
    destination.execute_in_transaction("UPDATE public.books SET v = %s", ["2"])
    destination.upsert(ref, Batch(["id"], [LONG], [[2]]), synced=T1)
    destination.rollback()
    assert pg.sql("SELECT * FROM public.books") == [("state", "1")]
    assert pg.rows("t") == [(1, False)]
    with pytest.raises(psycopg.errors.UndefinedTable):
        destination.execute_now("SELECT * FROM public.nothing")
    assert destination.execute_now("SELECT v FROM public.books") == [("1",)]  # usable after the error
    dialect = destination.bookkeeping_dialect()
    assert (dialect.param, dialect.quote('a"b'), dialect.catalog) == ("%s", '"a""b"', "")


def test_a_connection_is_locked_by_one_worker_at_a_time(pg_dsn: str) -> None:
    first = PostgresDestination(pg_dsn, schema_default="tester")
    second = PostgresDestination(pg_dsn, schema_default="tester")
    try:
        assert first.acquire("shop")
        assert not second.acquire("shop")
        assert second.acquire("other shop")
        first.release("shop")
        assert second.acquire("shop")
        # A worker that dies (its session ends) releases its locks (once its server process has exited).
        second.close()
        deadline = time.monotonic() + 10
        while not first.acquire("shop") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert first.acquire("other shop")
        # Locks live outside transactions: a rollback keeps them.
        first.rollback()
        assert not second.acquire("shop")
    finally:
        first.close()
        second.close()
    first.release("shop")  # after close: nothing to do, no error


# -- errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "expected", "retryable"), [
    (psycopg.errors.DiskFull, DestinationFull, False),
    (psycopg.errors.OutOfMemory, DestinationOutOfMemory, False),
    (psycopg.errors.InsufficientPrivilege, DestinationPermissionError, False),
    (psycopg.errors.LockNotAvailable, DestinationLocked, True),
    (psycopg.errors.DeadlockDetected, DestinationLocked, True),
    (psycopg.errors.AdminShutdown, DestinationUnavailable, True),
    (psycopg.errors.TooManyConnections, DestinationUnavailable, True),
    (psycopg.errors.InvalidPassword, DestinationPermissionError, False),
    (psycopg.errors.IoError, DestinationError, False),
    (psycopg.errors.ProgramLimitExceeded, DestinationError, False),
    (psycopg.OperationalError, DestinationUnavailable, True),
])
def test_environment_errors_are_typed(error: type[psycopg.Error], expected: type[DestinationError],
                                      retryable: bool) -> None:
    typed = environment_error(error("the reason"), "PostgreSQL u@h:5432/db")
    assert type(typed) is expected
    assert typed.retryable is retryable
    assert "PostgreSQL u@h:5432/db" in typed.message and "the reason" in typed.message


@pytest.mark.parametrize("error", [psycopg.errors.UndefinedTable, psycopg.errors.SyntaxError,
                                   psycopg.errors.NumericValueOutOfRange, psycopg.errors.UniqueViolation,
                                   psycopg.ProgrammingError, ValueError])
def test_anything_else_is_a_bug(error: type[Exception]) -> None:
    assert environment_error(error("x"), "PostgreSQL") is None


def test_an_unreachable_server_is_unavailable_and_retryable(pg_server: Any) -> None:
    from pg_server import free_port

    destination = PostgresDestination(f"host=127.0.0.1 port={free_port()} user=postgres password=s3cret dbname=db",
                                      schema_default="tester", connect_timeout=3)
    with pytest.raises(DestinationUnavailable) as caught:
        destination.open()
    assert caught.value.retryable
    assert "PostgreSQL postgres@127.0.0.1" in caught.value.message
    assert "s3cret" not in caught.value.message
    destination.close()  # never connected: nothing to do, no error


def test_a_missing_database_is_a_plain_destination_error(pg_server: Any) -> None:
    destination = PostgresDestination(pg_server.dsn("no_such_database"), schema_default="tester")
    with pytest.raises(DestinationError, match="does not exist") as caught:
        destination.open()
    assert not caught.value.retryable


def test_a_lost_connection_is_unavailable_and_close_does_not_raise(destination: PostgresDestination,
                                                                   pg: Reader) -> None:
    ref = create(destination, "t", [("id", LONG)])
    destination.commit()
    pid = destination._connect().info.backend_pid
    pg.sql("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(DestinationUnavailable) as caught:
        destination.upsert(ref, Batch(["id"], [LONG], [[1]]), synced=T0)
    assert caught.value.retryable
    destination.rollback()
    destination.close()


def test_a_locked_table_is_destination_locked(pg_dsn: str, pg: Reader) -> None:
    destination = PostgresDestination(pg_dsn, schema_default="tester", lock_timeout=0.2)
    try:
        ref = create(destination, "t", [("id", LONG)])
        destination.commit()
        with psycopg.connect(pg_dsn) as other:
            other.execute("LOCK TABLE tester.t IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(DestinationLocked, match="locked by another session") as caught:
                destination.upsert(ref, Batch(["id"], [LONG], [[1]]), synced=T0)
            assert caught.value.retryable
            destination.rollback()
    finally:
        destination.close()


def test_no_permission_is_a_permission_error(pg_dsn: str, pg: Reader) -> None:
    pg.sql("CREATE SCHEMA tester")
    pg.sql("CREATE TABLE tester.t (id bigint PRIMARY KEY, _fivetran_synced timestamptz, _fivetran_deleted boolean)")
    pg.sql("CREATE ROLE reader LOGIN")
    pg.sql("GRANT USAGE ON SCHEMA tester TO reader")
    destination = PostgresDestination(pg_dsn.replace("user=postgres", "user=reader"), schema_default="tester")
    try:
        (info,) = destination.tables()
        with pytest.raises(DestinationPermissionError, match="permission denied") as caught:
            destination.upsert(info.ref, Batch(["id"], [LONG], [[1]]), synced=T0)
        assert not caught.value.retryable
    finally:
        destination.close()


def test_a_nul_character_is_a_clear_error(destination: PostgresDestination) -> None:
    ref = create(destination, "t", [("id", LONG), ("s", STRING), ("j", JSON)])
    destination.commit()
    with pytest.raises(DestinationError, match="U\\+0000") as caught:
        destination.upsert(ref, Batch(["id", "s"], [LONG, STRING], [[1], ["a\x00b"]]), synced=T0)
    assert not caught.value.retryable
    destination.rollback()
    with pytest.raises(DestinationError, match="U\\+0000"):
        destination.upsert(ref, Batch(["id", "j"], [LONG, JSON], [[1], ['"a\\u0000b"']]), synced=T0)


def test_a_key_too_long_for_the_index_is_a_clear_error(destination: PostgresDestination) -> None:
    ref = create(destination, "t", [("id", STRING)])
    key = base64.b64encode(random.Random(3).randbytes(30_000)).decode()  # incompressible: ~40 kB in the index
    with pytest.raises(DestinationError, match="limit was exceeded") as caught:
        destination.upsert(ref, Batch(["id"], [STRING], [[key]]), synced=T0)
    assert type(caught.value) is DestinationError and not caught.value.retryable


def test_a_bug_is_raised_as_is(destination: PostgresDestination) -> None:
    with pytest.raises(psycopg.errors.UndefinedTable):
        destination.upsert(TableRef("tester", "never_created", ("id",)), Batch(["id"], [LONG], [[1]]), synced=T0)
