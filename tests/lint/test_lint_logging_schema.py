"""HW020-HW022 (logging) and HW030-HW032 (schema) beyond the documented examples."""

from __future__ import annotations

from collections.abc import Callable

from headwater.lint import LintReport

LintCode = Callable[..., LintReport]
Hits = Callable[..., list[tuple[str, str, int]]]

HEAD = "from fivetran_connector_sdk import Connector, Logging as log, Operations as op\n"
TAIL = "\nconnector = Connector(update=update, schema=schema)\n"


def connector_with_schema(body: str) -> str:
    return HEAD + body + '''
def update(configuration, state):
    op.upsert("t", {"id": 1})
    op.checkpoint({})
''' + TAIL


# ------------------------------------------------------------------------------------ logging
def test_print_in_a_helper_module_is_reported_but_not_under_main_guard(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
import helper

def update(configuration, state):
    op.upsert("t", helper.row())
    op.checkpoint({})

connector = Connector(update=update)

if __name__ == "__main__":
    print("running")
    connector.debug()
''', files={"helper.py": 'def row():\n    print("making a row")\n    return {"id": 1}\n'})
    assert hits(report) == [("HW020", "helper.py", 2)]


def test_a_module_that_defines_its_own_print_is_not_reported(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
def print(message):
    log.info(message)

def update(configuration, state):
    print("hello")
    op.upsert("t", {"id": 1})
    op.checkpoint({})

connector = Connector(update=update)
''')
    assert hits(report) == []


def test_stdlib_logging_module_functions_and_loggers_under_aliases(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
import logging as pylog
from logging import getLogger

LOGGER = getLogger(__name__)

class Client:
    def __init__(self):
        self.log = pylog.getLogger("client")

    def fetch(self):
        self.log.warning("slow")

def update(configuration, state):
    pylog.info("start")
    LOGGER.exception("oops")
    pylog.getLogger("x").debug("detail")
    Client().fetch()
    op.upsert("t", {"id": 1})
    op.checkpoint({})

connector = Connector(update=update)
''')
    assert hits(report) == [("HW021", "connector.py", 13), ("HW021", "connector.py", 16),
                            ("HW021", "connector.py", 17), ("HW021", "connector.py", 18)]


def test_configuring_stdlib_logging_is_not_reported(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
import logging

logging.basicConfig(level=logging.WARNING)
logging.getLogger("urllib3").setLevel(logging.ERROR)

def update(configuration, state):
    log.info("start")
    op.upsert("t", {"id": 1})
    op.checkpoint({})

connector = Connector(update=update)
''')
    assert hits(report) == []


def test_deprecated_levels_through_the_logging_class_name(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        from fivetran_connector_sdk import Connector, Logging, Operations as op

        def update(configuration, state):
            Logging.severe("bad", None)
            op.upsert("t", {"id": 1})
            op.checkpoint({})

        connector = Connector(update=update)
    ''')
    assert hits(report) == [("HW022", "connector.py", 4)]
    assert "log.error" in report.findings[0].hint


# ------------------------------------------------------------------------------------ schema
def test_schema_keys_through_module_constants_and_appends(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(connector_with_schema('''
USERS = {"table": "users", "primary_key": ["id"], "colums": {"id": "INT"}}

def schema(configuration):
    tables = [USERS]
    tables.append({"name": "events"})
    return tables
'''))
    assert hits(report) == [("HW030", "connector.py", 3), ("HW030", "connector.py", 7),
                            ("HW030", "connector.py", 7)]
    assert "'columns'" in report.findings[0].hint


def test_schema_built_dynamically_is_not_judged(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(connector_with_schema('''
TABLES = ["a", "b"]

def schema(configuration):
    return [{"table": name, "primary_key": ["id"], **({"columns": {"id": "INT"}} if name == "a" else {})}
            for name in TABLES]
'''))
    assert hits(report) == []


def test_column_types_are_case_insensitive_and_decimal_dicts_are_checked(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(connector_with_schema('''
MONEY = {"type": "DECIMAL", "precision": 12, "scale": 2}
BAD_MONEY = {"type": "decimal", "precision": 40, "scale": 2}

def schema(configuration):
    return [{"table": "t", "primary_key": ["id"], "columns": {
        "id": "long", "a": "Utc_Datetime", "price": MONEY, "cost": BAD_MONEY, "total": "DECIMAL",
        "at": "TIMESTAMP", "n": 5, "j": {"type": "JSON"}, "d": {"type": "DECIMAL", "precision": 4, "scale": 6},
    }}]
'''))
    assert hits(report) == [("HW031", "connector.py", 8), ("HW031", "connector.py", 8),
                            ("HW031", "connector.py", 9), ("HW031", "connector.py", 9),
                            ("HW031", "connector.py", 9), ("HW031", "connector.py", 9)]
    messages = " ".join(f.message + " " + f.hint for f in report.findings)
    assert "BAD_MONEY" in messages and "'UTC_DATETIME'" in messages and "scale 6" in messages


def test_primary_key_shapes(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(connector_with_schema('''
def schema(configuration):
    return [
        {"table": "a", "primary_key": ["id", "id"]},
        {"table": "b", "primary_key": [1]},
        {"table": "t", "primary_key": ["id", "line"]},
        {"table": "d", "primary_key": []},
    ]
'''))
    assert hits(report) == [("HW032", "connector.py", 5), ("HW032", "connector.py", 6)]


def test_schema_rules_only_read_the_schema_function(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(connector_with_schema('''
def describe():
    return [{"table": "t", "primary_keys": "id", "columns": {"id": "INTEGER"}}]

def schema(configuration):
    return [{"table": "t", "primary_key": ["id"]}]
'''))
    assert hits(report) == []
