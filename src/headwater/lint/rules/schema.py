"""Rules on what schema() returns, where it is written as literals: entry keys, column types and
primary keys."""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterator

from headwater.lint.blocks import local_nodes
from headwater.lint.context import ModuleContext, ProjectContext
from headwater.lint.registry import Example, Violation, rule
from headwater.lint.rules.structure import connector_argument, connector_calls, find_schema_function

__all__ = ["SDK_TYPES", "schema_entries"]

ENTRY_KEYS = ("table", "primary_key", "columns", "schema")
SDK_TYPES = ("BOOLEAN", "SHORT", "INT", "LONG", "DECIMAL", "FLOAT", "DOUBLE", "NAIVE_DATE", "NAIVE_DATETIME",
             "UTC_DATETIME", "BINARY", "XML", "STRING", "JSON")
_TYPE_ALIASES = {
    "INTEGER": "INT", "INT32": "INT", "SMALLINT": "SHORT", "INT16": "SHORT", "BIGINT": "LONG", "INT64": "LONG",
    "TEXT": "STRING", "VARCHAR": "STRING", "CHAR": "STRING", "STR": "STRING", "NAIVE_TIME": "STRING",
    "TIME": "STRING", "UUID": "STRING", "BOOL": "BOOLEAN", "REAL": "FLOAT", "NUMBER": "DOUBLE",
    "NUMERIC": "DECIMAL", "DATE": "NAIVE_DATE", "DATETIME": "NAIVE_DATETIME", "TIMESTAMP": "UTC_DATETIME",
    "TIMESTAMPTZ": "UTC_DATETIME", "TIMESTAMP_TZ": "UTC_DATETIME", "UTC_TIMESTAMP": "UTC_DATETIME",
    "NAIVE_TIMESTAMP": "NAIVE_DATETIME", "BYTES": "BINARY", "BLOB": "BINARY", "JSONB": "JSON",
    "OBJECT": "JSON", "ARRAY": "JSON", "MAP": "JSON",
}


def _resolve(module: ModuleContext, expr: ast.expr, local: dict[str, ast.expr]) -> ast.expr:
    if isinstance(expr, ast.Name):
        if expr.id in local:
            return local[expr.id]
        return module.constant(expr)
    return expr


def schema_entries(module: ModuleContext) -> list[ast.Dict]:
    """The dict literals that schema() returns: in a returned list, through local or module-level
    names, and appended to a returned list."""
    if "schema_entries" not in module.memo:
        module.memo["schema_entries"] = list(_schema_entries(module))
    entries: list[ast.Dict] = module.memo["schema_entries"]
    return entries


def _schema_entries(module: ModuleContext) -> Iterator[ast.Dict]:
    function = find_schema_function(module)
    if function is None:
        return
    passed = any(connector_argument(call, "schema", 1) is not None for call in connector_calls(module))
    if not passed and function.name != "schema":
        return
    body = list(function.body)
    local: dict[str, ast.expr] = {}
    counts: dict[str, int] = {}
    appended: dict[str, list[ast.expr]] = {}
    for node in local_nodes(body):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    counts[target.id] = counts.get(target.id, 0) + 1
                    local[target.id] = node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "append"
              and isinstance(node.func.value, ast.Name) and len(node.args) == 1):
            appended.setdefault(node.func.value.id, []).append(node.args[0])
    local = {name: value for name, value in local.items() if counts[name] == 1}
    seen: set[int] = set()
    for node in local_nodes(body):
        if not isinstance(node, ast.Return) or node.value is None:
            continue
        value = _resolve(module, node.value, local)
        elements: list[ast.expr] = list(value.elts) if isinstance(value, (ast.List, ast.Tuple)) else []
        if isinstance(node.value, ast.Name):
            elements += appended.get(node.value.id, [])
        for element in elements:
            entry = _resolve(module, element, local)
            if isinstance(entry, ast.Dict) and id(entry) not in seen:
                seen.add(id(entry))
                yield entry


def _entry_items(entry: ast.Dict) -> Iterator[tuple[str, ast.expr, ast.expr]]:
    for key, value in zip(entry.keys, entry.values):
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            yield key.value, key, value


