"""Parse what ``schema(configuration)`` returned into typed :class:`TableSpec` values (API-20 to API-24).

Every problem is a :class:`~headwater.errors.SchemaDeclarationError` naming the entry and the fix
(ERR-SCHEMA-2 to ERR-SCHEMA-12)::

    specs = parse_schema([{"table": "users", "primary_key": ["id"], "columns": {"id": "INT"}}], Naming())

Names are compared as the destination compares them (``fold``, see
:class:`headwater.destinations.base.Capabilities`); a table declared without ``schema`` has
``schema=None`` and goes to the destination's default schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headwater.errors import SchemaDeclarationError
from headwater.naming import Naming, is_system_column
from headwater.types import DataType, parse_declared

__all__ = ["ALLOWED_KEYS", "TableSpec", "parse_schema"]

ALLOWED_KEYS = ("table", "primary_key", "columns", "schema")


def _casefold(name: str) -> str:
    return name.lower()


@dataclass(frozen=True)
class TableSpec:
    """One declared table, with destination names."""

    schema: str | None            # None: the destination's default schema
    table: str
    primary_key: tuple[str, ...]
    columns: dict[str, DataType]  # destination column name -> type, in declaration order

    @property
    def label(self) -> str:
        return self.table if self.schema is None else f"{self.schema}.{self.table}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_schema(result: Any, naming: Naming, fold: Callable[[str], str] = _casefold,
                 default_schema: str = "") -> list[TableSpec]:
    """Validate and convert the list ``schema()`` returned; ``fold`` says which names are the same, and
    a table without ``schema`` is in ``default_schema``."""
    identity = fold
    if not isinstance(result, list):
        raise SchemaDeclarationError(
            f"schema() must return a list of table entries, got {type(result).__name__}: {_short(result)}; "
            'return e.g. [{"table": "users", "primary_key": ["id"]}]'
        )
    specs: list[TableSpec] = []
    seen: dict[tuple[str, str], str] = {}
    for index, entry in enumerate(result):
        where = f"schema() entry {index}"
        if not isinstance(entry, dict):
            raise SchemaDeclarationError(
                f"{where} must be a dict like {{\"table\": \"users\"}}, got {type(entry).__name__}: {_short(entry)}"
            )
        unknown = [key for key in entry if key not in ALLOWED_KEYS]
        if unknown:
            raise SchemaDeclarationError(
                f"{where} has unknown key {unknown[0]!r}; allowed keys are {', '.join(ALLOWED_KEYS)}"
                + (" (did you mean 'primary_key'?)" if unknown[0] in ("primary_keys", "pk", "key", "keys") else "")
            )
        if "table" not in entry:
            raise SchemaDeclarationError(f"{where} is missing 'table': add \"table\": \"<name>\"")
        source_table = entry["table"]
        if not isinstance(source_table, str) or not source_table.strip():
            raise SchemaDeclarationError(f"{where}: 'table' must be a non-empty string, got {_short(source_table)}")
        table = naming.table(source_table)
        where = f"schema() entry for table {source_table!r}"
        source_schema = entry.get("schema")
        schema: str | None
        if source_schema is None:
            schema = None
        elif not isinstance(source_schema, str) or not source_schema.strip():
            raise SchemaDeclarationError(
                f"{where}: 'schema' must be a non-empty string, got {_short(source_schema)}"
            )
        else:
            schema = naming.schema(source_schema)
        key = (identity(schema if schema is not None else default_schema), identity(table))
        if key in seen:
            raise SchemaDeclarationError(
                f"table {table!r} is declared more than once in schema() (as {seen[key]!r} and "
                f"{source_table!r}); declare each table once"
            )
        seen[key] = source_table

        primary_key = entry.get("primary_key", [])
        if primary_key is None:
            primary_key = []
        if not isinstance(primary_key, list) or not all(
            isinstance(column, str) and column.strip() for column in primary_key
        ):
            raise SchemaDeclarationError(
                f"{where}: primary_key must be a list of non-empty column names, got {_short(primary_key)}; "
                'write e.g. "primary_key": ["id"]'
            )
        pk_names: list[str] = []
        pk_seen: set[str] = set()
        for column in primary_key:
            dest = naming.column(column)
            if identity(dest) in pk_seen:
                raise SchemaDeclarationError(
                    f"{where}: primary_key must be a list without repeats; {column!r} appears twice"
                )
            if is_system_column(dest):
                raise SchemaDeclarationError(
                    f"{where}: primary key column {column!r} uses the reserved system column name {dest!r}; rename it"
                )
            pk_seen.add(identity(dest))
            pk_names.append(dest)

        raw_columns = entry.get("columns", {})
        if raw_columns is None:
            raw_columns = {}
        if not isinstance(raw_columns, dict):
            raise SchemaDeclarationError(
                f"{where}: columns must be a dict of column name to type, got {type(raw_columns).__name__}; "
                'write e.g. "columns": {"id": "INT"}'
            )
        columns: dict[str, DataType] = {}
        column_seen: dict[str, str] = {}
        for column, declared in raw_columns.items():
            if not isinstance(column, str) or not column.strip():
                raise SchemaDeclarationError(
                    f"{where}: column names must be non-empty strings, got {_short(column)}"
                )
            dest = naming.column(column)
            ident = identity(dest)
            if ident in column_seen:
                raise SchemaDeclarationError(
                    f"{where}: column {dest!r} is declared more than once (as {column_seen[ident]!r} and "
                    f"{column!r}); declare it once"
                )
            if is_system_column(dest):
                raise SchemaDeclarationError(
                    f"{where}: column {column!r} uses the reserved system column name {dest!r}; "
                    "headwater writes system columns itself, rename yours"
                )
            column_seen[ident] = column
            columns[dest] = parse_declared(declared, table=table, column=dest)
        # A primary key column that is also declared keeps the declared spelling.
        by_ident = {identity(c): c for c in columns}
        pk = tuple(by_ident.get(identity(c), c) for c in pk_names)
        specs.append(TableSpec(schema=schema, table=table, primary_key=pk, columns=columns))
    return specs
