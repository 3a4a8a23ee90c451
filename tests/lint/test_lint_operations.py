"""HW010-HW015 beyond the documented examples."""

from __future__ import annotations

from collections.abc import Callable

from headwater.lint import LintReport

LintCode = Callable[..., LintReport]
Hits = Callable[..., list[tuple[str, str, int]]]

HEAD = "from fivetran_connector_sdk import Connector, Operations as op\n"
TAIL = "\nconnector = Connector(update=update)\n"


def test_operations_in_an_imported_helper_module_count(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        from fivetran_connector_sdk import Connector
        import sender

        def update(configuration, state):
            sender.send_all()

        connector = Connector(update=update)
    ''', files={"sender.py": '''
        from fivetran_connector_sdk import Operations

        def send_all():
            Operations.upsert(table="t", data={"id": 1})
            Operations.checkpoint(state={})
    '''})
    assert hits(report) == []


def test_operations_handed_to_a_helper_are_not_judged(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
from worker import run

def update(configuration, state):
    run(op)
''' + TAIL, files={"worker.py": "def run(ops):\n    ops.emit()\n"})
    assert hits(report) == []


def test_no_operations_anywhere_is_reported_once_at_update(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        from fivetran_connector_sdk import Connector, Logging as log

        def update(configuration, state):
            data = {"a": 1}
            data.update({"b": 2})
            log.info(str(data))

        connector = Connector(update=update)
    ''')
    assert hits(report) == [("HW010", "connector.py", 3)]


def test_checkpoint_under_a_condition_in_a_row_loop_is_fine(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
def update(configuration, state):
    for count, row in enumerate([{"id": 1}], start=1):
        op.upsert("t", row)
        if count % 1000 == 0:
            op.checkpoint({"count": count})
    op.checkpoint({"done": True})
''' + TAIL)
    assert hits(report) == []


def test_checkpoint_per_page_after_an_inner_row_loop_is_fine(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
PAGES = [[{"id": 1}], [{"id": 2}]]

def update(configuration, state):
    for number, page in enumerate(PAGES):
        op.upsert("pages", {"number": number})
        for row in page:
            op.upsert("t", row)
        op.checkpoint({"page": number})
''' + TAIL)
    assert hits(report) == []


def test_checkpoint_per_table_after_a_helper_that_sends_rows_is_fine(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
def sync_table(table):
    for n in range(3):
        op.upsert(table, {"n": n})

def update(configuration, state):
    for table in ("a", "b"):
        sync_table(table)
        op.upsert("sync_log", {"table": table})
        op.checkpoint({"table": table})
''' + TAIL)
    assert hits(report) == []


def test_checkpoint_per_row_in_a_try_block_is_reported(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
def update(configuration, state):
    for row in [{"id": 1}]:
        try:
            op.upsert("t", row)
            op.checkpoint({"id": row["id"]})
        except ValueError:
            raise
''' + TAIL)
    assert hits(report) == [("HW012", "connector.py", 7)]


def test_yield_style_is_reported_once_per_function(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
def update(configuration, state):
    yield op.upsert("t", {"id": 1})
    yield op.upsert("t", {"id": 2})
    yield op.checkpoint({})
''' + TAIL)
    assert hits(report) == [("HW013", "connector.py", 4)]
    assert "3 yields" in report.findings[0].message


def test_yield_of_plain_values_is_not_the_yield_style(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
def rows():
    yield {"id": 1}

def update(configuration, state):
    for row in rows():
        op.upsert("t", row)
    op.checkpoint({})
''' + TAIL)
    assert hits(report) == []


def test_accumulated_pages_returned_by_a_helper_and_upserted_by_the_caller(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        from fivetran_connector_sdk import Connector, Operations as op
        from api import fetch_all

        def update(configuration, state):
            records = fetch_all(configuration["url"])
            for record in records:
                op.upsert("t", record)
            op.checkpoint({})

        connector = Connector(update=update)
    ''', files={"api.py": '''
        import requests

        def fetch_all(url):
            everything = []
            while url:
                body = requests.get(url, timeout=10).json()
                everything += body["items"]
                url = body.get("next")
            return everything
    '''})
    assert hits(report, "HW014") == [("HW014", "api.py", 7)]


def test_accumulating_a_small_in_memory_list_without_fetching_is_fine(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
def update(configuration, state):
    rows = []
    for n in range(10):
        rows.append({"id": n})
    for row in rows:
        op.upsert("t", row)
    op.checkpoint({})
''' + TAIL)
    assert hits(report) == []


def test_collecting_ids_for_a_log_line_is_fine(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
        import requests
        from fivetran_connector_sdk import Connector, Logging as log, Operations as op

        def update(configuration, state):
            seen = []
            url = configuration["url"]
            while url:
                body = requests.get(url, timeout=10).json()
                for item in body["items"]:
                    op.upsert("t", item)
                    seen.append(item["id"])
                op.checkpoint({"next": body.get("next")})
                url = body.get("next")
            log.info(f"synced {len(seen)} items")

        connector = Connector(update=update)
    ''')
    assert hits(report, "HW014") == []


def test_a_buffer_flushed_inside_the_loop_is_not_an_accumulation(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
import requests

def flush(rows):
    for row in rows:
        op.upsert("t", row)

def update(configuration, state):
    buffer = []
    other = []
    url = configuration["url"]
    while url:
        body = requests.get(url, timeout=10).json()
        buffer.extend(body["items"])
        other.extend(body["items"])
        if len(buffer) >= 1000:
            flush(buffer)
            buffer = []
        if len(other) >= 1000:
            flush(other)
            other.clear()
        url = body.get("next")
    flush(buffer)
    flush(other)
    op.checkpoint({})
''' + TAIL)
    assert hits(report, "HW014") == []


def test_fetchall_iterated_directly_is_reported(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
import sqlite3

def update(configuration, state):
    cursor = sqlite3.connect("x.db").cursor()
    cursor.execute("SELECT * FROM t")
    for row in cursor.fetchall():
        op.upsert("t", dict(row))
    op.checkpoint({})
''' + TAIL)
    assert hits(report) == [("HW015", "connector.py", 8)]


def test_fetchall_of_metadata_is_fine(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(HEAD + '''
import sqlite3

def update(configuration, state):
    connection = sqlite3.connect("x.db")
    tables = connection.execute("SELECT name FROM sqlite_master").fetchall()
    for (table,) in tables:
        cursor = connection.execute(f"SELECT * FROM {table}")
        while batch := cursor.fetchmany(500):
            for row in batch:
                op.upsert(table, dict(row))
            op.checkpoint({"table": table})
''' + TAIL)
    assert hits(report) == []
