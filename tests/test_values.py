"""Tests for headwater.values: value kinds, inference, text form, declared conversions, JSON text,
widening conversions and _fivetran_id (spec: data-types.md TYPES-20 to TYPES-41, semantics.md SEM-12).
"""

from __future__ import annotations

import contextlib
import decimal as decimal_module
import doctest
import enum
import importlib
import math
import pkgutil
import struct
import sys
import time as time_module
import tracemalloc
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from datetime import tzinfo as tzinfo_base
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import headwater.values
from headwater import types, values
from headwater.destinations.duckdb import duckdb_type as duckdb_column_type
from headwater.errors import OperationTypeError, OperationValueError
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
    join,
)
from headwater.values import (
    JsonText,
    coerce,
    convert_stored,
    converter,
    fivetran_id,
    infer,
    json_text,
    normalize,
    parse_temporal,
    text_form,
)

UTC = timezone.utc
SIMPLE_TYPES = [BOOLEAN, SHORT, INT, LONG, FLOAT, DOUBLE, NAIVE_DATE, NAIVE_DATETIME, UTC_DATETIME,
                BINARY, XML, STRING, JSON]
ALL_DECLARED = [*SIMPLE_TYPES, decimal(10, 2)]


def conv(value: Any, declared: DataType) -> Any:
    return coerce(value, declared, table="t", column="c")


def norm(value: Any) -> Any:
    return normalize(value, table="t", column="c")


def infer_raw(value: Any) -> DataType | None:
    return infer(norm(value))


def float32(value: float) -> float:
    result: float = struct.unpack("f", struct.pack("f", value))[0]
    return result