# ------------------------------------------------------------------------------------ HW030
@rule(
    "HW030", "schema-entry-keys", "error",
    summary="A schema() entry has a key other than table, primary_key, columns and schema, or no table.",
    why="""A misspelt key is not a harmless extra: `"primary_keys": ["id"]` means the table has no
    primary key, so rows are appended instead of replaced. headwater rejects unknown keys; every
    entry needs a `table`.""",
    fix="Use only `table`, `primary_key`, `columns` and `schema` (as spelt here).",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def schema(configuration: dict):
            return [{"table": "items", "primary_keys": ["id"]}]


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update, schema=schema)
    ''', line=5),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def schema(configuration: dict):
            return [{"table": "items", "primary_key": ["id"]}]


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update, schema=schema)
    '''),
)
def check_entry_keys(project: ProjectContext) -> Iterator[Violation]:
    module = project.connector
    if module is None:
        return
    for entry in schema_entries(module):
        names = set()
        for name, key, _ in _entry_items(entry):
            names.add(name)
            if name not in ENTRY_KEYS:
                close = difflib.get_close_matches(name, ENTRY_KEYS, n=1)
                hint = f"write {close[0]!r}" if close else "remove it; allowed keys: " + ", ".join(ENTRY_KEYS)
                yield module.violation(key, f"schema() entry has the key {name!r}; allowed keys are "
                                       + ", ".join(ENTRY_KEYS), hint)
        if "table" not in names and None not in entry.keys and len(names) == len(entry.keys):
            yield module.violation(entry, "schema() entry has no 'table' key",
                                   "add the table name: {\"table\": \"items\", ...}")


# ------------------------------------------------------------------------------------ HW031
@rule(
    "HW031", "schema-column-type", "error",
    summary="A declared column type is not one of the 14 SDK types (or DECIMAL lacks precision/scale).",
    why="""Column types must be one of BOOLEAN, SHORT, INT, LONG, DECIMAL, FLOAT, DOUBLE, NAIVE_DATE,
    NAIVE_DATETIME, UTC_DATETIME, BINARY, XML, STRING, JSON. Database names such as INTEGER,
    TEXT or TIMESTAMP are rejected and the sync fails; DECIMAL needs
    `{"type": "DECIMAL", "precision": p, "scale": s}`.""",
    fix="Use an SDK type name (INT, STRING, UTC_DATETIME, ...), or leave the column out to infer it.",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def schema(configuration: dict):
            return [{"table": "items", "primary_key": ["id"], "columns": {"id": "INTEGER", "name": "STRING"}}]


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1, "name": "one"})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update, schema=schema)
    ''', line=5),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def schema(configuration: dict):
            return [{"table": "items", "primary_key": ["id"], "columns": {"id": "INT", "name": "STRING"}}]


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1, "name": "one"})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update, schema=schema)
    '''),
)
def check_column_types(project: ProjectContext) -> Iterator[Violation]:
    module = project.connector
    if module is None:
        return
    for entry in schema_entries(module):
        for name, _, value in _entry_items(entry):
            if name != "columns":
                continue
            columns = module.constant(value)
            if not isinstance(columns, ast.Dict):
                continue
            for column_key, declared in zip(columns.keys, columns.values):
                column = column_key.value if isinstance(column_key, ast.Constant) else "?"
                problem = _type_problem(module, declared)
                if problem is not None:
                    yield module.violation(declared, f"column {column!r}: {problem[0]}", problem[1])


