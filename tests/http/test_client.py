"""HttpClient against loopback servers: URLs, timeouts, sessions, headers, the debug log line,
secrets in logs and messages, and status errors."""

from __future__ import annotations

import ast
import gzip
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from http_helpers import FakeTime, LogCapture, RawServer
from pytest_httpserver import HTTPServer
from werkzeug import Response

import headwater.http
from headwater.http import (
    AuthenticationError,
    ClientError,
    HttpClient,
    HttpConfigError,
    HttpStatusError,
    HttpTimeoutError,
    InvalidRequestError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from headwater.http._redact import Redactor


def test_public_surface_is_sorted_and_pinned() -> None:
    assert headwater.http.__all__ == sorted(headwater.http.__all__)
    assert set(headwater.http.__all__) == {
        "DEFAULT_TIMEOUT", "ApiKeyAuth", "AuthenticationError", "BasicAuth", "BearerAuth", "ClientError",
        "CursorPaginator", "HttpClient", "HttpConfigError", "HttpError", "HttpStatusError", "HttpTimeoutError",
        "InvalidRequestError", "InvalidResponseError", "KeysetPaginator", "LinkHeaderPaginator", "NextUrlPaginator",
        "OAuth2ClientCredentials", "OAuth2RefreshToken", "OffsetPaginator", "PageNumberPaginator", "PageRequest",
        "PaginationError", "Paginator", "RateBudgetError", "RateLimit", "RateLimitError", "RedirectLoopError",
        "RetryPolicy", "ServerError", "SessionTokenAuth", "TokenAuth", "TransportError",
    }


def test_the_guide_mentions_every_public_name() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "http.md").read_text(encoding="utf-8")

    assert [name for name in headwater.http.__all__ if not re.search(rf"\b{name}\b", guide)] == []


def test_the_package_imports_only_requests_urllib3_the_stdlib_and_headwaters_small_modules() -> None:
    package = Path(headwater.http.__file__).parent
    allowed = {"requests", "urllib3", "headwater.errors", "headwater.log"}
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                top = name.split(".")[0]
                assert (top in sys.stdlib_module_names or top in {"requests", "urllib3"} or name in allowed
                        or name.startswith("headwater.http")), f"{module.name} imports {name}"


# -------------------------------------------------------------------------------------------- URLs

@pytest.mark.parametrize(("base", "path"), [("/v1", "orders"), ("/v1/", "/orders"), ("/v1", "/orders")])
def test_relative_paths_are_joined_to_the_base_url(server: HTTPServer, fake: FakeTime, base: str, path: str) -> None:
    server.expect_ordered_request("/v1/orders").respond_with_json([])

    assert fake.client(server.url_for(base)).get(path).json() == []


