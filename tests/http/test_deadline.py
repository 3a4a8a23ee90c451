"""The deadline of each request attempt: connect, headers and body together, enforced even while the
server keeps sending a byte now and then (which resets the socket's read timeout every time).

The servers trickle for 20 s or more; the deadlines are 2 s or less. The upper bounds asserted are
generous (a 2 s deadline must end within 6 s), so a loaded machine does not make them flaky."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import pytest
import requests
from http_helpers import TRICKLED_BODY, FakeTime, LogCapture, RawServer
from pytest_httpserver import HTTPServer

from headwater.http import ApiKeyAuth, HttpClient, HttpConfigError, HttpTimeoutError, RetryPolicy

StartRaw = Callable[..., RawServer]


def no_retries() -> RetryPolicy:
    return RetryPolicy(max_attempts=1)


def test_body_trickled_slower_than_the_deadline_fails_at_the_deadline(raw_server: StartRaw) -> None:
    raw = raw_server(["trickle-body"])  # 40 bytes, one every 0.5 s: 20 s in all
    client = HttpClient(raw.url, timeout=2, deadline=2, retry=no_retries())

    started = time.monotonic()
    with pytest.raises(HttpTimeoutError) as caught:
        client.get("/export")
    elapsed = time.monotonic() - started

    assert 1.5 <= elapsed < 6
    assert caught.value.retryable and caught.value.attempts == 1
    assert str(caught.value).startswith(f"GET {raw.url}/export failed: ")
    assert "deadline of 2 s" in str(caught.value)


def test_headers_trickled_slower_than_the_deadline_fail_at_the_deadline(raw_server: StartRaw) -> None:
    raw = raw_server(["trickle-headers"])  # a header byte every 0.5 s, never ending
    client = HttpClient(raw.url, timeout=2, deadline=2, retry=no_retries())

    started = time.monotonic()
    with pytest.raises(HttpTimeoutError) as caught:
        client.get("/export")
    elapsed = time.monotonic() - started

    assert 1.5 <= elapsed < 6
    assert "deadline of 2 s" in str(caught.value)


def test_the_default_deadline_is_the_connect_and_read_timeouts_added_up(raw_server: StartRaw) -> None:
    raw = raw_server(["trickle-body"])
    client = HttpClient(raw.url, timeout=1, retry=no_retries())  # (1, 1): a 2 s deadline

    started = time.monotonic()
    with pytest.raises(HttpTimeoutError, match="deadline of 2 s"):
        client.get("/export")

    assert time.monotonic() - started < 6
    assert client.deadline is None and client.deadline_for((10, 60)) == 70 and client.deadline_for(1) == 2


def test_the_deadline_error_names_the_hidden_url_the_deadline_and_how_to_raise_it(raw_server: StartRaw) -> None:
    raw = raw_server(["trickle-body"])
    client = HttpClient(raw.url, deadline=0.5, retry=no_retries(), auth=ApiKeyAuth("k-secret-1", query_param="k"),
                        secrets=["acct-secret-2"])

    with pytest.raises(HttpTimeoutError) as caught:
        client.get("/accounts/acct-secret-2/export")

    message = str(caught.value)
    assert message.startswith(f"GET {raw.url}/accounts/***/export?k=*** failed: ")
    assert "deadline of 0.5 s (connect, headers and body together)" in message
    assert "raise HttpClient(deadline=...) or the call's deadline= if the server is just slow" in message
    assert caught.value.url == f"{raw.url}/accounts/***/export?k=***"
    assert "secret" not in message


def test_a_get_past_its_deadline_is_retried_like_a_read_timeout(raw_server: StartRaw, fake: FakeTime) -> None:
    raw = raw_server(["trickle-body", "ok"])

    response = fake.client(raw.url, deadline=0.5).get("/export")

    assert response.json() == {"ok": True}
    assert raw.connections == 2 and len(fake.sleeps) == 1


def test_a_get_past_its_deadline_every_time_fails_after_the_retries(raw_server: StartRaw, fake: FakeTime) -> None:
    raw = raw_server(["trickle-headers"])

    started = time.monotonic()
    with pytest.raises(HttpTimeoutError) as caught:
        fake.client(raw.url, deadline=0.5, retry=fake.policy(max_attempts=3)).get("/export")

    assert time.monotonic() - started < 10
    assert raw.connections == 3 and caught.value.attempts == 3
    assert "after 3 attempts" in str(caught.value) and "deadline of 0.5 s" in str(caught.value)


def test_a_post_past_its_deadline_is_not_sent_twice(raw_server: StartRaw, fake: FakeTime) -> None:
    raw = raw_server(["trickle-body", "ok"])

    with pytest.raises(HttpTimeoutError) as caught:
        fake.client(raw.url, deadline=0.5).post("/exports", json={"table": "orders"})

    assert raw.connections == 1 and caught.value.attempts == 1 and caught.value.retryable


def test_a_call_can_give_its_own_deadline(raw_server: StartRaw) -> None:
    raw = raw_server(["trickle-body"])
    client = HttpClient(raw.url, deadline=60, retry=no_retries())

    started = time.monotonic()
    with pytest.raises(HttpTimeoutError, match="deadline of 0.5 s"):
        client.get("/export", deadline=0.5)

    assert time.monotonic() - started < 5


def test_a_call_giving_its_own_timeout_gets_the_deadline_derived_from_it(raw_server: StartRaw) -> None:
    raw = raw_server(["trickle-body"])
    client = HttpClient(raw.url, retry=no_retries())  # the default (10, 60): a 70 s deadline

    started = time.monotonic()
    with pytest.raises(HttpTimeoutError, match=r"deadline of 1\.8 s"):
        client.get("/export", timeout=(1, 0.8))  # a byte every 0.5 s: the read timeout never passes

    assert time.monotonic() - started < 6


def test_requests_through_the_bare_session_get_the_deadline_too(raw_server: StartRaw) -> None:
    raw = raw_server(["trickle-body"])
    client = HttpClient(raw.url, deadline=0.5, retry=no_retries())

    started = time.monotonic()
    with pytest.raises(requests.RequestException, match="deadline of 0.5 s"):
        client.session.get(raw.url + "/export")

    assert time.monotonic() - started < 5


def test_a_streamed_body_is_read_at_the_callers_pace_after_the_headers(raw_server: StartRaw) -> None:
    raw = raw_server(["trickle-body"], interval=0.05)  # 40 bytes in about 2 s
    client = HttpClient(raw.url, deadline=1, retry=no_retries())

    with client.session.get(raw.url + "/export", stream=True) as response:
        body = b"".join(response.iter_content(chunk_size=1))

    assert body == TRICKLED_BODY


def test_answers_within_the_deadline_are_untouched_and_connections_stay_usable(
    server: HTTPServer, fake: FakeTime, logs: LogCapture
) -> None:
    server.expect_request("/x").respond_with_json({"n": 1})
    client = fake.client(server.url_for("/"), deadline=1)

    first = client.get("/x")
    time.sleep(1.3)  # past the deadline of the first request: nothing may fire on a pooled connection
    second = client.get("/x")

    assert first.json() == second.json() == {"n": 1}
    assert fake.sleeps == [] and len(server.log) == 2
    assert all("(2 attempts)" not in line for line in logs.lines)


@pytest.mark.parametrize("deadline", [0, -1, math.inf, math.nan, "2", True])
def test_an_invalid_deadline_is_refused(deadline: object) -> None:
    with pytest.raises(HttpConfigError) as caught:
        HttpClient("http://127.0.0.1", deadline=deadline)  # type: ignore[arg-type]

    assert f"deadline={deadline!r}" in str(caught.value) and "None to derive it from the timeout" in str(caught.value)


def test_an_invalid_deadline_of_a_call_is_refused() -> None:
    with pytest.raises(HttpConfigError, match=r"deadline=-3"):
        HttpClient("http://127.0.0.1").get("/x", deadline=-3)