class ScalarLike:
    """Stands in for a NumPy scalar: not an int/bool subclass, but has item()."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def item(self) -> Any:
        return self.value

    def __repr__(self) -> str:
        return f"ScalarLike({self.value!r})"


class BrokenItem:
    def item(self) -> Any:
        raise ValueError("can only convert an array of size 1 to a Python scalar")


class Color(enum.IntEnum):
    RED = 1


class Mood(str, enum.Enum):
    HAPPY = "happy"


class MyFloat(float):
    def __repr__(self) -> str:
        return "MyFloat!"


class MyDatetime(datetime):
    pass


# --------------------------------------------------------------------------------------------
# TYPES-20: value kinds, normalize
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -5, 2.5, Decimal("1.50"), "text", b"\x00", date(2024, 1, 2),
     datetime(2024, 1, 2, 3, 4, 5), datetime(2024, 1, 2, tzinfo=UTC)],
)
def test_normalize_keeps_canonical_values_as_they_are(value: Any) -> None:
    assert norm(value) is value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (bytearray(b"ab"), b"ab"),
        (memoryview(b"xyz"), b"xyz"),
        (time(10, 15, 30), "10:15:30"),
        (time(10, 15, 30, 250000), "10:15:30.250000"),
        (uuid.UUID("12345678-1234-5678-1234-567812345678"), "12345678-1234-5678-1234-567812345678"),
        ({"a": 10}, JsonText('{"a": 10}')),
        ([1, 2], JsonText("[1, 2]")),
        ((1, "a"), JsonText('[1, "a"]')),
        (Color.RED, 1),
        (Mood.HAPPY, "happy"),
        (MyFloat(2.5), 2.5),
        (ScalarLike(7), 7),
        (ScalarLike(True), True),
        (ScalarLike(None), None),
    ],
)
def test_normalize_makes_plain_canonical_values(value: Any, expected: Any) -> None:
    result = norm(value)
    assert result == expected
    assert type(result) is type(expected)


def test_normalize_turns_structures_into_json_text() -> None:
    assert type(norm({"a": 1})) is JsonText
    assert type(norm([1])) is JsonText
    assert type(norm(OrderedDict(a=1))) is JsonText


def test_normalize_converts_aware_datetimes_to_utc() -> None:
    result = norm(datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1))))
    assert result == datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert result.tzinfo is UTC


def test_normalize_makes_datetime_subclasses_plain() -> None:
    result = norm(MyDatetime(2024, 1, 2, 3, 4, 5))
    assert type(result) is datetime
    assert result == datetime(2024, 1, 2, 3, 4, 5)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"),
                                   Decimal("-Infinity")])
def test_normalize_turns_non_finite_decimals_into_floats(value: Decimal) -> None:
    result = norm(value)
    assert type(result) is float
    assert not math.isfinite(result)
    assert infer(result) == DOUBLE


@pytest.mark.parametrize("value", [{1, 2}, 1 + 2j, object(), frozenset(), BrokenItem(),
                                   ScalarLike({"a": 1}), ScalarLike([1]), ScalarLike({1})])
def test_normalize_rejects_unsupported_types(value: Any) -> None:
    with pytest.raises(OperationTypeError) as info:
        normalize(value, table="orders", column="payload")
    message = str(info.value)
    assert "unsupported value type" in message
    assert type(value).__name__ in message
    assert "'orders'" in message and "'payload'" in message
    assert "str(value)" in message


def test_unsupported_type_error_is_also_a_type_error() -> None:
    with pytest.raises(TypeError):
        norm({1})


def test_normalize_reports_why_item_failed() -> None:
    with pytest.raises(OperationTypeError, match="item\\(\\) failed"):
        norm(BrokenItem())


# --------------------------------------------------------------------------------------------
# TYPES-21, TYPES-22, TYPES-23: inference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, BOOLEAN),
        (False, BOOLEAN),
        (15, INT),
        (-(2**31), INT),
        (2**31 - 1, INT),
        (2**31, LONG),
        (-(2**31) - 1, LONG),
        (3000000000, LONG),
        (-(2**63), LONG),
        (2**63 - 1, LONG),
        (2**63, decimal(19, 0)),
        (-(2**63) - 1, decimal(19, 0)),
        (10**20, decimal(21, 0)),
        (10**38 - 1, decimal(38, 0)),
        (-(10**38) + 1, decimal(38, 0)),
        (10**38, STRING),
        (10.4, DOUBLE),
        (float("nan"), DOUBLE),
        (float("inf"), DOUBLE),
        (float("-inf"), DOUBLE),
        (Decimal("105.34"), decimal(5, 2)),
        (Decimal("1.50"), decimal(3, 2)),
        (Decimal("0.05"), decimal(2, 2)),
        (Decimal("5E+2"), decimal(3, 0)),
        (Decimal("0"), decimal(1, 0)),
        (Decimal("1" * 38), decimal(38, 0)),
        (Decimal("1" * 39), STRING),
        (Decimal("0." + "1" * 38), decimal(38, 38)),
        (Decimal("1." + "1" * 38), STRING),
        (Decimal("NaN"), DOUBLE),
        (Decimal("-Infinity"), DOUBLE),
        ("text", STRING),
        (b"\x00\x01", BINARY),
        (bytearray(b"x"), BINARY),
        (memoryview(b"x"), BINARY),
        (datetime(2007, 12, 3, 10, 15, 30, tzinfo=UTC), UTC_DATETIME),
        (datetime(2007, 12, 3, 10, 15, 30, tzinfo=timezone(timedelta(hours=-5))), UTC_DATETIME),
        (datetime(2007, 12, 3, 10, 15, 30), NAIVE_DATETIME),
        (date(2007, 12, 3), NAIVE_DATE),
        (time(10, 15, 30), STRING),
        (uuid.UUID("12345678-1234-5678-1234-567812345678"), STRING),
        ({"a": 10}, JSON),
        ([1, 2], JSON),
        ((1, "a"), JSON),
        (ScalarLike(7), INT),
        (ScalarLike(True), BOOLEAN),
        (Color.RED, INT),
    ],
)
def test_infer_gives_the_types21_type_of_each_value_kind(value: Any, expected: Any) -> None:
    assert infer_raw(value) == expected


@pytest.mark.parametrize("text", ["2007-12-03", "2007-12-03T10:15:30Z", "105.34", "true", "42"])
def test_infer_never_reads_strings_as_other_types(text: str) -> None:
    assert infer(norm(text)) == STRING


def test_infer_checks_json_text_before_plain_strings() -> None:
    assert infer(JsonText("[1]")) == JSON
    assert infer("[1]") == STRING


def test_infer_never_gives_short_float_or_xml() -> None:
    values = [0, 1, -1, 100, 0.5, "<a/>", 32767]
    assert {infer(v) for v in values}.isdisjoint({SHORT, FLOAT, XML})


def test_infer_scalar_types_case_matches_duckdb_column_types() -> None:
    # conformance case infer_scalar_types: each value's inferred DuckDB column type
    row = {
        "b": (True, "BOOLEAN"), "i": (15, "INTEGER"), "big": (3000000000, "BIGINT"),
        "huge": (10**20, "DECIMAL(21,0)"), "f": (10.4, "DOUBLE"), "s": ("text", "VARCHAR"),
        "dec": (Decimal("105.34"), "DECIMAL(5,2)"), "raw": (b"\x00\x01", "BLOB"),
        "obj": ({"a": 10}, "JSON"), "arr": ([1, 2], "JSON"), "d": (date(2007, 12, 3), "DATE"),
        "ndt": (datetime(2007, 12, 3, 10, 15, 30), "TIMESTAMP"),
        "udt": (datetime(2007, 12, 3, 10, 15, 30, tzinfo=UTC), "TIMESTAMP WITH TIME ZONE"),
        "t": (time(10, 15, 30), "VARCHAR"),
        "u": (uuid.UUID("12345678-1234-5678-1234-567812345678"), "VARCHAR"),
        "neg": (-2147483649, "BIGINT"), "tup": ((1, "a"), "JSON"),
        "np_like": (ScalarLike(7), "INTEGER"), "np_bool": (ScalarLike(True), "BOOLEAN"),
    }
    for column, (value, duckdb_type) in row.items():
        inferred = infer(normalize(value, table="inferred", column=column))
        assert inferred is not None and duckdb_column_type(inferred) == duckdb_type, column
    assert infer(None) is None


@given(st.integers(min_value=-(10**45), max_value=10**45))
def test_infer_int_picks_the_narrowest_of_int_long_decimal(value: int) -> None:
    inferred = infer(value)
    if -(2**31) <= value < 2**31:
        assert inferred == INT
    elif -(2**63) <= value < 2**63:
        assert inferred == LONG
    elif abs(value) < 10**38:
        assert inferred == decimal(len(str(abs(value))), 0)
        assert conv(value, inferred) == value  # and the value fits it
    else:
        assert inferred == STRING


# --------------------------------------------------------------------------------------------
# TYPES-26, TYPES-27, TYPES-28: join and widening conversions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (SHORT, INT, INT),
        (INT, LONG, LONG),
        (SHORT, LONG, LONG),
        (INT, decimal(2, 1), decimal(11, 1)),
        (decimal(5, 2), decimal(4, 3), decimal(6, 3)),
        (LONG, decimal(21, 20), STRING),
        (FLOAT, SHORT, FLOAT),
        (FLOAT, INT, DOUBLE),
        (FLOAT, decimal(5, 2), DOUBLE),
        (DOUBLE, FLOAT, DOUBLE),
        (DOUBLE, LONG, DOUBLE),
        (NAIVE_DATE, NAIVE_DATETIME, NAIVE_DATETIME),
        (NAIVE_DATE, UTC_DATETIME, UTC_DATETIME),
        (NAIVE_DATETIME, UTC_DATETIME, UTC_DATETIME),
        (BOOLEAN, INT, STRING),
        (BINARY, STRING, STRING),
        (JSON, INT, STRING),
        (NAIVE_DATE, INT, STRING),
        (XML, STRING, STRING),
        (XML, INT, STRING),
    ],
)
def test_join_follows_the_types26_lattice(a: DataType, b: DataType, expected: DataType) -> None:
    assert join(a, b) == expected
    assert join(b, a) == expected


JOINABLE = st.sampled_from([*SIMPLE_TYPES, decimal(1, 0), decimal(5, 2), decimal(4, 3),
                            decimal(38, 0), decimal(38, 38), decimal(21, 20), decimal(12, 2)])


@given(JOINABLE, JOINABLE)
def test_join_is_symmetric_and_idempotent(a: DataType, b: DataType) -> None:
    joined = join(a, b)
    assert joined == join(b, a)
    assert join(a, a) == a
    assert join(joined, joined) == joined
    # a join is at least as wide as both sides
    assert join(joined, a) == joined
    assert join(joined, b) == joined


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (1, INT, LONG, 1),
        (7, INT, decimal(11, 1), Decimal("7.0")),
        (Decimal("1.5"), decimal(2, 1), decimal(3, 2), Decimal("1.50")),
        (Decimal("1.50"), decimal(3, 2), decimal(12, 2), Decimal("1.50")),
        (3000000000, LONG, DOUBLE, 3000000000.0),
        (Decimal("2.25"), decimal(3, 2), DOUBLE, 2.25),
        (10.4, FLOAT, DOUBLE, 10.399999618530273),
        (300, SHORT, FLOAT, 300.0),
        (date(2024, 1, 2), NAIVE_DATE, NAIVE_DATETIME, datetime(2024, 1, 2)),
        (date(2024, 1, 2), NAIVE_DATE, UTC_DATETIME, datetime(2024, 1, 2, tzinfo=UTC)),
        (datetime(2024, 1, 2, 3, 4), NAIVE_DATETIME, UTC_DATETIME,
         datetime(2024, 1, 2, 3, 4, tzinfo=UTC)),
        (True, BOOLEAN, STRING, "true"),
        (10.4, FLOAT, STRING, "10.4"),
        (Decimal("105.30"), decimal(5, 2), STRING, "105.30"),
        (b"\x00\x01\x02\x03", BINARY, STRING, "AAECAw=="),
        (JsonText('{"a": 1}'), JSON, STRING, '{"a": 1}'),
        ("<a/>", XML, STRING, "<a/>"),
        (None, INT, STRING, None),
    ],
)
def test_convert_stored_widens_values_per_types27(
    value: Any, source: DataType, target: DataType, expected: Any
) -> None:
    result = convert_stored(value, source, target)
    assert result == expected
    assert type(result) is type(expected)


def test_convert_stored_refuses_a_narrowing() -> None:
    with pytest.raises(ValueError, match="not a widening"):
        convert_stored(1, LONG, INT)


def test_widening_follows_call_order_types28() -> None:
    # 1, then 2.5, then "x": INT -> DOUBLE -> STRING leaves "1.0", "2.5", "x"
    column_type = infer(1)
    assert column_type is not None
    stored: list[Any] = [1]
    for value in (2.5, "x"):
        value_type = infer(value)
        assert value_type is not None
        wider = join(column_type, value_type)
        stored = [convert_stored(v, column_type, wider) for v in stored]
        stored.append(convert_stored(value, value_type, wider))
        column_type = wider
    assert stored == ["1.0", "2.5", "x"]


def test_widen_numeric_one_run_case() -> None:
    # conformance case widen_numeric_one_run, column y: 1.5, 2.25, then 3 -> DECIMAL(12,2)
    y_type = infer(Decimal("1.5"))
    assert y_type == decimal(2, 1)
    y2 = join(y_type, decimal(3, 2))
    y3 = join(y2, INT)
    assert y3 == decimal(12, 2)
    values = [convert_stored(convert_stored(Decimal("1.5"), y_type, y2), y2, y3),
              convert_stored(Decimal("2.25"), y2, y3), convert_stored(3, INT, y3)]
    assert [text_form(v, y3) for v in values] == ["1.50", "2.25", "3.00"]
    # column z: 7 then Decimal("0.5") -> DECIMAL(11,1)
    z_type = join(INT, decimal(1, 1))
    assert z_type == decimal(11, 1)
    assert text_form(convert_stored(7, INT, z_type), z_type) == "7.0"
    # column x: 1, 3000000000, 2.5 -> DOUBLE
    assert convert_stored(convert_stored(1, INT, LONG), LONG, DOUBLE) == 1.0


# --------------------------------------------------------------------------------------------
# TYPES-30: text form
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "text"),
        (True, "true"),
        (False, "false"),
        (-42, "-42"),
        (10**40, "1" + "0" * 40),
        (2.5, "2.5"),
        (0.0001, "0.0001"),
        (1e-05, "1e-05"),
        (1e16, "1e+16"),
        (3.0, "3.0"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (Decimal("1.50"), "1.50"),
        (Decimal("5E+2"), "500"),
        (Decimal("1E-7"), "0.0000001"),
        (date(2007, 12, 3), "2007-12-03"),
        (datetime(2007, 12, 3, 10, 15, 30), "2007-12-03T10:15:30"),
        (datetime(2007, 12, 3, 10, 15, 30, 123000), "2007-12-03T10:15:30.123000"),
        (datetime(2007, 12, 3, 10, 15, 30, 123000, tzinfo=UTC), "2007-12-03T10:15:30.123000Z"),
        (datetime(2007, 12, 3, 11, 15, 30, tzinfo=timezone(timedelta(hours=1))),
         "2007-12-03T10:15:30Z"),
        (time(10, 15, 30), "10:15:30"),
        (time(10, 15, 30, 250000), "10:15:30.250000"),
        (uuid.UUID("12345678-1234-5678-1234-567812345678"), "12345678-1234-5678-1234-567812345678"),
        (b"\x00\x01\x02\x03", "AAECAw=="),
        ({"a": 10}, '{"a": 10}'),
        (JsonText('{"b": [1, 2.5, null]}'), '{"b": [1, 2.5, null]}'),
    ],
)
def test_text_form_follows_the_types30_table(value: Any, expected: str) -> None:
    assert text_form(value) == expected


@pytest.mark.parametrize(
    ("value", "stored", "expected"),
    [
        (10.4, FLOAT, "10.4"),
        (float32(10.4), FLOAT, "10.4"),
        (16777217.0, FLOAT, "16777216.0"),
        (0.1, FLOAT, "0.1"),
        (1e-05, FLOAT, "1e-05"),
        (float("nan"), FLOAT, "NaN"),
        (3, FLOAT, "3.0"),
        (10.4, DOUBLE, "10.4"),
        (1, DOUBLE, "1.0"),
        (Decimal("105.3"), decimal(5, 2), "105.30"),
        (Decimal("7"), decimal(10, 2), "7.00"),
        (7, decimal(10, 2), "7.00"),
        (Decimal("-0.00"), decimal(10, 2), "0.00"),
        (date(2024, 1, 2), NAIVE_DATETIME, "2024-01-02T00:00:00"),
        (date(2024, 1, 2), UTC_DATETIME, "2024-01-02T00:00:00Z"),
        (datetime(2024, 1, 2, 3, 4), UTC_DATETIME, "2024-01-02T03:04:00Z"),
        ("x", STRING, "x"),
        (JsonText("[1]"), JSON, "[1]"),
    ],
)
def test_text_form_of_a_value_depends_on_the_column_it_is_stored_in(
    value: Any, stored: DataType, expected: str
) -> None:
    assert text_form(value, stored) == expected


def test_text_form_of_none_is_an_error() -> None:
    with pytest.raises(TypeError):
        text_form(None)


@given(st.floats(allow_nan=False))
def test_text_form_of_a_float_reads_back_as_the_same_float(value: float) -> None:
    assert float(text_form(value)) == value
    assert text_form(value) == text_form(float(text_form(value)))


@given(st.floats(allow_nan=False, width=32))
def test_float_column_text_reads_back_as_the_same_32_bit_float(value: float) -> None:
    text = text_form(value, FLOAT)
    assert float32(float(text)) == float32(value)
    # no shorter text would do
    significant = text.lstrip("-").split("e")[0].replace(".", "").strip("0")
    assert len(significant) <= 9


# --------------------------------------------------------------------------------------------
# converter: which pairs need no conversion
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "pytype"),
    [
        (STRING, str), (XML, str), (DOUBLE, float), (BOOLEAN, bool), (BINARY, bytes),
        (NAIVE_DATE, date), (JSON, JsonText),
        *[(declared, type(None)) for declared in ALL_DECLARED],
    ],
)
def test_converter_is_none_when_values_need_no_conversion(
    declared: DataType, pytype: type
) -> None:
    assert converter(declared, pytype, table="t", column="c") is None


@pytest.mark.parametrize(
    ("declared", "pytype"),
    [(INT, int), (FLOAT, float), (UTC_DATETIME, datetime), (NAIVE_DATETIME, datetime),
     (BINARY, bytearray), (STRING, Mood), (JSON, str)],
)
def test_converter_is_a_function_when_values_need_checking_or_conversion(
    declared: DataType, pytype: type
) -> None:
    assert callable(converter(declared, pytype, table="t", column="c"))


def test_building_a_converter_never_raises_even_for_unsupported_types() -> None:
    refuse = converter(INT, set, table="t", column="c")
    assert refuse is not None
    with pytest.raises(OperationTypeError, match="unsupported value type"):
        refuse({1})


@pytest.mark.parametrize("declared", ALL_DECLARED)
def test_none_is_null_for_every_declared_type(declared: DataType) -> None:
    assert conv(None, declared) is None


# --------------------------------------------------------------------------------------------
# TYPES-31: error messages
# --------------------------------------------------------------------------------------------


def test_conversion_error_names_table_column_type_value_and_fix() -> None:
    with pytest.raises(OperationValueError) as info:
        coerce("abc", INT, table="orders", column="quantity")
    message = str(info.value)
    for part in ("cannot convert", "'orders'", "'quantity'", "INT", "str", "'abc'", "LONG"):
        assert part in message


def test_conversion_error_names_the_decimal_precision_and_scale() -> None:
    with pytest.raises(OperationValueError, match=r"DECIMAL\(5,2\)"):
        conv(Decimal("1000"), decimal(5, 2))


def test_conversion_error_is_also_a_value_error() -> None:
    with pytest.raises(ValueError, match="cannot convert"):
        conv("yes", BOOLEAN)


def test_conversion_error_abbreviates_long_values() -> None:
    with pytest.raises(OperationValueError) as info:
        conv("x" * 1000, INT)
    message = str(info.value)
    assert "x" * 90 in message
    assert "x" * 200 not in message
    assert "..." in message


def test_conversion_error_survives_a_broken_repr() -> None:
    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    with pytest.raises(OperationTypeError, match="Unprintable"):
        conv(Unprintable(), STRING)


# --------------------------------------------------------------------------------------------
# TYPES-32: BOOLEAN
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), (1, True), (0, False), (1.0, True), (0.0, False),
     ("true", True), ("false", False), ("1", True), ("0", False), ("TRUE", True),
     (" false ", False), ("True", True), ("\tFaLsE\n", False), (ScalarLike(True), True)],
)
def test_boolean_accepts_bools_zero_one_and_true_false_strings(value: Any, expected: bool) -> None:
    result = conv(value, BOOLEAN)
    assert result is expected


@pytest.mark.parametrize(
    "value",
    [2, -1, 0.5, float("nan"), "yes", "no", "t", "", "2", Decimal("1"), b"1", date(2024, 1, 1),
     [True]],
)
def test_boolean_refuses_everything_else(value: Any) -> None:
    with pytest.raises(OperationValueError, match="cannot convert"):
        conv(value, BOOLEAN)


# --------------------------------------------------------------------------------------------
# TYPES-33: SHORT, INT, LONG
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "declared", "expected"),
    [
        (42, INT, 42),
        (True, SHORT, 1),
        (False, INT, 0),
        (15.0, SHORT, 15),
        (Decimal("15"), INT, 15),
        (Decimal("15.00"), INT, 15),
        (Decimal("1E+1"), INT, 10),
        ("42", INT, 42),
        (" -7 ", LONG, -7),
        ("+12", SHORT, 12),
        ("007", INT, 7),
        ("0" * 30 + "5", INT, 5),
        (-32768, SHORT, -32768),
        (32767, SHORT, 32767),
        (2147483647, INT, 2147483647),
        (-2147483648, INT, -2147483648),
        (9223372036854775807, LONG, 9223372036854775807),
        (-9223372036854775808, LONG, -9223372036854775808),
        ("-9223372036854775808", LONG, -9223372036854775808),
        (Color.RED, INT, 1),
        (ScalarLike(7), INT, 7),
    ],
)
def test_integer_types_accept_whole_numbers_in_range(
    value: Any, declared: DataType, expected: int
) -> None:
    result = conv(value, declared)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    ("value", "declared"),
    [
        (15.5, INT), ("15.0", INT), ("abc", INT), (float("nan"), INT), (float("inf"), LONG),
        (Decimal("NaN"), INT), (Decimal("15.5"), INT), ("1_000", INT), ("", INT), ("１２", INT),
        ("1e3", INT), (32768, SHORT), (-32769, SHORT), (2**31, INT), (-(2**31) - 1, INT),
        (2**63, LONG), ("9223372036854775808", LONG), ("9" * 5000, LONG), (2.0**63, LONG),
        (Decimal("1E+30"), LONG), (b"1", INT), (date(2024, 1, 1), INT), ([1], INT),
    ],
)
def test_integer_types_refuse_fractions_text_out_of_range_and_other_kinds(
    value: Any, declared: DataType
) -> None:
    with pytest.raises(OperationValueError, match="cannot convert"):
        conv(value, declared)


def test_integer_out_of_range_error_gives_the_range_and_a_wider_type() -> None:
    with pytest.raises(OperationValueError, match=r"-32768\.\.32767.*INT or LONG"):
        conv(40000, SHORT)


# --------------------------------------------------------------------------------------------
# TYPES-34: DECIMAL(p,s)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "declared", "expected"),
    [
        (7, decimal(10, 2), "7.00"),
        (Decimal("105.34"), decimal(5, 2), "105.34"),
        (2.25, decimal(10, 2), "2.25"),
        ("105.34", decimal(10, 2), "105.34"),
        ("-3.1", decimal(10, 2), "-3.10"),
        ("1e3", decimal(10, 2), "1000.00"),
        (" 1.5 ", decimal(10, 2), "1.50"),
        ("1.005", decimal(10, 2), "1.01"),
        ("-1.005", decimal(10, 2), "-1.01"),
        (Decimal("1.005"), decimal(10, 2), "1.01"),
        ("105.345", decimal(10, 2), "105.35"),
        (Decimal("0.5"), decimal(1, 0), "1"),
        (Decimal("-0.5"), decimal(1, 0), "-1"),
        (Decimal("999.994"), decimal(5, 2), "999.99"),
        (0.1, decimal(3, 2), "0.10"),
        (Decimal("0.05"), decimal(2, 2), "0.05"),
        (12345678901234567890123456789012345678, decimal(38, 0),
         "12345678901234567890123456789012345678"),
        (ScalarLike(3), decimal(3, 1), "3.0"),
    ],
)
def test_decimal_accepts_numbers_and_rounds_half_away_from_zero(
    value: Any, declared: DataType, expected: str
) -> None:
    result = conv(value, declared)
    assert type(result) is Decimal
    assert str(result) == expected


@pytest.mark.parametrize(
    ("value", "declared"),
    [
        (True, decimal(10, 2)), (Decimal("NaN"), decimal(10, 2)), (float("nan"), decimal(10, 2)),
        (float("inf"), decimal(10, 2)), (Decimal("-Infinity"), decimal(10, 2)),
        ("NaN", decimal(10, 2)), ("Infinity", decimal(10, 2)), ("abc", decimal(10, 2)),
        ("1_000", decimal(10, 2)), ("", decimal(10, 2)), (Decimal("1000"), decimal(5, 2)),
        (Decimal("999.995"), decimal(5, 2)), (1, decimal(2, 2)), ("1e400", decimal(38, 0)),
        (10**38, decimal(38, 0)), (b"1", decimal(10, 2)), (date(2024, 1, 1), decimal(10, 2)),
    ],
)
def test_decimal_refuses_booleans_non_finite_and_too_many_integer_digits(
    value: Any, declared: DataType
) -> None:
    with pytest.raises(OperationValueError, match="cannot convert"):
        conv(value, declared)


DECIMAL_TYPES = st.integers(min_value=1, max_value=38).flatmap(
    lambda p: st.integers(min_value=0, max_value=p).map(lambda s: decimal(p, s))
)
DECIMAL_INPUTS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)


@given(DECIMAL_TYPES, DECIMAL_INPUTS)
def test_decimal_never_yields_more_than_s_fraction_digits(declared: DataType, value: Any) -> None:
    assert declared.precision is not None and declared.scale is not None
    try:
        result = conv(value, declared)
    except OperationValueError:
        return
    assert type(result) is Decimal
    assert result.as_tuple().exponent == -declared.scale
    assert abs(result) < Decimal(10) ** (declared.precision - declared.scale)


# --------------------------------------------------------------------------------------------
# TYPES-35: FLOAT and DOUBLE
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "declared", "expected"),
    [
        (3, FLOAT, 3.0),
        (2.5, DOUBLE, 2.5),
        (Decimal("0.1"), DOUBLE, 0.1),
        (Decimal("0.5"), FLOAT, 0.5),
        (True, DOUBLE, 1.0),
        (False, FLOAT, 0.0),
        ("1.5", DOUBLE, 1.5),
        ("1e-4", DOUBLE, 0.0001),
        (" 2.5 ", FLOAT, 2.5),
        ("Infinity", DOUBLE, math.inf),
        ("-inf", FLOAT, -math.inf),
        (float("inf"), FLOAT, math.inf),
        (float("-inf"), DOUBLE, -math.inf),
        (Decimal("Infinity"), DOUBLE, math.inf),
        (10.4, FLOAT, 10.4),
        (3.4028235e38, FLOAT, 3.4028235e38),
        (2**1000, DOUBLE, 2.0**1000),
        (MyFloat(2.5), DOUBLE, 2.5),
    ],
)
def test_floating_types_accept_numbers_and_numeric_strings(
    value: Any, declared: DataType, expected: float
) -> None:
    result = conv(value, declared)
    assert type(result) is float
    assert result == expected


@pytest.mark.parametrize("value", [float("nan"), "NaN", "nan", Decimal("NaN"), Decimal("sNaN")])
@pytest.mark.parametrize("declared", [FLOAT, DOUBLE])
def test_floating_types_store_nan(value: Any, declared: DataType) -> None:
    assert math.isnan(conv(value, declared))


@pytest.mark.parametrize(
    ("value", "declared"),
    [
        (1e39, FLOAT), (-1e39, FLOAT), (2**200, FLOAT), ("1e39", FLOAT),
        (Decimal("1E+39"), FLOAT), (3.5e38, FLOAT), (2**1100, DOUBLE), ("1e400", DOUBLE),
        (Decimal("1E+400"), DOUBLE), ("abc", DOUBLE), ("", FLOAT), (b"1.5", DOUBLE),
        (date(2024, 1, 1), DOUBLE), ([1.5], FLOAT),
    ],
)
def test_floating_types_refuse_overflow_and_non_numbers(value: Any, declared: DataType) -> None:
    with pytest.raises(OperationValueError, match="cannot convert"):
        conv(value, declared)


def test_float_keeps_the_python_float_and_its_text_is_the_32_bit_value() -> None:
    stored = conv(10.4, FLOAT)
    assert stored == 10.4  # the database rounds it to 10.399999618530273
    assert text_form(stored, FLOAT) == "10.4"
    assert convert_stored(stored, FLOAT, DOUBLE) == 10.399999618530273


# --------------------------------------------------------------------------------------------
# TYPES-36, TYPES-37: STRING, XML, BINARY
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("as is", "as is"),
        (True, "true"),
        (12, "12"),
        (2.5, "2.5"),
        (float("nan"), "NaN"),
        (1e16, "1e+16"),
        (0.0001, "0.0001"),
        (Decimal("1.50"), "1.50"),
        (Decimal("NaN"), "NaN"),
        (Decimal("-Infinity"), "-Infinity"),
        (date(2024, 1, 2), "2024-01-02"),
        (datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05"),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1))),
         "2024-01-02T02:04:05Z"),
        (time(10, 15, 30), "10:15:30"),
        (uuid.UUID("12345678-1234-5678-1234-567812345678"), "12345678-1234-5678-1234-567812345678"),
        ({"a": 1, "b": [True, None]}, '{"a": 1, "b": [true, null]}'),
        (b"hi", "aGk="),
        (bytearray(b"hi"), "aGk="),
        (Mood.HAPPY, "happy"),
        (Color.RED, "1"),
        (ScalarLike(4.5), "4.5"),
    ],
)
def test_string_stores_the_text_form_of_any_value(value: Any, expected: str) -> None:
    result = conv(value, STRING)
    assert result == expected
    assert type(result) is str


def test_string_refuses_unsupported_types() -> None:
    with pytest.raises(OperationTypeError, match="unsupported value type"):
        conv({1, 2}, STRING)


def test_xml_takes_strings_verbatim() -> None:
    assert conv("<a>1</a>", XML) == "<a>1</a>"
    assert conv("not xml at all", XML) == "not xml at all"


@pytest.mark.parametrize("value", [1, True, b"<a/>", {"a": 1}, 2.5])
def test_xml_refuses_non_strings(value: Any) -> None:
    with pytest.raises(OperationValueError, match="cannot convert"):
        conv(value, XML)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(b"\x00\xff", b"\x00\xff"), (bytearray(b"ab"), b"ab"), (memoryview(b"xyz"), b"xyz")],
)
def test_binary_accepts_bytes_like_values(value: Any, expected: bytes) -> None:
    result = conv(value, BINARY)
    assert result == expected
    assert type(result) is bytes


@pytest.mark.parametrize("value", ["text", 1, [1, 2], True])
def test_binary_refuses_strings_and_other_kinds(value: Any) -> None:
    with pytest.raises(OperationValueError, match="cannot convert"):
        conv(value, BINARY)


def test_binary_error_says_to_encode_strings() -> None:
    with pytest.raises(OperationValueError, match=r"encode\('utf-8'\)"):
        conv("text", BINARY)


# --------------------------------------------------------------------------------------------
# TYPES-38, TYPES-40: JSON
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"k": [1, 2]}, '{"k": [1, 2]}'),
        ([1, "two", None], '[1, "two", null]'),
        ((1, "two"), '[1, "two"]'),
        ({"b": 2, "a": 1}, '{"b": 2, "a": 1}'),
        ("plain text", '"plain text"'),
        ('{"a": 1}', '"{\\"a\\": 1}"'),
        ("Zoë", '"Zoë"'),
        (7, "7"),
        (True, "true"),
        (False, "false"),
        (2.5, "2.5"),
        (Decimal("1.10"), "1.10"),
        (Decimal("1E+2"), "100"),
        (Decimal("1E-7"), "0.0000001"),
        (ScalarLike(3), "3"),
        ([ScalarLike(3), ScalarLike(4.5), ScalarLike(True)], "[3, 4.5, true]"),
        (JsonText('{"a": 1}'), '{"a": 1}'),
    ],
)
def test_json_serialises_structures_and_stores_scalars(value: Any, expected: str) -> None:
    result = conv(value, JSON)
    assert result == expected
    assert type(result) is JsonText


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), Decimal("NaN"), Decimal("Infinity"), b"x", date(2024, 1, 1),
     datetime(2024, 1, 1), time(1, 2), uuid.UUID(int=0)],
)
def test_json_refuses_non_finite_numbers_and_non_json_kinds(value: Any) -> None:
    with pytest.raises(OperationValueError, match="cannot convert"):
        conv(value, JSON)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 10}, '{"a": 10}'),
        ({"b": [1, 2.5, None], "é": True}, '{"b": [1, 2.5, null], "é": true}'),
        ({"name": "Zoë", "tags": ["a", "b"], "nested": {"x": None, "y": [1, 2.5, True]}},
         '{"name": "Zoë", "tags": ["a", "b"], "nested": {"x": null, "y": [1, 2.5, true]}}'),
        ([{"k": "v"}, {"k": "w"}], '[{"k": "v"}, {"k": "w"}]'),
        ((1, "two"), '[1, "two"]'),
        ({}, "{}"),
        ([], "[]"),
        ({1: "int key"}, '{"1": "int key"}'),
        ([Color.RED, Mood.HAPPY], '[1, "happy"]'),
    ],
)
def test_json_text_is_exactly_json_dumps_with_ensure_ascii_false(value: Any, expected: str) -> None:
    result = json_text(value, table="t", column="c")
    assert result == expected
    assert type(result) is JsonText


@pytest.mark.parametrize(
    "nested",
    [datetime(2024, 1, 1), Decimal("1.5"), b"x", {1, 2}, float("nan"), float("inf"),
     ScalarLike(float("nan")), ScalarLike(datetime(2024, 1, 1)), BrokenItem(), object()],
)
def test_json_text_refuses_values_json_cannot_hold(nested: Any) -> None:
    with pytest.raises(OperationTypeError) as info:
        json_text({"payload": [nested]}, table="events", column="body")
    message = str(info.value)
    assert "not JSON serializable" in message
    assert "'events'" in message and "'body'" in message


def test_json_text_refuses_keys_json_cannot_hold() -> None:
    with pytest.raises(OperationTypeError, match="not JSON serializable"):
        json_text({(1, 2): "tuple key"}, table="t", column="c")


def test_json_text_refuses_circular_structures() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(OperationTypeError, match="not JSON serializable"):
        json_text(loop, table="t", column="c")


def test_nested_bad_values_fail_the_same_in_declared_and_undeclared_columns() -> None:
    for declared in (JSON, STRING):
        with pytest.raises(OperationTypeError, match="not JSON serializable"):
            conv({"when": datetime(2024, 1, 1)}, declared)
    with pytest.raises(OperationTypeError, match="not JSON serializable"):
        norm({"when": datetime(2024, 1, 1)})


# --------------------------------------------------------------------------------------------
# TYPES-39: temporal types and parse_temporal
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the strings of conformance case types_coerce_temporal
        ("2024-02-29", date(2024, 2, 29)),
        ("2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02 03:04:05.123", datetime(2024, 1, 2, 3, 4, 5, 123000)),
        ("2024-01-02T08:34:05+05:30",
         datetime(2024, 1, 2, 8, 34, 5, tzinfo=timezone(timedelta(hours=5, minutes=30)))),
        (" 2024-12-31 ", date(2024, 12, 31)),
        ("2024-01-02T03:04:05+02:00",
         datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))),
        ("2024-01-02T03:04:05.1234567", datetime(2024, 1, 2, 3, 4, 5, 123456)),
        ("2024-01-02T03:04", datetime(2024, 1, 2, 3, 4)),
        ("2024-01-02T03:04:05+0130",
         datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1, minutes=30)))),
        ("2024-06-30", date(2024, 6, 30)),
        # the rest of the grammar
        ("2024-01-02t03:04", None),
        ("2024-01-02T03:04:05z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05-05", datetime(2024, 1, 2, 3, 4, 5,
                                             tzinfo=timezone(timedelta(hours=-5)))),
        ("2024-01-02T03:04:05-0530", datetime(2024, 1, 2, 3, 4, 5,
                                               tzinfo=timezone(-timedelta(hours=5, minutes=30)))),
        ("2024-01-02T03:04+01:00", datetime(2024, 1, 2, 3, 4,
                                             tzinfo=timezone(timedelta(hours=1)))),
        ("2024-01-02T03:04:05.999999999", datetime(2024, 1, 2, 3, 4, 5, 999999)),
        ("2024-01-02T03:04:05.1", datetime(2024, 1, 2, 3, 4, 5, 100000)),
        ("2024-01-02T03:04:05-00:00", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("\n2024-01-02 03:04\t", datetime(2024, 1, 2, 3, 4)),
    ],
)
def test_parse_temporal_reads_the_types39_grammar(text: str, expected: Any) -> None:
    result = parse_temporal(text)
    assert result == expected
    assert type(result) is type(expected)
    if isinstance(expected, datetime):
        assert isinstance(result, datetime)
        assert result.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text",
    ["", "2024", "2024-1-2", "20240102", "2024-01-02T", "2024-01-02T03", "2024-01-02T3:04",
     "2024-01-02T03:04:05.", "2024-01-02T03:04:05.1234567890", "2024-01-02T03:04.5",
     "2024-01-02  03:04", "2024-01-02Z", "2024-02-30", "2023-02-29", "2024-13-01",
     "2024-01-02T24:00", "2024-01-02T03:60", "2024-01-02T03:04:60", "2024-01-02T03:04+24:00",
     "2024-01-02T03:04+01:60", "2024-01-02T03:04+1", "2024-01-02T03:04 +01:00",
     "2024-W01-1", "١٢٣٤-01-02", "0000-01-01", "1700000000", "2024-01-02T03:04:05UTC"],
)
def test_parse_temporal_returns_none_for_anything_else(text: str) -> None:
    assert parse_temporal(text) is None


TEMPORAL_CASE_ROWS: list[dict[str, Any]] = [
    {"id": 1, "d": "2024-02-29", "ndt": "2024-01-02T03:04:05", "utc": "2024-01-02T03:04:05Z"},
    {"id": 2, "d": date(2024, 3, 1), "ndt": "2024-01-02 03:04:05.123",
     "utc": "2024-01-02T08:34:05+05:30"},
    {"id": 3, "d": datetime(2024, 3, 2, 15, 30), "ndt": datetime(2024, 1, 2, 3, 4, 5, 6),
     "utc": "2024-01-02T03:04:05"},
    {"id": 4, "d": None, "ndt": date(2024, 5, 6),
     "utc": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))},
    {"id": 5, "d": " 2024-12-31 ", "ndt": "2024-01-02T03:04:05+02:00", "utc": date(2024, 7, 8)},
    {"id": 6, "ndt": "2024-01-02T03:04:05.1234567", "utc": datetime(2024, 1, 1, 0, 0)},
    {"id": 7, "ndt": "2024-01-02T03:04", "utc": "2024-01-02T03:04:05+0130"},
    {"id": 8, "ndt": "2024-06-30", "utc": "2024-06-30"},
]
TEMPORAL_CASE_EXPECTED = [
    [1, "2024-02-29", "2024-01-02T03:04:05", "2024-01-02T03:04:05+00:00"],
    [2, "2024-03-01", "2024-01-02T03:04:05.123000", "2024-01-02T03:04:05+00:00"],
    [3, "2024-03-02", "2024-01-02T03:04:05.000006", "2024-01-02T03:04:05+00:00"],
    [4, None, "2024-05-06T00:00:00", "2024-01-02T08:04:05+00:00"],
    [5, "2024-12-31", "2024-01-02T01:04:05", "2024-07-08T00:00:00+00:00"],
    [6, None, "2024-01-02T03:04:05.123456", "2024-01-01T00:00:00+00:00"],
    [7, None, "2024-01-02T03:04:00", "2024-01-02T01:34:05+00:00"],
    [8, None, "2024-06-30T00:00:00", "2024-06-30T00:00:00+00:00"],
]


@pytest.mark.parametrize(
    ("row", "expected"), list(zip(TEMPORAL_CASE_ROWS, TEMPORAL_CASE_EXPECTED, strict=True))
)
def test_types_coerce_temporal_case(row: dict[str, Any], expected: list[Any]) -> None:
    d = conv(row.get("d"), NAIVE_DATE)
    ndt = conv(row["ndt"], NAIVE_DATETIME)
    utc = conv(row["utc"], UTC_DATETIME)
    assert d is None or type(d) is date
    assert type(ndt) is datetime and ndt.tzinfo is None
    assert type(utc) is datetime and utc.tzinfo is UTC
    actual = [row["id"], None if d is None else d.isoformat(), ndt.isoformat(), utc.isoformat()]
    assert actual == expected


@pytest.mark.parametrize(
    ("value", "declared"),
    [
        ("2024-01-02T03:04", NAIVE_DATE), ("2024-01-02 00:00:00", NAIVE_DATE),
        ("02/01/2024", NAIVE_DATE), (1700000000, NAIVE_DATE), (1700000000, UTC_DATETIME),
        (1700000000.5, NAIVE_DATETIME), ("yesterday", NAIVE_DATETIME), ("2024-02-30", UTC_DATETIME),
        (time(10, 0), NAIVE_DATETIME), (Decimal("1"), UTC_DATETIME), (True, NAIVE_DATE),
        ("0001-01-01T00:00+01:00", UTC_DATETIME), ("0001-01-01T00:00+01:00", NAIVE_DATETIME),
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), UTC_DATETIME),
    ],
)
def test_temporal_types_refuse_times_epochs_and_other_text(value: Any, declared: DataType) -> None:
    with pytest.raises(OperationValueError, match="cannot convert"):
        conv(value, declared)


def test_naive_date_takes_the_date_part_of_an_aware_datetime_as_is() -> None:
    late = datetime(2024, 3, 2, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert conv(late, NAIVE_DATE) == date(2024, 3, 2)


def test_naive_datetime_drops_the_zone_after_converting_to_utc() -> None:
    aware = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert conv(aware, NAIVE_DATETIME) == datetime(2024, 1, 2, 1, 4, 5)
    naive = datetime(2024, 1, 2, 3, 4, 5)
    assert conv(naive, NAIVE_DATETIME) is naive


def test_utc_datetime_reads_naive_values_as_utc() -> None:
    assert conv(datetime(2024, 1, 2, 3, 4), UTC_DATETIME) == datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    assert conv(date(2024, 1, 2), UTC_DATETIME).tzinfo is UTC


def test_temporal_subclasses_become_plain_values() -> None:
    result = conv(MyDatetime(2024, 1, 2, 3, 4, 5), UTC_DATETIME)
    assert type(result) is datetime
    assert result == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert type(conv(MyDatetime(2024, 1, 2, 3, 4, 5), NAIVE_DATE)) is date


# --------------------------------------------------------------------------------------------
# TYPES-41: NULL and NaN
# --------------------------------------------------------------------------------------------


def test_nan_in_an_undeclared_column_is_a_double_nan() -> None:
    value = norm(float("nan"))
    assert math.isnan(value)
    assert infer(value) == DOUBLE


def test_nan_in_declared_float_and_double_is_nan_and_in_string_is_the_text_nan() -> None:
    assert math.isnan(conv(float("nan"), FLOAT))
    assert math.isnan(conv(float("nan"), DOUBLE))
    assert conv(float("nan"), STRING) == "NaN"


@pytest.mark.parametrize(
    "declared",
    [t for t in ALL_DECLARED if t.name not in ("FLOAT", "DOUBLE", "STRING")],
)
def test_nan_in_any_other_declared_type_is_a_conversion_error(declared: DataType) -> None:
    with pytest.raises(OperationValueError, match="cannot convert"):
        conv(float("nan"), declared)


# --------------------------------------------------------------------------------------------
# Conformance cases types_coerce_numeric and types_coerce_text_json_binary_bool
# --------------------------------------------------------------------------------------------

NUMERIC_COLUMNS = {"s": SHORT, "i": INT, "l": LONG, "f": FLOAT, "d": DOUBLE, "dec": decimal(10, 2)}
NUMERIC_CASE_ROWS: list[dict[str, Any]] = [
    {"id": 1, "s": True, "i": "42", "l": " -7 ", "f": 3, "d": "1e-4", "dec": "105.345"},
    {"id": 2, "s": 15.0, "i": 2147483647, "l": 9223372036854775807, "f": "2.5", "d": True,
     "dec": 7},
    {"id": 3, "s": -32768, "i": Decimal("12"), "l": 3.0, "f": Decimal("0.5"), "d": Decimal("0.1"),
     "dec": 2.25},
    {"id": 4, "s": "+12", "i": False, "l": "123456789012", "f": None, "d": "NaN",
     "dec": "-1.005"},
    {"id": 5, "dec": Decimal("1.005"), "d": float("-inf"), "f": float("inf")},
]
NUMERIC_CASE_EXPECTED = [
    [1, 1, 42, -7, "3.0", "0.0001", "105.35"],
    [2, 15, 2147483647, 9223372036854775807, "2.5", "1.0", "7.00"],
    [3, -32768, 12, 3, "0.5", "0.1", "2.25"],
    [4, 12, 0, 123456789012, None, "nan", "-1.01"],
    [5, None, None, None, "inf", "-inf", "1.01"],
]


@pytest.mark.parametrize(
    ("row", "expected"), list(zip(NUMERIC_CASE_ROWS, NUMERIC_CASE_EXPECTED, strict=True))
)
def test_types_coerce_numeric_case(row: dict[str, Any], expected: list[Any]) -> None:
    out = {name: conv(row.get(name), declared) for name, declared in NUMERIC_COLUMNS.items()}
    f = None if out["f"] is None else repr(float32(out["f"]))  # CAST(f AS DOUBLE) of the FLOAT
    d = None if out["d"] is None else repr(out["d"])
    dec = None if out["dec"] is None else str(out["dec"])
    assert [row["id"], out["s"], out["i"], out["l"], f, d, dec] == expected


TEXT_CASE_COLUMNS = {"s": STRING, "x": XML, "j": JSON, "b": BINARY, "f": BOOLEAN}
TEXT_CASE_ROWS: list[dict[str, Any]] = [
    {"id": 1, "s": True, "x": "<a>1</a>", "j": {"k": [1, 2]}, "b": b"\x00\xff", "f": "TRUE"},
    {"id": 2, "s": 12, "j": [1, "two", None], "b": bytearray(b"ab"), "f": 0},
    {"id": 3, "s": 2.5, "j": "plain text", "f": 1},
    {"id": 4, "s": Decimal("1.50"), "j": 7, "f": " false "},
    {"id": 5, "s": date(2024, 1, 2), "j": True, "b": memoryview(b"xyz")},
    {"id": 6, "s": datetime(2024, 1, 2, 3, 4, 5)},
    {"id": 7, "s": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    {"id": 8, "s": {"a": 1, "b": [True, None]}},
    {"id": 9, "s": b"hi"},
    {"id": 10, "s": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1)))},
    {"id": 11, "s": float("nan")},
    {"id": 12, "s": time(10, 15, 30), "j": 2.5},
    {"id": 13, "s": 1e16, "j": Decimal("1.10")},
    {"id": 14, "s": 0.0001},
]
TEXT_CASE_EXPECTED = [
    [1, "true", "<a>1</a>", '{"k": [1, 2]}', "00ff", True],
    [2, "12", None, '[1, "two", null]', "6162", False],
    [3, "2.5", None, '"plain text"', None, True],
    [4, "1.50", None, "7", None, False],
    [5, "2024-01-02", None, "true", "78797a", None],
    [6, "2024-01-02T03:04:05", None, None, None, None],
    [7, "12345678-1234-5678-1234-567812345678", None, None, None, None],
    [8, '{"a": 1, "b": [true, null]}', None, None, None, None],
    [9, "aGk=", None, None, None, None],
    [10, "2024-01-02T02:04:05Z", None, None, None, None],
    [11, "NaN", None, None, None, None],
    [12, "10:15:30", None, "2.5", None, None],
    [13, "1e+16", None, "1.10", None, None],
    [14, "0.0001", None, None, None, None],
]


@pytest.mark.parametrize(
    ("row", "expected"), list(zip(TEXT_CASE_ROWS, TEXT_CASE_EXPECTED, strict=True))
)
def test_types_coerce_text_json_binary_bool_case(
    row: dict[str, Any], expected: list[Any]
) -> None:
    out = {name: conv(row.get(name), declared) for name, declared in TEXT_CASE_COLUMNS.items()}
    b = None if out["b"] is None else out["b"].hex()
    assert [row["id"], out["s"], out["x"], out["j"], b, out["f"]] == expected
    if out["j"] is not None:
        assert type(out["j"]) is JsonText


# --------------------------------------------------------------------------------------------
# SEM-12: _fivetran_id
# --------------------------------------------------------------------------------------------


def test_fivetran_id_matches_the_conformance_known_answers() -> None:
    assert (fivetran_id({"message": "hello, world!"}, {})
            == "459f168e188a747c16e5b52220f7986a0e175bee49e651d67fc7a9341c2ea4fc")
    assert (fivetran_id({"name": "a", "n": 1}, {})
            == "d3f109f4fd72df39a0643213e8b3a98551c0d817e817108baad50a49c555191d")


def test_fivetran_id_skips_none_values_and_ignores_key_order() -> None:
    expected = fivetran_id({"name": "a", "n": 1}, {})
    assert fivetran_id({"n": 1, "name": "a", "extra": None}, {}) == expected


def test_fivetran_id_is_the_same_for_values_with_the_same_text_form() -> None:
    assert fivetran_id({"n": 1}, {}) == fivetran_id({"n": "1"}, {})
    assert fivetran_id({"n": 1}, {}) != fivetran_id({"n": 2}, {})


def test_fivetran_id_uses_the_declared_type_for_declared_columns() -> None:
    declared = {"price": decimal(10, 2), "ratio": FLOAT}
    row = {"price": Decimal("7.00"), "ratio": 10.4}
    assert fivetran_id(row, declared) == fivetran_id({"price": "7.00", "ratio": "10.4"}, {})
    assert fivetran_id({"price": Decimal("7")}, {}) == fivetran_id({"price": "7"}, {})


def test_fivetran_id_is_64_lower_case_hex_digits() -> None:
    value = fivetran_id({"when": datetime(2024, 1, 2, tzinfo=UTC), "raw": b"\x00", "é": "ü"}, {})
    assert len(value) == 64
    assert value == value.lower()
    int(value, 16)


def test_module_examples_run() -> None:
    names = [info.name for info in pkgutil.iter_modules(headwater.values.__path__)]
    modules = [headwater.values] + [importlib.import_module(f"headwater.values.{name}") for name in names]
    for module in modules:
        failures, tried = doctest.testmod(module)
        assert failures == 0, module.__name__
    assert all(doctest.DocTestFinder().find(module) for module in modules)


# --- fivetran_ids: the column-wise _fivetran_id must equal the row-wise reference -----------------

_id_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True), st.binary(max_size=4),
)


@given(rows=st.lists(st.dictionaries(st.sampled_from(["b", "a", "é", "c d", "Z"]), _id_values, max_size=5),
                     min_size=1, max_size=6))
def test_fivetran_ids_match_fivetran_id_row_by_row(rows: list[dict[str, Any]]) -> None:
    names = sorted({name for row in rows for name in row})
    normalized = [{name: (values.normalize(v, table="t", column=name) if v is not None else None)
                   for name, v in row.items()} for row in rows]
    columns = [(name, [row.get(name) for row in normalized], None) for name in names]
    expected = [values.fivetran_id(row, {}) for row in normalized]
    got = values.fivetran_ids(columns) if columns else [values.fivetran_id({}, {})] * len(rows)
    assert got == expected


def test_fivetran_ids_use_declared_types_for_text_forms() -> None:
    declared = types.decimal(5, 2)
    columns = [("amount", [Decimal("1.50"), None], declared), ("name", ["x", "y"], types.STRING)]
    expected = [values.fivetran_id({"amount": Decimal("1.50"), "name": "x"}, {"amount": declared}),
                values.fivetran_id({"name": "y"}, {"amount": declared})]
    assert values.fivetran_ids(columns) == expected


# --- edge values a connector can pass: a converted value or ERR-OP-4/5/11, never anything else ----


@contextlib.contextmanager
def unlimited_int_text() -> Iterator[None]:
    """Lift Python's int-to-str digit limit (3.11+) to compute expected texts of huge ints."""
    get_limit = getattr(sys, "get_int_max_str_digits", None)
    if get_limit is None:
        yield
        return
    saved = get_limit()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(saved)