def test_an_absolute_url_is_used_as_given(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/elsewhere").respond_with_json([])

    fake.client("https://api.example.invalid/v1").get(server.url_for("/elsewhere"))


def test_a_relative_path_without_base_url_raises_invalid_request_error(fake: FakeTime) -> None:
    with pytest.raises(InvalidRequestError, match="'/orders' is not an absolute URL and the client has no base_url"):
        HttpClient().get("/orders")


def test_a_base_url_without_scheme_is_refused() -> None:
    with pytest.raises(HttpConfigError, match="must be an absolute URL"):
        HttpClient("api.example.com")


# ---------------------------------------------------------------------------------------- timeouts

def test_every_request_gets_the_default_timeout_even_through_the_bare_session(
    raw_server: Callable[[list[str]], RawServer]
) -> None:
    raw = raw_server(["hang"])
    client = HttpClient(raw.url, timeout=0.3, retry=RetryPolicy(max_attempts=1))

    started = time.monotonic()
    with pytest.raises(HttpTimeoutError) as caught:
        client.get("/slow")
    with pytest.raises(requests.RequestException, match=r"read timeout=0.3"):
        client.session.get(raw.url + "/slow")  # no timeout given: the client's applies
    elapsed = time.monotonic() - started

    assert elapsed < 3
    assert "timeout=0.3" in str(caught.value) and caught.value.retryable


def test_a_call_can_give_its_own_timeout(raw_server: Callable[[list[str]], RawServer]) -> None:
    raw = raw_server(["hang"])
    client = HttpClient(raw.url, timeout=30, retry=RetryPolicy(max_attempts=1))

    started = time.monotonic()
    with pytest.raises(HttpTimeoutError, match=r"timeout=\(1.0, 0.2\)"):
        client.get("/slow", timeout=(1, 0.2))

    assert time.monotonic() - started < 3


@pytest.mark.parametrize("timeout", [None, 0, -1, (1,), (1, None), "10", float("inf")])
def test_a_missing_or_invalid_timeout_is_refused(timeout: object) -> None:
    with pytest.raises(HttpConfigError, match="every request needs a timeout"):
        HttpClient("http://127.0.0.1", timeout=timeout)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- sessions and headers

def test_an_injected_session_is_used_and_left_open(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/x", headers={"User-Agent": "my-connector/1.0", "Cookie": "sid=abc"}).respond_with_json({})
    session = requests.Session()
    session.headers["User-Agent"] = "my-connector/1.0"
    session.cookies.set("sid", "abc")

    with fake.client(server.url_for("/"), session=session) as client:
        client.get("/x")
        assert client.session is session

    assert session.get(server.url_for("/x"), timeout=5).status_code == 200  # still open, still ours
    assert session.get_adapter("https://example.com") is session.get_adapter("http://example.com")


def test_client_headers_are_sent_and_a_calls_headers_win(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/x", headers={"Accept": "application/json", "X-Tenant": "a"}).respond_with_json({})
    server.expect_ordered_request("/x", headers={"Accept": "text/csv", "X-Tenant": "a"}).respond_with_json({})
    client = fake.client(server.url_for("/"), headers={"Accept": "application/json", "X-Tenant": "a"})

    client.get("/x")
    client.get("/x", headers={"Accept": "text/csv"})


def test_post_sends_a_json_body(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/orders", method="POST", json={"id": 1}).respond_with_json({"id": 1}, status=201)

    assert fake.client(server.url_for("/")).post("/orders", json={"id": 1}).status_code == 201


# ------------------------------------------------------------------------------------- the log line

def test_each_request_logs_one_debug_line_with_method_url_status_and_duration(
    server: HTTPServer, fake: FakeTime, logs: LogCapture
) -> None:
    server.expect_ordered_request("/orders").respond_with_json([])

    fake.client(server.url_for("/")).get("/orders", params={"page": 2})

    assert len(logs.lines) == 1
    assert logs.lines[0].endswith(f"DEBUG    [connector] GET {server.url_for('/orders')}?page=2 -> 200 in 0.000 s")


def test_secrets_are_hidden_in_log_lines_and_errors(server: HTTPServer, fake: FakeTime, logs: LogCapture) -> None:
    server.expect_request("/accounts/sk_live_abcdef/charges").respond_with_data(
        "no such account sk_live_abcdef", status=404)
    client = fake.client(server.url_for("/"), secrets=["sk_live_abcdef"], secret_params=["sig2"])

    with pytest.raises(ClientError) as caught:
        client.get("/accounts/sk_live_abcdef/charges", params={"access_token": "t0k3n", "sig2": "zz", "page": 1})

    shown = f"{server.url_for('/accounts/***/charges')}?access_token=***&sig2=***&page=1"
    assert caught.value.url == shown
    assert str(caught.value) == (f"GET {shown} failed with 404; check the path and the client's base_url; "
                                 "response: no such account ***")
    assert logs.matching(f"GET {shown} -> 404")
    assert not any(secret in "\n".join(logs.lines) + str(caught.value) for secret in ("sk_live", "t0k3n", "zz&"))


def test_redactor_hides_user_info_passwords_params_and_encoded_values() -> None:
    redactor = Redactor(params=["X-Sig"], values=["p@ss word"])

    assert redactor.url("https://me:hunter2@h/a?x_sig=1&q=p%40ss%20word&ok=2&apiKey=9") == (
        "https://me:***@h/a?x_sig=***&q=***&ok=2&apiKey=***")
    assert redactor.text("GET /orders?client_secret=abc&page=3 failed: 'p%40ss+word'") == (
        "GET /orders?client_secret=***&page=3 failed: '***'")


# ---------------------------------------------------------------------------------- status errors

@pytest.mark.parametrize(("status", "cls", "hint"), [
    (400, ClientError, "check the request's parameters and body"),
    (401, AuthenticationError,
     "the credentials were refused; check the API key, token or password in the configuration"),
    (403, AuthenticationError, "the credentials are valid but not allowed this; check their scopes or permissions"),
    (404, ClientError, "check the path and the client's base_url"),
    (422, ClientError, "check the request's parameters and body"),
])
def test_4xx_statuses_raise_typed_errors_carrying_status_and_response(
    server: HTTPServer, fake: FakeTime, status: int, cls: type[HttpStatusError], hint: str
) -> None:
    server.expect_ordered_request("/orders", method="POST").respond_with_data(
        '{"message": "no"}', status=status, content_type="application/json")

    with pytest.raises(cls) as caught:
        fake.client(server.url_for("/")).post("/orders", json={})

    error = caught.value
    assert type(error) is cls and error.status_code == status and error.response.json() == {"message": "no"}
    assert error.method == "POST" and error.url == server.url_for("/orders") and error.attempts == 1
    assert str(error) == f'POST {server.url_for("/orders")} failed with {status}; {hint}; response: {{"message": "no"}}'
    assert not error.retryable


def test_429_and_5xx_after_retries_are_retryable_errors(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/a").respond_with_data("", status=429)
    server.expect_ordered_request("/b").respond_with_data("", status=502)
    client = fake.client(server.url_for("/"), retry=fake.policy(max_attempts=1))

    with pytest.raises(RateLimitError) as limited:
        client.get("/a")
    with pytest.raises(ServerError) as failed:
        client.get("/b")

    assert limited.value.retryable and failed.value.retryable and failed.value.status_code == 502


def test_a_successful_response_is_returned_as_is(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/x").respond_with_data("plain", status=204)

    assert fake.client(server.url_for("/")).get("/x").status_code == 204


def test_a_body_read_within_its_attempt_keeps_compression_cookies_and_redirects(server: HTTPServer,
                                                                                fake: FakeTime) -> None:
    compressed = gzip.compress(b'{"a": 1}')
    server.expect_ordered_request("/old").respond_with_response(
        Response("moved", status=302, headers={"Location": "/gz"}))
    server.expect_ordered_request("/gz").respond_with_response(Response(
        compressed, content_type="application/json", headers={"Content-Encoding": "gzip", "Set-Cookie": "sid=abc"}))
    client = fake.client(server.url_for("/"))

    response = client.get("/old")

    assert response.json() == {"a": 1} and [answer.status_code for answer in response.history] == [302]
    assert client.session.cookies.get("sid") == "abc"