def _type_problem(module: ModuleContext, declared: ast.expr) -> tuple[str, str] | None:
    value = module.constant(declared)
    via = f" (via {declared.id})" if isinstance(declared, ast.Name) and value is not declared else ""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        upper = value.value.upper()
        if upper == "DECIMAL":
            return (f"type 'DECIMAL'{via} needs a precision and a scale",
                    'write {"type": "DECIMAL", "precision": 10, "scale": 2}')
        if upper in SDK_TYPES:
            return None
        suggestion = _TYPE_ALIASES.get(upper) or next(iter(difflib.get_close_matches(upper, SDK_TYPES, n=1)), None)
        hint = f"write {suggestion!r}" if suggestion else "use one of " + ", ".join(SDK_TYPES)
        return f"{value.value!r}{via} is not a Connector SDK type", hint
    if isinstance(value, ast.Constant) and value.value is not None:
        return (f"{value.value!r}{via} is not a type name", "use a type name string such as 'STRING' or 'INT'")
    if isinstance(value, ast.Dict):
        items = {key.value: item for key, item in zip(value.keys, value.values)
                 if isinstance(key, ast.Constant) and isinstance(key.value, str)}
        if len(items) != len(value.keys) or "type" not in items:
            return None
        kind = items["type"]
        if not (isinstance(kind, ast.Constant) and isinstance(kind.value, str)):
            return None
        if kind.value.upper() != "DECIMAL":
            return (f"a dict type{via} must be DECIMAL, got {kind.value!r}",
                    f"write the plain name {kind.value.upper()!r}" if kind.value.upper() in SDK_TYPES
                    else "use a type name string such as 'STRING'")
        for part, low in (("precision", 1), ("scale", 0)):
            if part not in items:
                return (f"DECIMAL{via} has no {part!r}", 'write {"type": "DECIMAL", "precision": 10, "scale": 2}')
            number = items[part]
            if isinstance(number, ast.Constant) and (not isinstance(number.value, int) or isinstance(number.value, bool)
                                                     or not low <= number.value <= 38):
                return (f"DECIMAL{via} {part} {number.value!r} is not a whole number from {low} to 38",
                        'write {"type": "DECIMAL", "precision": 10, "scale": 2} (1 <= precision <= 38, '
                        "0 <= scale <= precision)")
        precision, scale = items["precision"], items["scale"]
        if (isinstance(precision, ast.Constant) and isinstance(scale, ast.Constant)
                and isinstance(precision.value, int) and isinstance(scale.value, int)
                and scale.value > precision.value):
            return (f"DECIMAL{via} scale {scale.value} is larger than its precision {precision.value}",
                    "make the scale at most the precision")
    return None


# ------------------------------------------------------------------------------------ HW032
@rule(
    "HW032", "schema-primary-key", "error",
    summary="A schema() entry's primary_key is not a list of column names.",
    why="""primary_key must be a list of column names, even for a single column. A bare string
    such as `"id"` is rejected (it is not read as ["i", "d"] or as ["id"]); repeated or
    non-string names are rejected too.""",
    fix='Write `"primary_key": ["id"]` (a list, one string per key column).',
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def schema(configuration: dict):
            return [{"table": "items", "primary_key": "id"}]


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update, schema=schema)
    ''', line=5),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def schema(configuration: dict):
            return [{"table": "items", "primary_key": ["id"]}]


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update, schema=schema)
    '''),
)
def check_primary_key(project: ProjectContext) -> Iterator[Violation]:
    module = project.connector
    if module is None:
        return
    for entry in schema_entries(module):
        for name, _, value in _entry_items(entry):
            if name != "primary_key":
                continue
            key = module.constant(value)
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                yield module.violation(value, f"primary_key is the string {key.value!r}, not a list",
                                       f"write [{key.value!r}]")
            elif isinstance(key, ast.Constant) and key.value is not None:
                yield module.violation(value, f"primary_key is {key.value!r}, not a list of column names",
                                       'write a list of column names, e.g. ["id"]')
            elif isinstance(key, (ast.List, ast.Tuple)):
                names: list[object] = []
                for element in key.elts:
                    if isinstance(element, ast.Constant):
                        if not isinstance(element.value, str) or not element.value:
                            yield module.violation(element, f"primary_key holds {element.value!r}, not a column name",
                                                   "list column names as non-empty strings")
                        elif element.value in names:
                            yield module.violation(element, f"primary_key lists {element.value!r} twice",
                                                   "list each key column once")
                        names.append(element.value)


# ------------------------------------------------------------------------------------ HW033
def declared_tables(module: ModuleContext) -> dict[str, str] | None:
    """The tables schema() declares, by normalised name (``{"order_items": "OrderItems"}``), when
    every entry it can return is a literal with a literal table name; ``None`` when any is not
    (built in a loop, read from a file, returned by another function...), or there is no schema()."""
    if "declared_tables" in module.memo:
        cached: dict[str, str] | None = module.memo["declared_tables"]
        return cached
    module.memo["declared_tables"] = result = _declared_tables(module)
    return result