HUGE_INTS = [10**4300, -(10**5000) - 1, 7**9000, 2**20000 + 12345, -(3**30000)]


@pytest.mark.parametrize("value", HUGE_INTS, ids=["1e4300", "-1e5000-1", "7**9000", "2**20000", "-3**30000"])
def test_ints_beyond_pythons_str_limit_have_their_exact_text(value: int) -> None:
    with unlimited_int_text():
        expected = str(value)
    assert text_form(value) == expected
    assert infer(normalize(value, table="t", column="c")) == STRING
    assert conv(value, STRING) == expected
    assert conv(value, JSON) == expected and type(conv(value, JSON)) is JsonText
    assert values.fivetran_ids([("n", [value, 1], None)]) == [fivetran_id({"n": value}, {}), fivetran_id({"n": 1}, {})]
    assert fivetran_id({"n": value}, {}) == fivetran_id({"n": expected}, {})


def test_text_of_a_million_digit_int_takes_well_under_a_second_per_100k_digits() -> None:
    value = 10**1_000_000 - 1
    started = time_module.perf_counter()
    text = text_form(value)
    elapsed = time_module.perf_counter() - started
    assert text == "9" * 1_000_000
    assert elapsed < 5, elapsed  # about 0.6 s here; the quadratic conversion took 20 s


