"""Column types through real syncs: inference, widening in call order, within a batch, across commit
points and across runs (TYPES-24 to TYPES-29, SEM-40 to SEM-44, SEM-70).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import pytest

from engine_helpers import Target, duckdb_only
from headwater import Operations as op

pytest_plugins = ["destinations.plugin"]

UTC = dt.timezone.utc


def keyed(*tables: str, columns: dict[str, Any] | None = None) -> Any:
    def schema(configuration: Any) -> Any:
        entries = []
        for table in tables:
            entry: dict[str, Any] = {"table": table, "primary_key": ["id"]}
            if columns is not None:
                entry["columns"] = columns
            entries.append(entry)
        return entries

    return schema


def type_of(target: Target, column: str, table: str = "t", schema: str = "tester") -> str:
    return target.type_of(column, table, schema)


def values(target: Target, column: str = "v", table: str = "t") -> list[Any]:
    return target.values(table, column, order_by="id")


def write_values(*vals: Any, checkpoints: bool = False, column: str = "v", start: int = 0) -> Any:
    """An update() that upserts ``{"id": start + i, column: value}`` for each value, in order."""

    def update(configuration: Any, state: Any) -> None:
        for i, value in enumerate(vals):
            op.upsert("t", {"id": start + i, column: value})
            if checkpoints:
                op.checkpoint({"i": i})

    return update


def run_ok(target: Target, update: Any, schema: Any = None, **kwargs: Any) -> Any:
    run = target.sync(update, schema=schema if schema is not None else keyed("t"), **kwargs)
    assert run.succeeded, run.err
    return run


# ---------------------------------------------------------------------------------------------
# widening follows call order (TYPES-25 to TYPES-28)


def test_widening_within_one_batch_follows_call_order(target: Target) -> None:
    run = run_ok(target, write_values(1, 2.5, "x"))
    assert type_of(target, "v") == "STRING"
    assert values(target) == ["1.0", "2.5", "x"]
    assert run.counters.schema_changes == 3  # table created, INT -> DOUBLE, DOUBLE -> STRING


def test_widening_across_commit_points_follows_call_order(target: Target) -> None:
    run = run_ok(target, write_values(1, 2.5, "x", checkpoints=True))
    assert values(target) == ["1.0", "2.5", "x"]
    assert run.counters.schema_changes == 3


def test_widening_across_runs_starts_from_the_warehouse_types(target: Target) -> None:
    first = run_ok(target, write_values(1))
    assert type_of(target, "v") == "INT" and first.counters.schema_changes == 1
    second = run_ok(target, write_values(2.5, start=1))
    assert type_of(target, "v") == "DOUBLE" and second.counters.schema_changes == 1
    third = run_ok(target, write_values("x", start=2))
    assert type_of(target, "v") == "STRING" and third.counters.schema_changes == 1
    assert values(target) == ["1.0", "2.5", "x"]


def test_string_first_then_numbers_stays_string(target: Target) -> None:
    run = run_ok(target, write_values("x", 1, 2.5, True))
    assert values(target) == ["x", "1", "2.5", "true"]
    assert run.counters.schema_changes == 1


def test_null_values_create_no_column_until_a_value_arrives(target: Target) -> None:
    run_ok(target, write_values(None, None))
    assert "v" not in dict(target.column_types("t"))
    run = run_ok(target, write_values(None, 2.5, start=2))
    assert type_of(target, "v") == "DOUBLE"
    assert values(target) == [None, None, None, 2.5]
    assert run.counters.schema_changes == 1


def test_big_int_widens_int_to_long(target: Target) -> None:
    big = 2**40
    run = run_ok(target, write_values(1, big, -5))
    assert type_of(target, "v") == "LONG"
    assert values(target) == [1, big, -5]
    assert run.counters.schema_changes == 2
    run_ok(target, write_values(7, start=3))
    assert type_of(target, "v") == "LONG"


def test_big_int_in_a_later_run_widens_int_to_long(target: Target) -> None:
    run_ok(target, write_values(1, 2))
    run = run_ok(target, write_values(-(2**63), start=2))
    assert type_of(target, "v") == "LONG"
    assert values(target) == [1, 2, -(2**63)]
    assert run.counters.schema_changes == 1


def test_int_beyond_long_widens_to_decimal_then_to_string(target: Target) -> None:
    run_ok(target, write_values(1, 2**40, 2**70))
    assert type_of(target, "v") == "DECIMAL(22,0)"
    assert values(target) == [Decimal(1), Decimal(2**40), Decimal(2**70)]
    run_ok(target, write_values("x", start=3))
    assert type_of(target, "v") == "STRING"
    assert values(target) == ["1", str(2**40), str(2**70), "x"]


HUGE_NUMBERS = [10**40, -(10**39), Decimal("1" * 39), Decimal("1E+40"), Decimal("0." + "1" * 39)]


@pytest.mark.parametrize("huge", HUGE_NUMBERS, ids=["int_41_digits", "negative_int", "decimal_39_digits",
                                                    "decimal_exponent", "decimal_39_fraction_digits"])
def test_number_too_wide_for_decimal_is_stored_as_its_text(target: Target, huge: Any) -> None:
    run_ok(target, write_values(huge))
    assert type_of(target, "v") == "STRING"
    assert values(target) == [format(huge, "f") if isinstance(huge, Decimal) else str(huge)]


def test_int_too_wide_for_decimal_widens_an_existing_column_to_string(target: Target) -> None:
    run_ok(target, write_values(1, 2**70))
    run_ok(target, write_values(10**40, start=2))
    assert type_of(target, "v") == "STRING"
    assert values(target) == ["1", str(2**70), str(10**40)]


def test_int_and_decimal_join_to_decimal(target: Target) -> None:
    run = run_ok(target, write_values(5, Decimal("1.25")))
    assert type_of(target, "v") == "DECIMAL(12,2)"
    assert values(target) == [Decimal("5.00"), Decimal("1.25")]
    assert run.counters.schema_changes == 2


def test_decimal_grows_integer_digits_and_scale(target: Target) -> None:
    run_ok(target, write_values(Decimal("1.5"), Decimal("123.25"), Decimal("0.001")))
    assert type_of(target, "v") == "DECIMAL(6,3)"
    assert values(target) == [Decimal("1.500"), Decimal("123.250"), Decimal("0.001")]
    run = run_ok(target, write_values(Decimal("12345.1"), start=3))
    assert type_of(target, "v") == "DECIMAL(8,3)"
    assert values(target)[3] == Decimal("12345.100")
    assert run.counters.schema_changes == 1


def test_decimal_growth_beyond_38_digits_becomes_string(target: Target) -> None:
    tiny = Decimal("0." + "1" * 20)  # DECIMAL(20,20)
    run_ok(target, write_values(2**40))
    run = run_ok(target, write_values(tiny, start=1))
    assert type_of(target, "v") == "STRING"  # join(LONG, DECIMAL(20,20)) needs 39 digits
    assert values(target) == [str(2**40), "0." + "1" * 20]
    assert run.counters.schema_changes == 1


def test_decimal_and_float_join_to_double(target: Target) -> None:
    run_ok(target, write_values(Decimal("1.25")))
    run_ok(target, write_values(0.5, start=1))
    assert type_of(target, "v") == "DOUBLE"
    assert values(target) == [1.25, 0.5]


def test_stored_decimal_becomes_text_with_its_scale(target: Target) -> None:
    run_ok(target, write_values(Decimal("1.5"), Decimal("10.25")))
    run_ok(target, write_values("x", start=2))
    assert values(target) == ["1.50", "10.25", "x"]


FLOATS = [2.5, math.nan, math.inf, -math.inf, 1e16, 1e-05, 0.1, 100.0, -0.0, 1e22, 123456789.125]
FLOAT_TEXTS = ["2.5", "NaN", "Infinity", "-Infinity", "1e+16", "1e-05", "0.1", "100.0", "-0.0", "1e+22",
               "123456789.125"]


def test_double_to_string_in_one_batch_uses_the_text_form(target: Target) -> None:
    run_ok(target, write_values(*FLOATS, "x"))
    assert values(target) == [*FLOAT_TEXTS, "x"]


def test_stored_double_to_string_in_a_later_run_uses_the_text_form(target: Target) -> None:
    run_ok(target, write_values(*FLOATS))
    assert type_of(target, "v") == "DOUBLE"
    run_ok(target, write_values("x", start=len(FLOATS)))
    assert values(target) == [*FLOAT_TEXTS, "x"]


def test_nan_in_an_undeclared_column_is_a_double_not_null(target: Target) -> None:
    run_ok(target, write_values(math.nan, 1))
    assert type_of(target, "v") == "DOUBLE"
    stored = values(target)
    assert math.isnan(stored[0]) and stored[1] == 1.0


def test_int_then_float_in_one_batch_stores_exact_doubles(target: Target) -> None:
    run_ok(target, write_values(2**40 + 1, 0.5))
    assert type_of(target, "v") == "DOUBLE"
    assert values(target) == [float(2**40 + 1), 0.5]


# temporal family


def test_date_then_naive_datetime_widens_to_timestamp_with_midnight(target: Target) -> None:
    run = run_ok(target, write_values(dt.date(2024, 1, 2), dt.datetime(2024, 1, 3, 4, 5, 6)))
    assert type_of(target, "v") == "NAIVE_DATETIME"
    assert values(target) == [dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 3, 4, 5, 6)]
    assert run.counters.schema_changes == 2


def test_date_timestamp_timestamptz_across_runs(target: Target) -> None:
    run_ok(target, write_values(dt.date(2024, 1, 2)))
    assert type_of(target, "v") == "NAIVE_DATE"
    run_ok(target, write_values(dt.datetime(2024, 1, 3, 4, 5, 6, 789), start=1))
    assert type_of(target, "v") == "NAIVE_DATETIME"
    plus2 = dt.timezone(dt.timedelta(hours=2))
    run = run_ok(target, write_values(dt.datetime(2024, 1, 4, 12, 0, tzinfo=plus2), start=2))
    assert type_of(target, "v") == "UTC_DATETIME"
    assert run.counters.schema_changes == 1
    assert values(target) == [
        dt.datetime(2024, 1, 2, tzinfo=UTC),
        dt.datetime(2024, 1, 3, 4, 5, 6, 789, tzinfo=UTC),  # the same wall clock, read as UTC
        dt.datetime(2024, 1, 4, 10, 0, tzinfo=UTC),
    ]


def test_date_straight_to_timestamptz_in_one_batch(target: Target) -> None:
    run_ok(target, write_values(dt.date(2024, 1, 2), dt.datetime(2024, 1, 3, tzinfo=UTC)))
    assert type_of(target, "v") == "UTC_DATETIME"
    assert values(target) == [dt.datetime(2024, 1, 2, tzinfo=UTC), dt.datetime(2024, 1, 3, tzinfo=UTC)]


def test_naive_and_aware_datetimes_in_one_batch_widen_in_call_order(target: Target) -> None:
    run = run_ok(target, write_values(dt.datetime(2024, 5, 1, 8, 0), dt.datetime(2024, 5, 1, 8, 0, tzinfo=UTC)))
    assert type_of(target, "v") == "UTC_DATETIME"
    assert values(target) == [dt.datetime(2024, 5, 1, 8, 0, tzinfo=UTC)] * 2
    assert run.counters.schema_changes == 2


@pytest.mark.parametrize("split", [False, True], ids=["one_batch", "two_runs"])
def test_temporal_values_become_their_text_forms(target: Target, split: bool) -> None:
    temporal = [
        dt.date(2024, 1, 2),
        dt.datetime(2024, 1, 3, 4, 5, 6),
        dt.datetime(2024, 1, 3, 4, 5, 6, 123000),
    ]
    if split:
        run_ok(target, write_values(*temporal))
        run_ok(target, write_values("x", start=3))
    else:
        run_ok(target, write_values(*temporal, "x"))
    assert values(target) == ["2024-01-02T00:00:00", "2024-01-03T04:05:06", "2024-01-03T04:05:06.123000", "x"]


@pytest.mark.parametrize("split", [False, True], ids=["one_batch", "two_runs"])
def test_timestamptz_text_form_is_utc_with_z(target: Target, split: bool) -> None:
    minus5 = dt.timezone(dt.timedelta(hours=-5))
    aware = dt.datetime(2007, 12, 3, 10, 15, 30, 123000, tzinfo=minus5)
    if split:
        run_ok(target, write_values(aware))
        run_ok(target, write_values(7, start=1))
    else:
        run_ok(target, write_values(aware, 7))
    assert values(target) == ["2007-12-03T15:15:30.123000Z", "7"]


def test_date_and_string_give_the_date_text(target: Target) -> None:
    run_ok(target, write_values(dt.date(2024, 1, 2)))
    run_ok(target, write_values("x", start=1))
    assert values(target) == ["2024-01-02", "x"]


# everything else is STRING


@pytest.mark.parametrize("split", [False, True], ids=["one_batch", "two_runs"])
def test_boolean_and_int_become_string(target: Target, split: bool) -> None:
    if split:
        run_ok(target, write_values(True, False))
        run_ok(target, write_values(1, start=2))
    else:
        run_ok(target, write_values(True, False, 1))
    assert type_of(target, "v") == "STRING"
    assert values(target) == ["true", "false", "1"]


@pytest.mark.parametrize("split", [False, True], ids=["one_batch", "two_runs"])
def test_json_and_string_become_string(target: Target, split: bool) -> None:
    doc = {"a": 10, "b": [1, 2.5, None], "é": True}
    if split:
        run_ok(target, write_values(doc, [1, "two"]))
        assert type_of(target, "v") == "JSON"
        run_ok(target, write_values("plain", start=2))
    else:
        run_ok(target, write_values(doc, [1, "two"], "plain"))
    assert type_of(target, "v") == "STRING"
    assert values(target) == ['{"a": 10, "b": [1, 2.5, null], "é": true}', '[1, "two"]', "plain"]


@pytest.mark.parametrize("split", [False, True], ids=["one_batch", "two_runs"])
def test_binary_and_int_become_base64_string(target: Target, split: bool) -> None:
    if split:
        run_ok(target, write_values(b"\x00\x01\x02\x03"))
        run_ok(target, write_values(5, start=1))
    else:
        run_ok(target, write_values(b"\x00\x01\x02\x03", 5))
    assert values(target) == ["AAECAw==", "5"]


def test_temporal_and_number_become_string(target: Target) -> None:
    run_ok(target, write_values(dt.date(2024, 1, 2), 5))
    assert values(target) == ["2024-01-02", "5"]


def test_update_widens_an_existing_column(target: Target) -> None:
    run_ok(target, write_values(1, 2))

    def update(configuration: Any, state: Any) -> None:
        op.update("t", {"id": 1, "v": 2.5})
        op.update("t", {"id": 0, "v": "x"})

    run = run_ok(target, update)
    assert values(target) == ["x", "2.5"]
    assert run.counters.schema_changes == 2


# ---------------------------------------------------------------------------------------------
# keys widen like other inferred columns (TYPES-29)


def test_later_string_key_replaces_the_row_stored_with_the_int_key(target: Target) -> None:
    run_ok(target, write_values("one", "two", column="name"))  # ids 0 and 1, INT key
    assert type_of(target, "id") == "INT"

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": "a", "name": "letter"})   # the key column becomes STRING
        op.upsert("t", {"id": "1", "name": "replaced"})  # matches the row stored with key 1

    run_ok(target, update)
    assert type_of(target, "id") == "STRING"
    assert target.rows("t", "id, name", order_by="id") == [
        ("0", "one"), ("1", "replaced"), ("a", "letter")]


def test_key_widening_within_one_batch_replaces_the_same_row(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "name": "int"})
        op.upsert("t", {"id": "a", "name": "letter"})
        op.upsert("t", {"id": "1", "name": "string"})
        op.update("t", {"id": "a", "name": "updated"})

    run_ok(target, update)
    assert target.rows("t", "id, name", order_by="id") == [("1", "string"), ("a", "updated")]


def test_float_key_matches_the_row_stored_with_the_same_int_key(target: Target) -> None:
    run_ok(target, write_values("one", "two", column="name"))
    run_ok(target, lambda configuration, state: op.upsert("t", {"id": 1.0, "name": "float"}))
    assert type_of(target, "id") == "DOUBLE"
    assert target.rows("t", "id, name", order_by="id") == [(0.0, "one"), (1.0, "float")]


def test_update_and_delete_with_string_key_find_rows_after_key_became_string(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "name": "one"})
        op.upsert("t", {"id": 2, "name": "two"})
        op.checkpoint({})
        op.upsert("t", {"id": "x", "name": "ex"})
        op.checkpoint({})
        op.update("t", {"id": "1", "name": "updated"})
        op.delete("t", {"id": 2})

    run_ok(target, update)
    assert target.rows("t", "id, name, _fivetran_deleted", order_by="id") == [
        ("1", "updated", False), ("2", "two", True), ("x", "ex", False)]


def test_keyless_undeclared_column_widening_keeps_ids_of_own_inferred_type(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("log", {"v": 1})
        op.upsert("log", {"v": 2.5})
        op.upsert("log", {"v": 1})  # same row as the first: its id is from the int's own text "1"

    run = target.sync(update)
    assert run.succeeded, run.err
    assert target.rows("log", "v", order_by="v") == [(1.0,), (2.5,)]


# ---------------------------------------------------------------------------------------------
# declared types (TYPES-29, SEM-43)


def test_declared_columns_never_widen_and_refuse_bad_values(target: Target) -> None:
    messages: list[str] = []

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "n": "42"})
        try:
            op.upsert("t", {"id": 2, "n": "x"})
        except ValueError as exc:
            messages.append(str(exc))

    run = run_ok(target, update, schema=keyed("t", columns={"n": "INT"}))
    assert type_of(target, "n") == "INT"
    assert target.rows("t", "id, n") == [(1, 42)]
    assert len(messages) == 1 and "cannot convert" in messages[0].lower() and "n" in messages[0]
    assert run.counters.upserts == 1


@pytest.mark.parametrize(
    ("declared", "stored_type", "stored"),
    [
        ("LONG", "LONG", 5),
        ("DOUBLE", "DOUBLE", 5.0),
        ("STRING", "STRING", "5"),
        ({"type": "DECIMAL", "precision": 12, "scale": 2}, "DECIMAL(12,2)", Decimal("5.00")),
    ],
    ids=["long", "double", "string", "decimal"],
)
def test_declared_type_widens_an_existing_inferred_column(
    target: Target, declared: Any, stored_type: str, stored: Any
) -> None:
    run_ok(target, write_values(5))
    seen: list[str] = []

    def update(configuration: Any, state: Any) -> None:
        seen.append("called")

    run = run_ok(target, update, schema=keyed("t", columns={"v": declared}))
    assert seen == ["called"]
    assert type_of(target, "v") == stored_type
    assert values(target) == [stored]
    assert run.counters.schema_changes == 1


@pytest.mark.parametrize(
    ("first", "declared"),
    [
        ("text", "INT"),
        (2**40, "INT"),
        (2.5, "FLOAT"),
        (5, {"type": "DECIMAL", "precision": 5, "scale": 2}),
        (5, "BOOLEAN"),
        (dt.datetime(2024, 1, 1), "NAIVE_DATE"),
    ],
    ids=["string_to_int", "long_to_int", "double_to_float", "int_to_small_decimal", "int_to_boolean",
         "timestamp_to_date"],
)
def test_declared_type_that_cannot_replace_the_column_fails_before_update(
    target: Target, first: Any, declared: Any
) -> None:
    run_ok(target, write_values(first))
    before_types = target.column_types("t")
    before_rows = target.rows("t")
    seen: list[str] = []

    def update(configuration: Any, state: Any) -> None:
        seen.append("called")

    run = target.sync(update, schema=keyed("t", columns={"v": declared}))
    assert not run.succeeded and run.report.exit_code == 1
    assert seen == []
    assert "cannot change type" in (run.error or "").lower() and "'v'" in (run.error or "")
    assert run.err.startswith("error: ")
    assert "Sync FAILED" in run.out
    assert target.column_types("t") == before_types
    assert target.rows("t") == before_rows


def test_declaring_xml_for_a_string_column_is_no_change(target: Target) -> None:
    run_ok(target, write_values("text"))
    run = run_ok(target, lambda configuration, state: None, schema=keyed("t", columns={"v": "XML"}))
    assert type_of(target, "v") == "STRING"
    assert run.counters.schema_changes == 0


def test_declared_type_change_is_rolled_back_when_update_fails_before_a_commit(target: Target) -> None:
    run_ok(target, write_values(5))

    def update(configuration: Any, state: Any) -> None:
        raise RuntimeError("fails at once")

    run = target.sync(update, schema=keyed("t", columns={"v": "LONG", "added": "STRING"}))
    assert not run.succeeded
    assert target.column_types("t")[:2] == [("id", "INT"), ("v", "INT")]
    assert "added" not in dict(target.column_types("t"))
    assert run.counters.schema_changes == 2  # made, then rolled back (SEM-70)


def test_columns_declared_in_a_later_run_come_before_new_data_columns(target: Target) -> None:
    run_ok(target, write_values("x"))

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 5, "from_data": 1, "declared_b": "b"})

    run = run_ok(target, update, schema=keyed("t", columns={"declared_b": "STRING", "declared_a": "LONG"}))
    assert target.column_types("t") == [
        ("id", "INT"), ("v", "STRING"), ("_fivetran_synced", "UTC_DATETIME"),
        ("_fivetran_deleted", "BOOLEAN"), ("declared_b", "STRING"), ("declared_a", "LONG"),
        ("from_data", "INT")]
    assert run.counters.schema_changes == 3


# ---------------------------------------------------------------------------------------------
# SEM-42: the next run starts from the stored column types


@pytest.mark.parametrize("later", [7, 100_000], ids=["small_int", "big_int"])
def test_declared_short_column_widens_to_int_when_undeclared_later(target: Target, later: int) -> None:
    run_ok(target, write_values(5), schema=keyed("t", columns={"v": "SHORT"}))
    assert type_of(target, "v") == "SHORT"
    run = run_ok(target, write_values(later, start=1))  # an int infers INT, never SHORT (TYPES-21)
    assert type_of(target, "v") == "INT"
    assert values(target) == [5, later]
    assert run.counters.schema_changes == 1


def test_declared_short_column_keeps_its_type_while_declared(target: Target) -> None:
    run_ok(target, write_values(5), schema=keyed("t", columns={"v": "SHORT"}))
    run = run_ok(target, write_values(7, start=1), schema=keyed("t", columns={"v": "SHORT"}))
    assert type_of(target, "v") == "SHORT"
    assert run.counters.schema_changes == 0


def test_stored_float32_becomes_its_shortest_text(target: Target) -> None:
    run_ok(target, write_values(10.4, 0.1), schema=keyed("t", columns={"v": "FLOAT"}))
    assert type_of(target, "v") == "FLOAT"
    run_ok(target, write_values("x", start=2))
    assert values(target) == ["10.4", "0.1", "x"]


def test_stored_float32_and_int_join_to_double(target: Target) -> None:
    run_ok(target, write_values(10.4), schema=keyed("t", columns={"v": "FLOAT"}))
    run_ok(target, write_values(3, start=1))
    assert type_of(target, "v") == "DOUBLE"
    assert values(target) == [10.399999618530273, 3.0]


def test_declared_xml_column_is_a_string_column_in_a_later_run(target: Target) -> None:
    run_ok(target, write_values("<a/>"), schema=keyed("t", columns={"v": "XML"}))
    run = run_ok(target, write_values(5, start=1))
    assert type_of(target, "v") == "STRING"
    assert values(target) == ["<a/>", "5"]
    assert run.counters.schema_changes == 0


# ---------------------------------------------------------------------------------------------
# primary key changes (SEM-14, SEM-44)


@pytest.mark.parametrize(
    "new_key",
    [["id", "region"], ["region"], [], ["ID"]],
    ids=["more_columns", "other_column", "keyless", "same_name_other_case"],
)
def test_changed_primary_key_fails_before_update(target: Target, new_key: list[str]) -> None:
    def first(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "region": "eu"})

    run_ok(target, first)
    seen: list[str] = []

    def schema(configuration: Any) -> Any:
        return [{"table": "t", "primary_key": new_key}]

    def update(configuration: Any, state: Any) -> None:
        seen.append("called")

    run = target.sync(update, schema=schema, naming="SOURCE")
    if new_key == ["ID"]:
        # Both destinations fold identifiers with fold_ascii: "ID" is the same column (NAME-22).
        assert run.succeeded, run.err
        return
    assert not run.succeeded and run.report.exit_code == 1
    assert seen == []
    message = (run.error or "").lower()
    assert "primary key changed" in message and "headwater reset" in message


def test_keyless_table_declared_with_a_key_later_fails(target: Target) -> None:
    run_ok(target, lambda configuration, state: op.upsert("t", {"id": 1}), schema=lambda configuration: [])
    run = target.sync(lambda configuration, state: None, schema=keyed("t"))
    assert not run.succeeded
    assert "primary key changed" in (run.error or "").lower()


def test_composite_key_in_another_order_is_a_changed_key(target: Target) -> None:
    def schema_ab(configuration: Any) -> Any:
        return [{"table": "t", "primary_key": ["a", "b"]}]

    def schema_ba(configuration: Any) -> Any:
        return [{"table": "t", "primary_key": ["b", "a"]}]

    run_ok(target, lambda configuration, state: op.upsert("t", {"a": 1, "b": 2}), schema=schema_ab)
    run = target.sync(lambda configuration, state: None, schema=schema_ba)
    assert not run.succeeded
    assert "primary key changed" in (run.error or "").lower()


def test_undeclared_existing_table_keeps_its_primary_key(target: Target) -> None:
    run_ok(target, write_values("a", column="name"))
    run = target.sync(lambda configuration, state: op.upsert("t", {"id": 0, "name": "replaced"}))
    assert run.succeeded, run.err
    assert target.rows("t", "id, name") == [(0, "replaced")]
    assert "_fivetran_id" not in dict(target.column_types("t"))


# ---------------------------------------------------------------------------------------------
# column order (SEM-40, SEM-41) and SchemaChanges (SEM-70)


def test_column_order_of_a_created_table_follows_sem_41(target: Target) -> None:
    def schema(configuration: Any) -> Any:
        return [{"table": "t", "primary_key": ["id"], "columns": {"id": "INT", "name": "STRING"}}]

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "name": "a", "extra": 2.5})
        op.upsert("t", {"id": 2, "note": "n"})

    run = run_ok(target, update, schema=schema)
    assert [c for c, _ in target.column_types("t")] == [
        "id", "name", "extra", "_fivetran_synced", "_fivetran_deleted", "note"]
    assert run.counters.schema_changes == 2


def test_undeclared_key_and_declared_columns_come_first_and_nulls_come_later(target: Target) -> None:
    def schema(configuration: Any) -> Any:
        return [{"table": "t", "primary_key": ["k"], "columns": {"typed": "LONG"}}]

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"first": "f", "empty": None, "k": "key1", "second": 2})
        op.upsert("t", {"k": "key2", "empty": True, "third": 3.5})

    run_ok(target, update, schema=schema)
    assert target.column_types("t") == [
        ("k", "STRING"), ("typed", "LONG"), ("first", "STRING"), ("second", "INT"),
        ("_fivetran_synced", "UTC_DATETIME"), ("_fivetran_deleted", "BOOLEAN"),
        ("empty", "BOOLEAN"), ("third", "DOUBLE")]


def test_schema_changes_count_tables_columns_and_each_widening_step(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("a", {"id": 1, "x": 1, "y": "s", "z": True})  # table created with 4 columns: 1
        op.upsert("a", {"id": 2, "x": 2.5})                   # x INT -> DOUBLE: 1
        op.upsert("a", {"id": 3, "w": 1})                     # w added: 1
        op.checkpoint({})
        op.upsert("a", {"id": 4, "w": 2**40})                 # w INT -> LONG: 1
        op.upsert("a", {"id": 5, "w": 0.5})                   # w LONG -> DOUBLE: 1
        op.upsert("a", {"id": 6, "w": "t"})                   # w DOUBLE -> STRING: 1
        op.upsert("b", {"k": 1})                               # keyless table created: 1
        op.upsert("b", {"k": 2, "n": 1})                      # n added: 1
        op.upsert("b", {"k": 3, "n": "x"})                    # n INT -> STRING: 1
        op.upsert("b", {"k": 4, "n": 5})                      # no change

    run = run_ok(target, update, schema=keyed("a"))
    assert run.counters.schema_changes == 9
    assert f"SchemaChanges | {run.counters.schema_changes}\n" in run.out


def test_declared_empty_table_counts_its_creation_and_its_later_key_column(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.checkpoint({})                 # the declared table is created here, without columns: 1
        op.upsert("t", {"id": 1})         # the untyped key column is added: 1

    run = run_ok(target, update)
    assert run.counters.schema_changes == 2
    assert [c for c, _ in target.column_types("t")] == ["_fivetran_synced", "_fivetran_deleted", "id"]


# ---------------------------------------------------------------------------------------------
# how each declared type is stored


ALL_TYPES: dict[str, Any] = {
    "id": "INT", "b": "BOOLEAN", "s": "SHORT", "i": "INT", "l": "LONG",
    "d": {"type": "DECIMAL", "precision": 12, "scale": 2}, "f": "FLOAT", "x": "DOUBLE", "nd": "NAIVE_DATE",
    "ndt": "NAIVE_DATETIME", "u": "UTC_DATETIME", "bin": "BINARY", "xml": "XML", "str": "STRING", "j": "JSON",
}


def test_every_declared_type_reads_back_as_declared(target: Target) -> None:
    run_ok(target, lambda configuration, state: None, schema=keyed("t", columns=ALL_TYPES))
    expected = [(name, target.stored_type("DECIMAL(12,2)" if isinstance(t, dict) else t))
                for name, t in ALL_TYPES.items()]
    assert target.column_types("t") == [*expected, ("_fivetran_synced", "UTC_DATETIME"),
                                        ("_fivetran_deleted", "BOOLEAN")]


@duckdb_only
def test_duckdb_spells_each_headwater_type_as_its_sql_type(target: Target) -> None:
    # The other tests compare headwater type names (DuckDB's types read back with from_duckdb); this one
    # pins the DuckDB column types themselves, as information_schema spells them.
    def update(configuration: Any, state: Any) -> None:
        op.upsert("log", {"v": 2**70})

    run_ok(target, update, schema=keyed("t", columns=ALL_TYPES))
    assert target.sql_column_types("t") == [
        ("id", "INTEGER"), ("b", "BOOLEAN"), ("s", "SMALLINT"), ("i", "INTEGER"), ("l", "BIGINT"),
        ("d", "DECIMAL(12,2)"), ("f", "FLOAT"), ("x", "DOUBLE"), ("nd", "DATE"), ("ndt", "TIMESTAMP"),
        ("u", "TIMESTAMP WITH TIME ZONE"), ("bin", "BLOB"), ("xml", "VARCHAR"), ("str", "VARCHAR"), ("j", "JSON"),
        ("_fivetran_synced", "TIMESTAMP WITH TIME ZONE"), ("_fivetran_deleted", "BOOLEAN")]
    assert target.sql_column_types("log") == [
        ("v", "DECIMAL(22,0)"), ("_fivetran_id", "VARCHAR"), ("_fivetran_synced", "TIMESTAMP WITH TIME ZONE"),
        ("_fivetran_deleted", "BOOLEAN")]
