"""No secret leaves a real ``headwater debug`` run, in any encoded form, through any channel headwater owns.

One connector leaks a set of secrets (a quote, a backslash, a number, spaces and ``+``, non-ASCII,
a random-looking value under a plain key, and a basic-auth user/password pair with a short password)
every way it can:

- its own log lines (``Logging.info``/``warning``/``severe`` with an exception);
- an exception message, so headwater's ``error:`` line (stderr) and the logged traceback (stdout);
- HTTP, recorded with ``--record``: secrets in the URL path, the query, headers, a JSON body and
  basic auth, against a loopback server that echoes all of it back — in response headers and the
  body, raw, repr()'d, JSON-escaped and base64-encoded;

and the tests assert that no encoded form of any secret (plain, repr, ascii, JSON, URL-encoded,
base64 alone or as the basic-auth pair) is in stdout, stderr, ``files/`` or the recording folder,
while ordinary values (``customers``, a date, the base URL) are printed as they are.

Not covered, on purpose: what the connector writes with ``print()``. headwater does not own the
connector's stdout (``connector.debug()`` runs in the user's own process) and does not intercept
it; connectors should log through ``Logging``, which is masked.

Tests marked ``needs runner wiring`` pass once the runner installs the run's masker
(``headwater.secrets.SecretMasker.from_configuration``) on the log printer and uses it for the
error line; remove the marker then.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

SECRETS = {
    "api_key": "123456789012",                       # numeric
    "client_secret": "it's-4-s3cret",                # a quote
    "token": "C:\\vault\\t0ken\\n1",                 # backslashes
    "passphrase": "open sesame + 42 more",           # spaces and +
    "signing_secret": "sécret-ünïcode-€42",          # non-ASCII
    "extra": "xQ9vR2mT7kL4pZ8wN3bY6cF1",             # a credential under a plain key name
    "password": "pw!5x",                             # basic auth, with username
}
USERNAME = "svc-reader"
ORDINARY = {"username": USERNAME, "workspace": "customers", "start_date": "2024-01-01"}

CONNECTOR = '''
import base64
import json
from urllib.parse import quote, quote_plus

import requests
from fivetran_connector_sdk import Connector, Logging as log, Operations as op

SECRET_KEYS = SECRET_KEYS_HERE


def leak(configuration):
    """Every form of every secret, as a connector might print them by accident."""
    parts = []
    for key in SECRET_KEYS:
        value = configuration[key]
        raw = value.encode()
        parts += [value, repr(value), ascii(value), json.dumps(value), json.dumps(value, ensure_ascii=False),
                  quote(value, safe=""), quote(value), quote_plus(value), base64.b64encode(raw).decode(),
                  base64.urlsafe_b64encode(raw).decode().rstrip("=")]
    pair = (configuration["username"] + ":" + configuration["password"]).encode()
    parts += ["Basic " + base64.b64encode(pair).decode(), base64.urlsafe_b64encode(pair).decode().rstrip("=")]
    parts.append(repr(dict(configuration)))
    return " | ".join(parts)


def schema(configuration):
    return [{"table": "items", "primary_key": ["id"]}]


def update(configuration, state):
    text = leak(configuration)
    log.info(f"workspace {configuration['workspace']} since {configuration['start_date']} "
             f"from {configuration['base_url']}")
    log.info("configuration: " + text)
    log.warning(text)
    base = configuration["base_url"]
    auth = (configuration["username"], configuration["password"])
    session = requests.Session()
    response = session.post(
        base + "/echo/" + quote(configuration["passphrase"], safe=""),
        params={"q": configuration["client_secret"], "n": configuration["api_key"], "t": configuration["token"],
                "s": configuration["signing_secret"], "w": configuration["workspace"]},
        json={"note": configuration["token"], "u": configuration["signing_secret"],
              "num": int(configuration["api_key"]), "workspace": configuration["workspace"]},
        headers={"X-Custom": configuration["extra"], "X-Trace": configuration["passphrase"]},
        auth=auth, timeout=10)
    response.raise_for_status()
    log.info("echo: " + response.text)
    log.info("echo headers: " + repr(dict(response.headers)))
    op.upsert("items", {"id": 1, "workspace": configuration["workspace"], "echoed": len(response.json())})
    op.checkpoint({"since": configuration["start_date"]})
    try:
        session.get(base + "/missing/" + quote(configuration["client_secret"], safe=""),
                    params={"key": configuration["passphrase"]}, auth=auth, timeout=10).raise_for_status()
    except requests.HTTPError as exc:
        log.severe("lookup failed", exc)
        raise RuntimeError(f"giving up after {exc}: {text}") from exc


connector = Connector(update=update, schema=schema)
'''


def secret_forms() -> dict[str, set[str]]:
    """Every encoded form of each secret (and of the basic-auth pair), computed independently of headwater."""
    forms: dict[str, set[str]] = {}
    for key, value in SECRETS.items():
        raw = value.encode("utf-8")
        found = {value, repr(value)[1:-1], ascii(value)[1:-1], json.dumps(value)[1:-1],
                 json.dumps(value, ensure_ascii=False)[1:-1], quote(value, safe=""), quote(value), quote_plus(value),
                 quote(value, safe="!#$%&'()*+,/:;=?@[]~")}
        for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
            found |= {encoded, encoded.rstrip("=")}
        forms[key] = found
    pair = f"{USERNAME}:{SECRETS['password']}".encode()
    forms["basic-auth pair"] = {encoded.rstrip("=") for encoded in
                                (base64.b64encode(pair).decode(), base64.urlsafe_b64encode(pair).decode())}
    return forms


def leaks(text: str | bytes, *, pair: bool = True) -> list[str]:
    """``"key: form"`` for each form of a secret found in ``text``."""
    found = []
    for key, forms in secret_forms().items():
        if key == "basic-auth pair" and not pair:
            continue
        for form in sorted(forms):
            needle: str | bytes = form.encode("utf-8") if isinstance(text, bytes) else form
            if needle in text:  # type: ignore[operator]
                found.append(f"{key}: {form!r}")
    return found


_RECORD = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \S+\s+\[(\w+)\] ")


def log_records(out: str, origin: str) -> str:
    """The log records of one origin in stdout, continuation lines included."""
    records: list[str] = []
    current: str | None = None
    for line in out.splitlines():
        match = _RECORD.match(line)
        if match:
            current = match.group(1)
            if current == origin:
                records.append(line)
        elif current == origin and line.startswith(" "):
            records.append(line)
        else:
            current = None
    return "\n".join(records)


class EchoServer:
    """Echoes every credential it receives: headers, query, path, body, basic auth, also base64-encoded."""

    def __init__(self) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0)
        self.server.expect_request(re.compile(r"^/echo/.*"), method="POST").respond_with_handler(self._echo)
        self.server.expect_request(re.compile(r"^/missing/.*")).respond_with_handler(self._missing)
        self.server.start()
        self.url = self.server.url_for("").rstrip("/")

    def _echo(self, request: Request) -> Response:
        authorization = request.headers.get("Authorization", "")
        user, _, password = base64.b64decode(authorization.split()[-1]).decode("latin-1").partition(":")
        body = request.get_data(as_text=True)
        values = {**request.args, "path": request.path, "x-custom": request.headers.get("X-Custom", ""),
                  "x-trace": request.headers.get("X-Trace", ""), "password": password, "user": user}
        echoed = {
            "authorization": authorization,
            "raw_query": request.query_string.decode("latin-1"),
            "body": body,
            "json": json.loads(body),
            "values": values,
            "reprs": repr(values),
            "base64": {key: base64.b64encode(value.encode()).decode() for key, value in values.items()},
            "base64url": {key: base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
                          for key, value in values.items()},
        }
        headers = {"X-Echo-Basic": authorization, "X-Echo-Custom": values["x-custom"],
                   "X-Echo-Password-B64": base64.b64encode(password.encode()).decode(),
                   "X-Echo-Query": request.query_string.decode("latin-1")}
        return Response(json.dumps(echoed), status=200, headers=headers, content_type="application/json")

    def _missing(self, request: Request) -> Response:
        return Response(json.dumps({"error": "not found", "asked": request.full_path,
                                    "auth": request.headers.get("Authorization", "")}),
                        status=404, content_type="application/json")

    def stop(self) -> None:
        if self.server.is_running():
            self.server.stop()


@dataclass
class Leaky:
    """A recorded run of the leaking connector."""

    project: Path
    recording: Path
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def leaky(tmp_path_factory: pytest.TempPathFactory, hw: Any) -> Iterator[Leaky]:
    server = EchoServer()
    root = tmp_path_factory.mktemp("leaks")
    configuration = {"base_url": server.url, **SECRETS, **ORDINARY}
    source = CONNECTOR.replace("SECRET_KEYS_HERE", repr(tuple(SECRETS)))
    project = hw.write_project(root / "leaky", source, configuration)
    recording = root / "recording"
    try:
        code, out, err = hw.run_cli("debug", str(project), "--record", str(recording), cwd=root, timeout=120)
    finally:
        server.stop()
    yield Leaky(project, recording, code, out, err)


def test_the_leaky_connector_ran_every_channel(leaky: Leaky) -> None:
    # Guards against a vacuous pass: every channel below really carried the secrets.
    assert leaky.code == 1, leaky.out + leaky.err
    assert "giving up after 404 Client Error" in leaky.err
    assert "echo: " in leaky.out and "lookup failed" in leaky.out and "Sync FAILED" in leaky.out
    assert "Traceback (most recent call last)" in log_records(leaky.out, "headwater")
    exchanges = (leaky.recording / "exchanges.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(exchanges) == 2
    assert json.loads(json.loads(exchanges[0])["response"]["body"])["json"]["workspace"] == "customers"


def test_recording_holds_no_form_of_any_secret(leaky: Leaky) -> None:
    files = sorted(path for path in leaky.recording.rglob("*") if path.is_file())
    assert {path.name for path in files} == {"meta.json", "exchanges.jsonl"}
    for path in files:
        assert leaks(path.read_bytes()) == [], path.name
    first = json.loads((leaky.recording / "exchanges.jsonl").read_text(encoding="utf-8").splitlines()[0])
    # The echoed basic-auth header and the JSON body with a numeric secret stay usable.
    assert first["response"]["headers"]["X-Echo-Basic"] == "Basic <redacted>"
    assert json.loads(first["response"]["body"])["json"]["num"] == "<redacted>"
    assert "w=customers" in first["request"]["url"]


def test_files_hold_no_form_of_any_secret(leaky: Leaky) -> None:
    files = sorted(path for path in (leaky.project / "files").rglob("*") if path.is_file())
    assert files, "the sync wrote nothing"
    for path in files:
        assert leaks(path.read_bytes()) == [], path.name


def test_error_line_and_logged_traceback_hold_no_form_of_any_secret(leaky: Leaky) -> None:
    (error,) = [line for line in leaky.err.splitlines() if line.startswith("error: ")]
    assert leaks(leaky.err, pair=False) == [], error
    assert leaks(log_records(leaky.out, "headwater"), pair=False) == []


def test_error_line_and_logged_traceback_hold_no_basic_auth_pair(leaky: Leaky) -> None:
    # The runner's redactor must know the configuration's other values as basic-auth users.
    assert leaks(leaky.err) == []
    assert leaks(log_records(leaky.out, "headwater")) == []


def test_connector_log_lines_hold_no_form_of_any_secret(leaky: Leaky) -> None:
    assert leaks(log_records(leaky.out, "connector")) == []
    assert leaks(leaky.out) == []
    assert leaks(leaky.err) == []


def test_ordinary_configuration_values_are_printed_as_they_are(leaky: Leaky) -> None:
    connector_lines = log_records(leaky.out, "connector")
    assert "workspace customers since 2024-01-01 from http://127.0.0.1:" in connector_lines
    assert "'username': 'svc-reader'" in connector_lines


def test_a_replay_of_the_redacted_recording_matches_every_request(leaky: Leaky, hw: Any) -> None:
    hw.run_cli("reset", "--force", str(leaky.project), cwd=leaky.project.parent)
    code, out, err = hw.run_cli("debug", str(leaky.project), "--replay", str(leaky.recording),
                                cwd=leaky.project.parent, timeout=120)
    assert code == 1, out + err
    assert "ReplayMiss" not in out + err and "ReplayNetwork" not in out + err
    assert "giving up after 404 Client Error" in err
    assert "2 requests answered from 2 recorded exchanges" in out
    assert leaks(err, pair=False) == []