@pytest.mark.parametrize("declared", [SHORT, INT, LONG, decimal(38, 0), decimal(10, 2), DOUBLE, FLOAT, BOOLEAN],
                         ids=str)
def test_huge_ints_are_refused_quickly_by_numeric_types(declared: DataType) -> None:
    value = -7 * 10**999_999
    started = time_module.perf_counter()
    with pytest.raises(OperationValueError) as caught:
        conv(value, declared)
    assert time_module.perf_counter() - started < 1
    message = str(caught.value)
    assert "'t'" in message and "'c'" in message and str(declared) in message
    assert "1000000 digits" in message and len(message) < 1000


def test_error_messages_abbreviate_huge_ints_and_strings() -> None:
    with pytest.raises(OperationValueError) as caught:
        conv(10**5000, INT)
    assert "5001 digits" in str(caught.value)
    with pytest.raises(OperationValueError) as caught:
        conv("x" * 10_000_000, INT)
    assert len(str(caught.value)) < 1000


def test_lone_surrogates_hash_like_the_replacement_character_they_are_stored_as() -> None:
    assert fivetran_id({"s": "a\ud800b"}, {}) == fivetran_id({"s": "a\ufffdb"}, {})
    assert fivetran_id({"s": "\udfff"}, {}) == fivetran_id({"s": "\ufffd"}, {})
    assert fivetran_id({"s": "\ud83d\ude00"}, {}) == fivetran_id({"s": "\U0001f600"}, {})  # a pair is one character
    assert values.fivetran_ids([("s", ["a\ud800b", "\ufffd"], None)]) == [
        fivetran_id({"s": "a\ufffdb"}, {}), fivetran_id({"s": "\ufffd"}, {})]


