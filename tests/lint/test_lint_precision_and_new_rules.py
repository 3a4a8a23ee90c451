"""The precision rework (HW014, HW015, HW041, HW051, HW071), the rules added for what lint missed
(HW006-HW009, HW016, HW033, HW053, HW062, HW073, HW082), and the runner's guarantees: rules do not
depend on each other's order, and time grows linearly with the number of findings."""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from headwater.lint import LintReport, all_rules, lint_project
from headwater.lint.context import load_project

LintCode = Callable[..., LintReport]
Hits = Callable[..., list[tuple[str, str, int]]]
WriteProject = Callable[..., Path]

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SDK = "from fivetran_connector_sdk import Connector, Logging as log, Operations as op\n"
TAIL = "\nconnector = Connector(update=update)\n"


def line_of(text: str, snippet: str, nth: int = 1) -> int:
    """The line of the ``nth`` occurrence of ``snippet`` in the file ``lint_code`` writes."""
    lines = [number for number, line in enumerate(text.lstrip("\n").splitlines(), start=1) if snippet in line]
    return lines[nth - 1]


# ------------------------------------------------------------------------------------ HW014
def test_accumulation_needs_a_request_per_iteration_and_records_from_it(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import datetime
import requests
''' + SDK + '''
def date_chunks(start, end):
    chunks = []
    while start <= end:
        chunks.append((start, start + datetime.timedelta(days=6)))
        start += datetime.timedelta(days=7)
    return chunks

def all_ids(url):
    ids = []
    while url:
        body = requests.get(url, timeout=10).json()
        ids.extend(item["id"] for item in body["items"])
        url = body.get("next")
    return ids

def update(configuration, state):
    for chunk in date_chunks(datetime.date(2024, 1, 1), datetime.date(2024, 2, 1)):
        op.upsert("chunks", {"start": chunk[0].isoformat()})
    for item_id in all_ids(configuration["url"]):
        detail = requests.get(f"{configuration['url']}/{item_id}", timeout=10).json()
        op.upsert("items", detail)
    tables = []
    for table in ("a", "b"):
        tables.append(table)
        for row in requests.get(f"https://x.example.com/{table}", timeout=10).json():
            op.upsert(table, row)
    op.upsert("sync_history", {"tables": tables})
    op.checkpoint({})
''' + TAIL
    # Dates built without a request, ids each fetched again before upserting, table names: none is
    # a list of every page's records.
    assert hits(lint_code(code), "HW014") == []


def test_pages_collected_twice_along_a_call_chain_are_both_reported(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import requests
''' + SDK + '''
def prices(symbol):
    offset, rows = 0, []
    while True:
        page = requests.get("https://x.example.com/eod", params={"s": symbol, "offset": offset}, timeout=10).json()
        if not page["data"]:
            break
        rows += page["data"]
        offset += 1000
    return rows

def all_prices(symbols):
    collected = []
    for symbol in symbols:
        batch = prices(symbol)
        collected += batch
    result = {}
    result["prices"] = collected
    return {}, result

def update(configuration, state):
    new_state, found = all_prices(["A", "B"])
    for row in found["prices"]:
        op.upsert("prices", row)
    op.checkpoint(new_state)
''' + TAIL
    report = lint_code(code)
    assert hits(report, "HW014") == [("HW014", "connector.py", line_of(code, "rows += page")),
                                     ("HW014", "connector.py", line_of(code, "collected += batch"))]
    messages = [finding.message for finding in report.findings if finding.rule == "HW014"]
    assert "upserted by its caller update()" in messages[1]
    assert "which collects it again" in messages[0]


def test_pages_returned_through_a_wrapper_and_read_back_with_get(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import requests
from requests.adapters import HTTPAdapter
''' + SDK + '''
class Api:
    def __init__(self):
        self.session = requests.Session()
        self.session.mount("https://", HTTPAdapter(max_retries=3))

    def get(self, path, params=None):
        return self.session.get("https://x.example.com" + path, params=params, timeout=10)

    def _paged(self, path):
        rows, page = [], 1
        while True:
            data = self.get(path, {"page": page}).json()
            if not data.get("rows"):
                break
            rows.extend(data["rows"])
            page += 1
        data["rows"] = rows
        return data

    def sheet(self, sheet_id):
        return self._paged(f"/sheets/{sheet_id}")

def update(configuration, state):
    api = Api()
    sheet = api.sheet("1")
    for row in sheet.get("rows", []):
        op.upsert("rows", row)
    op.checkpoint({})
''' + TAIL
    assert hits(lint_code(code), "HW014") == [("HW014", "connector.py", line_of(code, "rows.extend"))]


def test_pages_from_a_generator_collected_then_upserted(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import requests
''' + SDK + '''
def pages(url):
    while url:
        body = requests.get(url, timeout=10).json()
        yield body["items"]
        url = body.get("next")

def update(configuration, state):
    everything = []
    for page in pages(configuration["url"]):
        everything.extend(page)
    for item in everything:
        op.upsert("items", item)
    op.checkpoint({})
''' + TAIL
    assert hits(lint_code(code), "HW014") == [("HW014", "connector.py", line_of(code, "everything.extend"))]


# ------------------------------------------------------------------------------------ HW015
def test_bounded_and_batched_fetchall_is_fine(lint_code: LintCode, hits: Hits) -> None:
    code = SDK + '''
QUERY = "SELECT id, name FROM customers WHERE id > %s ORDER BY id LIMIT 1000"

def update(configuration, state, connection=None):
    cursor = connection.cursor()
    cursor.execute("DECLARE cur CURSOR FOR SELECT * FROM big")
    while True:
        cursor.execute("FETCH 1000 FROM cur")
        rows = cursor.fetchall()
        if not rows:
            break
        for row in rows:
            op.upsert("big", {"id": row[0]})
    cursor.execute(QUERY, (state.get("id", 0),))
    for row in cursor.fetchall():
        op.upsert("customers", {"id": row[0], "name": row[1]})
    sql = f"SELECT * FROM orders ORDER BY id OFFSET {state.get('offset', 0)} ROWS FETCH NEXT 500 ROWS ONLY"
    cursor.execute(sql)
    for row in cursor.fetchall():
        op.upsert("orders", {"id": row[0]})
    cursor.execute("SELECT * FROM events")
    for row in cursor.fetchall():
        op.upsert("events", {"id": row[0]})
    op.checkpoint({})
''' + TAIL
    assert hits(lint_code(code), "HW015") == [("HW015", "connector.py", line_of(code, "fetchall", 4))]


# ------------------------------------------------------------------------------------ HW041, HW051
def test_private_key_markers_are_not_keys(lint_code: LintCode, hits: Hits) -> None:
    code = SDK + '''
def normalise(private_key):
    if "BEGIN RSA PRIVATE KEY" not in private_key:
        raise ValueError("private_key must contain -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----")
    prefix = "-----BEGIN RSA PRIVATE KEY-----\\n"
    return prefix + private_key.replace("-----BEGIN RSA PRIVATE KEY----- ", "") + "\\n-----END RSA PRIVATE KEY-----"

def update(configuration, state):
    normalise(configuration["private_key"])
    op.upsert("t", {"id": 1})
    op.checkpoint({})
''' + TAIL
    assert hits(lint_code(code), "HW051") == []


def test_placeholders_and_published_examples_in_configuration_are_not_secrets(lint_code: LintCode,
                                                                              hits: Hits) -> None:
    key = "EKlFpH8sZmdhhZ9lGhezgMTwAw3_Y2e7wbco7Gxt3SA="
    configuration = json.dumps({
        "my_key": key, "api_token": "your-api-token-here",
        "keyFile": "-----BEGIN PRIVATE KEY-----\nfull string including newlines\n-----END PRIVATE KEY-----",
    })
    files = {"configuration.json": configuration, "README.md": f"Use this key:\n\n    {key}\n"}
    code = SDK + "\ndef update(configuration, state):\n    op.upsert('t', {'id': 1})\n    op.checkpoint({})\n" + TAIL
    assert hits(lint_code(code, files=files, git=True), "HW041") == []
    files["README.md"] = "Put your key in configuration.json.\n"
    assert hits(lint_code(code, files=files, git=True), "HW041") == [("HW041", "configuration.json", 1)]


# ------------------------------------------------------------------------------------ HW071
def test_silent_broad_except_is_reported_around_sync_work_only(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import requests
''' + SDK + '''
def to_float(text):
    try:
        return float(text)
    except Exception:
        return None

def fetch(url):
    try:
        return requests.get(url, timeout=10).json()
    except Exception:
        return {}

def update(configuration, state):
    op.upsert("t", {"id": 1, "amount": to_float("1.5"), "body": fetch(configuration["url"])})
    op.checkpoint({})
''' + TAIL
    assert hits(lint_code(code), "HW071") == [("HW071", "connector.py", line_of(code, "except Exception", 2))]


# ------------------------------------------------------------------------------------ HW006-HW009
def test_debug_guard_variants(lint_code: LintCode, hits: Hits) -> None:
    code = SDK + '''
def update(configuration, state):
    op.upsert("t", {"id": 1})
    op.checkpoint({})

connector = Connector(update=update)

def main():
    connector.debug()

if __name__ == "main":
    connector.debug(configuration={})
'''
    report = lint_code(code)
    assert hits(report, "HW006") == [("HW006", "connector.py", line_of(code, "connector.debug(configuration"))]
    assert "never true" in report.findings[0].message


def test_exit_calls(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import os
import sys
''' + SDK + '''
def fail():
    os._exit(3)

def update(configuration, state):
    if not configuration:
        sys.exit(1)
    op.upsert("t", {"id": 1})
    op.checkpoint({})

connector = Connector(update=update)

if __name__ == "__main__":
    connector.debug()
    sys.exit(0)
'''
    assert hits(lint_code(code), "HW007") == [("HW007", "connector.py", line_of(code, "os._exit")),
                                              ("HW007", "connector.py", line_of(code, "sys.exit(1)"))]
    shadowed = SDK + '''
def exit(code):
    log.warning(f"exit code {code}")

def update(configuration, state):
    exit(1)
    op.upsert("t", {"id": 1})
    op.checkpoint({})
''' + TAIL
    assert hits(lint_code(shadowed), "HW007") == []


def test_connector_created_in_a_function_besides_the_module_level_one(lint_code: LintCode, hits: Hits) -> None:
    code = SDK + '''
def update(configuration, state):
    op.upsert("t", {"id": 1})
    op.checkpoint({})

def make():
    return Connector(update=update)

connector = Connector(update=update)
'''
    assert hits(lint_code(code)) == [("HW008", "connector.py", line_of(code, "return Connector"))]
    only_in_function = SDK + '''
def update(configuration, state):
    op.upsert("t", {"id": 1})
    op.checkpoint({})

def make():
    return Connector(update=update)
'''
    assert [rule for rule, _, _ in hits(lint_code(only_in_function))] == ["HW002"]


def test_headwater_import_unless_vendored(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import headwater.http
''' + SDK + '''
def update(configuration, state):
    op.upsert("t", {"id": 1})
    op.checkpoint({})
''' + TAIL
    assert hits(lint_code(code), "HW009") == [("HW009", "connector.py", 1)]
    vendored = {"headwater/__init__.py": "", "headwater/http.py": "TIMEOUT = 30\n"}
    assert hits(lint_code(code, files=vendored), "HW009") == []


# ------------------------------------------------------------------------------------ HW016
def test_generators_called_as_statements(lint_code: LintCode, hits: Hits) -> None:
    code = "import contextlib\n" + SDK + '''
class Syncer:
    def rows(self):
        for n in range(3):
            yield op.upsert("t", {"id": n})

    def run(self):
        self.rows()

def numbers():
    yield 1

@contextlib.contextmanager
def opened():
    yield None

def update(configuration, state):
    syncer = Syncer()
    syncer.run()
    numbers()
    opened()
    total = sum(numbers())
    yield from syncer.rows()
    for _ in syncer.rows():
        pass
    yield op.checkpoint({})
''' + TAIL
    report = lint_code(code)
    assert hits(report, "HW016") == [("HW016", "connector.py", line_of(code, "self.rows()")),
                                     ("HW016", "connector.py", line_of(code, "    numbers()"))]
    messages = [finding.message for finding in report.findings if finding.rule == "HW016"]
    assert "operations are silently dropped" in messages[0] and "none of its code runs" in messages[1]


# ------------------------------------------------------------------------------------ HW033
def test_undeclared_tables(lint_code: LintCode, hits: Hits) -> None:
    code = SDK + '''
ORDERS = "Orders"

def schema(configuration):
    tables = [{"table": ORDERS, "primary_key": ["id"]}]
    tables.append({"table": "order_lines", "primary_key": ["order_id", "line"]})
    return tables

def update(configuration, state):
    op.upsert(table="orders", data={"id": 1})
    op.upsert("OrderLines", {"order_id": 1, "line": 1})
    op.delete(table="order_line", keys={"order_id": 1, "line": 2})
    op.upsert(configuration["table"], {"id": 2})
    op.checkpoint({})

connector = Connector(update=update, schema=schema)
'''
    report = lint_code(code)
    assert hits(report, "HW033") == [("HW033", "connector.py", line_of(code, 'table="order_line"'))]
    assert "did you mean 'order_lines'" in report.findings[0].hint
    dynamic = SDK + '''
def schema(configuration):
    return [{"table": name, "primary_key": ["id"]} for name in ("a", "b")]

def update(configuration, state):
    op.upsert("c", {"id": 1})
    op.checkpoint({})

connector = Connector(update=update, schema=schema)
'''
    assert hits(lint_code(dynamic), "HW033") == []


# ------------------------------------------------------------------------------------ HW053
def test_secrets_in_log_lines_and_exception_messages(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import requests
''' + SDK + '''
def get_page(url, params, headers):
    log.info(f"GET {url} params={params} headers={headers}")
    return requests.get(url, params=params, headers=headers, timeout=10).json()

def update(configuration, state):
    api_key = configuration["api_key"]
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    if len(api_key) < 10:
        raise ValueError(f"the API key {api_key} is too short")
    log.info(f"using key {api_key[:4]}... ({len(api_key)} characters)")
    url = f"https://x.example.com/items?apikey={api_key}"
    log.fine("fetching " + url)
    body = get_page("https://x.example.com/items", {"page": 1}, headers)
    next_token = body.get("next_token")
    token = body.get("nextPageToken")
    log.info(f"next page: {next_token} {token}")
    for required in ("api_key", "url"):
        log.info(f"checking {required}")
    op.upsert("t", {"id": 1})
    op.checkpoint({})
''' + TAIL
    report = lint_code(code, files={"configuration.json": '{"api_key": "<YOUR_API_KEY>"}'})
    assert hits(report, "HW053") == [("HW053", "connector.py", line_of(code, 'log.info(f"GET')),
                                     ("HW053", "connector.py", line_of(code, "raise ValueError")),
                                     ("HW053", "connector.py", line_of(code, 'log.fine("fetching'))]


def test_logging_the_whole_configuration_depends_on_what_it_holds(lint_code: LintCode, hits: Hits) -> None:
    code = SDK + '''
def update(configuration, state):
    log.info(f"configuration: {configuration}")
    op.upsert("t", {"id": 1})
    op.checkpoint({})
''' + TAIL
    secret = lint_code(code, files={"configuration.json": '{"password": "<YOUR_PASSWORD>", "host": "db"}'})
    assert hits(secret, "HW053") == [("HW053", "connector.py", line_of(code, "log.info"))]
    plain = lint_code(code, files={"configuration.json": '{"host": "db", "page_size": "100"}'})
    assert hits(plain, "HW053") == []


# ------------------------------------------------------------------------------------ HW062
@pytest.mark.parametrize("retry", [
    'from tenacity import retry\n',
    'SESSION_ATTEMPTS = 3\n',
    'import time\n\ndef slow(url):\n    while True:\n        time.sleep(1)\n        requests.get(url, timeout=5)\n',
])
def test_any_retry_in_the_project_is_enough(lint_code: LintCode, hits: Hits, retry: str) -> None:
    code = "import requests\n" + retry + SDK + '''
def update(configuration, state):
    op.upsert("t", requests.get("https://x.example.com", timeout=5).json())
    op.checkpoint({})
''' + TAIL
    assert hits(lint_code(code), "HW062") == []


def test_no_retry_is_reported_once_at_the_first_request(lint_code: LintCode, hits: Hits) -> None:
    code = "import requests\n" + SDK + '''
def update(configuration, state):
    op.upsert("a", requests.get("https://x.example.com/a", timeout=5).json())
    op.upsert("b", requests.get("https://x.example.com/b", timeout=5).json())
    op.checkpoint({})
''' + TAIL
    report = lint_code(code)
    assert hits(report, "HW062") == [("HW062", "connector.py", line_of(code, 'op.upsert("a"'))]
    assert "(and 1 other request)" in report.findings[0].message


# ------------------------------------------------------------------------------------ HW073
def test_log_and_continue_variants(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import json
import requests
''' + SDK + '''
def fetch(url):
    try:
        response = requests.get(url, timeout=10)
        response.raise_for_status()
        return response.json()
    except Exception as exc:
        log.warning(f"could not fetch {url}: {exc}")

def fetch_checked(url):
    try:
        return requests.get(url, timeout=10).json()
    except requests.HTTPError as exc:
        if exc.response is not None and exc.response.status_code == 404:
            return None
        raise

def fetch_with_retries(url):
    for attempt in range(3):
        try:
            return requests.get(url, timeout=10).json()
        except requests.RequestException as exc:
            log.warning(f"attempt {attempt} failed: {exc}")
            continue
    raise RuntimeError(f"{url} failed 3 times")

def update(configuration, state):
    for line in ['{"id": 1}', "oops"]:
        try:
            op.upsert("lines", json.loads(line))
        except json.JSONDecodeError:
            log.warning(f"skipping a line that is not JSON: {line!r}")
    for item_id in (1, 2):
        try:
            op.upsert("items", fetch_checked(f"https://x.example.com/{item_id}") or {"id": item_id})
        except Exception as exc:
            log.error(f"item {item_id} failed: {exc}")
            continue
    try:
        op.upsert("all", fetch_with_retries("https://x.example.com/all") or {})
    except Exception:
        log.severe("the sync failed")
        raise
    op.upsert("first", fetch("https://x.example.com/first") or {})
    op.checkpoint({})
''' + TAIL
    assert hits(lint_code(code), "HW073") == [("HW073", "connector.py", line_of(code, "except Exception as exc:")),
                                              ("HW073", "connector.py", line_of(code, "except Exception as exc:", 2))]


# ------------------------------------------------------------------------------------ HW082
def test_unchanged_state_is_reported_only_when_nothing_can_move_the_cursor(lint_code: LintCode,
                                                                           hits: Hits) -> None:
    head = SDK + '''
PAGES = [[{"id": 1, "updated_at": "2024-01-01"}]]

def save(state, page):
    state["cursor"] = page[-1]["updated_at"]

'''
    handed_on = head + '''
def update(configuration, state):
    since = state.get("cursor", "")
    for page in PAGES:
        for record in page:
            op.upsert("t", record)
        save(state, page)
        op.checkpoint(state)
''' + TAIL
    full_sync = head + '''
def update(configuration, state):
    for page in PAGES:
        for record in page:
            op.upsert("t", record)
        op.checkpoint(state)
''' + TAIL
    final_checkpoint = head + '''
def update(configuration, state):
    since = state.get("cursor", "")
    for page in PAGES:
        for record in page:
            op.upsert("t", record)
        op.checkpoint(state)
    op.checkpoint({"cursor": PAGES[-1][-1]["updated_at"]})
''' + TAIL
    for code in (handed_on, full_sync, final_checkpoint):
        assert hits(lint_code(code), "HW082") == []


# ------------------------------------------------------------------------------------ runner
def test_function_of_a_function_does_not_change_what_is_inside_it(write_project: WriteProject) -> None:
    root = write_project({"connector.py": SDK + '''
def update(configuration, state):
    op.upsert("t", {"id": 1})
    op.checkpoint({})
''' + TAIL})
    module = load_project(root).modules[0]
    update = module.functions["update"]
    assert module.function_of(update) is None
    call = next(node for node in ast.walk(update) if isinstance(node, ast.Call))
    assert module.function_of(call) is update


@pytest.mark.parametrize("fixture", sorted(path.name for path in FIXTURES.iterdir() if path.is_dir()))
def test_each_rule_finds_the_same_alone_as_with_all_the_others(fixture: str) -> None:
    together = lint_project(FIXTURES / fixture).findings
    alone = tuple(sorted((finding for rule in all_rules() for finding in lint_project(FIXTURES / fixture,
                                                                                       select=[rule.id]).findings),
                         key=lambda finding: finding.sort_key))
    assert together == alone


def _many_findings(root: Path, count: int) -> Path:
    lines = ["import requests", SDK.strip(), "", "def update(configuration, state):"]
    for number in range(count):
        lines += [f"    print({number})", f"    requests.get('https://x.example.com/{number}')",
                  f"    op.checkpoint({{'n': {number}}})",
                  "    try:", "        pass", "    except ValueError:", "        raise ValueError('bad')"]
    lines += ["", "connector = Connector(update=update)", ""]
    folder = root / f"many{count}"
    folder.mkdir()
    (folder / "connector.py").write_text("\n".join(lines), encoding="utf-8")
    return folder


def test_time_grows_linearly_with_the_number_of_findings(tmp_path: Path) -> None:
    small, large = _many_findings(tmp_path, 250), _many_findings(tmp_path, 1000)

    def best_of_three(folder: Path) -> tuple[float, int]:
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            findings = len(lint_project(folder).findings)
            timings.append(time.perf_counter() - started)
        return min(timings), findings

    small_time, small_findings = best_of_three(small)
    large_time, large_findings = best_of_three(large)
    assert large_findings >= 4 * small_findings - 10
    # Linear: about 4 times as long for 4 times the findings; quadratic would be about 16 times.
    assert large_time < 10 * small_time + 0.1, (small_time, large_time)
