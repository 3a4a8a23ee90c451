"""HW060-HW061 (HTTP), HW070-HW072 (exceptions) and HW080-HW081 (state) beyond the documented examples."""

from __future__ import annotations

from collections.abc import Callable

from headwater.lint import LintReport

LintCode = Callable[..., LintReport]
Hits = Callable[..., list[tuple[str, str, int]]]


def line_of(text: str, snippet: str, nth: int = 1) -> int:
    """The line of the ``nth`` occurrence of ``snippet`` in the file ``lint_code`` writes."""
    lines = [number for number, line in enumerate(text.lstrip("\n").splitlines(), start=1) if snippet in line]
    return lines[nth - 1]


# ------------------------------------------------------------------------------------ HTTP
def test_requests_sessions_urllib_and_httpx_without_timeouts(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import httpx
import requests as rq
import urllib.request
from requests import post
from urllib.request import urlopen
from fivetran_connector_sdk import Connector, Operations as op

class Api:
    def __init__(self):
        self.http = rq.Session()

    def fetch(self, url):
        return self.http.get(url).json()

def update(configuration, state):
    with rq.Session() as session:
        session.post("https://x.example.com", json={})
    post("https://x.example.com")
    rq.request("GET", "https://x.example.com")
    urlopen("https://x.example.com")
    urllib.request.urlopen("https://x.example.com", None, None)
    httpx.get("https://x.example.com", timeout=None)
    client = httpx.Client(timeout=None)
    client.get("/items")
    op.upsert("t", Api().fetch("https://x.example.com"))
    op.checkpoint({})

connector = Connector(update=update)
'''
    report = lint_code(code, ignore=["HW062"])
    expected = ["self.http.get", "session.post", '    post("https', "rq.request", '    urlopen("https',
                "urllib.request.urlopen", "httpx.get", "client.get"]
    assert hits(report) == [("HW060", "connector.py", line_of(code, snippet)) for snippet in expected]


def test_timeouts_defaults_kwargs_and_adapters_are_fine(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
import httpx
import requests
from requests.adapters import HTTPAdapter
from fivetran_connector_sdk import Connector, Operations as op

OPTIONS = {"timeout": 10}

def mounted():
    session = requests.Session()
    session.mount("https://", HTTPAdapter())
    return session.get("https://x.example.com")

def update(configuration, state):
    requests.get("https://x.example.com", timeout=(5, 30))
    requests.get("https://x.example.com", **OPTIONS)
    httpx.get("https://x.example.com")
    with httpx.Client() as client:
        client.get("https://x.example.com")
    params = {"a": 1}
    params.get("a")
    mounted()
    op.upsert("t", {"id": 1})
    op.checkpoint({})

connector = Connector(update=update)
''', ignore=["HW062"])
    assert hits(report) == []


def test_while_true_through_a_client_method_without_exit_is_reported(lint_code: LintCode, hits: Hits) -> None:
    code = '''
from fivetran_connector_sdk import Connector, Operations as op
from client import Client

def update(configuration, state):
    client = Client()
    page = 0
    while True:
        for row in client.page(page):
            op.upsert("t", row)
            break
        page += 1
        op.checkpoint({"page": page})

connector = Connector(update=update)
'''
    report = lint_code(code, files={"client.py": '''
import requests

class Client:
    def page(self, number):
        return requests.get("https://x.example.com", params={"page": number}, timeout=10).json()
'''}, ignore=["HW062"])
    assert hits(report) == [("HW061", "connector.py", line_of(code, "while True"))]