OFFSET_W5 = timezone(timedelta(hours=-5))
OFFSET_E5 = timezone(timedelta(hours=5))
OUT_OF_RANGE_DATETIMES = [datetime.max.replace(tzinfo=OFFSET_W5), datetime.min.replace(tzinfo=OFFSET_E5),
                          datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-23, minutes=-59)))]


@pytest.mark.parametrize("value", OUT_OF_RANGE_DATETIMES, ids=["max-05", "min+05", "late-23:59"])
def test_aware_datetimes_beyond_year_9999_in_utc_are_refused_with_the_value(value: datetime) -> None:
    for convert in (lambda v: norm(v), lambda v: conv(v, UTC_DATETIME), lambda v: conv(v, NAIVE_DATETIME),
                    lambda v: conv(v, STRING), lambda v: conv(MyDatetime.fromisoformat(v.isoformat()), STRING)):
        with pytest.raises(OperationValueError) as caught:
            convert(value)
        message = str(caught.value)
        assert "'t'" in message and "'c'" in message and "outside the datetime range" in message
        assert str(value.year) in message


def test_aware_datetimes_near_the_limits_that_fit_in_utc_are_converted() -> None:
    late = datetime.max.replace(tzinfo=OFFSET_E5)
    assert norm(late) == datetime.max.replace(tzinfo=UTC) - timedelta(hours=5)
    assert conv(late, NAIVE_DATETIME) == datetime.max - timedelta(hours=5)
    early = datetime.min.replace(tzinfo=OFFSET_W5)
    assert norm(early) == datetime.min.replace(tzinfo=UTC) + timedelta(hours=5)
    assert text_form(norm(early)) == "0001-01-01T05:00:00Z"


