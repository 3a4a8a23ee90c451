"""Retries against real loopback servers: statuses, Retry-After, backoff with full jitter, the time
cap, connection errors. Sleeps are recorded by FakeTime, except in the one real Retry-After test."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import pytest
from http_helpers import FakeTime, LogCapture, RawServer, refused_url
from pytest_httpserver import HTTPServer

from headwater.http import (
    ApiKeyAuth,
    ClientError,
    HttpClient,
    HttpConfigError,
    HttpTimeoutError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TransportError,
)


def script(server: HTTPServer, path: str, *responses: tuple[int, dict[str, str]], method: str = "GET") -> None:
    """Answer the next requests to ``path`` with these statuses and headers, in order."""
    for status, headers in responses:
        body = '{"ok": true}' if status < 400 else '{"error": "try later"}'
        server.expect_ordered_request(path, method=method).respond_with_data(
            body, status=status, headers=headers, content_type="application/json")


def test_503_503_200_is_retried_until_the_success(server: HTTPServer, fake: FakeTime, logs: LogCapture) -> None:
    script(server, "/orders", (503, {}), (503, {}), (200, {}))

    response = fake.client(server.url_for("/")).get("/orders")

    assert response.json() == {"ok": True}
    assert len(server.log) == 3
    # Full jitter with random() fixed at 0.5: half of 1 s, then half of 2 s.
    assert fake.sleeps == [0.5, 1.0]
    assert logs.matching("GET http://localhost") and "-> 200" in logs.lines[-1] and "(3 attempts)" in logs.lines[-1]


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_each_retryable_status_is_retried(server: HTTPServer, fake: FakeTime, status: int) -> None:
    script(server, "/x", (status, {}), (200, {}))

    assert fake.client(server.url_for("/")).get("/x").status_code == 200
    assert len(server.log) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422])
def test_other_4xx_statuses_are_not_retried(server: HTTPServer, fake: FakeTime, status: int) -> None:
    script(server, "/x", (status, {"Retry-After": "1"}))

    with pytest.raises(ClientError) as caught:
        fake.client(server.url_for("/")).get("/x")

    assert caught.value.status_code == status
    assert caught.value.attempts == 1
    assert len(server.log) == 1 and fake.sleeps == []


def test_retry_after_in_seconds_is_waited_exactly(server: HTTPServer, fake: FakeTime) -> None:
    script(server, "/x", (429, {"Retry-After": "30"}), (200, {}))

    fake.client(server.url_for("/")).get("/x")

    assert fake.sleeps == [30.0]


def test_retry_after_as_http_date_is_waited_until_that_date(server: HTTPServer, fake: FakeTime) -> None:
    when = email.utils.formatdate(fake.time() + 45, usegmt=True)
    script(server, "/x", (503, {"Retry-After": when}), (200, {}))

    fake.client(server.url_for("/")).get("/x")

    assert fake.sleeps == [pytest.approx(45.0, abs=1.0)]


def test_retry_after_date_in_the_past_waits_the_minimum(server: HTTPServer, fake: FakeTime) -> None:
    when = email.utils.formatdate(fake.time() - 600, usegmt=True)
    script(server, "/x", (503, {"Retry-After": when}), (200, {}))

    fake.client(server.url_for("/")).get("/x")

    assert fake.sleeps == [1.0]


def test_retry_after_zero_waits_the_minimum_instead_of_spinning(server: HTTPServer, fake: FakeTime) -> None:
    script(server, "/x", (429, {"Retry-After": "0"}), (429, {"Retry-After": "0"}), (429, {"Retry-After": "0"}),
           (200, {}))

    fake.client(server.url_for("/"), retry=fake.policy(min_retry_after=2.5)).get("/x")

    assert fake.sleeps == [2.5, 2.5, 2.5]


def test_unreadable_retry_after_falls_back_to_backoff(server: HTTPServer, fake: FakeTime) -> None:
    script(server, "/x", (503, {"Retry-After": "soon"}), (200, {}))

    fake.client(server.url_for("/")).get("/x")

    assert fake.sleeps == [0.5]


def test_backoff_ceiling_doubles_per_failure_up_to_backoff_max(server: HTTPServer, fake: FakeTime) -> None:
    script(server, "/x", *[(500, {})] * 5, (200, {}))
    policy = fake.policy(max_attempts=6, backoff_factor=2.0, backoff_max=10.0, random=lambda: 1.0)

    fake.client(server.url_for("/"), retry=policy).get("/x")

    assert fake.sleeps == [2.0, 4.0, 8.0, 10.0, 10.0]


def test_backoff_is_full_jitter_between_zero_and_the_ceiling(server: HTTPServer, fake: FakeTime) -> None:
    draws = iter([0.0, 0.25, 0.9])
    script(server, "/x", (500, {}), (500, {}), (500, {}), (200, {}))
    policy = fake.policy(backoff_factor=4.0, random=lambda: next(draws))

    fake.client(server.url_for("/"), retry=policy).get("/x")

    # Ceilings 4, 8, 16: the waits are the random draws times the ceiling, down to no wait at all.
    assert fake.sleeps == [2.0, 14.4]


def test_jittered_waits_with_the_real_random_source_stay_below_the_ceiling(server: HTTPServer, fake: FakeTime) -> None:
    script(server, "/x", *[(502, {})] * 4, (200, {}))
    policy = RetryPolicy(clock=fake.monotonic, sleep=fake.sleep, backoff_factor=1.0)

    fake.client(server.url_for("/"), retry=policy).get("/x")

    assert len(fake.sleeps) <= 4
    assert all(0 <= wait < ceiling for wait, ceiling in zip(fake.sleeps, [1, 2, 4, 8]))


def test_giving_up_after_max_attempts_raises_server_error_with_status_and_response(
    server: HTTPServer, fake: FakeTime
) -> None:
    script(server, "/orders", *[(500, {})] * 3)

    with pytest.raises(ServerError) as caught:
        fake.client(server.url_for("/"), retry=fake.policy(max_attempts=3)).get("/orders")

    error = caught.value
    assert error.status_code == 500 and error.response.json() == {"error": "try later"}
    assert error.attempts == 3 and error.method == "GET" and error.url.endswith("/orders")
    assert error.retryable
    assert "GET http://localhost" in str(error) and "/orders failed with 500 after 3 attempts over 1.5 s" in str(error)
    assert "the server failed all 3 attempts (max_attempts)" in str(error)
    assert len(server.log) == 3


def test_time_cap_stops_before_a_wait_that_would_pass_it(server: HTTPServer, fake: FakeTime) -> None:
    script(server, "/orders", *[(429, {"Retry-After": "30"})] * 3)
    client = fake.client(server.url_for("/"), retry=fake.policy(max_attempts=5, max_total_seconds=70),
                         auth=ApiKeyAuth("k-123", query_param="api_key"))

    with pytest.raises(RateLimitError) as caught:
        client.get("/orders")

    # Waits end 30 and 60 s after the first failure; a third would end at 90 > 70.
    assert fake.sleeps == [30.0, 30.0]
    message = str(caught.value)
    assert message.startswith(f"GET {server.url_for('/orders')}?api_key=*** failed with 429 after 3 attempts "
                              "over 60.0 s; the server asked to retry after 30 s; "
                              "retrying stopped at max_total_seconds=70; "
                              "raise max_total_seconds or lower the request rate")
    assert "k-123" not in message and caught.value.attempts == 3


def test_retry_after_longer_than_the_cap_fails_without_waiting(server: HTTPServer, fake: FakeTime) -> None:
    script(server, "/x", (503, {"Retry-After": "3600"}))

    with pytest.raises(ServerError) as caught:
        fake.client(server.url_for("/"), retry=fake.policy(max_total_seconds=300)).get("/x")

    assert fake.sleeps == [] and len(server.log) == 1
    assert "the server asked to retry after 3600 s; retrying stopped at max_total_seconds=300" in str(caught.value)


def test_post_is_not_retried_on_a_status_by_default(server: HTTPServer, fake: FakeTime) -> None:
    script(server, "/orders", (503, {}), method="POST")

    with pytest.raises(ServerError):
        fake.client(server.url_for("/")).post("/orders", json={"id": 1})

    assert len(server.log) == 1


def test_post_is_retried_when_the_policy_allows_it(server: HTTPServer, fake: FakeTime) -> None:
    script(server, "/search", (503, {}), (200, {}), method="POST")

    response = fake.client(server.url_for("/"), retry=fake.policy(methods={"GET", "POST"})).post(
        "/search", json={"q": "x"})

    assert response.status_code == 200
    assert [request.get_json() for request, _ in server.log] == [{"q": "x"}, {"q": "x"}]


def test_max_attempts_one_sends_once(server: HTTPServer, fake: FakeTime) -> None:
    script(server, "/x", (503, {}))

    with pytest.raises(ServerError) as caught:
        fake.client(server.url_for("/"), retry=fake.policy(max_attempts=1)).get("/x")

    assert caught.value.attempts == 1 and "after" not in str(caught.value).split(";")[0]


def test_connection_refused_is_retried_then_raises_transport_error(
    fake: FakeTime, logs: LogCapture, caplog: pytest.LogCaptureFixture
) -> None:
    url = refused_url()

    with pytest.raises(TransportError) as caught:
        fake.client(url, retry=fake.policy(max_attempts=3)).get("/orders?api_key=secret")

    error = caught.value
    assert error.attempts == 3 and fake.sleeps == [0.5, 1.0] and error.retryable
    assert str(error).startswith(f"GET {url}/orders?api_key=*** failed: NewConnectionError")
    assert "Connection refused" in str(error) and "after 3 attempts" in str(error)
    assert "check that the host is reachable" in str(error)
    assert "secret" not in str(error) and not any("secret" in line for line in logs.lines)
    # urllib3's own "Retrying ..." warnings carry the path and query: they are redacted too.
    assert "Retrying" in caplog.text and "api_key=***" in caplog.text and "secret" not in caplog.text
    assert error.__cause__ is not None


def test_connection_dropped_without_response_is_retried_then_succeeds(
    raw_server: Callable[[list[str]], RawServer], fake: FakeTime
) -> None:
    raw = raw_server(["drop", "drop", "ok"])

    response = fake.client(raw.url).get("/x")

    assert response.json() == {"ok": True}
    assert raw.connections == 3 and len(fake.sleeps) == 2


@pytest.mark.parametrize("broken", ["short-body", "broken-chunked"])
def test_a_body_cut_short_is_retried_like_a_dropped_connection(
    raw_server: Callable[..., RawServer], fake: FakeTime, logs: LogCapture, broken: str
) -> None:
    raw = raw_server([broken, broken, "ok"])

    response = fake.client(raw.url).get("/orders")

    assert response.json() == {"ok": True}
    assert raw.connections == 3 and fake.sleeps == [0.5, 1.0]
    assert "-> 200" in logs.lines[-1] and "(3 attempts)" in logs.lines[-1]


@pytest.mark.parametrize(("broken", "detail"), [
    ("short-body", "IncompleteRead(13 bytes read, 87 more expected)"),
    ("broken-chunked", "IncompleteRead"),
])
def test_a_body_cut_short_every_time_fails_with_a_transport_error_after_the_retries(
    raw_server: Callable[..., RawServer], fake: FakeTime, broken: str, detail: str
) -> None:
    raw = raw_server([broken])

    with pytest.raises(TransportError) as caught:
        fake.client(raw.url, retry=fake.policy(max_attempts=3)).get("/orders?api_key=secret")

    error = caught.value
    assert type(error) is TransportError and error.retryable and error.attempts == 3 and raw.connections == 3
    message = str(error)
    assert message.startswith(f"GET {raw.url}/orders?api_key=*** failed: ResponseBodyBroken: the connection broke "
                              "while the response body was read")
    assert detail in message and "after 3 attempts over 1.5 s" in message
    assert message.endswith("; the server (or a proxy) cut the response short; run the sync again later")
    assert "secret" not in message


def test_a_post_whose_body_is_cut_short_is_not_sent_again(raw_server: Callable[..., RawServer], fake: FakeTime) -> None:
    raw = raw_server(["short-body", "ok"])

    with pytest.raises(TransportError, match="ResponseBodyBroken") as caught:
        fake.client(raw.url).post("/exports", json={"table": "orders"})

    assert raw.connections == 1 and caught.value.attempts == 1 and fake.sleeps == []


def test_a_post_whose_body_is_cut_short_is_retried_when_the_policy_allows_it(
    raw_server: Callable[..., RawServer], fake: FakeTime
) -> None:
    raw = raw_server(["short-body", "ok"])

    response = fake.client(raw.url, retry=fake.policy(methods={"GET", "POST"})).post("/search", json={"q": "x"})

    assert response.json() == {"ok": True} and raw.connections == 2
    assert [line.split(b" ")[0] for line in raw.request_lines] == [b"POST", b"POST"]


def test_read_timeout_is_retried_then_raises_http_timeout_error(
    raw_server: Callable[[list[str]], RawServer], fake: FakeTime
) -> None:
    raw = raw_server(["hang"])

    with pytest.raises(HttpTimeoutError) as caught:
        fake.client(raw.url, timeout=(1.0, 0.2), retry=fake.policy(max_attempts=2)).get("/slow")

    assert raw.connections == 2 and caught.value.attempts == 2
    assert "Read timed out" in str(caught.value) and "raise timeout=" in str(caught.value)


def test_a_real_retry_after_of_one_second_is_really_waited(server: HTTPServer) -> None:
    script(server, "/x", (503, {"Retry-After": "1"}), (200, {}))
    client = HttpClient(server.url_for("/"))

    started = time.monotonic()
    response = client.get("/x")
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert 0.95 <= elapsed < 5


@pytest.mark.parametrize(("options", "phrase"), [
    ({"max_attempts": 0}, "max_attempts=0"),
    ({"max_attempts": 2.5}, "whole number"),
    ({"backoff_factor": -1}, "backoff_factor=-1"),
    ({"max_total_seconds": 0}, "max_total_seconds=0"),
    ({"min_retry_after": 0}, "tight loop"),
    ({"statuses": {429, 1000}}, "[1000]"),
    ({"methods": set()}, "None to retry every method"),
    ({"methods": "GET"}, "collection of method names"),
])
def test_policy_rejects_invalid_arguments_with_a_typed_error(options: dict[str, object], phrase: str) -> None:
    with pytest.raises(HttpConfigError, match=None) as caught:
        RetryPolicy(**options)  # type: ignore[arg-type]

    assert phrase in str(caught.value) and isinstance(caught.value, ValueError)


def test_policy_normalises_statuses_and_methods() -> None:
    policy = RetryPolicy(statuses=[503, 429], methods=["get", "post"])

    assert policy.statuses == frozenset({429, 503}) and policy.methods == frozenset({"GET", "POST"})
    assert policy == RetryPolicy(statuses={429, 503}, methods={"GET", "POST"})
