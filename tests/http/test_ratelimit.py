"""The per-host rate budget and the X-RateLimit-* / RateLimit-* headers, against loopback servers."""

from __future__ import annotations

import pytest
from http_helpers import FakeTime, LogCapture
from pytest_httpserver import HTTPServer

from headwater.http import HttpConfigError, RateBudgetError, RateLimit, ServerError


def ok(server: HTTPServer, path: str = "/x", headers: dict[str, str] | None = None, status: int = 200) -> None:
    server.expect_ordered_request(path).respond_with_json({"ok": status < 400}, status=status, headers=headers or {})


def test_budget_spaces_requests_to_a_host(server: HTTPServer, fake: FakeTime) -> None:
    for _ in range(5):
        ok(server)
    client = fake.client(server.url_for("/"), rate_limit=fake.rate_limit(requests=2, per=1.0))

    for _ in range(5):
        client.get("/x")

    # Two requests fit in each second: the third and the fifth wait for the window to move on.
    assert fake.sleeps == [1.0, 1.0]


def test_budget_is_kept_per_host(server: HTTPServer, fake: FakeTime) -> None:
    for _ in range(4):
        ok(server)
    client = fake.client(server.url_for("/"), rate_limit=fake.rate_limit(requests=2, per=10.0))
    port = server.port

    # localhost and 127.0.0.1 are two hosts to the budget, though one server here.
    for base in (f"http://localhost:{port}", f"http://127.0.0.1:{port}"):
        client.get(f"{base}/x")
        client.get(f"{base}/x")

    assert fake.sleeps == []


def test_remaining_zero_waits_until_the_reset_in_seconds(server: HTTPServer, fake: FakeTime, logs: LogCapture) -> None:
    ok(server, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "20"})
    ok(server)
    client = fake.client(server.url_for("/"), rate_limit=fake.rate_limit())

    client.get("/x")
    assert fake.sleeps == []
    client.get("/x")

    assert fake.sleeps == [20.0]
    assert logs.matching("INFO     [connector] rate limit: localhost:") and logs.matching(
        "has no requests left (X-RateLimit-Remaining: 0, X-RateLimit-Reset: 20); waiting 20.00 s")


def test_reset_as_a_unix_time_is_waited_until_then(server: HTTPServer, fake: FakeTime) -> None:
    ok(server, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(fake.time()) + 45)})
    ok(server)
    client = fake.client(server.url_for("/"), rate_limit=fake.rate_limit())

    client.get("/x")
    client.get("/x")

    assert fake.sleeps == [45.0]


def test_ietf_ratelimit_headers_are_followed(server: HTTPServer, fake: FakeTime) -> None:
    ok(server, headers={"RateLimit-Limit": "100", "RateLimit-Remaining": "0", "RateLimit-Reset": "7"})
    ok(server)
    client = fake.client(server.url_for("/"), rate_limit=fake.rate_limit())

    client.get("/x")
    client.get("/x")

    assert fake.sleeps == [7.0]


def test_remaining_above_zero_or_a_past_reset_does_not_wait(server: HTTPServer, fake: FakeTime) -> None:
    ok(server, headers={"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "60"})
    ok(server, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(fake.time()) - 5)})
    ok(server)
    client = fake.client(server.url_for("/"), rate_limit=fake.rate_limit())

    for _ in range(3):
        client.get("/x")

    assert fake.sleeps == []


def test_headers_are_ignored_when_use_headers_is_false(server: HTTPServer, fake: FakeTime) -> None:
    ok(server, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "60"})
    ok(server)
    client = fake.client(server.url_for("/"), rate_limit=fake.rate_limit(use_headers=False))

    client.get("/x")
    client.get("/x")

    assert fake.sleeps == []


def test_a_wait_longer_than_max_wait_raises_rate_budget_error(server: HTTPServer, fake: FakeTime) -> None:
    ok(server, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "5400"})
    client = fake.client(server.url_for("/"), rate_limit=fake.rate_limit(max_wait=900))
    client.get("/x")

    with pytest.raises(RateBudgetError) as caught:
        client.get("/x")

    assert caught.value.wait_seconds == 5400 and caught.value.retryable
    assert "has no requests left (X-RateLimit-Remaining: 0, X-RateLimit-Reset: 5400)" in str(caught.value)
    assert "longer than RateLimit(max_wait=900); run the sync later or raise max_wait" in str(caught.value)
    assert len(server.log) == 1


def test_retries_take_a_budget_slot_too(server: HTTPServer, fake: FakeTime) -> None:
    ok(server, status=503)
    ok(server)
    client = fake.client(server.url_for("/"), retry=fake.policy(random=lambda: 0.0),
                         rate_limit=fake.rate_limit(requests=1, per=10.0))

    client.get("/x")

    # No backoff (jitter drew 0), but the retry still waits for the host's next slot.
    assert fake.sleeps == [10.0]


def test_a_429_with_rate_limit_headers_is_waited_once_not_twice(server: HTTPServer, fake: FakeTime) -> None:
    ok(server, status=429, headers={"Retry-After": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "5"})
    ok(server)
    client = fake.client(server.url_for("/"), rate_limit=fake.rate_limit())

    client.get("/x")

    assert fake.sleeps == [5.0]


def test_budget_waits_are_not_limited_by_max_wait(server: HTTPServer, fake: FakeTime) -> None:
    ok(server)
    ok(server)
    client = fake.client(server.url_for("/"), rate_limit=fake.rate_limit(requests=1, per=3600, max_wait=60))

    client.get("/x")
    client.get("/x")

    assert fake.sleeps == [3600.0]


def test_rate_limit_blocks_retries_of_a_failing_host(server: HTTPServer, fake: FakeTime) -> None:
    ok(server, status=503, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"})
    ok(server, status=503)
    client = fake.client(server.url_for("/"), retry=fake.policy(max_attempts=2, random=lambda: 0.0),
                         rate_limit=fake.rate_limit())

    with pytest.raises(ServerError):
        client.get("/x")

    # The intermediate 503 said none are left for 30 s: the retry waited for the reset.
    assert fake.sleeps == [30.0]


@pytest.mark.parametrize(("args", "options", "phrase"), [
    ((0,), {}, "requests=0"),
    ((True,), {}, "requests=True"),
    ((5,), {"per": 0}, "per=0"),
    ((5,), {"max_wait": 0}, "max_wait=0"),
])
def test_rate_limit_rejects_invalid_arguments(args: tuple[object, ...], options: dict[str, object],
                                              phrase: str) -> None:
    with pytest.raises(HttpConfigError) as caught:
        RateLimit(*args, **options)  # type: ignore[arg-type]

    assert phrase in str(caught.value)