class BadOffset(tzinfo_base):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=30)  # datetime refuses offsets of a day or more


def test_a_tzinfo_with_an_impossible_offset_is_an_error_naming_the_column() -> None:
    value = datetime(2024, 1, 2, tzinfo=BadOffset())
    for convert in (lambda v: norm(v), lambda v: conv(v, UTC_DATETIME), lambda v: conv(v, STRING),
                    lambda v: infer(v)):
        with pytest.raises((OperationValueError, OperationTypeError)) as caught:
            convert(value)
        assert "'c'" in str(caught.value) or "'?'" in str(caught.value)


NAN_DECIMALS = [Decimal("sNaN"), Decimal("-sNaN"), Decimal("NaN123"), Decimal("-NaN"), Decimal("sNaN42")]


@pytest.mark.parametrize("value", NAN_DECIMALS, ids=repr)
def test_every_decimal_nan_is_a_nan(value: Decimal) -> None:
    assert math.isnan(norm(value))
    assert infer(norm(value)) == DOUBLE
    assert text_form(value) == "NaN"
    assert math.isnan(conv(value, DOUBLE)) and math.isnan(conv(value, FLOAT))
    assert conv(value, STRING) == "NaN"
    for declared in (BOOLEAN, SHORT, INT, LONG, decimal(10, 2), JSON, XML, BINARY, NAIVE_DATE, UTC_DATETIME):
        with pytest.raises(OperationValueError):
            conv(value, declared)


