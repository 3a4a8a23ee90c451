"""headwater.schema.parse_schema and headwater.types.parse_declared: what schema() may return
(API-20 to API-24, TYPES-10 to TYPES-12, NAME-1, NAME-12, NAME-21 to NAME-23) and the errors
ERR-SCHEMA-2 to ERR-SCHEMA-12 with their required phrases (errors.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from headwater.destinations.duckdb import duckdb_type
from headwater.errors import SchemaDeclarationError
from headwater.naming import FIVETRAN, SOURCE, Naming
from headwater.schema import TableSpec, parse_schema
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
    TYPE_NAMES,
    UTC_DATETIME,
    XML,
    DataType,
    decimal,
    parse_declared,
)

ALL_TYPES = {
    "BOOLEAN": (BOOLEAN, "BOOLEAN"),
    "SHORT": (SHORT, "SMALLINT"),
    "INT": (INT, "INTEGER"),
    "LONG": (LONG, "BIGINT"),
    "FLOAT": (FLOAT, "FLOAT"),
    "DOUBLE": (DOUBLE, "DOUBLE"),
    "NAIVE_DATE": (NAIVE_DATE, "DATE"),
    "NAIVE_DATETIME": (NAIVE_DATETIME, "TIMESTAMP"),
    "UTC_DATETIME": (UTC_DATETIME, "TIMESTAMP WITH TIME ZONE"),
    "BINARY": (BINARY, "BLOB"),
    "XML": (XML, "VARCHAR"),
    "STRING": (STRING, "VARCHAR"),
    "JSON": (JSON, "JSON"),
}


def parse(result: Any, naming: str = FIVETRAN) -> list[TableSpec]:
    return parse_schema(result, Naming(naming))


def refused(result: Any, *phrases: str, naming: str = FIVETRAN) -> str:
    """parse_schema must raise SchemaDeclarationError whose message holds every phrase (any case)."""
    with pytest.raises(SchemaDeclarationError) as info:
        parse(result, naming)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    for phrase in phrases:
        assert phrase.lower() in message.lower(), f"{phrase!r} not in {message!r}"
    assert "\n" not in message
    return message


def one(entry: dict[str, Any], naming: str = FIVETRAN) -> TableSpec:
    (spec,) = parse([entry], naming)
    return spec


# ---------------------------------------------------------------------------------------------
# valid declarations


def test_empty_list_declares_nothing() -> None:
    assert parse([]) == []


def test_minimal_entry_is_a_keyless_table_in_the_default_schema() -> None:
    # schema=None: the destination's default schema (`tester` for headwater debug, SEM-3).
    spec = one({"table": "hello"})
    assert spec == TableSpec(schema=None, table="hello", primary_key=(), columns={})
    assert spec.label == "hello"


def test_full_entry_keeps_key_order_and_column_order() -> None:
    spec = one({
        "table": "orders",
        "primary_key": ["region", "id"],
        "columns": {"id": "LONG", "amount": {"type": "DECIMAL", "precision": 15, "scale": 2}, "note": "string"},
        "schema": "sales",
    })
    assert spec.schema == "sales" and spec.table == "orders"
    assert spec.primary_key == ("region", "id")
    assert list(spec.columns.items()) == [("id", LONG), ("amount", decimal(15, 2)), ("note", STRING)]
    assert spec.label == "sales.orders"


def test_empty_primary_key_means_keyless() -> None:
    assert one({"table": "t", "primary_key": []}).primary_key == ()


@pytest.mark.parametrize("name", sorted(ALL_TYPES))
def test_every_sdk_type_name_is_accepted_in_any_case(name: str) -> None:
    expected, stored_as = ALL_TYPES[name]
    for spelling in (name, name.lower(), name.title(), name.capitalize()):
        assert parse_declared(spelling) == expected
    assert duckdb_type(expected) == stored_as


def test_the_fourteen_names_are_exactly_the_sdk_types() -> None:
    assert sorted(TYPE_NAMES) == sorted([*ALL_TYPES, "DECIMAL"])


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ({"type": "DECIMAL", "precision": 15, "scale": 2}, decimal(15, 2)),
        ({"type": "decimal", "precision": 38, "scale": 0}, decimal(38, 0)),
        ({"type": "Decimal", "precision": 1, "scale": 1}, decimal(1, 1)),
        ({"type": "DECIMAL", "precision": 38, "scale": 38}, decimal(38, 38)),
        ({"scale": 3, "precision": 10, "type": "dEcImAl"}, decimal(10, 3)),
    ],
)
def test_decimal_dict_forms(declared: dict[str, Any], expected: DataType) -> None:
    assert parse_declared(declared) == expected
    spec = one({"table": "t", "columns": {"amount": declared}})
    assert spec.columns == {"amount": expected}
    assert duckdb_type(expected) == f"DECIMAL({expected.precision},{expected.scale})"


def test_primary_key_column_need_not_be_declared() -> None:
    spec = one({"table": "t", "primary_key": ["id"], "columns": {"name": "STRING"}})
    assert spec.primary_key == ("id",) and "id" not in spec.columns


def test_same_table_name_in_different_schemas_is_allowed() -> None:
    specs = parse([{"table": "users"}, {"table": "users", "schema": "crm"}, {"table": "users", "schema": "web"}])
    assert [(s.schema, s.table) for s in specs] == [(None, "users"), ("crm", "users"), ("web", "users")]


def test_a_table_declared_with_and_without_the_default_schema_is_declared_twice() -> None:
    refused_twice = [{"table": "users"}, {"table": "users", "schema": "tester"}]
    with pytest.raises(SchemaDeclarationError, match="more than once"):
        parse_schema(refused_twice, Naming(FIVETRAN), default_schema="tester")


# ---------------------------------------------------------------------------------------------
# naming of declared names (NAME-1, NAME-10, NAME-12, NAME-30)


def test_fivetran_naming_transforms_declared_names() -> None:
    spec = one({
        "table": "UserData",
        "schema": "Web Analytics",
        "primary_key": ["userID", "Region Code"],
        "columns": {"firstName": "STRING", "userID": "LONG", "_bool": "BOOLEAN", "Amount (USD)": "DOUBLE"},
    })
    assert (spec.schema, spec.table) == ("web_analytics", "user_data")
    assert spec.primary_key == ("user_id", "region_code")
    assert list(spec.columns) == ["first_name", "user_id", "_bool", "amount_usd_"]


def test_fivetran_naming_uses_the_table_rule_for_tables_and_schemas() -> None:
    spec = one({"table": "_bool", "schema": "$sales", "columns": {"_bool": "INT"}})
    assert (spec.schema, spec.table) == ("sales", "bool")
    assert list(spec.columns) == ["_bool"]


def test_source_naming_keeps_declared_names() -> None:
    spec = one({
        "table": "UserData",
        "schema": "Web Analytics",
        "primary_key": ["userID"],
        "columns": {"firstName": "STRING", "Crème Brûlée": "STRING"},
    }, naming=SOURCE)
    assert (spec.schema, spec.table) == ("Web Analytics", "UserData")
    assert spec.primary_key == ("userID",)
    assert list(spec.columns) == ["firstName", "Crème Brûlée"]


def test_source_naming_leaves_the_default_schema_to_the_destination() -> None:
    assert one({"table": "T"}, naming=SOURCE).schema is None


def test_primary_key_names_the_declared_column_in_its_declared_spelling() -> None:
    spec = one({"table": "t", "primary_key": ["ID"], "columns": {"id": "INT"}}, naming=SOURCE)
    assert spec.primary_key == ("id",)


# ---------------------------------------------------------------------------------------------
# ERR-SCHEMA-2: not a list


@pytest.mark.parametrize("result", [None, {"table": "t"}, ({"table": "t"},), "t", 5, iter([{"table": "t"}])],
                         ids=["none", "dict", "tuple", "str", "int", "iterator"])
def test_schema_result_that_is_not_a_list_is_refused(result: Any) -> None:
    refused(result, "schema() must return a list")


# ERR-SCHEMA-3: entry not a dict


@pytest.mark.parametrize("entry", ["users", None, ["table", "t"], 3], ids=["str", "none", "list", "int"])
def test_entry_that_is_not_a_dict_is_refused(entry: Any) -> None:
    refused([{"table": "ok"}, entry], "must be a dict")


# ERR-SCHEMA-4: no table


def test_entry_without_table_is_refused() -> None:
    refused([{"primary_key": ["id"], "columns": {"id": "INT"}}], "missing 'table'")
    refused([{}], "missing 'table'")


# ERR-SCHEMA-5: unknown key


@pytest.mark.parametrize("key", ["primary_keys", "pk", "Table", "columns ", "name"])
def test_entry_with_an_unknown_key_is_refused_and_names_it(key: str) -> None:
    refused([{"table": "t", key: ["id"]}], "unknown key", key)


# ERR-SCHEMA-6: primary_key


@pytest.mark.parametrize(
    "primary_key",
    ["id", ["id", "id"], [""], ["   "], [1], ["id", None], {"id": 1}, ("id",), 5, True],
    ids=["string", "repeat", "empty", "blank", "int", "none_item", "dict", "tuple", "int_value", "bool"],
)
def test_bad_primary_key_is_refused(primary_key: Any) -> None:
    refused([{"table": "t", "primary_key": primary_key}], "primary_key must be a list")


def test_primary_key_repeat_after_naming_is_refused() -> None:
    refused([{"table": "t", "primary_key": ["userId", "user_id"]}], "primary_key must be a list")
    refused([{"table": "t", "primary_key": ["Id", "id"]}], "primary_key must be a list", naming=SOURCE)


# ERR-SCHEMA-7: columns


@pytest.mark.parametrize("columns", [["id"], "id INT", 5, [("id", "INT")]], ids=["list", "str", "int", "pairs"])
def test_columns_that_are_not_a_dict_are_refused(columns: Any) -> None:
    refused([{"table": "t", "columns": columns}], "columns must be a dict")


# ERR-SCHEMA-8: unknown data type


@pytest.mark.parametrize("declared", ["INTEGER", "TEXT", "TIMESTAMP", "NAIVE_TIME", "VARCHAR", "", "STRING(10)"])
def test_unknown_type_name_is_refused_and_lists_the_valid_names(declared: str) -> None:
    message = refused([{"table": "t", "columns": {"c": declared}}], "unknown data type", repr(declared))
    for name in TYPE_NAMES:
        assert name in message


@pytest.mark.parametrize(
    "declared",
    [5, None, ["INT"], {"type": "INT"}, {"type": "STRING", "precision": 1, "scale": 0}, {"precision": 10, "scale": 2},
     {"type": 5}, True, 2.5],
    ids=["int", "none", "list", "dict_int", "dict_string", "dict_without_type", "dict_type_int", "bool", "float"],
)
def test_other_kinds_of_type_value_are_unknown_data_types(declared: Any) -> None:
    message = refused([{"table": "t", "columns": {"c": declared}}], "unknown data type")
    shown = repr(declared)
    assert shown in message or str(declared) in message


# ERR-SCHEMA-9: DECIMAL precision and scale


@pytest.mark.parametrize(
    "declared",
    [
        "DECIMAL",
        "decimal",
        {"type": "DECIMAL"},
        {"type": "DECIMAL", "precision": 10},
        {"type": "DECIMAL", "scale": 2},
        {"type": "DECIMAL", "precision": "10", "scale": 2},
        {"type": "DECIMAL", "precision": 10.0, "scale": 2},
        {"type": "DECIMAL", "precision": True, "scale": 0},
        {"type": "DECIMAL", "precision": 10, "scale": False},
        {"type": "DECIMAL", "precision": 0, "scale": 0},
        {"type": "DECIMAL", "precision": 39, "scale": 2},
        {"type": "DECIMAL", "precision": -1, "scale": 0},
        {"type": "DECIMAL", "precision": 10, "scale": -1},
        {"type": "DECIMAL", "precision": 10, "scale": 11},
        {"type": "DECIMAL", "precision": None, "scale": None},
    ],
    ids=["plain", "plain_lower", "no_precision_no_scale", "no_scale", "no_precision", "precision_str",
         "precision_float", "precision_bool", "scale_bool", "precision_0", "precision_39", "precision_negative",
         "scale_negative", "scale_above_precision", "nones"],
)
def test_decimal_without_valid_precision_and_scale_is_refused(declared: Any) -> None:
    refused([{"table": "t", "columns": {"amount": declared}}], "DECIMAL", "precision")
    with pytest.raises(SchemaDeclarationError):
        parse_declared(declared)


# ERR-SCHEMA-10: declared more than once


@pytest.mark.parametrize(
    ("entries", "naming"),
    [
        ([{"table": "users"}, {"table": "users"}], FIVETRAN),
        ([{"table": "userData"}, {"table": "user_data"}], FIVETRAN),
        ([{"table": "Users"}, {"table": "users"}], SOURCE),
        ([{"table": "t", "schema": "CRM"}, {"table": "t", "schema": "crm"}], FIVETRAN),
        ([{"table": "t", "schema": "CRM"}, {"table": "t", "schema": "crm"}], SOURCE),
        ([{"table": "_bool"}, {"table": "bool"}], FIVETRAN),
    ],
    ids=["same", "same_after_naming", "case_only_source", "schema_case", "schema_case_source", "table_rule"],
)
def test_table_declared_twice_is_refused(entries: list[dict[str, Any]], naming: str) -> None:
    refused(entries, "declared more than once", naming=naming)


@pytest.mark.parametrize(
    ("columns", "naming"),
    [
        ({"firstName": "STRING", "first_name": "STRING"}, FIVETRAN),
        ({"Name": "STRING", "name": "STRING"}, SOURCE),
        ({"user.email": "STRING", "user-email": "INT"}, FIVETRAN),
    ],
    ids=["camel_and_snake", "case_only_source", "punctuation"],
)
def test_column_declared_twice_after_naming_is_refused(columns: dict[str, Any], naming: str) -> None:
    refused([{"table": "t", "columns": columns}], "declared more than once", naming=naming)


def test_case_variants_are_distinct_names_only_in_the_source_text() -> None:
    # Under FIVETRAN both names become "name"; under SOURCE they differ only in case: both are refused.
    refused([{"table": "t", "columns": {"Name": "INT", "NAME": "INT"}}], "declared more than once")
    refused([{"table": "t", "columns": {"Name": "INT", "NAME": "INT"}}], "declared more than once", naming=SOURCE)


# ERR-SCHEMA-11: table or schema not a non-empty string


@pytest.mark.parametrize("table", ["", "   ", 5, None, ["t"]], ids=["empty", "blank", "int", "none", "list"])
def test_table_that_is_not_a_non_empty_string_is_refused(table: Any) -> None:
    refused([{"table": table}], "must be a non-empty string")


@pytest.mark.parametrize("schema", ["", "  ", 5, ["crm"]], ids=["empty", "blank", "int", "list"])
def test_schema_that_is_not_a_non_empty_string_is_refused(schema: Any) -> None:
    refused([{"table": "t", "schema": schema}], "must be a non-empty string")


# ERR-SCHEMA-12: system column names


@pytest.mark.parametrize(
    ("column", "naming"),
    [
        ("_fivetran_synced", FIVETRAN),
        ("_fivetran_deleted", FIVETRAN),
        ("_fivetran_id", FIVETRAN),
        ("_FIVETRAN_ID", FIVETRAN),
        ("__fivetran_synced", FIVETRAN),    # collapses to _fivetran_synced
        ("_Fivetran_Deleted", SOURCE),       # compared case-insensitively
    ],
)
def test_declared_system_column_is_reserved(column: str, naming: str) -> None:
    refused([{"table": "t", "columns": {column: "STRING"}}], "reserved", naming=naming)


@pytest.mark.parametrize("naming", [FIVETRAN, SOURCE])
def test_system_column_in_primary_key_is_reserved(naming: str) -> None:
    refused([{"table": "t", "primary_key": ["_fivetran_id"]}], "reserved", naming=naming)


def test_names_that_only_look_like_system_columns_are_allowed() -> None:
    spec = one({"table": "t", "columns": {"fivetran_synced": "STRING", "_fivetran_synced_at": "STRING"}})
    assert list(spec.columns) == ["fivetran_synced", "_fivetran_synced_at"]


def test_the_first_bad_entry_is_reported() -> None:
    message = refused([{"table": "good"}, {"table": "t", "columns": {"c": "NOPE"}}, 5], "unknown data type")
    assert "'NOPE'" in message
