"""errors.md end to end: one test per catalogue entry, run through the real ``headwater`` command.

For every entry the tests check the exit status, that stderr holds exactly one ``error: `` line
(CLI-13) containing the required phrases (ERR-1, compared without case), no Python traceback on
stderr, and the connector's ``connector.py, line N`` when the error comes from connector code.
Before-sync errors (ERR-3) must leave every project file byte-identical and print no summary;
in-sync errors (ERR-4) keep the warehouse and state at the last commit point and end the summary
with ``Sync FAILED``.

Most tests copy a *seeded* project: a warehouse and state produced once per module by a real
successful sync (table ``tester.items``, state ``{"seed": 1}``), so "left as it was" is checked
against real files.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

SUMMARY_HEAD = "Operation     | Calls"
SEED_STATE = {"seed": 1}
SEED_ITEMS = [(0, "item 0", 0.0), (1, "item 1", 1.5), (2, "item 2", 3.0)]

SEED_CONNECTOR = """
from fivetran_connector_sdk import Connector, Operations as op


def schema(configuration):
    return [{"table": "items", "primary_key": ["id"],
             "columns": {"id": "INT", "name": "STRING", "price": "DOUBLE"}}]


def update(configuration, state):
    for i in range(3):
        op.upsert("items", {"id": i, "name": f"item {i}", "price": i * 1.5})
    op.checkpoint({"seed": 1})


connector = Connector(update=update, schema=schema)
"""

# A connector that would change the warehouse and the state if it ran: before-sync errors must
# stop it from running.
GOOD_CONNECTOR = """
from fivetran_connector_sdk import Connector, Operations as op


def schema(configuration):
    return [{"table": "items", "primary_key": ["id"],
             "columns": {"id": "INT", "name": "STRING", "price": "DOUBLE"}}]


def update(configuration, state):
    op.upsert("items", {"id": 99, "name": "must not be written", "price": 9.9})
    op.upsert("intruder", {"id": 1})
    op.checkpoint({"seed": 99})


connector = Connector(update=update, schema=schema)
"""

# In-sync failures: one commit point ({"n": 1}) with row 1, then operations that must be discarded
# (row 2 and a new table), then the failure under test at the line marked FAILS HERE.
IN_SYNC_CONNECTOR = """
import datetime
import os
import sys

from fivetran_connector_sdk import Connector, Logging as log, Operations as op


def schema(configuration):
    return [
        {"table": "items", "primary_key": ["id"], "columns": {"id": "INT", "name": "STRING", "price": "DOUBLE"}},
        {"table": "events", "primary_key": ["id"],
         "columns": {"id": "INT", "amount": "INT", "seen": "UTC_DATETIME"}},
        {"table": "nokey", "columns": {"a": "INT"}},
    ]


def update(configuration, state):
    op.upsert("events", {"id": 1, "stage": "committed"})
    op.checkpoint({"n": 1})
    op.upsert("events", {"id": 2, "stage": "discarded"})
    op.upsert("late_table", {"id": 1})
    op.upsert("items", {"id": 0, "name": "changed after the commit point"})
@FAILURE@