WIDE_DECIMALS = ["1E+30000000", "-1E+100000000", "1E-30000000", "1E+4300", "-9.99E-4300", "0E+5000", "0E-5000"]


@pytest.mark.parametrize("text", WIDE_DECIMALS)
def test_decimals_whose_plain_text_would_be_huge_are_refused_without_building_it(text: str) -> None:
    value = Decimal(text)
    for declared in (None, STRING, JSON):
        tracemalloc.start()
        try:
            with pytest.raises(OperationValueError) as caught:
                norm(value) if declared is None else conv(value, declared)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1_000_000, (declared, peak)
        message = str(caught.value)
        assert "'t'" in message and "'c'" in message and text in message and "4300 digits" in message


def test_decimals_at_the_plain_text_limit_are_kept() -> None:
    assert text_form(norm(Decimal("1E+4299"))) == "1" + "0" * 4299
    assert text_form(norm(Decimal("-1E-4299"))) == "-0." + "0" * 4298 + "1"
    assert conv(Decimal("9.5E+4299"), STRING) == "95" + "0" * 4298


def test_numeric_types_take_decimals_with_extreme_exponents_quickly() -> None:
    started = time_module.perf_counter()
    assert conv(Decimal("1E-30000000"), DOUBLE) == 0.0
    assert conv(Decimal("-1E-30000000"), decimal(10, 2)) == Decimal("0.00")
    for declared in (SHORT, INT, LONG, decimal(38, 0), DOUBLE, FLOAT):
        with pytest.raises(OperationValueError):
            conv(Decimal("1E+30000000"), declared)
    with pytest.raises(OperationValueError):
        conv(Decimal("1E-30000000"), INT)  # not a whole number
    assert time_module.perf_counter() - started < 1


