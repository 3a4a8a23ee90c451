"""HW040-HW041 (configuration.json), HW050-HW052 (credentials) and HW090-HW091 (requirements.txt)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from headwater.lint import LintReport
from headwater.lint.sensitive import describe_token, is_secret_name, is_secret_value

LintCode = Callable[..., LintReport]
Hits = Callable[..., list[tuple[str, str, int]]]

CLEAN = '''
from fivetran_connector_sdk import Connector, Operations as op

def update(configuration, state):
    op.upsert("t", {"id": 1})
    op.checkpoint({})

connector = Connector(update=update)
'''
# Built from pieces so that no secret scanner mistakes this test file for a leak.
GITHUB_TOKEN = "gh" + "p_" + "Zq8Wm2ZtR5yHv1KcP9dLx3NbF7gT4sJ0aBcD"
RANDOM_KEY = "q8Wm2ZtR5yHv1KcP9dLx3NbF"
KEY_BODY = "MIIEowIBAAKCAQEA" + "q8Wm2ZtR5yHv1KcP9dLx3NbF7gT4sJ0aBcDe" * 3
PRIVATE_KEY = "-----BEGIN RSA " + "PRIVATE KEY-----\n" + KEY_BODY + "\n-----END RSA PRIVATE KEY-----\n"


def line_of(text: str, snippet: str) -> int:
    """The line of ``snippet`` in the file ``lint_code`` writes (leading blank lines dropped)."""
    lines = text.lstrip("\n").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if snippet in line)


# ------------------------------------------------------------------------------------ configuration.json
@pytest.mark.parametrize(("text", "line", "words"), [
    ('{"a": "1",\n "b": 2}', 2, "number"),
    ('{"a": true}', 1, "boolean"),
    ('{"a": {"nested": "x"}}', 1, "object"),
    ('{"a": null}', 1, "null"),
    ('["a"]', 1, "array, not an object"),
    ('{"a": "1",}', 1, "not valid JSON"),
])
def test_configuration_shapes_are_reported_where_they_are(lint_code: LintCode, hits: Hits, text: str, line: int,
                                                          words: str) -> None:
    report = lint_code(CLEAN, files={"configuration.json": text})
    assert hits(report) == [("HW040", "configuration.json", line)]
    assert words in report.findings[0].message


@pytest.mark.parametrize("text", ["", "{}", '{"page_size": "100", "token": "<YOUR_TOKEN>"}'])
def test_empty_and_string_configurations_are_fine(lint_code: LintCode, hits: Hits, text: str) -> None:
    assert hits(lint_code(CLEAN, files={"configuration.json": text})) == []


def test_secret_configuration_outside_git_is_not_judged(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(CLEAN, files={"configuration.json": f'{{"api_key": "{RANDOM_KEY}"}}'})
    assert hits(report) == []


def test_secret_configuration_tracked_by_git_is_reported(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(CLEAN, git=True, files={
        "configuration.json": f'{{\n  "region": "eu",\n  "token": "{GITHUB_TOKEN}"\n}}',
        ".gitignore": "files/\n",
    })
    assert hits(report) == [("HW041", "configuration.json", 3)]


def test_placeholder_configuration_in_git_is_fine(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(CLEAN, git=True, files={
        "configuration.json": '{"api_key": "<YOUR_API_KEY>", "password": "", "base_url": "https://x.example.com"}',
    })
    assert hits(report) == []


# ------------------------------------------------------------------------------------ credentials
def test_secret_literals_in_assignments_keywords_dicts_and_defaults(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import psycopg2
from fivetran_connector_sdk import Connector, Operations as op

class Client:
    def __init__(self, token="Tr0ub4dor-3xample"):
        self.api_secret = "s3cr3t-value-42"

def update(configuration, state):
    psycopg2.connect(host="db", password="hunter2!")
    headers = {"X-API-Key": "k-12345678"}
    op.upsert("t", {"id": 1})
    op.checkpoint({})

connector = Connector(update=update)
'''
    report = lint_code(code)
    assert hits(report) == [
        ("HW050", "connector.py", line_of(code, "def __init__")),
        ("HW050", "connector.py", line_of(code, "self.api_secret")),
        ("HW050", "connector.py", line_of(code, "psycopg2.connect(")),
        ("HW050", "connector.py", line_of(code, "X-API-Key")),
    ]
    assert all("configuration" in finding.hint for finding in report.findings)


def test_names_about_secrets_are_not_secrets(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
from fivetran_connector_sdk import Connector, Operations as op

TOKEN_URL = "https://auth.example.com/oauth/token"
API_KEY_HEADER = "X-API-Key"
PASSWORD_FIELD = "password"
SECRET_NAME = "prod/shop/api"
API_KEY_ENV = "SHOP_API_KEY"
NEXT_PAGE_TOKEN = "nextPageToken"
TOKEN_TYPE = "Bearer"

def update(configuration, state):
    body = {"grant_type": "client_credentials", "token": "{token}", "password": configuration["password"]}
    op.upsert("t", {"id": 1, "body": str(body)})
    op.checkpoint({})

connector = Connector(update=update)
''')
    assert hits(report) == []


def test_token_shaped_literals_are_reported_whatever_they_are_called(lint_code: LintCode, hits: Hits) -> None:
    code = f'''
from fivetran_connector_sdk import Connector, Operations as op

def update(configuration, state):
    call("{GITHUB_TOKEN}")
    config = {{"value": "{RANDOM_KEY}"}}
    dsn = "mysql://app:Zt8pQ2wX@db/shop"
    op.upsert("t", {{"id": 1}})
    op.checkpoint({{}})

connector = Connector(update=update)
'''
    report = lint_code(code)
    assert hits(report) == [("HW051", "connector.py", line_of(code, "call(")),
                            ("HW051", "connector.py", line_of(code, "config =")),
                            ("HW051", "connector.py", line_of(code, "dsn ="))]
    assert "GitHub" in report.findings[0].message
    assert "Zt8p" not in report.findings[2].message  # the password itself is not repeated


def test_ids_hashes_and_docstrings_are_not_token_shaped(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code('''
"""Sheet 1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms is the source."""
from fivetran_connector_sdk import Connector, Operations as op

SPREADSHEET_ID = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
CHECKSUM = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
NAMESPACE = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
DSN = "postgresql://{user}:{password}@db/shop"

def update(configuration, state):
    op.upsert("t", {"id": 1, "sheet_id": "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"})
    op.checkpoint({})

connector = Connector(update=update)
''')
    assert hits(report) == []


def test_authorization_headers_and_basic_auth_built_from_literals(lint_code: LintCode, hits: Hits) -> None:
    code = '''
import base64
import requests
from requests.auth import HTTPBasicAuth
from fivetran_connector_sdk import Connector, Operations as op

KEY = "Zt8pQ2wXc4"

def update(configuration, state):
    session = requests.Session()
    session.headers["Authorization"] = "Token " + KEY
    session.auth = ("loader", "pa55word!")
    requests.get("https://x.example.com", auth=HTTPBasicAuth("loader", "pa55word!"), timeout=5)
    basic = base64.b64encode(b"loader:pa55word!").decode()
    requests.get("https://x.example.com", headers={"Authorization": f"Basic {basic}"}, timeout=5)
    requests.get("https://x.example.com",
                 headers={"authorization": f"Basic {base64.b64encode(b'u:p4ssw0rd').decode()}"}, timeout=5)
    op.upsert("t", {"id": 1})
    op.checkpoint({})

connector = Connector(update=update)
'''
    report = lint_code(code, ignore=["HW062"])
    assert hits(report) == [
        ("HW052", "connector.py", line_of(code, 'session.headers["Authorization"]')),
        ("HW052", "connector.py", line_of(code, "session.auth =")),
        ("HW052", "connector.py", line_of(code, "HTTPBasicAuth(")),
        ("HW052", "connector.py", line_of(code, '"authorization"')),
    ]


def test_authorization_from_configuration_or_a_reported_constant_is_not_reported(lint_code: LintCode,
                                                                                 hits: Hits) -> None:
    code = '''
import requests
from fivetran_connector_sdk import Connector, Operations as op

API_TOKEN = "Zt8pQ2wXc4-q8Wm2Z"

def update(configuration, state):
    requests.get("https://x.example.com", headers={"Authorization": f"Bearer {configuration['token']}"}, timeout=5)
    requests.get("https://x.example.com", headers={"Authorization": "Bearer " + API_TOKEN}, timeout=5)
    requests.get("https://x.example.com", auth=(configuration["user"], configuration["password"]), timeout=5)
    requests.get("https://x.example.com", headers={"Authorization": "Bearer <YOUR_TOKEN>"}, timeout=5)
    op.upsert("t", {"id": 1})
    op.checkpoint({})

connector = Connector(update=update)
'''
    report = lint_code(code, ignore=["HW062"])
    assert hits(report) == [("HW050", "connector.py", line_of(code, "API_TOKEN ="))]


@pytest.mark.parametrize(("name", "secret"), [
    ("api_key", True), ("apiKey", True), ("X-API-Key", True), ("client_secret", True), ("DB_PASSWORD", True),
    ("access_token", True), ("refresh_token", True), ("private_key", True), ("consumer_key", True),
    ("token_url", False), ("next_page_token", False), ("PASSWORD_ENV", False), ("secret_name", False),
    ("primary_key", False), ("cursor_key", False), ("max_tokens", False), ("password_hash", False),
    ("key", False), ("token_type", False), ("auth", False),
])
def test_secret_name_heuristic(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(("value", "secret"), [
    ("hunter2!", True), (RANDOM_KEY, True), ("s3cr3t", True),
    ("", False), ("<YOUR_API_KEY>", False), ("xxxxxxxx", False), ("changeme", False), ("api_key", False),
    ("MY_API_KEY", False), ("{token}", False), ("https://x.example.com", False), ("a b c d", False),
    ("password", False), ("Bearer", False),
])
def test_secret_value_heuristic(value: str, secret: bool) -> None:
    assert is_secret_value(value) is secret


@pytest.mark.parametrize(("value", "kind"), [
    (GITHUB_TOKEN, "GitHub"), ("AKIA" + "Q3EGRXNZ4ABCDEFG", "AWS"), ("xox" + "b-1234567890-abcdefghij", "Slack"),
    (PRIVATE_KEY, "private key"), (PRIVATE_KEY.replace("\n", "\\n"), "private key"), (RANDOM_KEY, "random"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIE", None), ("-----BEGIN PRIVATE KEY-----", None),
    ("-----BEGIN PRIVATE KEY-----\nYOUR_PRIVATE_KEY_CONTENT_HERE\n-----END PRIVATE KEY-----", None),
    ("-----BEGIN PRIVATE KEY-----\n" + "X" * 80 + "\n-----END PRIVATE KEY-----", None),
    ("https://user:Zt8pQ2wX@host/db", "password"),
    ("MyVeryLongIdentifierName2024", None), ("2024-01-01T00:00:00Z", None), ("ThisIsATestString123456789", None),
    ("application/vnd.api+json", None), ("https://user:{password}@host/db", None),
])
def test_token_shape_heuristic(value: str, kind: str | None) -> None:
    described = describe_token(value)
    if kind is None:
        assert described is None
    else:
        assert described is not None and kind in described


# ------------------------------------------------------------------------------------ requirements.txt
def test_requirements_provided_and_unpinned(lint_code: LintCode, hits: Hits) -> None:
    report = lint_code(CLEAN, files={"requirements.txt": (
        "# comment line\n"
        "Fivetran_Connector.SDK\n"
        "requests[socks]>=2\n"
        "pandas~=2.2\n"
        "numpy==1.26.4 ; python_version >= '3.10'\n"
        "-r other.txt\n"
        "git+https://github.com/example/lib.git@v1#egg=lib\n"
        "lib @ https://example.com/lib.whl\n"
        "pyyaml  # noqa: HW091\n"
        "\n"
    )})
    assert hits(report) == [("HW090", "requirements.txt", 2), ("HW090", "requirements.txt", 3),
                            ("HW091", "requirements.txt", 4)]