def test_while_true_with_return_raise_only_or_no_network(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import time
import requests
from fivetran_connector_sdk import Connector, Operations as op

def wait_for_export(url):
    while True:
        status = requests.get(url, timeout=10).json()
        if status["done"]:
            return status["file"]
        time.sleep(5)

def count_down():
    n = 3
    while True:
        n -= 1
        if n == 0:
            raise StopIteration

def poll_forever(url):
    while 1:
        response = requests.get(url, timeout=10)
        if response.status_code >= 500:
            raise RuntimeError("down")

def update(configuration, state):
    op.upsert("t", {"file": wait_for_export("https://x.example.com")})
    op.checkpoint({})

connector = Connector(update=update)
'''
    report = lint_code(code)
    assert hits(report) == [("HW061", "connector.py", line_of(code, "while 1"))]


# ------------------------------------------------------------------------------------ exceptions
def test_exception_handlers(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import json
from fivetran_connector_sdk import Connector, Logging as log, Operations as op

def parse(text):
    try:
        return json.loads(text)
    except:
        raise

def parse_or_none(text):
    try:
        return json.loads(text)
    except (ValueError, Exception):
        return None

def send_or_skip(row):
    try:
        op.upsert("t", row)
    except (ValueError, Exception):
        return None

def parse_collect(text, errors):
    try:
        return json.loads(text)
    except Exception as exc:
        errors.append(exc)

def parse_logged(text):
    try:
        return json.loads(text)
    except BaseException as exc:
        log.warning(f"bad JSON: {exc}")

def parse_wrapped(text):
    try:
        return json.loads(text)
    except ValueError as exc:
        try:
            return json.loads(text.strip())
        except ValueError:
            raise ValueError("still bad") from exc
    except KeyError as exc:
        raise exc
    except TypeError:
        raise RuntimeError("wrong type") from None

def update(configuration, state):
    op.upsert("t", parse("{}") or {})
    op.checkpoint({})

connector = Connector(update=update)
'''
    report = lint_code(code)
    # parse_or_none() falls back to None on purpose (a local parse); send_or_skip() loses a record.
    assert hits(report) == [("HW071", "connector.py", line_of(code, "except (ValueError, Exception)", 2))]


def test_retry_loops_that_swallow_between_attempts_are_fine(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import time
import requests
from fivetran_connector_sdk import Connector, Operations as op

def get(url):
    for attempt in range(5):
        try:
            return requests.get(url, timeout=10).json()
        except Exception:
            time.sleep(2 ** attempt)
    raise RuntimeError(f"GET {url} kept failing")

def get_until_ok(url):
    while True:
        try:
            body = requests.get(url, timeout=10).json()
            break
        except Exception:
            time.sleep(1)
    return body

def skip_bad_rows(rows):
    for row in rows:
        try:
            op.upsert("t", row)
        except Exception:
            continue

def update(configuration, state):
    skip_bad_rows([get("https://x.example.com"), get_until_ok("https://x.example.com")])
    op.checkpoint({})

connector = Connector(update=update)
'''
    report = lint_code(code)
    assert hits(report) == [("HW071", "connector.py", line_of(code, "except Exception", 3))]


def test_raise_without_from_in_nested_handlers_is_reported_once(lint_code: LintCode, hits: Hits) -> None:
    code = '''
from fivetran_connector_sdk import Connector, Operations as op

def update(configuration, state):
    try:
        size = int(configuration["size"])
    except (KeyError, ValueError):
        try:
            size = int(configuration["page_size"])
        except KeyError:
            raise ValueError("no size")
        if size < 0:
            raise ValueError("negative")
    op.upsert("t", {"size": size})
    op.checkpoint({})

connector = Connector(update=update)
'''
    report = lint_code(code)
    assert hits(report) == [("HW072", "connector.py", line_of(code, 'raise ValueError("no size")')),
                            ("HW072", "connector.py", line_of(code, 'raise ValueError("negative")'))]
    assert "as exc" in report.findings[0].hint


# ------------------------------------------------------------------------------------ state
def test_secrets_reaching_state_through_locals_updates_and_spreads(lint_code: LintCode, hits: Hits) -> None:
    code = '''
from fivetran_connector_sdk import Connector, Operations as op

def save(config, state):
    token = config.get("access_token")
    state.update({"token": token})
    op.checkpoint(state)

def update(configuration, state):
    save(configuration, state)
    op.upsert("t", {"id": 1})
    op.checkpoint({**state, **configuration})
    op.checkpoint(dict(configuration))

connector = Connector(update=update)
'''
    report = lint_code(code)
    assert hits(report) == [("HW080", "connector.py", line_of(code, "state.update")),
                            ("HW080", "connector.py", line_of(code, "**configuration")),
                            ("HW080", "connector.py", line_of(code, "dict(configuration)"))]


def test_non_secret_configuration_in_state_is_fine(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
from fivetran_connector_sdk import Connector, Operations as op

def update(configuration, state):
    start = state.get("cursor", configuration.get("start_date", "2024-01-01"))
    op.upsert("t", {"id": 1})
    op.checkpoint({"cursor": start, "region": configuration["region"]})

connector = Connector(update=update)
''')
    assert hits(report) == []


def test_cursor_from_a_page_before_its_rows_inside_an_if_and_a_loop(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import requests
from fivetran_connector_sdk import Connector, Operations as op

def update(configuration, state):
    url = "https://x.example.com"
    while url:
        response = requests.get(url, timeout=10)
        if response.ok:
            op.checkpoint({"next": response.json()["next"]})
        for item in response.json()["items"]:
            op.upsert("t", item)
        url = response.json()["next"]

connector = Connector(update=update)
'''
    report = lint_code(code, ignore=["HW062"])
    assert hits(report) == [("HW081", "connector.py", line_of(code, "op.checkpoint"))]


def test_checkpoint_of_the_previous_cursor_before_fetching_the_next_page_is_fine(lint_code: LintCode,
                                                                                 hits: Hits) -> None:
    report = lint_code('''
import requests
from fivetran_connector_sdk import Connector, Operations as op

def fetch(cursor):
    return requests.get("https://x.example.com", params={"after": cursor}, timeout=10).json()

def update(configuration, state):
    cursor = state.get("cursor")
    page = fetch(cursor)
    while page["items"]:
        op.checkpoint({"cursor": cursor})
        page = fetch(page["next"])
        for item in page["items"]:
            op.upsert("t", item)
        cursor = page["next"]
    for item in fetch(cursor)["items"]:
        op.upsert("t", item)
    op.checkpoint({"cursor": cursor, "count": len(page["items"])})

connector = Connector(update=update)
''', ignore=["HW062"])
    assert hits(report) == []