def _declared_tables(module: ModuleContext) -> dict[str, str] | None:
    function = find_schema_function(module)
    if function is None:
        return None
    if not any(connector_argument(call, "schema", 1) is not None for call in connector_calls(module)):
        return None
    local: dict[str, ast.expr] = {}
    counts: dict[str, int] = {}
    added: dict[str, list[ast.expr]] = {}
    for node in local_nodes(list(function.body)):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    counts[target.id] = counts.get(target.id, 0) + (1 if not isinstance(node, ast.AugAssign) else 2)
                    if node.value is not None:
                        local[target.id] = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name):
            name = node.func.value.id
            if node.func.attr == "append" and len(node.args) == 1:
                added.setdefault(name, []).append(node.args[0])
            elif node.func.attr == "extend" and len(node.args) == 1 and isinstance(node.args[0], (ast.List, ast.Tuple)):
                added.setdefault(name, []).extend(node.args[0].elts)
            elif node.func.attr in ("extend", "insert", "__iadd__"):
                counts[name] = 2  # changed in a way not followed
    local = {name: value for name, value in local.items() if counts.get(name) == 1}
    tables: dict[str, str] = {}
    returns = [node for node in local_nodes(list(function.body)) if isinstance(node, ast.Return)]
    if not returns:
        return None
    for node in returns:
        if node.value is None:
            return None
        value = _resolve(module, node.value, local)
        if not isinstance(value, (ast.List, ast.Tuple)):
            return None
        elements = list(value.elts)
        if isinstance(node.value, ast.Name):
            if counts.get(node.value.id, 0) != 1:
                return None
            elements += added.get(node.value.id, [])
        for element in elements:
            if isinstance(element, ast.Starred):
                return None
            entry = _resolve(module, element, local)
            if not isinstance(entry, ast.Dict):
                return None
            table = next((module.constant(item) for key, item in zip(entry.keys, entry.values)
                          if isinstance(key, ast.Constant) and key.value == "table"), None)
            if not (isinstance(table, ast.Constant) and isinstance(table.value, str)):
                return None
            tables[_normalise(table.value)] = table.value
    return tables


def _normalise(name: str) -> str:
    """Table names as FIVETRAN naming stores them, roughly: ``OrderItems`` and ``order-items`` -> ``order_items``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^0-9a-z]+", "_", snake.lower()).strip("_")


def _table_argument(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "table":
            return keyword.value
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    return None


@rule(
    "HW033", "undeclared-table", "warning",
    summary="op.upsert/update/delete writes to a table that schema() does not declare.",
    why="""When schema() lists its tables as literals, a write to any other name is almost always a
    typo or a table that was forgotten: it is created on the fly with every column type inferred
    and no primary key (rows get a `_fivetran_id` hash instead), so a changed row is added again
    instead of replacing the old one, and update() and delete() cannot find rows by key. Checked
    only when every schema() entry and the table argument are literals (or module constants).""",
    fix="Declare the table in schema() with its primary key, or fix the table name in the operation.",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def schema(configuration: dict):
            return [{"table": "orders", "primary_key": ["id"]}]


        def update(configuration: dict, state: dict):
            op.upsert(table="orders", data={"id": 1, "total": 10})
            op.upsert(table="order_lines", data={"order_id": 1, "line": 1, "sku": "A-1"})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update, schema=schema)
    ''', line=10),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def schema(configuration: dict):
            return [
                {"table": "orders", "primary_key": ["id"]},
                {"table": "order_lines", "primary_key": ["order_id", "line"]},
            ]


        def update(configuration: dict, state: dict):
            op.upsert(table="orders", data={"id": 1, "total": 10})
            op.upsert(table="order_lines", data={"order_id": 1, "line": 1, "sku": "A-1"})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update, schema=schema)
    '''),
)
def check_undeclared_tables(project: ProjectContext) -> Iterator[Violation]:
    if project.connector is None:
        return
    declared = declared_tables(project.connector)
    if not declared:
        return
    listing = ", ".join(repr(name) for name in sorted(declared.values()))
    for module in project.modules:
        for call, method in module.op_calls:
            if method not in ("upsert", "update", "delete"):
                continue
            argument = _table_argument(call)
            table = module.constant(argument) if argument is not None else None
            if not (isinstance(table, ast.Constant) and isinstance(table.value, str)) or not table.value.strip():
                continue
            if _normalise(table.value) in declared:
                continue
            close = difflib.get_close_matches(table.value, list(declared.values()), n=1)
            hint = (f"did you mean {close[0]!r}? Otherwise declare {table.value!r} in schema() with its primary key"
                    if close else f"declare {table.value!r} in schema() with its primary key")
            yield module.violation(
                argument if argument is not None else call,
                f"op.{method}() writes to {table.value!r}, which schema() does not declare ({listing}): it gets "
                "inferred types and no primary key", hint)