@pytest.mark.parametrize(("value", "expected"), [
    (Decimal("0.05"), "0.05"), (Decimal("5E-2"), "0.05"), (Decimal("0.050"), "0.050"),
    (Decimal("-0.00"), "0.00"), (Decimal("-0"), "0"), (Decimal("1E+2"), "100"), (Decimal("1.0E+3"), "1000"),
    (Decimal("-105.340"), "-105.340"), (Decimal("1E-7"), "0.0000001"),
])
def test_decimal_text_is_plain_and_keeps_the_scale(value: Decimal, expected: str) -> None:
    assert text_form(value) == expected
    assert conv(value, STRING) == expected
    assert conv(value, JSON) == expected


def test_decimal_handling_ignores_the_connectors_decimal_context() -> None:
    cases = [(Decimal("0.05"), None), (Decimal("105.3"), decimal(5, 2)), (Decimal("0.05"), decimal(38, 37))]
    expected = [(text_form(v, s), infer(v)) for v, s in cases]
    conversions = [("1.005", decimal(10, 2)), (Decimal("0.05"), decimal(38, 30)), (Decimal("7.5"), DOUBLE),
                   (Decimal("12"), INT), ("12345678901234567890.5", decimal(38, 1))]
    converted = [coerce(v, d, table="t", column="c") for v, d in conversions]
    hostile = decimal_module.Context(prec=1, Emin=-2, Emax=2, traps=list(decimal_module.Context().flags))
    with decimal_module.localcontext(hostile):
        assert [(text_form(v, s), infer(v)) for v, s in cases] == expected
        assert [coerce(v, d, table="t", column="c") for v, d in conversions] == converted
        assert convert_stored(Decimal("1.5"), decimal(2, 1), decimal(30, 20)) == Decimal("1.5" + "0" * 19)


def test_a_nested_int_beyond_pythons_str_limit_is_err_op_11_with_advice() -> None:
    with pytest.raises(OperationTypeError) as caught:
        json_text({"n": [10**5000]}, table="t", column="c")
    message = str(caught.value)
    assert "not JSON serializable" in message and "'c'" in message and "send it as a str" in message


def test_a_released_memoryview_is_an_error_naming_the_column() -> None:
    view = memoryview(b"ab")
    view.release()
    for convert in (norm, lambda v: conv(v, BINARY), lambda v: conv(v, STRING)):
        with pytest.raises((OperationTypeError, OperationValueError)) as caught:
            convert(view)
        assert "'t'" in str(caught.value) and "'c'" in str(caught.value) and "released" in str(caught.value)