connector = Connector(update=update, schema=schema)
"""
MARKER = "# FAILS HERE"


# -- helpers -------------------------------------------------------------------------------------


def describe(result: Any) -> str:
    return f"exit status {result.code}\n--- stdout\n{result.out}\n--- stderr\n{result.err}"


def line_of(source: str, needle: str) -> int:
    """1-based line number of the first line containing ``needle`` in the written connector.py."""
    lines = textwrap.dedent(source).lstrip("\n").splitlines()
    matches = [number for number, line in enumerate(lines, 1) if needle in line]
    assert matches, f"{needle!r} not in connector source"
    return matches[0]


def in_sync_source(failure: str) -> str:
    """IN_SYNC_CONNECTOR with ``failure`` (one or more statements) as the end of update()."""
    snippet = textwrap.dedent(failure).strip("\n")
    if MARKER not in snippet:
        first, *rest = snippet.split("\n")
        snippet = "\n".join([f"{first}  {MARKER}", *rest])
    return IN_SYNC_CONNECTOR.replace("@FAILURE@", textwrap.indent(snippet, "    "))


def assert_error_reported(
    result: Any,
    *,
    code: int,
    phrases: list[str],
    line: int | None = None,
) -> str:
    """Exit status; stderr is exactly one ``error: `` line holding every required phrase (and
    ``connector.py, line N`` if given), so no traceback either; returns that line."""
    assert result.code == code, describe(result)
    stderr_lines = [text for text in result.err.splitlines() if text.strip()]
    assert len(stderr_lines) == 1 and stderr_lines[0].startswith("error: "), describe(result)
    message = stderr_lines[0]
    assert "Traceback" not in result.err, describe(result)
    for phrase in phrases:
        assert phrase.lower() in message.lower(), f"required phrase {phrase!r} missing\n{describe(result)}"
    if line is not None:
        assert f"connector.py, line {line}" in message, describe(result)
    return message


def assert_no_summary(result: Any) -> None:
    assert SUMMARY_HEAD not in result.out, describe(result)
    assert "Sync FAILED" not in result.out and "Sync SUCCEEDED" not in result.out, describe(result)


def assert_failed_summary(result: Any) -> None:
    lines = result.out.rstrip("\n").split("\n")
    assert lines[-1] == "Sync FAILED", describe(result)
    assert lines[-9] == SUMMARY_HEAD, describe(result)


def warehouse_content(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the warehouse with all its rows (system columns included), to compare runs."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables ORDER BY ALL"
        ).fetchall()
        content = {}
        for schema_name, table in tables:
            columns = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema_name, table],
            ).fetchall()
            rows = con.execute(f'SELECT * FROM "{schema_name}"."{table}" ORDER BY ALL').fetchall()
            content[f"{schema_name}.{table}"] = [tuple(columns), *rows]
        return content
    finally:
        con.close()


def new_seeded_project(folder: Path, seed_files: Path, hw: Any, source: str, files: dict[str, str] | None = None,
                       configuration: Any = None) -> Path:
    """A project in ``folder`` with a copy of the seeded files/, then connector.py and ``files`` written."""
    folder.mkdir(parents=True)
    shutil.copytree(seed_files, folder / "files")
    return hw.write_project(folder, source, configuration, files=files)


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_files(tmp_path_factory: pytest.TempPathFactory, hw: Any) -> Path:
    """files/ of a project after one successful sync of SEED_CONNECTOR."""
    project = hw.write_project(tmp_path_factory.mktemp("seed"), SEED_CONNECTOR)
    result = hw.run_cli("debug", cwd=project)
    assert result.code == 0, describe(result)
    assert hw.read_state(project) == SEED_STATE
    return project / "files"


@pytest.fixture
def seeded(tmp_path: Path, seed_files: Path, hw: Any) -> Callable[..., Path]:
    """Factory: a new project with ``source`` as connector.py and a copy of the seeded files/."""
    names = itertools.count()

    def factory(
        source: str = GOOD_CONNECTOR, configuration: Any = None, *, files: dict[str, str] | None = None
    ) -> Path:
        return new_seeded_project(tmp_path / f"project{next(names)}", seed_files, hw, source, files, configuration)

    return factory


@pytest.fixture
def before_sync(seeded: Callable[..., Path], hw: Any) -> Callable[..., tuple[Path, Any]]:
    """Run ``headwater debug ARGS`` in a seeded project; assert ERR-3 (every file byte-identical, no
    summary) and return (project, result)."""

    def check(
        source: str = GOOD_CONNECTOR,
        *,
        configuration: Any = None,
        files: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        env: dict[str, str | None] | None = None,
        remove: tuple[str, ...] = (),
    ) -> tuple[Path, Any]:
        project = seeded(source, configuration, files=files)
        for relative in remove:
            (project / relative).unlink()
        before = hw.snapshot(project)
        result = hw.run_cli("debug", *args, cwd=project, env=env)
        assert hw.snapshot(project) == before, f"a before-sync error changed the project\n{describe(result)}"
        assert_no_summary(result)
        return project, result

    return check


def schema_source(schema_body: str) -> str:
    return (
        "from fivetran_connector_sdk import Connector, Operations as op\n\n\n"
        "def schema(configuration):\n"
        + textwrap.indent(textwrap.dedent(schema_body).strip("\n"), "    ")
        + "\n\n\ndef update(configuration, state):\n"
        '    op.upsert("items", {"id": 99, "name": "must not be written"})\n'
        '    op.checkpoint({"seed": 99})\n\n\n'
        "connector = Connector(update=update, schema=schema)\n"
    )


# In-sync failures found by checking schema() and the declared schema against the warehouse, all
# before the first commit point of the run: schema() is the body given here (ERR-SCHEMA, ERR-EVOL).
SCHEMA_CASES = {
    "raises": 'raise ConnectionError("schema service is down")',
    "exits": "import sys\nsys.exit(0)",
    "returns_dict": 'return {"table": "items"}',
    "returns_none": "return None",
    "entry_string": 'return [{"table": "ok"}, "items"]',
    "entry_none": 'return [{"table": "ok"}, None]',
    "entry_without_table": 'return [{"primary_key": ["id"], "columns": {"id": "INT"}}]',
    "unknown_key_primary_keys": 'return [{"table": "items", "primary_keys": ["id"]}]',
    "unknown_key_description": 'return [{"table": "items", "description": "the items"}]',
    "primary_key_string": 'return [{"table": "items", "primary_key": "id"}]',
    "primary_key_repeated": 'return [{"table": "items", "primary_key": ["id", "id"]}]',
    "primary_key_empty_name": 'return [{"table": "items", "primary_key": [""]}]',
    "primary_key_number": 'return [{"table": "items", "primary_key": [1]}]',
    "columns_list": 'return [{"table": "items", "primary_key": ["id"], "columns": ["id", "name"]}]',
    "type_integer": 'return [{"table": "items", "primary_key": ["id"], "columns": {"qty": "INTEGER"}}]',
    "type_naive_time": 'return [{"table": "items", "primary_key": ["id"], "columns": {"qty": "NAIVE_TIME"}}]',
    "type_dict_not_decimal": 'return [{"table": "items", "columns": {"qty": {"type": "STRING"}}}]',
    "type_number": 'return [{"table": "items", "primary_key": ["id"], "columns": {"qty": 5}}]',
    "decimal_plain": 'return [{"table": "items", "primary_key": ["id"], "columns": {"price": "DECIMAL"}}]',
    "decimal_no_scale": 'return [{"table": "t", "columns": {"price": {"type": "DECIMAL", "precision": 10}}}]',
    "decimal_precision_39": 'return [{"table": "t", "columns": {"p": {"type": "DECIMAL", "precision": 39,'
                            ' "scale": 2}}}]',
    "decimal_scale_above_precision": 'return [{"table": "t", "columns": {"p": {"type": "decimal", "precision": 5,'
                                     ' "scale": 6}}}]',
    "decimal_boolean_precision": 'return [{"table": "t", "columns": {"p": {"type": "DECIMAL", "precision": True,'
                                 ' "scale": 0}}}]',
    "twice_one_table_name": 'return [{"table": "userData"}, {"table": "user_data"}]',
    "twice_same_table": 'return [{"table": "items", "primary_key": ["id"]}, {"table": "items", "primary_key": ["id"]}]',
    "twice_one_column_name": 'return [{"table": "t", "columns": {"firstName": "STRING", "first_name": "STRING"}}]',
    "name_empty_table": 'return [{"table": ""}]',
    "name_blank_table": 'return [{"table": "   "}]',
    "name_number_table": 'return [{"table": 7}]',
    "name_empty_schema": 'return [{"table": "t", "schema": ""}]',
    "reserved_column": 'return [{"table": "t", "columns": {"_fivetran_synced": "UTC_DATETIME"}}]',
    "reserved_primary_key": 'return [{"table": "t", "primary_key": ["_fivetran_id"]}]',
    "reserved_other_case": 'return [{"table": "t", "columns": {"_FIVETRAN_DELETED": "BOOLEAN"}}]',
    "evol_double_to_int": 'return [{"table": "items", "primary_key": ["id"], "columns": {"price": "INT"}}]',
    "evol_double_to_boolean": 'return [{"table": "items", "primary_key": ["id"], "columns": {"price": "BOOLEAN"}}]',
    "evol_key_other": 'return [{"table": "items", "primary_key": ["name"]}]',
    "evol_key_longer": 'return [{"table": "items", "primary_key": ["id", "name"]}]',
    "evol_key_keyless": 'return [{"table": "items"}]',
}

# In-sync failures inside update(): IN_SYNC_CONNECTOR ending in this code, and the exit status.
IN_SYNC_CASES: dict[str, tuple[str, int]] = {
    "raise_plain": ('raise ValueError("cursor 42 is in the future")', 1),
    "raise_multi_line": ('raise ValueError("first line\\n  second line")', 1),
    "raise_generator": ('yield op.upsert("events", {"id": 3})\n'
                        'raise LookupError("page 7 is missing")  # FAILS HERE', 1),
    "error_uncaught": ('op.error("upstream said no", trace="line one\\nline two")', 1),
    "error_caught": ('try:\n    op.error("upstream said no", trace="line one\\nline two")  # FAILS HERE\n'
                     "except Exception:\n    pass", 1),
    "checkpoint_after_error": (
        'try:\n    op.error("the source API returned 500")\nexcept Exception:\n    pass\n'
        'try:\n    op.checkpoint({"n": 2})  # FAILS HERE\n'
        'except Exception as exc:\n    log.info(f"CHECKPOINT REFUSED {type(exc).__mro__} {exc}")', 1),
    "exit_sys_0": ("sys.exit(0)", 1),
    "exit_sys_3": ("sys.exit(3)", 1),
    "exit_builtin": ("exit()", 1),
    "exit_raise": ("raise SystemExit('bye')", 1),
    "keyboard_interrupt": ("raise KeyboardInterrupt", 130),
}


@pytest.fixture(scope="module")
def schema_runs(
    tmp_path_factory: pytest.TempPathFactory, seed_files: Path, hw: Any, cli_pool: Any
) -> Callable[[str], Any]:
    """Start every SCHEMA_CASES run at once (in parallel); ``schema_runs(case)`` waits for one, checks
    the failure before any commit point of the run (summary ending Sync FAILED, state byte-identical,
    warehouse content unchanged) and returns its result."""
    base = tmp_path_factory.mktemp("schema")
    started = {}
    for case, body in SCHEMA_CASES.items():
        project = new_seeded_project(base / case, seed_files, hw, schema_source(body))
        state = (project / "files" / "state.json").read_bytes()
        content = warehouse_content(project / "files" / "warehouse.db")
        started[case] = (project, state, content, cli_pool.submit("debug", cwd=project))

    def finished(case: str) -> Any:
        project, state, content, future = started[case]
        result = future.result()
        assert_failed_summary(result)
        assert (project / "files" / "state.json").read_bytes() == state
        assert warehouse_content(project / "files" / "warehouse.db") == content
        return result

    return finished


@pytest.fixture(scope="module")
def in_sync_runs(
    tmp_path_factory: pytest.TempPathFactory, seed_files: Path, hw: Any, cli_pool: Any
) -> Callable[[str], tuple[Any, str]]:
    """Start every in-sync failure run at once (IN_SYNC_CASES and the uncaught operation errors);
    ``in_sync_runs(case)`` waits for one, checks ERR-4 (summary ending Sync FAILED; warehouse and
    state at the commit point {"n": 1}) and returns (result, connector source)."""
    cases = dict(IN_SYNC_CASES)
    cases.update({f"uncaught {entry}": (OPERATION_CASES[name][1], 1) for entry, name in UNCAUGHT.items()})
    base = tmp_path_factory.mktemp("in_sync")
    started = {}
    for number, (case, (failure, code)) in enumerate(cases.items()):
        source = in_sync_source(failure)
        project = new_seeded_project(base / f"case{number}", seed_files, hw, source)
        started[case] = (project, source, code, cli_pool.submit("debug", cwd=project))

    def finished(case: str) -> tuple[Any, str]:
        project, source, code, future = started[case]
        result = future.result()
        assert result.code == code, describe(result)
        assert_failed_summary(result)
        db = project / "files" / "warehouse.db"
        assert hw.read_state(project) == {"n": 1}, describe(result)
        assert hw.query(db, "SELECT id, stage FROM tester.events ORDER BY id") == [(1, "committed")]
        tables = hw.query(
            db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'tester' ORDER BY 1"
        )
        assert tables == [("events",), ("items",), ("nokey",)]
        assert hw.query(db, "SELECT id, name, price FROM tester.items ORDER BY id") == SEED_ITEMS
        return result, source

    return finished


# -- command line (ERR-CLI) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("frobnicate",), ("--bogus-option",), ("debug", "--bogus-option"), ("reset", "--everything")],
    ids=["unknown_command", "unknown_global_option", "unknown_debug_option", "unknown_reset_option"],
)
def test_unknown_command_or_option_is_a_usage_error(
    seeded: Callable[..., Path], hw: Any, args: tuple[str, ...]
) -> None:
    project = seeded()
    before = hw.snapshot(project)
    result = hw.run_cli(*args, cwd=project)
    assert_error_reported(result, code=2, phrases=["usage"])
    assert hw.snapshot(project) == before
    assert_no_summary(result)


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--naming", "snake"), None), ((), {"FIVETRAN_NAMING": "snake_case"})],
    ids=["flag", "environment_variable"],
)
def test_naming_other_than_fivetran_or_source_is_a_usage_error(
    before_sync: Callable[..., Any], args: tuple[str, ...], env: dict[str, str] | None
) -> None:
    _, result = before_sync(args=args, env=env)
    assert_error_reported(result, code=2, phrases=["naming", "SOURCE"])


@pytest.mark.parametrize("kind", ["missing", "a_file"])
def test_project_path_that_is_not_a_directory_is_refused(
    seeded: Callable[..., Path], hw: Any, tmp_path: Path, kind: str
) -> None:
    project = seeded()
    before = hw.snapshot(project)
    target = project / "no_such_folder" if kind == "missing" else project / "connector.py"
    result = hw.run_cli("debug", target, cwd=tmp_path)
    assert_error_reported(result, code=1, phrases=["project path"])
    assert_no_summary(result)
    assert hw.snapshot(project) == before
    assert not (project / "no_such_folder").exists()


def test_reset_without_confirmation_flag_and_without_terminal_is_refused(seeded: Callable[..., Path], hw: Any) -> None:
    project = seeded()
    before = hw.snapshot(project)
    result = hw.run_cli("reset", cwd=project)
    assert_error_reported(result, code=2, phrases=["--force"])
    assert hw.snapshot(project) == before


# -- loading the connector (ERR-LOAD) ------------------------------------------------------------


def test_missing_connector_file_is_refused_before_the_sync(before_sync: Callable[..., Any]) -> None:
    _, result = before_sync(remove=("connector.py",))
    assert_error_reported(result, code=1, phrases=["connector.py not found"])


LOAD_FAILURES = {
    "syntax_error": ("def update(configuration, state)\n    pass\n", "SyntaxError", "def update"),
    "failing_import": ("import headwater_test_no_such_module\n", "ModuleNotFoundError", "import headwater_test"),
    "connector_without_update": ("connector = Connector()\n", "TypeError", "connector = Connector()"),
    "module_level_exception": ('raise RuntimeError("cannot reach the API at import time")\n', "RuntimeError",
                               "raise RuntimeError"),
}


@pytest.mark.parametrize("case", list(LOAD_FAILURES))
def test_exception_while_importing_connector_is_refused_with_type_and_line(
    before_sync: Callable[..., Any], case: str
) -> None:
    body, type_name, needle = LOAD_FAILURES[case]
    source = "from fivetran_connector_sdk import Connector, Operations as op\n\n" + body
    _, result = before_sync(source)
    assert_error_reported(result, code=1, phrases=["error in connector.py", type_name], line=line_of(source, needle))
    if case == "module_level_exception":
        assert "cannot reach the API at import time" in result.err


def test_exception_while_importing_connector_logs_the_connector_traceback(before_sync: Callable[..., Any]) -> None:
    source = "from fivetran_connector_sdk import Connector\n\nimport source_api\n\nsource_api.boot()\n"
    _, result = before_sync(source, files={"source_api.py": "def boot():\n    raise RuntimeError('unreachable')\n"})
    assert_error_reported(result, code=1, phrases=["error in connector.py", "RuntimeError"])
    assert "SEVERE   [headwater] Traceback" in result.out, describe(result)
    assert 'connector.py", line 5' in result.out and 'source_api.py", line 2' in result.out, describe(result)


@pytest.mark.parametrize(
    ("tail", "also"),
    [("other = 42\n", None), ("my_connector = Connector(update=update)\n", "my_connector")],
    ids=["no_connector_at_all", "connector_under_another_name"],
)
def test_module_without_connector_object_is_refused(
    before_sync: Callable[..., Any], tail: str, also: str | None
) -> None:
    source = (
        "from fivetran_connector_sdk import Connector, Operations as op\n\n\n"
        "def update(configuration, state):\n    op.checkpoint({'seed': 99})\n\n\n" + tail
    )
    _, result = before_sync(source)
    message = assert_error_reported(result, code=1, phrases=["connector object not found"])
    if also:
        assert also in message and "rename" in message.lower()


@pytest.mark.parametrize("value", ["None", '"update"', "42"])
def test_update_that_is_not_callable_is_refused(before_sync: Callable[..., Any], value: str) -> None:
    source = f"from fivetran_connector_sdk import Connector\n\nconnector = Connector(update={value})\n"
    _, result = before_sync(source)
    assert_error_reported(result, code=1, phrases=["update is not callable"])


@pytest.mark.parametrize("value", ['"schema"', "[]", "{'table': 'items'}"])
def test_schema_that_is_neither_none_nor_callable_is_refused(before_sync: Callable[..., Any], value: str) -> None:
    source = (
        "from fivetran_connector_sdk import Connector, Operations as op\n\n\n"
        "def update(configuration, state):\n    op.checkpoint({'seed': 99})\n\n\n"
        f"connector = Connector(update=update, schema={value})\n"
    )
    _, result = before_sync(source)
    assert_error_reported(result, code=1, phrases=["schema is not callable"])


@pytest.mark.parametrize(
    "definition",
    ["async def update(configuration, state):\n    op.checkpoint({'seed': 99})\n",
     "async def update(configuration, state):\n    yield op.checkpoint({'seed': 99})\n"],
    ids=["coroutine_function", "async_generator_function"],
)
def test_async_update_is_refused(before_sync: Callable[..., Any], definition: str) -> None:
    source = (
        "from fivetran_connector_sdk import Connector, Operations as op\n\n\n"
        + definition + "\n\nconnector = Connector(update=update)\n"
    )
    _, result = before_sync(source)
    assert_error_reported(result, code=1, phrases=["async"])


# -- configuration, state and warehouse files (ERR-CFG, ERR-STATE, ERR-WH) -----------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--configuration", "nowhere/missing-config.json"), None),
     ((), {"FIVETRAN_CONFIGURATION": "nowhere/missing-config.json"})],
    ids=["flag", "environment_variable"],
)
def test_configuration_file_that_does_not_exist_is_refused_with_its_path(
    before_sync: Callable[..., Any], args: tuple[str, ...], env: dict[str, str] | None
) -> None:
    _, result = before_sync(configuration={"key": "value"}, args=args, env=env)
    assert_error_reported(result, code=1, phrases=["configuration file not found", "nowhere/missing-config.json"])


@pytest.mark.parametrize("text", ['{"key": "value",}', "{'key': 'value'}", '{"key": "value"'],
                         ids=["trailing_comma", "single_quotes", "truncated"])
def test_configuration_that_is_not_valid_json_is_refused(before_sync: Callable[..., Any], text: str) -> None:
    _, result = before_sync(configuration=text)
    assert_error_reported(result, code=1, phrases=["configuration", "not valid JSON"])


@pytest.mark.parametrize("text", ["[1, 2]", '"key=value"', "null", "42"], ids=["list", "string", "null", "number"])
def test_configuration_that_is_not_a_json_object_is_refused(before_sync: Callable[..., Any], text: str) -> None:
    _, result = before_sync(configuration=text)
    assert_error_reported(result, code=1, phrases=["configuration", "JSON object"])


@pytest.mark.parametrize(
    "value", [5432, 1.5, True, None, ["a", "b"], {"nested": "x"}],
    ids=["integer", "float", "boolean", "null", "list", "object"],
)
def test_configuration_value_that_is_not_a_string_is_refused_before_the_sync(
    before_sync: Callable[..., Any], value: Any
) -> None:
    configuration = {"host": "db.example.com", "port": value, "later_bad": 7}
    _, result = before_sync(configuration=configuration)
    assert_error_reported(result, code=1, phrases=["must be strings", "port"])


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--state", "saved/missing-state.json"), None), ((), {"FIVETRAN_STATE": "saved/missing-state.json"})],
    ids=["flag", "environment_variable"],
)
def test_state_file_that_does_not_exist_is_refused(
    before_sync: Callable[..., Any], args: tuple[str, ...], env: dict[str, str] | None
) -> None:
    _, result = before_sync(args=args, env=env)
    assert_error_reported(result, code=1, phrases=["state file not found"])


@pytest.mark.parametrize(
    ("files", "args"),
    [({"files/state.json": '{"seed": '}, ()),
     ({"custom_state.json": "{seed: 1}"}, ("--state", "custom_state.json"))],
    ids=["saved_state", "state_option"],
)
def test_state_that_is_not_valid_json_is_refused(
    before_sync: Callable[..., Any], files: dict[str, str], args: tuple[str, ...]
) -> None:
    _, result = before_sync(files=files, args=args)
    assert_error_reported(result, code=1, phrases=["state", "not valid JSON"])


@pytest.mark.parametrize("text", ["[1, 2]", "null", '"cursor"', "7"], ids=["list", "null", "string", "number"])
def test_state_that_is_not_a_json_object_is_refused(before_sync: Callable[..., Any], text: str) -> None:
    _, result = before_sync(files={"files/state.json": text})
    assert_error_reported(result, code=1, phrases=["state", "JSON object"])


HOLD_WAREHOUSE = """
import sys
import duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
con.close()
"""


def test_warehouse_locked_by_another_process_is_refused_before_the_sync(seeded: Callable[..., Path], hw: Any) -> None:
    # The lock is held by another process: DuckDB's lock is a POSIX record lock, which this process
    # would silently drop the moment it reads the file (hw.snapshot) if it held it itself.
    project = seeded()
    before = hw.snapshot(project)
    with subprocess.Popen([hw.PYTHON, "-c", HOLD_WAREHOUSE, str(project / "files" / "warehouse.db")],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        try:
            assert holder.stdout.readline().strip() == "holding"
            result = hw.run_cli("debug", cwd=project)
            after = hw.snapshot(project)
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)
    assert_error_reported(result, code=1, phrases=["cannot open warehouse"])
    assert_no_summary(result)
    assert after == before


def test_warehouse_that_is_not_a_duckdb_file_is_refused_and_left_alone(before_sync: Callable[..., Any]) -> None:
    garbage = "this is a spreadsheet, not a database\n" * 200
    project, result = before_sync(files={"files/warehouse.db": garbage})
    assert_error_reported(result, code=1, phrases=["cannot open warehouse"])
    assert (project / "files" / "warehouse.db").read_text() == garbage


def test_before_sync_error_in_a_new_project_creates_no_files(make_project: Callable[..., Path], hw: Any) -> None:
    project = make_project(GOOD_CONNECTOR, '{"port": 5432}')
    result = hw.run_cli("debug", cwd=project)
    assert_error_reported(result, code=1, phrases=["must be strings", "port"])
    assert not (project / "files").exists()
    assert sorted(p.name for p in project.iterdir()) == ["configuration.json", "connector.py"]


@pytest.mark.parametrize(
    ("setup", "args", "phrases", "absent"),
    [
        ({"configuration.json": "[1]"}, ("--naming", "kebab", "no_such_dir"), ["naming"], "project path"),
        ({"configuration.json": "[1]", "files/state.json": "[2]"}, (), ["configuration", "JSON object"], "state"),
        ({"files/state.json": "[2]", "connector.py": None}, (), ["state", "JSON object"], "connector.py not found"),
        ({"connector.py": None, "files/warehouse.db": "garbage"}, (), ["connector.py not found"], "warehouse"),
        ({"connector.py": "from fivetran_connector_sdk import Connector\nconnector = Connector(update=None)\n",
          "files/warehouse.db": "garbage"}, (), ["update is not callable"], "warehouse"),
        ({"connector.py": "from fivetran_connector_sdk import Connector\n\ndef schema(c):\n"
                          "    raise ValueError('x')\n\n"
                          "connector = Connector(update=print, schema=schema)\n",
          "files/warehouse.db": "garbage"}, (), ["cannot open warehouse"], "schema() failed"),
    ],
    ids=["naming_before_project", "configuration_before_state", "state_before_connector",
         "connector_file_before_warehouse", "connector_object_before_warehouse", "warehouse_before_schema"],
)
def test_first_error_in_detection_order_is_the_one_reported(
    seeded: Callable[..., Path], hw: Any, setup: dict[str, str | None], args: tuple[str, ...],
    phrases: list[str], absent: str,
) -> None:
    project = seeded()
    for relative, text in setup.items():
        if text is None:
            (project / relative).unlink()
        else:
            (project / relative).write_text(text)
    result = hw.run_cli("debug", *args, cwd=project)
    message = assert_error_reported(result, code=2 if "naming" in phrases else 1, phrases=phrases)
    assert absent not in message.lower()


# -- schema() and the declared schema (ERR-SCHEMA) -----------------------------------------------


def test_schema_that_raises_fails_the_sync_with_type_message_and_line(schema_runs: Callable[[str], Any]) -> None:
    result = schema_runs("raises")
    assert_error_reported(result, code=1, phrases=["schema() failed", "ConnectionError", "schema service is down"],
                          line=5)
    assert "SEVERE   [headwater] Traceback" in result.out and 'connector.py", line 5' in result.out, result.out


@pytest.mark.parametrize("case", ["returns_dict", "returns_none"])
def test_schema_that_does_not_return_a_list_fails_the_sync(schema_runs: Callable[[str], Any], case: str) -> None:
    assert_error_reported(schema_runs(case), code=1, phrases=["schema() must return a list"])


@pytest.mark.parametrize("case", ["entry_string", "entry_none"])
def test_schema_entry_that_is_not_a_dict_fails_the_sync(schema_runs: Callable[[str], Any], case: str) -> None:
    assert_error_reported(schema_runs(case), code=1, phrases=["must be a dict"])


def test_schema_entry_without_table_fails_the_sync(schema_runs: Callable[[str], Any]) -> None:
    assert_error_reported(schema_runs("entry_without_table"), code=1, phrases=["missing 'table'"])


@pytest.mark.parametrize(("case", "key"), [("unknown_key_primary_keys", "primary_keys"),
                                           ("unknown_key_description", "description")])
def test_schema_entry_with_unknown_key_fails_the_sync_naming_the_key(
    schema_runs: Callable[[str], Any], case: str, key: str
) -> None:
    assert_error_reported(schema_runs(case), code=1, phrases=["unknown key", key])


@pytest.mark.parametrize("case", ["primary_key_string", "primary_key_repeated", "primary_key_empty_name",
                                  "primary_key_number"])
def test_primary_key_that_is_not_a_list_of_distinct_names_fails_the_sync(
    schema_runs: Callable[[str], Any], case: str
) -> None:
    assert_error_reported(schema_runs(case), code=1, phrases=["primary_key must be a list"])


def test_columns_that_is_not_a_dict_fails_the_sync(schema_runs: Callable[[str], Any]) -> None:
    assert_error_reported(schema_runs("columns_list"), code=1, phrases=["columns must be a dict"])


@pytest.mark.parametrize(
    ("case", "shown"),
    [("type_integer", "INTEGER"), ("type_naive_time", "NAIVE_TIME"), ("type_dict_not_decimal", "STRING"),
     ("type_number", "5")],
)
def test_unknown_column_type_fails_the_sync_naming_the_type(
    schema_runs: Callable[[str], Any], case: str, shown: str
) -> None:
    assert_error_reported(schema_runs(case), code=1, phrases=["unknown data type", shown])


@pytest.mark.parametrize("case", ["decimal_plain", "decimal_no_scale", "decimal_precision_39",
                                  "decimal_scale_above_precision", "decimal_boolean_precision"])
def test_decimal_without_valid_precision_and_scale_fails_the_sync(schema_runs: Callable[[str], Any], case: str) -> None:
    assert_error_reported(schema_runs(case), code=1, phrases=["DECIMAL", "precision"])


@pytest.mark.parametrize("case", ["twice_one_table_name", "twice_same_table", "twice_one_column_name"])
def test_names_declared_twice_fail_the_sync(schema_runs: Callable[[str], Any], case: str) -> None:
    assert_error_reported(schema_runs(case), code=1, phrases=["declared more than once"])


@pytest.mark.parametrize("case", ["name_empty_table", "name_blank_table", "name_number_table", "name_empty_schema"])
def test_table_or_schema_name_that_is_not_a_non_empty_string_fails_the_sync(
    schema_runs: Callable[[str], Any], case: str
) -> None:
    assert_error_reported(schema_runs(case), code=1, phrases=["must be a non-empty string"])


@pytest.mark.parametrize("case", ["reserved_column", "reserved_primary_key", "reserved_other_case"])
def test_declaring_a_system_column_fails_the_sync(schema_runs: Callable[[str], Any], case: str) -> None:
    assert_error_reported(schema_runs(case), code=1, phrases=["reserved"])


# -- changes against the existing warehouse (ERR-EVOL) -------------------------------------------


@pytest.mark.parametrize("case", ["evol_double_to_int", "evol_double_to_boolean"])
def test_declared_type_that_cannot_replace_the_existing_one_fails_the_sync(
    schema_runs: Callable[[str], Any], case: str
) -> None:
    assert_error_reported(schema_runs(case), code=1, phrases=["cannot change type", "price"])


@pytest.mark.parametrize("case", ["evol_key_other", "evol_key_longer", "evol_key_keyless"])
def test_changed_primary_key_fails_the_sync_and_suggests_reset(schema_runs: Callable[[str], Any], case: str) -> None:
    assert_error_reported(schema_runs(case), code=1, phrases=["primary key changed", "headwater reset"])


# -- operations (ERR-OP, ERR-CKPT): raised from the call, caught by the connector ----------------

TABLE_NAME = "table name must be a non-empty string"
COLUMN_NAME = "column name must be a non-empty string"
SCHEMA_NAME = "schema name must be a non-empty string"
MESSAGE = "message must be a non-empty string"
STATE_DICT = "checkpoint state must be a dict"
NOT_JSON = "not JSON serializable"
NO_KEY = "missing primary key"

# name -> (catalogue entry, the call, builtin exception type it must be, required phrases)
OPERATION_CASES: dict[str, tuple[str, str, str, list[str]]] = {
    "upsert_table_number": ("ERR-OP-1", 'op.upsert(5, {"id": 2})', "TypeError", [TABLE_NAME]),
    "upsert_table_empty": ("ERR-OP-1", 'op.upsert("", {"id": 2})', "ValueError", [TABLE_NAME]),
    "update_table_blank": ("ERR-OP-1", 'op.update("   ", {"id": 1})', "ValueError", [TABLE_NAME]),
    "delete_table_none": ("ERR-OP-1", 'op.delete(None, {"id": 1})', "TypeError", [TABLE_NAME]),
    "truncate_table_list": ("ERR-OP-1", 'op.truncate(["events"])', "TypeError", [TABLE_NAME]),
    "upsert_data_list": ("ERR-OP-2", 'op.upsert("ghost_two", [{"id": 2}])', "TypeError", ["must be a dict", "list"]),
    "update_modified_string": ("ERR-OP-2", 'op.update("events", "id=1")', "TypeError", ["must be a dict", "str"]),
    "delete_keys_none": ("ERR-OP-2", 'op.delete("events", None)', "TypeError", ["must be a dict", "None"]),
    "upsert_column_number": ("ERR-OP-3", 'op.upsert("events", {"id": 2, 7: "seven"})', "TypeError", [COLUMN_NAME]),
    "upsert_column_empty": ("ERR-OP-3", 'op.upsert("ghost_three", {"id": 2, "": "x"})', "ValueError", [COLUMN_NAME]),
    "update_column_blank": ("ERR-OP-3", 'op.update("events", {"id": 1, "  ": "x"})', "ValueError", [COLUMN_NAME]),
    "upsert_set_value": ("ERR-OP-4", 'op.upsert("ghost_four", {"id": 2, "tags": {"a", "b"}})', "TypeError",
                         ["unsupported value type", "set", "tags"]),
    "upsert_complex_value": ("ERR-OP-4", 'op.upsert("events", {"id": 2, "z": 1j})', "TypeError",
                             ["unsupported value type", "complex", "z"]),
    "update_object_value": ("ERR-OP-4", 'op.update("events", {"id": 1, "thing": object()})', "TypeError",
                            ["unsupported value type", "object", "thing"]),
    "upsert_text_into_int": ("ERR-OP-5", 'op.upsert("events", {"id": 2, "amount": "twelve"})', "ValueError",
                             ["cannot convert", "amount", "INT"]),
    "upsert_text_into_timestamp": ("ERR-OP-5", 'op.upsert("events", {"id": 2, "seen": "last tuesday"})', "ValueError",
                                   ["cannot convert", "seen", "UTC_DATETIME"]),
    "update_fraction_into_int": ("ERR-OP-5", 'op.update("events", {"id": 1, "amount": 1.5})', "ValueError",
                                 ["cannot convert", "amount", "INT"]),
    "upsert_without_key": ("ERR-OP-6", 'op.upsert("events", {"stage": "no id"})', "ValueError", [NO_KEY, "id"]),
    "upsert_null_key": ("ERR-OP-6", 'op.upsert("events", {"id": None, "stage": "x"})', "ValueError", [NO_KEY, "id"]),
    "update_without_key": ("ERR-OP-6", 'op.update("events", {"stage": "x"})', "ValueError", [NO_KEY, "id"]),
    "delete_without_key": ("ERR-OP-6", 'op.delete("events", {})', "ValueError", [NO_KEY, "id"]),
    "update_keyless_table": ("ERR-OP-7", 'op.update("nokey", {"a": 1})', "ValueError", ["requires a primary key"]),
    "upsert_colliding_keys": ("ERR-OP-8", 'op.upsert("events", {"id": 2, "userName": "a", "user_name": "b"})',
                              "ValueError", ["both map to", "user_name"]),
    "delete_colliding_keys": ("ERR-OP-8", 'op.delete("events", {"id": 1, "ID": 1})', "ValueError",
                              ["both map to", "id"]),
    "upsert_file": ("ERR-OP-10", 'op.upsert("events", {"id": 2}, file=object())', "NotImplementedError",
                    ["not supported", "file"]),
    "update_file": ("ERR-OP-10", 'op.update("events", {"id": 1}, file="rows.csv")', "NotImplementedError",
                    ["not supported", "file"]),
    "upsert_nested_set": ("ERR-OP-11", 'op.upsert("events", {"id": 2, "payload": {"tags": {1, 2}}})', "TypeError",
                          [NOT_JSON, "payload"]),
    "upsert_nested_date": ("ERR-OP-11", 'op.upsert("events", {"id": 2, "payload": [datetime.date(2024, 1, 1)]})',
                           "TypeError", [NOT_JSON, "payload"]),
    "upsert_nested_nan": ("ERR-OP-11", 'op.upsert("events", {"id": 2, "payload": {"x": float("nan")}})', "TypeError",
                          [NOT_JSON, "payload"]),
    "upsert_schema_empty": ("ERR-OP-12", 'op.upsert("events", {"id": 2}, schema="")', "ValueError", [SCHEMA_NAME]),
    "delete_schema_number": ("ERR-OP-12", 'op.delete("events", {"id": 1}, schema=3)', "TypeError", [SCHEMA_NAME]),
    "truncate_schema_blank": ("ERR-OP-12", 'op.truncate("events", schema=" ")', "ValueError", [SCHEMA_NAME]),
    "warning_empty": ("ERR-OP-13", 'op.warning("")', "ValueError", [MESSAGE]),
    "warning_not_a_string": ("ERR-OP-13", "op.warning(42)", "TypeError", [MESSAGE]),
    "error_empty": ("ERR-OP-13", 'op.error("")', "ValueError", [MESSAGE]),
    "error_trace_not_a_string": ("ERR-OP-13", 'op.error("boom", trace=5)', "TypeError", [MESSAGE]),
    "checkpoint_list": ("ERR-CKPT-1", 'op.checkpoint(["n", 2])', "TypeError", [STATE_DICT]),
    "checkpoint_none": ("ERR-CKPT-1", "op.checkpoint(None)", "TypeError", [STATE_DICT]),
    "checkpoint_datetime": ("ERR-CKPT-2", 'op.checkpoint({"at": datetime.datetime(2024, 1, 1)})', "TypeError",
                            [NOT_JSON]),
    "checkpoint_set": ("ERR-CKPT-2", 'op.checkpoint({"ids": {1, 2}})', "TypeError", [NOT_JSON]),
    "checkpoint_nan": ("ERR-CKPT-2", 'op.checkpoint({"x": float("nan")})', "TypeError", [NOT_JSON]),
    "checkpoint_tuple_key": ("ERR-CKPT-2", 'op.checkpoint({(1, 2): "pair"})', "TypeError", [NOT_JSON]),
}
# Calls that must be accepted (no exception) by the same run.
ACCEPTED_CASES = {"warning_blank": 'op.warning("   ")'}

CAUGHT_CONNECTOR = """
import atexit
import datetime

