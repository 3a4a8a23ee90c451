"""The error tree: every requests exception mapped by class, status classes, retryability, and the
mapping on real failures (with the original exception chained)."""

from __future__ import annotations

import inspect

import pytest
import requests
from http_helpers import FakeTime
from pytest_httpserver import HTTPServer
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

from headwater.errors import HeadwaterError
from headwater.http import (
    AuthenticationError,
    ClientError,
    HttpConfigError,
    HttpError,
    HttpStatusError,
    HttpTimeoutError,
    InvalidRequestError,
    InvalidResponseError,
    PaginationError,
    RateBudgetError,
    RateLimitError,
    RedirectLoopError,
    ServerError,
    TransportError,
)
from headwater.http import errors as http_errors
from headwater.http.errors import EXCEPTION_MAP, error_class_for_exception, error_class_for_status


def requests_exception_classes() -> list[type[requests.RequestException]]:
    return [cls for _, cls in inspect.getmembers(requests.exceptions, inspect.isclass)
            if issubclass(cls, requests.RequestException)]


def test_every_requests_exception_class_is_mapped() -> None:
    classes = requests_exception_classes()

    assert len(classes) >= 20
    missing = [cls.__name__ for cls in classes if cls not in EXCEPTION_MAP]
    assert missing == [], f"add these requests exceptions to EXCEPTION_MAP: {missing}"


@pytest.mark.parametrize(("exception", "expected"), [
    (requests.exceptions.ConnectTimeout, HttpTimeoutError),  # a ConnectionError and a Timeout: timeout wins
    (requests.exceptions.ReadTimeout, HttpTimeoutError),
    (requests.exceptions.SSLError, TransportError),
    (requests.exceptions.ChunkedEncodingError, TransportError),
    (requests.exceptions.TooManyRedirects, RedirectLoopError),
    (requests.exceptions.InvalidProxyURL, InvalidRequestError),
    (requests.exceptions.MissingSchema, InvalidRequestError),
    (requests.exceptions.JSONDecodeError, InvalidResponseError),  # before its base InvalidJSONError
    (requests.exceptions.InvalidJSONError, InvalidRequestError),
])
def test_the_most_specific_mapping_wins(exception: type[requests.RequestException], expected: type[HttpError]) -> None:
    instance = exception.__new__(exception)
    Exception.__init__(instance)

    assert error_class_for_exception(instance) is expected


def test_a_read_timeout_reported_as_connection_error_after_retries_maps_to_a_timeout() -> None:
    timed_out = requests.exceptions.ConnectionError(MaxRetryError(None, "/x", ReadTimeoutError(None, "/x", "slow")))  # type: ignore[arg-type]
    refused = requests.exceptions.ConnectionError(MaxRetryError(None, "/x", NewConnectionError(None, "refused")))  # type: ignore[arg-type]

    assert error_class_for_exception(timed_out) is HttpTimeoutError
    assert error_class_for_exception(refused) is TransportError


@pytest.mark.parametrize(("status", "expected"), [
    (400, ClientError), (401, AuthenticationError), (403, AuthenticationError), (404, ClientError),
    (408, ClientError), (422, ClientError), (429, RateLimitError), (500, ServerError), (503, ServerError),
])
def test_status_codes_choose_the_error_class(status: int, expected: type[HttpStatusError]) -> None:
    assert error_class_for_status(status) is expected


def test_every_error_is_a_headwater_error_and_retryable_only_where_trying_later_helps() -> None:
    classes = [getattr(http_errors, name) for name in http_errors.__all__ if name[0].isupper()]

    assert all(issubclass(cls, HttpError) and issubclass(cls, HeadwaterError) for cls in classes)
    assert {cls.__name__ for cls in classes if cls.retryable} == {
        "TransportError", "HttpTimeoutError", "RateLimitError", "ServerError", "RateBudgetError"}
    assert issubclass(HttpConfigError, ValueError) and issubclass(InvalidRequestError, ValueError)
    assert issubclass(AuthenticationError, ClientError) and issubclass(RateLimitError, ClientError)
    assert issubclass(PaginationError, HttpError) and issubclass(RateBudgetError, HttpError)


def test_an_unsupported_scheme_raises_invalid_request_error_from_the_requests_exception(fake: FakeTime) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        fake.client("ftp://files.example.com").get("/report.csv")

    assert isinstance(caught.value.__cause__, requests.exceptions.InvalidSchema)
    assert str(caught.value).startswith("GET ftp://files.example.com/report.csv failed: InvalidSchema")


def test_a_url_without_host_raises_invalid_request_error(fake: FakeTime) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        fake.client("http://").get("/x")

    assert isinstance(caught.value.__cause__, requests.exceptions.InvalidURL)


def test_a_redirect_loop_raises_redirect_loop_error(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/loop"})

    with pytest.raises(RedirectLoopError) as caught:
        fake.client(server.url_for("/")).get("/loop")

    assert isinstance(caught.value.__cause__, requests.exceptions.TooManyRedirects)
    assert not caught.value.retryable


def test_a_status_error_is_raised_from_nothing_and_keeps_the_response(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/x").respond_with_data("gone", status=410)

    with pytest.raises(ClientError) as caught:
        fake.client(server.url_for("/")).get("/x")

    assert caught.value.__cause__ is None and caught.value.response.text == "gone"
    assert caught.value.message == str(caught.value)