from fivetran_connector_sdk import Connector, Operations as op


def kinds(exc):
    return ",".join(c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins")


def record(name, call):
    try:
        call()
    except Exception as exc:
        return {"name": name, "raised": True, "kinds": kinds(exc), "message": str(exc)}
    return {"name": name, "raised": False, "kinds": "", "message": ""}


IMPORT_TIME = record("import_time", lambda: op.upsert("events", {"id": 5}))


def after_the_sync():
    print("AFTER THE SYNC:", record("after_the_sync", lambda: op.checkpoint({"late": 1})), flush=True)


atexit.register(after_the_sync)

CASES = {
@CASES@
}


def schema(configuration):
    return [
        {"table": "events", "primary_key": ["id"],
         "columns": {"id": "INT", "amount": "INT", "seen": "UTC_DATETIME"}},
        {"table": "nokey", "columns": {"a": "INT"}},
        {"table": "results", "primary_key": ["name"]},
    ]


def update(configuration, state):
    op.upsert("events", {"id": 1, "stage": "kept"})
    results = [record(name, call) for name, call in CASES.items()]
    for row in [IMPORT_TIME, *results]:
        op.upsert("results", row)
    op.checkpoint({"done": 1})


connector = Connector(update=update, schema=schema)
"""


@pytest.fixture(scope="module")
def caught_run(tmp_path_factory: pytest.TempPathFactory, hw: Any) -> dict[str, Any]:
    """One sync that calls every bad operation of OPERATION_CASES, catching each exception."""
    calls = {name: case[1] for name, case in OPERATION_CASES.items()} | ACCEPTED_CASES
    source = CAUGHT_CONNECTOR.replace("@CASES@", "\n".join(f"    {n!r}: lambda: {c}," for n, c in calls.items()))
    project = hw.write_project(tmp_path_factory.mktemp("caught"), source)
    result = hw.run_cli("debug", cwd=project)
    db = project / "files" / "warehouse.db"
    rows = hw.query(db, "SELECT name, raised, kinds, message FROM tester.results") if db.exists() else []
    return {
        "project": project,
        "db": db,
        "result": result,
        "records": {name: {"raised": raised, "kinds": kinds.split(","), "message": message}
                    for name, raised, kinds, message in rows},
    }


def test_sync_continues_after_caught_operation_errors(caught_run: dict[str, Any], hw: Any) -> None:
    result = caught_run["result"]
    assert result.code == 0, describe(result)
    assert "\nSync SUCCEEDED\n" in result.out, describe(result)
    assert hw.read_state(caught_run["project"]) == {"done": 1}
    assert set(caught_run["records"]) == {"import_time", *OPERATION_CASES, *ACCEPTED_CASES}


@pytest.mark.parametrize("case", list(OPERATION_CASES), ids=[f"{v[0]}-{k}" for k, v in OPERATION_CASES.items()])
def test_bad_operation_raises_the_catalogued_exception_at_the_call(caught_run: dict[str, Any], case: str) -> None:
    _, _, exception, phrases = OPERATION_CASES[case]
    record = caught_run["records"].get(case)
    assert record is not None, describe(caught_run["result"])
    assert record["raised"], f"{case}: no exception raised"
    assert exception in record["kinds"], f"{case}: raised {record['kinds']}, expected a {exception}"
    for phrase in phrases:
        assert phrase.lower() in record["message"].lower(), f"{case}: {phrase!r} not in {record['message']!r}"


def test_whitespace_only_warning_message_is_accepted(caught_run: dict[str, Any]) -> None:
    record = caught_run["records"]["warning_blank"]
    assert not record["raised"], record["message"]


def test_caught_operation_errors_have_no_effect(caught_run: dict[str, Any], query: Callable[..., Any]) -> None:
    """A raised operation did not happen: no table, schema, column or row change, not counted (SEM-70)."""
    db = caught_run["db"]
    tables = query(db, "SELECT table_schema, table_name FROM information_schema.tables ORDER BY ALL")
    assert tables == [("tester", "events"), ("tester", "nokey"), ("tester", "results")]
    columns = query(db, "SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = 'tester' AND table_name = 'events'")
    assert {c for (c,) in columns} == {"id", "amount", "seen", "stage", "_fivetran_synced", "_fivetran_deleted"}
    assert query(db, "SELECT id, amount, seen, stage, _fivetran_deleted FROM tester.events") == [
        (1, None, None, "kept", False)
    ]
    assert query(db, "SELECT count(*) FROM tester.nokey") == [(0,)]
    out = caught_run["result"].out
    upserts = 2 + len(OPERATION_CASES) + len(ACCEPTED_CASES)  # events row, import-time record, one record per case
    for label, count in [("Upserts", upserts), ("Updates", 0), ("Deletes", 0), ("Truncates", 0), ("Checkpoints", 1)]:
        assert f"\n{label:<13} | {count}\n" in out, out


def test_operation_called_while_no_sync_is_running_raises_runtime_error(caught_run: dict[str, Any]) -> None:
    at_import = caught_run["records"]["import_time"]
    assert at_import["raised"] and "RuntimeError" in at_import["kinds"]
    assert "no sync is running" in at_import["message"].lower()
    after = [line for line in caught_run["result"].out.splitlines() if line.startswith("AFTER THE SYNC:")]
    assert len(after) == 1, caught_run["result"].out
    assert "'raised': True" in after[0] and "RuntimeError" in after[0] and "no sync is running" in after[0].lower()


# -- operations, uncaught: the sync fails with ERR-UPD-1 (ERR-5) ---------------------------------

UNCAUGHT = {
    "ERR-OP-1": "upsert_table_empty",
    "ERR-OP-2": "upsert_data_list",
    "ERR-OP-3": "upsert_column_number",
    "ERR-OP-4": "upsert_set_value",
    "ERR-OP-5": "upsert_text_into_int",
    "ERR-OP-6": "delete_without_key",
    "ERR-OP-7": "update_keyless_table",
    "ERR-OP-8": "upsert_colliding_keys",
    "ERR-OP-10": "upsert_file",
    "ERR-OP-11": "upsert_nested_set",
    "ERR-OP-12": "upsert_schema_empty",
    "ERR-OP-13": "warning_not_a_string",
    "ERR-CKPT-1": "checkpoint_list",
    "ERR-CKPT-2": "checkpoint_datetime",
}


@pytest.mark.parametrize("entry", list(UNCAUGHT))
def test_uncaught_operation_error_fails_the_sync_at_the_last_commit_point(
    in_sync_runs: Callable[[str], tuple[Any, str]], entry: str
) -> None:
    _, _, exception, phrases = OPERATION_CASES[UNCAUGHT[entry]]
    result, source = in_sync_runs(f"uncaught {entry}")
    line = line_of(source, MARKER)
    assert_error_reported(result, code=1, phrases=["update() failed", exception, *phrases], line=line)


def test_operation_at_import_time_fails_loading_the_connector(before_sync: Callable[..., Any]) -> None:
    source = 'from fivetran_connector_sdk import Connector, Operations as op\n\nop.upsert("events", {"id": 1})\n'
    _, result = before_sync(source)
    phrases = ["error in connector.py", "RuntimeError", "no sync is running"]
    assert_error_reported(result, code=1, phrases=phrases, line=3)


def test_checkpoint_after_operations_error_raises_and_the_sync_fails(in_sync_runs: Callable[[str], Any]) -> None:
    result, _ = in_sync_runs("checkpoint_after_error")
    assert_error_reported(result, code=1, phrases=["connector reported an error", "the source API returned 500"])
    refused = [line for line in result.out.splitlines() if "CHECKPOINT REFUSED" in line]
    assert len(refused) == 1 and "RuntimeError" in refused[0] and "sync has failed" in refused[0].lower(), result.out


# -- the end of update() (ERR-UPD, ERR-6) --------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "type_name", "message"),
    [("raise_plain", "ValueError", "cursor 42 is in the future"),
     ("raise_generator", "LookupError", "page 7 is missing")],
    ids=["plain_call_style", "generator_style"],
)
def test_exception_escaping_update_fails_the_sync_with_type_message_and_line(
    in_sync_runs: Callable[[str], tuple[Any, str]], case: str, type_name: str, message: str
) -> None:
    result, source = in_sync_runs(case)
    line = line_of(source, MARKER)
    assert_error_reported(result, code=1, phrases=["update() failed", type_name, message], line=line)
    # CLI-13: the connector's traceback is logged before the error line (stdout, SEVERE, headwater).
    assert "SEVERE   [headwater] Traceback" in result.out, result.out
    assert f'connector.py", line {line}' in result.out, result.out


def test_multi_line_exception_message_becomes_one_error_line(in_sync_runs: Callable[[str], tuple[Any, str]]) -> None:
    result, _ = in_sync_runs("raise_multi_line")
    message = assert_error_reported(result, code=1, phrases=["update() failed", "ValueError"])
    assert re.search(r"first line +second line", message), message


@pytest.mark.parametrize("case", ["error_uncaught", "error_caught"])
def test_operations_error_fails_the_sync_with_its_message(
    in_sync_runs: Callable[[str], tuple[Any, str]], case: str
) -> None:
    result, _ = in_sync_runs(case)
    assert_error_reported(result, code=1, phrases=["connector reported an error", "upstream said no"])
    # API-34: logged at SEVERE, origin connector, the trace on the next lines.
    lines = result.out.splitlines()
    logged = [n for n, line in enumerate(lines) if line.endswith(" SEVERE   [connector] upstream said no")]
    assert len(logged) == 1, result.out
    assert [line.strip() for line in lines[logged[0] + 1:logged[0] + 3]] == ["line one", "line two"]


@pytest.mark.parametrize("case", ["exit_sys_0", "exit_sys_3", "exit_builtin", "exit_raise"])
def test_exit_called_in_update_fails_the_sync_and_shows_where(
    in_sync_runs: Callable[[str], tuple[Any, str]], case: str
) -> None:
    result, source = in_sync_runs(case)
    line = line_of(source, MARKER)
    assert_error_reported(result, code=1, phrases=["called exit"], line=line)
    assert "SEVERE   [headwater] Traceback" in result.out and f'connector.py", line {line}' in result.out, result.out


def test_exit_called_in_schema_fails_the_sync(schema_runs: Callable[[str], Any]) -> None:
    assert_error_reported(schema_runs("exits"), code=1, phrases=["called exit"])


def test_keyboard_interrupt_in_update_fails_the_sync_like_an_exception_with_status_130(
    in_sync_runs: Callable[[str], tuple[Any, str]],
) -> None:
    result, source = in_sync_runs("keyboard_interrupt")
    assert_error_reported(result, code=130, phrases=["update() failed", "KeyboardInterrupt"],
                          line=line_of(source, MARKER))


def test_exception_in_helper_module_points_at_the_project_file(seeded: Callable[..., Path], hw: Any) -> None:
    project = seeded(
        "from fivetran_connector_sdk import Connector\n\nimport source_api\n\n\n"
        "def update(configuration, state):\n    source_api.fetch()\n\n\nconnector = Connector(update=update)\n",
        files={"source_api.py": "def fetch():\n    raise TimeoutError('source timed out')\n"},
    )
    result = hw.run_cli("debug", cwd=project)
    message = assert_error_reported(result, code=1, phrases=["update() failed", "TimeoutError", "source timed out"])
    assert "source_api.py, line 2" in message or "connector.py, line 7" in message, message
    assert json.loads((project / "files" / "state.json").read_text()) == SEED_STATE


def test_configuration_secrets_never_appear_in_headwaters_error_line_or_traceback(hw: Any, tmp_path: Path) -> None:
    secret = "sk-live-DO-NOT-PRINT-42"
    project = tmp_path / "leaky"
    project.mkdir()
    (project / "configuration.json").write_text(json.dumps({"api_key": secret, "page_size": "100"}))
    (project / "connector.py").write_text(textwrap.dedent('''
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            raise RuntimeError("GET https://api.example.com/orders?api_key=" + configuration["api_key"] + " failed")

        connector = Connector(update=update)
    '''))
    code, out, err = hw.run_cli("debug", str(project), cwd=tmp_path)
    assert code == 1
    assert "update() failed" in err
    assert secret not in err
    assert secret not in out
    assert "<redacted>" in err
